import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { KNOWN_FLOWGUARD_VARS, unknownFlowguardVariables } from '../../../src/config/env-names';

const ROOT = join(__dirname, '..', '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('FLOWGUARD_') && !k.startsWith('TEMPORAL_')),
  );
}

/** The real CLI entry point with only the given FLOWGUARD_* settings. */
function cli(args: string[], extraEnv: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin', 'flowguard.js'), ...args],
      { cwd: ROOT, env: { ...cleanEnv(), NODE_OPTIONS: '', ...extraEnv }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The real worker entry point with only the given FLOWGUARD_* settings (none leak in from the test run). */
function worker(extraEnv: Record<string, string>): Promise<Run> {
  const env = cleanEnv();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src', 'worker.ts')],
      {
        cwd: ROOT,
        // Nothing listens there: a worker that got past validation fails to connect instead of running.
        env: { ...env, NODE_OPTIONS: '', TEMPORAL_ADDRESS: '127.0.0.1:1', FLOWGUARD_METRICS_PORT: '0', ...extraEnv },
        timeout: 30_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

jest.setTimeout(60_000);

describe('the worker validates its settings before it connects', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'flowguard-worker-settings-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('an invalid FLOWGUARD_CONFIG is exit 2 naming the JSON path and the rule, stdout empty', async () => {
    const path = join(dir, 'bad.json');
    writeFileSync(
      path,
      JSON.stringify({ orders: { strategies: { scalp: { offsetMode: 'absolute', buyOffset: '1' } } } }),
    );
    const run = await worker({ FLOWGUARD_CONFIG: path });
    expect(run).toEqual({
      code: 2,
      stdout: '',
      stderr: expect.stringContaining(
        "invalid input: orders.strategies.scalp.sellOffset: is required when the strategy's offsetMode",
      ),
    });
  });

  it('a missing FLOWGUARD_CONFIG file is exit 2 naming the variable', async () => {
    const run = await worker({ FLOWGUARD_CONFIG: join(dir, 'missing.json') });
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toContain('invalid input: FLOWGUARD_CONFIG: cannot read');
  });

  it('an invalid FLOWGUARD_* setting is exit 2 naming the variable', async () => {
    const run = await worker({ FLOWGUARD_DETECTOR_VOLUME_SPIKE_THRESHOLD: '5' });
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toContain(
      'invalid input: FLOWGUARD_DETECTOR_VOLUME_SPIKE_THRESHOLD: 5 is above the default redBurstThreshold of 4',
    );
    expect(run.stderr).toContain('raise FLOWGUARD_DETECTOR_RED_BURST_THRESHOLD');
  });

  it('a misspelled FLOWGUARD_* name is warned about on stderr with the likely name', async () => {
    const run = await worker({ FLOWGUARD_DETECTOR_LARGE_ORDER_SIZ: '5000', FLOWGUARD_MAX_CONCURRENT_ACTIVITIES: '0' });
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toContain(
      'warning: FLOWGUARD_DETECTOR_LARGE_ORDER_SIZ is not a flowguard setting and is ignored (did you mean FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE?)',
    );
    expect(run.stderr).toContain('invalid input: FLOWGUARD_MAX_CONCURRENT_ACTIVITIES');
  });
});

describe('unknown FLOWGUARD_* variables', () => {
  it('names each unknown one, suggesting a near name and nothing for a far one', () => {
    expect(
      unknownFlowguardVariables({
        FLOWGUARD_LOG_LEVEL: 'info',
        FLOWGUARD_ORDER_BUY_OFSET: '5',
        FLOWGUARD_SOMETHING_ELSE: 'x',
        PATH: '/bin',
      }),
    ).toEqual([
      'FLOWGUARD_ORDER_BUY_OFSET is not a flowguard setting and is ignored (did you mean FLOWGUARD_ORDER_BUY_OFFSET?)',
      'FLOWGUARD_SOMETHING_ELSE is not a flowguard setting and is ignored',
    ]);
  });

  it('the CLI warns on stderr too, and its --json output stays one object', async () => {
    const run = await cli(
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
        '250',
        '--json',
      ],
      { FLOWGUARD_ORDER_BUY_OFSET: '5' },
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ limitPrice: '249.63' });
    expect(run.stderr).toBe(
      'warning: FLOWGUARD_ORDER_BUY_OFSET is not a flowguard setting and is ignored (did you mean FLOWGUARD_ORDER_BUY_OFFSET?)\n',
    );
  });

  it('knows every FLOWGUARD_* variable the code, scripts, tests and deployment files read', () => {
    // Names that are not environment variables: a constant, a global, and the table's section prefixes.
    const notVariables = new Set([
      'FLOWGUARD_REF_ID_NAMESPACE',
      'FLOWGUARD_DEV_SERVER__',
      'FLOWGUARD_DETECTOR',
      'FLOWGUARD_ORDER',
      'FLOWGUARD_MARKET_DATA',
      'FLOWGUARD_POSITIONS',
      'FLOWGUARD_NOTIFY',
      // Prefixes of the notification shortcuts (src/notifications/destinations.ts).
      'FLOWGUARD_NOTIFY_WEBHOOK',
      'FLOWGUARD_NOTIFY_SLACK',
      'FLOWGUARD_NOTIFY_DISCORD',
      'FLOWGUARD_NOTIFY_NTFY',
    ]);
    const files: string[] = [];
    const walk = (path: string) => {
      if (statSync(path).isDirectory()) readdirSync(path).forEach((name) => walk(join(path, name)));
      else if (/\.(ts|js|sh)$/.test(path)) files.push(path);
    };
    ['src', 'scripts', 'bench', 'test'].forEach((d) => walk(join(ROOT, d)));
    files.push(...['.env.example', 'docker-compose.yml', 'Dockerfile', 'package.json'].map((f) => join(ROOT, f)));
    const unknown = new Set<string>();
    for (const file of files) {
      if (file === __filename) continue;
      for (const [name] of readFileSync(file, 'utf8').matchAll(/\bFLOWGUARD_[A-Z0-9_]*[A-Z0-9]/g)) {
        if (!KNOWN_FLOWGUARD_VARS.has(name) && !notVariables.has(name))
          unknown.add(`${name} (${relative(ROOT, file)})`);
      }
    }
    expect([...unknown]).toEqual([]);
  });
});
