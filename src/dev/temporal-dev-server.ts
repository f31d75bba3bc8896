import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Connection } from '@temporalio/client';
import { ValidationError } from '../domain/validation';
import { SEARCH_ATTRIBUTE_FLAGS } from '../shared/contracts';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Resolves (and on first use builds) the Temporal CLI through the one script that knows how. Its stderr goes to
 * ours: a first build takes minutes, and its progress lines are what the demo and the test run show meanwhile.
 */
export async function resolveTemporalCli(): Promise<string> {
  if (process.env.TEMPORAL_CLI) return process.env.TEMPORAL_CLI;
  const child = spawn('bash', [path.join(ROOT, 'scripts', 'temporal-cli.sh')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`scripts/temporal-cli.sh exited ${code ?? 'on a signal'} (its reason is above)`);
  return stdout.trim();
}

/**
 * Temporal UI lists worth bookmarking, with the visibility query each runs. The UI keeps saved views and column
 * choices in the browser (local storage), not on the server, so the dev server cannot create them; the README
 * says how to add the OrderState / MonitorState columns and save these as views.
 */
export const UI_VIEWS = [
  { name: 'flowguard orders', query: `WorkflowType="orderWorkflow"`, columns: ['Symbol', 'OrderSide', 'OrderState'] },
  {
    name: 'flowguard monitors',
    query: `WorkflowType="positionMonitorWorkflow"`,
    columns: ['Symbol', 'MonitorState', 'AlertCount', 'ExitSignal'],
  },
  {
    name: 'flowguard open orders',
    query: `WorkflowType="orderWorkflow" AND ExecutionStatus="Running"`,
    columns: ['Symbol', 'OrderSide', 'OrderState'],
  },
] as const;

/** The UI link that opens a view's list (its query in the URL) for a namespace. */
export function uiViewUrl(uiUrl: string, namespace: string, query: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;
}

/** The dev server's usual ports: the CLI's and every Temporal sample's defaults. */
export const DEFAULT_DEV_PORTS = { port: 7233, uiPort: 8233 } as const;

export interface DevServerPorts {
  readonly port: number;
  readonly uiPort: number;
  /** Which ports were asked for (flag or variable): those must be used as given, the others may move. */
  readonly explicit: { readonly port: boolean; readonly uiPort: boolean };
}

/** A TCP port as typed by a person: digits only, 1–65535. Throws ValidationError naming `field`. */
export function parsePort(value: string, field: string): number {
  const n = /^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65_535) {
    throw new ValidationError([{ field, rule: `must be a port number from 1 to 65535 (got "${value}")` }]);
  }
  return n;
}

/**
 * The dev server's gRPC and Web UI ports: `--port` / `--ui-port` on the command line, else TEMPORAL_PORT /
 * TEMPORAL_UI_PORT, else 7233 / 8233. Anything else on the command line, or a value that is not a port, is a
 * ValidationError naming the flag or variable (never a silent default, never "NaN").
 */
