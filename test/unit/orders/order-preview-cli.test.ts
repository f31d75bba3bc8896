import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI entry point, with no FLOWGUARD_* settings leaking in from the test environment. */
function flowguard(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('FLOWGUARD_') && k !== 'NODE_OPTIONS'),
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'bin', 'flowguard.js'), ...args],
      { cwd: root, env: { ...env, ...extraEnv }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

jest.setTimeout(60_000);

describe('flowguard order preview', () => {
  it('BUY ref 250.30 at the default 15 bps → 249.93 (250.30×0.9985=249.92455, rounded up)', async () => {
    const run = await flowguard([
      'order',
      'preview',
      '--symbol',
      'TSLA',
      '--side',
      'buy',
      '--quantity',
      '10',
      '--reference-price',
      '250.30',
      '--json',
    ]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual({
      symbol: 'TSLA',
      side: 'buy',
      quantity: 10,
      referencePrice: '250.30',
      limitPrice: '249.93',
      offsetMode: 'bps',
      offset: '15',
      maxSlippagePct: '0.5',
    });
  });

  it('--strategy protective needs no file: the price of an auto-exit, at the reference (the bid), not 10 bps above', async () => {
    const args = ['order', 'preview', '--symbol', 'TSLA', '--side', 'sell', '--quantity', '500'];
    const run = await flowguard([...args, '--reference-price', '249.57', '--strategy', 'protective', '--json']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toMatchObject({ limitPrice: '249.57', offset: '0', strategy: 'protective' });
    // A file's own protective fields win over the built-in sell offset of 0.
    const dir = mkdtempSync(join(tmpdir(), 'fg-protective-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ orders: { strategies: { protective: { sellOffset: '4' } } } }));
    const own = await flowguard([...args, '--reference-price', '250.00', '--strategy', 'protective', '--json'], {
      FLOWGUARD_CONFIG: file,
    });
    expect(JSON.parse(own.stdout)).toMatchObject({ limitPrice: '250.10', offset: '4' });
  });

  it('SELL ref 252.10 absolute 0.04 → 252.14, as a readable line', async () => {
    const run = await flowguard([
      'order',
      'preview',
      '--symbol',
      'TSLA',
      '--side',
      'sell',
      '--quantity',
      '5',
      '--reference-price',
      '252.10',
      '--offset-mode',
      'absolute',
      '--offset',
      '0.04',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('SELL 5 TSLA LIMIT 252.14 (reference 252.10, offset $0.04, max slippage 0.5%)\n');
  });

  it('uses strategies from the FLOWGUARD_CONFIG file: scalp 5 bps → 250.30×0.9995=250.17485 → 250.18', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowguard-cli-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ orders: { strategies: { scalp: { buyOffset: 5 } } } }));
    const run = await flowguard(
      [
        'order',
        'preview',
        '--symbol',
        'TSLA',
        '--side',
        'buy',
        '--quantity',
        '1',
        '--reference-price',
        '250.30',
        '--strategy',
        'scalp',
        '--json',
      ],
      { FLOWGUARD_CONFIG: file },
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ limitPrice: '250.18', offset: '5', strategy: 'scalp' });
  });

  it('invalid input: exit 2, stderr names the field and rule, stdout empty', async () => {
    const run = await flowguard([
      'order',
      'preview',
      '--symbol',
      'TSLA',
      '--side',
      'buy',
      '--quantity',
      '1.5',
      '--reference-price',
      '250.30',
      '--type',
      'market',
      '--json',
    ]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('invalid input: --quantity: must be a positive integer\n');
    expect(run.stderr).toContain('invalid input: --type: market orders are not supported: use a limit order\n');
  });

  it('a bad environment setting is invalid input naming the variable', async () => {
    const run = await flowguard(
      ['order', 'preview', '--symbol', 'TSLA', '--side', 'buy', '--quantity', '1', '--reference-price', '250.30'],
      { FLOWGUARD_ORDER_BUY_OFFSET: '-1' },
    );
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^invalid input: FLOWGUARD_ORDER_BUY_OFFSET: must be a non-negative decimal/);
  });
});
