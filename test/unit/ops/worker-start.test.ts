/**
 * The worker entry point started as a person starts it, in its own process, against start-up faults that need
 * no Temporal server: a taken metrics port and an address nothing listens on. Each must end the process with
 * exit 1 and a message naming what to change, never hang or print Core's raw transport error.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

function runWorker(env: Record<string, string>, timeoutMs = 30_000, interruptWhen?: Promise<unknown>): Promise<Run> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('FLOWGUARD_') && !k.startsWith('TEMPORAL_')),
  );
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'worker.ts')], {
    cwd: ROOT,
    env: { ...clean, NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  // A hang is the bug under test: kill it after the bound and report what it printed.
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  void interruptWhen?.then(() => child.kill('SIGINT'));
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    }),
  );
}

function listen(port = 0): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve(server));
  });
}

function closedPort(): Promise<number> {
  return listen().then(
    (server) =>
      new Promise<number>((resolve) => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      }),
  );
}

jest.setTimeout(60_000);

describe('worker start-up faults', () => {
  it('a taken metrics port is exit 1 naming FLOWGUARD_METRICS_PORT, not a hang', async () => {
    const taken = await listen();
    try {
      const { port } = taken.address() as net.AddressInfo;
      const run = await runWorker({ FLOWGUARD_METRICS_PORT: String(port), TEMPORAL_ADDRESS: '127.0.0.1:1' });
      expect(run.signal).toBeNull();
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`FLOWGUARD_METRICS_PORT: port ${port} on 0.0.0.0 is already in use`);
      expect(run.stderr).toContain('set FLOWGUARD_METRICS_PORT to a free port, or to 0 to turn metrics off');
      expect(run.stderr).not.toContain('EADDRINUSE');
    } finally {
      taken.close();
    }
  });

  it("a taken FLOWGUARD_TEMPORAL_METRICS_PORT is exit 1 naming it (Core's exporter would fail opaquely)", async () => {
    const taken = await listen();
    try {
      const { port } = taken.address() as net.AddressInfo;
      const run = await runWorker({
        FLOWGUARD_METRICS_PORT: String(await closedPort()),
        FLOWGUARD_TEMPORAL_METRICS_PORT: String(port),
        TEMPORAL_ADDRESS: '127.0.0.1:1',
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`FLOWGUARD_TEMPORAL_METRICS_PORT: port ${port}`);
    } finally {
      taken.close();
    }
  });

  it('an unreachable TEMPORAL_ADDRESS gives the CLI hint, without the raw tonic::transport error', async () => {
    const port = await closedPort();
    const run = await runWorker({ FLOWGUARD_METRICS_PORT: '0', TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `error: Temporal is not reachable at 127.0.0.1:${port} (Connection refused). ` +
        `Start it with 'npm run temporal' or set TEMPORAL_ADDRESS.\n`,
    );
    expect(run.stdout).not.toContain('tonic');
  });

  it('with metrics on, an unreachable Temporal still exits (the installed runtime does not keep it alive)', async () => {
    const run = await runWorker({
      FLOWGUARD_METRICS_PORT: String(await closedPort()),
      TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}`,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Temporal is not reachable');
  });

  it('Ctrl-C while it waits for a Temporal that accepts but never answers ends it at once', async () => {
    // A listener that takes the TCP connection and says nothing: the connection attempt just waits. Ctrl-C comes
    // once the worker is in that wait (its connection arrived).
    let connected!: () => void;
    const arrived = new Promise<void>((resolve) => (connected = resolve));
    const silent = net.createServer(() => connected());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as net.AddressInfo;
      const run = await runWorker(
        { FLOWGUARD_METRICS_PORT: '0', TEMPORAL_ADDRESS: `127.0.0.1:${port}` },
        30_000,
        arrived.then(() => new Promise((r) => setTimeout(r, 500))),
      );
      expect(run.signal).toBeNull();
      expect(run.code).toBe(130);
      expect(run.stderr).toContain('flowguard worker: SIGINT before the worker started; exiting');
      expect(run.ms).toBeLessThan(25_000);
    } finally {
      silent.close();
    }
  });
});
