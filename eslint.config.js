// @ts-check
const { builtinModules } = require('node:module');
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const prettier = require('eslint-config-prettier');

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/** no-restricted-imports options for a file `depth` folders below src/domain. */
function domainImportRestrictions(depth) {
  const up = '../'.repeat(depth + 1);
  return {
    paths: nodeBuiltins.map((name) => ({ name, message: 'src/domain is pure: no Node built-ins.' })),
    patterns: [
      { group: ['@temporalio/*'], message: 'src/domain must not depend on Temporal.' },
      { group: [`${up}*`, `!${up}domain`, `!${up}domain/**`], message: 'src/domain imports nothing outside itself.' },
      {
        group: ['@polygon.io/*', 'pino', 'ws', 'commander', 'lossless-json'],
        message: 'src/domain is pure: no I/O libraries.',
      },
    ],
  };
}

module.exports = tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      '.data/**',
      'tools/**',
      'eslint.config.js',
      'jest.config.js',
      'bin/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  prettier,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: __dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // Activities and interface implementations are async by contract even when a body needs no await.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The pure core: no I/O, no Temporal, no clock, nothing outside src/domain.
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'src/domain reads no environment.' },
        { name: 'fetch', message: 'src/domain does no I/O.' },
        { name: 'setTimeout', message: 'src/domain has no clock.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'src/domain has no clock: pass time in.' },
        { object: 'Math', property: 'random', message: 'src/domain is deterministic.' },
      ],
    },
  },
  // A relative import leaves src/domain when it climbs more levels than the file is deep inside it.
  ...[0, 1, 2].map((depth) => ({
    files: [`src/domain/${'*/'.repeat(depth)}*.ts`],
    rules: { 'no-restricted-imports': ['error', domainImportRestrictions(depth)] },
  })),
  {
    // Workflow code runs in Temporal's deterministic sandbox.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflows run in a sandbox: no Node built-ins.' })),
          patterns: [
            {
              group: ['@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing'],
              message: 'Workflows import only @temporalio/workflow (and common).',
            },
            {
              group: ['../activities', '../activities/*', '**/activities/**'],
              allowTypeImports: true,
              message: 'Workflows import activity types only (import type).',
            },
            { group: ['@polygon.io/*', 'pino', 'ws', 'commander'], message: 'Workflows do no I/O.' },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
