import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repeatedOptions } from '../../../src/client';

const ROOT = join(__dirname, '..', '..', '..');

function flowguard(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('FLOWGUARD_') && k !== 'NODE_OPTIONS'),
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin', 'flowguard.js'), ...args],
      { cwd: ROOT, env, timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

jest.setTimeout(60_000);

describe('flowguard --version', () => {
  it("prints package.json's version and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await flowguard(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});

describe('a repeated option is refused, not silently replaced by the last one', () => {
  it('finds long options given twice, in either spelling, up to --', () => {
    expect(repeatedOptions(['order', 'place', '--side', 'buy', '--json', '--side=sell'])).toEqual(['--side']);
    expect(repeatedOptions(['order', 'place', '--side', 'buy', '--json'])).toEqual([]);
    expect(repeatedOptions(['x', '--', '--json', '--json'])).toEqual([]);
  });

  it('is exit 2 naming the option, stdout empty', async () => {
    const run = await flowguard([
      'order',
      'preview',
      '--symbol',
      'TSLA',
      '--side',
      'buy',
      '--quantity',
      '1',
      '--reference-price',
      '250',
      '--side',
      'sell',
    ]);
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toContain('invalid input: --side: given more than once; give each option once');
  });
});
