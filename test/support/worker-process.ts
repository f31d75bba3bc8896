import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { readIntegrationState } from './integration-env';

const ROOT = path.resolve(__dirname, '..', '..');

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** SIGKILL: the crash the durability tests are about. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** Runs the real worker entry point (`src/worker.ts`) in its own process on the run's dev server. */
export async function startWorkerProcess(env: Record<string, string>, timeoutMs = 30_000): Promise<WorkerProcess> {
  const state = readIntegrationState();
  // node with tsx's loader, not the tsx CLI: the CLI runs the script in a child process of its own, so killing
  // it would orphan the real worker instead of crashing it.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'worker.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      TEMPORAL_ADDRESS: state.address,
      TEMPORAL_NAMESPACE: state.namespace,
      FLOWGUARD_WORKFLOW_BUNDLE: state.bundlePath,
      // Several workers run at once in tests: no fixed metrics port.
      FLOWGUARD_METRICS_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + timeoutMs;
  while (!output.includes('flowguard worker polling')) {
    if (child.exitCode !== null) throw new Error(`worker exited early: ${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`worker did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    output: () => output,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