export function devServerPorts(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): DevServerPorts {
  let values: { port?: string; 'ui-port'?: string };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { port: { type: 'string' }, 'ui-port': { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    throw new ValidationError([{ field: 'arguments', rule: `${message} (options: --port N, --ui-port N)` }]);
  }
  const pick = (flag: string, flagValue: string | undefined, variable: string, fallback: number) => {
    if (flagValue !== undefined) return { value: parsePort(flagValue, flag), explicit: true };
    const fromEnv = env[variable];
    if (fromEnv !== undefined && fromEnv !== '') return { value: parsePort(fromEnv, variable), explicit: true };
    return { value: fallback, explicit: false };
  };
  const port = pick('--port', values.port, 'TEMPORAL_PORT', DEFAULT_DEV_PORTS.port);
  const uiPort = pick('--ui-port', values['ui-port'], 'TEMPORAL_UI_PORT', DEFAULT_DEV_PORTS.uiPort);
  if (port.value === uiPort.value) {
    throw new ValidationError([{ field: '--ui-port', rule: `must differ from the gRPC port (${port.value})` }]);
  }
  return { port: port.value, uiPort: uiPort.value, explicit: { port: port.explicit, uiPort: uiPort.explicit } };
}

/** Whether nothing listens on 127.0.0.1:port right now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface DevServerOptions {
  readonly cli: string;
  readonly port: number;
  readonly uiPort?: number;
  /** SQLite file; in-memory when omitted. */
  readonly dbFile?: string;
  readonly headless?: boolean;
  readonly dynamicConfig?: Readonly<Record<string, unknown>>;
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Pass the server's logs to this process's stdout/stderr (an operator's terminal) instead of discarding them. */
  readonly foreground?: boolean;
  /** Kill the server if this process dies without cleaning up (SIGKILL, crash). */
  readonly watchdog?: boolean;
  readonly startTimeoutMs?: number;
}

export interface DevServer {
  readonly address: string;
  readonly uiUrl: string | undefined;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export function devServerArgs(options: DevServerOptions): string[] {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(options.port)];
  if (options.headless) args.push('--headless');
  else if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  args.push('--log-level', options.logLevel ?? 'warn');
  for (const flag of SEARCH_ATTRIBUTE_FLAGS) args.push('--search-attribute', flag);
  // Eager activity dispatch hands an activity to the worker that scheduled it in the same round trip: an order's
  // submit reaches the broker one server hop sooner. (Production clusters: set the same dynamic config.)
  const dynamicConfig = { 'system.enableActivityEagerExecution': true, ...options.dynamicConfig };
  for (const [key, value] of Object.entries(dynamicConfig)) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  return args;
}

/** Starts `temporal server start-dev` in its own process group and waits until it answers gRPC. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const child = spawn(options.cli, devServerArgs(options), {
    detached: !options.foreground,
    stdio: ['ignore', options.foreground ? 'pipe' : 'ignore', 'pipe'],
  });
  let stderr = '';
  // Once a stop is asked for (Ctrl-C reaches the server too), its own workers log a page of WARN lines about
  // closed connections while it shuts down: an operator reads them as a fault. Errors still pass.
  let stopping = false;
  const forward = (chunk: Buffer, to: NodeJS.WriteStream) => {
    if (!stopping) to.write(chunk);
    else for (const line of chunk.toString().split(/(?<=\n)/)) if (!/level=WARN/.test(line)) to.write(line);
  };
  child.stdout?.on('data', (chunk: Buffer) => forward(chunk, process.stdout));
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
    if (options.foreground) forward(chunk, process.stderr);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  if (options.watchdog && child.pid) startWatchdog(process.pid, child.pid);

  const address = `127.0.0.1:${options.port}`;
  const stop = async () => {
    stopping = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`temporal dev server exited with ${child.exitCode}: ${stderr.trim()}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`temporal dev server did not answer on ${address} in time: ${stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const uiUrl = options.headless || !options.uiPort ? undefined : `http://127.0.0.1:${options.uiPort}`;
  return { address, uiUrl, process: child, stop };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/**
 * A tiny detached process that kills the server's process group once its owner is gone, so an
 * interrupted or crashed test run never leaves a dev server behind.
 */
function startWatchdog(ownerPid: number, serverPid: number): void {
  const script = `
    const [owner, server] = process.argv.slice(1).map(Number);
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    const timer = setInterval(() => {
      if (!alive(server)) process.exit(0);
      if (!alive(owner)) {
        // A server in the foreground shares its owner's process group: signal it alone then.
        const kill = (signal) => { try { process.kill(-server, signal); } catch { try { process.kill(server, signal); } catch {} } };
        kill('SIGTERM');
        setTimeout(() => { kill('SIGKILL'); process.exit(0); }, 3000);
        clearInterval(timer);
      }
    }, 300);`;
  const dog = spawn(process.execPath, ['-e', script, String(ownerPid), String(serverPid)], {
    detached: true,
    stdio: 'ignore',
  });
  dog.unref();
}
