import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Command, CommanderError } from 'commander';
import { buildProgram } from '../../../src/client';
import { loadConfig } from '../../../src/config/load-config';
import { CONFIG_FILE_ENV } from '../../../src/domain/config';

/**
 * The README is what a new user copies from: every JSON example must load as a configuration file and every
 * `flowguard …` command (fenced, inline, or a synopsis in the command table) must parse. A rename or a
 * tightened rule that the README did not follow fails here instead of on a newcomer's first try.
 */

const README = readFileSync(join(__dirname, '../../../README.md'), 'utf8');

interface Fenced {
  readonly lang: string;
  readonly body: string;
}

/** Splits the README into fenced code blocks and the prose around them. */
function splitMarkdown(markdown: string): { fenced: Fenced[]; prose: string } {
  const fenced: Fenced[] = [];
  const prose: string[] = [];
  let open: { lang: string; lines: string[] } | undefined;
  for (const line of markdown.split('\n')) {
    const fence = /^```(\S*)/.exec(line);
    if (fence && open === undefined) open = { lang: fence[1] ?? '', lines: [] };
    else if (fence && open !== undefined) {
      fenced.push({ lang: open.lang, body: open.lines.join('\n') });
      open = undefined;
    } else if (open !== undefined) open.lines.push(line);
    else prose.push(line);
  }
  return { fenced, prose: prose.join('\n') };
}

const { fenced, prose } = splitMarkdown(README);

const COMMAND_EXAMPLE = /^(npx )?flowguard [a-z<-]/;

/** Every flowguard command line the README shows: shell blocks, then inline code (which may wrap a line). */
function readmeCommands(): string[] {
  const fromBlocks = fenced
    .filter((f) => ['bash', 'sh', 'shell', ''].includes(f.lang))
    .flatMap((f) => f.body.split('\n'))
    // The shell comment is the example's explanation, not part of it.
    .map((l) => l.replace(/\s#.*$/, '').trim())
    .filter((l) => COMMAND_EXAMPLE.test(l));
  const fromProse = [...prose.matchAll(/`([^`]+)`/g)]
    .map((m) => m[1]!.replace(/\s+/g, ' ').replace(/\\\|/g, '|').trim())
    .filter((s) => COMMAND_EXAMPLE.test(s));
  return [...new Set([...fromBlocks, ...fromProse])];
}

/** Shell-like words: quotes group, an unquoted # starts a comment. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const ch of line) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else word = (word ?? '') + ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      word = word ?? '';
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === '#' && word === undefined) break;
    else word = (word ?? '') + ch;
  }
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * A synopsis ("--side buy|sell [--json] [...]") stands for several command lines: the minimal one (optional
 * groups left out) and the full one (all of them in). Alternatives a|b take the first; "..." is prose.
 */
function concreteLines(example: string): string[] {
  const body = example.replace(/^(npx )?flowguard /, '');
  const minimal = body.replace(/\s*\[[^\]]*\]/g, '');
  const full = body.replace(/\[([^\]]*)\]/g, '$1').replace(/(^|\s)\.\.\.(?=\s|$)/g, ' ');
  const variants = [...new Set([minimal, full])].map((v) =>
    shellWords(v).map((w) => (w.includes('|') ? w.split('|')[0]! : w)),
  );
  // "flowguard <command> --help": every top-level command.
  return variants
    .flatMap((words) =>
      words[0] === '<command>'
        ? topLevelCommands().map((name) => [name, ...words.slice(1)])
        : words.some((w) => /^<.+>$/.test(w))
          ? [['<placeholder left in the example>', ...words]]
          : [words],
    )
    .map((words) => words.join('\u0000'));
}

function topLevelCommands(): string[] {
  return buildProgram()
    .commands.map((c) => c.name())
    .filter((n) => n !== 'help');
}

/** The real program with every action replaced by a no-op and output captured: parsing only. */
function parseOnlyProgram(): { program: Command; output: string[] } {
  const output: string[] = [];
  const program = buildProgram();
  const walk = (cmd: Command) => {
    cmd.exitOverride().configureOutput({
      writeOut: (s) => output.push(s),
      writeErr: (s) => output.push(s),
    });
    if (cmd.commands.length === 0) cmd.action(() => undefined);
    cmd.commands.forEach(walk);
  };
  walk(program);
  return { program, output };
}

async function parses(words: string[]): Promise<{ ok: boolean; output: string }> {
  const { program, output } = parseOnlyProgram();
  try {
    await program.parseAsync(words, { from: 'user' });
    return { ok: true, output: output.join('') };
  } catch (err) {
    if (err instanceof CommanderError) return { ok: err.exitCode === 0, output: output.join('') || err.message };
    throw err;
  }
}

describe('README configuration examples', () => {
  const jsonBlocks = fenced.filter((f) => f.lang === 'json');

  it('has JSON examples to check', () => {
    expect(jsonBlocks.length).toBeGreaterThan(0);
  });

  it.each(jsonBlocks.map((b, i) => [i + 1, b.body]))(
    'JSON example %i loads through FLOWGUARD_CONFIG',
    async (_, body) => {
      const dir = mkdtempSync(join(tmpdir(), 'flowguard-readme-'));
      try {
        const path = join(dir, 'config.json');
        writeFileSync(path, body);
        await expect(loadConfig({ [CONFIG_FILE_ENV]: path })).resolves.toBeDefined();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('README command examples', () => {
  const commands = readmeCommands();

  it('finds the command table, the shell blocks and the runbook commands', () => {
    expect(commands.length).toBeGreaterThanOrEqual(15);
    expect(commands).toContain('npx flowguard health');
    expect(commands).toContain('npx flowguard health --require market-data,broker');
    expect(commands.some((c) => c.startsWith('flowguard order place '))).toBe(true);
  });

  it.each(commands)('parses: %s', async (example) => {
    for (const line of concreteLines(example)) {
      const words = line.split('\u0000');
      const result = await parses(words);
      // The words in the message say which variant of a synopsis failed.
      expect({ words, ...result }).toEqual({ words, ok: true, output: expect.any(String) });
    }
  });

  it('the parse-only harness refuses what the real CLI refuses', async () => {
    expect((await parses(['order', 'place', '--symbol', 'TSLA'])).ok).toBe(false);
    expect((await parses(['monitor', 'start', '--symbol', 'TSLA', '--quantity', '1', '--bogus'])).ok).toBe(false);
    expect((await parses(['orders', 'purge'])).ok).toBe(false);
    expect((await parses(['health', 'extra'])).ok).toBe(false);
  });
});
