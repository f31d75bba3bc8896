import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

function envExampleVariables(): string[] {
  return read('.env.example')
    .split('\n')
    .map((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

describe('deployment files', () => {
  it('passes every .env.example variable to the worker container', () => {
    const compose = read('docker-compose.yml');
    const workerSection = compose.slice(compose.indexOf('\n  worker:'));
    const missing = envExampleVariables().filter((name) => !new RegExp(`\\n\\s+${name}:`).test(workerSection));
    expect(missing).toEqual([]);
  });

  it('documents every .env.example variable and every FLOWGUARD_* setting in the README', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { CONFIG_ENV_VARS } = require('../../../src/domain/config') as { CONFIG_ENV_VARS: { name: string }[] };
    const readme = read('README.md');
    const names = [...envExampleVariables(), ...CONFIG_ENV_VARS.map((v) => v.name)];
    expect(names.filter((n) => !readme.includes(`\`${n}\``))).toEqual([]);
    // ...and .env.example lists every setting too.
    expect(CONFIG_ENV_VARS.map((v) => v.name).filter((n) => !envExampleVariables().includes(n))).toEqual([]);
  });

  it('registers the same search attributes in docker compose and npm run cluster as the dev server', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { SEARCH_ATTRIBUTE_FLAGS } = require('../../../src/shared/contracts') as { SEARCH_ATTRIBUTE_FLAGS: string[] };
    // setup-namespace.sh registers exactly the lines of deploy/temporal/search-attributes.
    const listed = read('deploy/temporal/search-attributes')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect([...listed].sort()).toEqual([...SEARCH_ATTRIBUTE_FLAGS].sort());
    expect(read('deploy/temporal/setup-namespace.sh')).toContain('search-attributes');
  });

  const hasCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
  (hasCompose ? it : it.skip)('docker-compose.yml is valid (docker-compose config)', () => {
    execFileSync('docker-compose', ['-f', path.join(ROOT, 'docker-compose.yml'), 'config', '-q'], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  });
});
