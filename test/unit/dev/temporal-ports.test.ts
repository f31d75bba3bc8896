/**
 * Ports of the local Temporal dev server (`npm run temporal`, the demo): flags, then TEMPORAL_PORT /
 * TEMPORAL_UI_PORT, then 7233 / 8233; a value that is not a port is refused naming where it came from.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { devServerPorts, freePort, parsePort } from '../../../src/dev/temporal-dev-server';
import { ValidationError } from '../../../src/domain/validation';

const ROOT = path.resolve(__dirname, '..', '..', '..');

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map((i) => `${i.field}: ${i.rule}`);
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('devServerPorts', () => {
  it('defaults to 7233 / 8233, not marked as asked for', () => {
    expect(devServerPorts([], {})).toEqual({ port: 7233, uiPort: 8233, explicit: { port: false, uiPort: false } });
  });

  it('takes the flags before the variables', () => {
    expect(devServerPorts(['--port', '7300'], { TEMPORAL_PORT: '7400', TEMPORAL_UI_PORT: '8400' })).toEqual({
      port: 7300,
      uiPort: 8400,
      explicit: { port: true, uiPort: true },
    });
    expect(devServerPorts(['--ui-port=8301'], { TEMPORAL_PORT: '' })).toMatchObject({ port: 7233, uiPort: 8301 });
  });

  it('refuses what is not a port, naming the flag or the variable (never NaN)', () => {
    expect(issuesOf(() => devServerPorts([], { TEMPORAL_PORT: 'abc' }))).toEqual([
      'TEMPORAL_PORT: must be a port number from 1 to 65535 (got "abc")',
    ]);
    expect(issuesOf(() => devServerPorts([], { TEMPORAL_UI_PORT: '70000' }))).toEqual([
      'TEMPORAL_UI_PORT: must be a port number from 1 to 65535 (got "70000")',
    ]);
    expect(issuesOf(() => devServerPorts(['--port', '72.5'], {}))).toEqual([
      '--port: must be a port number from 1 to 65535 (got "72.5")',
    ]);
    expect(issuesOf(() => devServerPorts(['--prot', '7300'], {}))[0]).toContain("Unknown option '--prot'");
    expect(issuesOf(() => devServerPorts(['--port', '7300', '--ui-port', '7300'], {}))).toEqual([
      '--ui-port: must differ from the gRPC port (7300)',
    ]);
    expect(parsePort(' 65535 ', 'x')).toBe(65_535);
  });
});

function run(args: string[], env: Record<string, string>, until?: RegExp) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'scripts', 'temporal-server.ts'), ...args],
    {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    if (until) {
      child.stdout.on('data', () => {
        if (until.test(out)) child.kill('SIGINT');
      });
    }
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

jest.setTimeout(90_000);

describe('npm run temporal', () => {
  it('TEMPORAL_PORT=abc is exit 2 naming the variable, before anything starts', async () => {
    const { code, out } = await run([], { TEMPORAL_PORT: 'abc' });
    expect(code).toBe(2);
    expect(out).toBe('invalid input: TEMPORAL_PORT: must be a port number from 1 to 65535 (got "abc")\n');
  });

  it('--port names the port it was given when that one is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as net.AddressInfo;
      const { code, out } = await run(['--port', String(port), '--ui-port', String(await freePort())], {});
      expect(code).toBe(1);
      expect(out).toContain(`gRPC port (--port / TEMPORAL_PORT) ${port} is already in use`);
    } finally {
      taken.close();
    }
  });

  const cli = process.env.TEMPORAL_CLI;
  (cli ? it : it.skip)('serves on the --port and --ui-port given (needs TEMPORAL_CLI)', async () => {
    const port = await freePort();
    const uiPort = await freePort();
    // A database of its own: the repository's .data/temporal.sqlite may be held by a developer's `npm run temporal`.
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-temporal-ports-'));
    const { out } = await run(
      ['--port', String(port), '--ui-port', String(uiPort)],
      { TEMPORAL_CLI: cli!, FLOWGUARD_DATA_DIR: dataDir },
      /export TEMPORAL_ADDRESS/,
    );
    expect(fs.existsSync(path.join(dataDir, 'temporal.sqlite'))).toBe(true);
    fs.rmSync(dataDir, { recursive: true, force: true });
    expect(out).toContain(`Temporal dev server on 127.0.0.1:${port}; Web UI at http://127.0.0.1:${uiPort}`);
    expect(out).toContain(`export TEMPORAL_ADDRESS=127.0.0.1:${port}`);
  });
});
