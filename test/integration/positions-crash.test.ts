/**
 * The positions watch started by the worker itself (FLOWGUARD_POSITIONS_WATCH) survives workers SIGKILLed in the
 * middle of a sync — once while the broker's positions are being read, once while monitors are being started — and
 * no position ever gets a second monitor run.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { positionsStatus, stopPositionsWatch } from '../../src/cli/positions';
import { startPolygonStandIn, type PolygonStandIn } from '../support/polygon-stand-in';
import { WorkflowIds } from '../../src/shared/contracts';
import { type PositionsView } from '../../src/workflows/positions';
import { AlpacaStandIn } from '../support/alpaca-stand-in';
import { cliContext, connectTestEnv, uniqueTaskQueue } from '../support/temporal-harness';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

jest.setTimeout(120_000);

const SYMBOLS = ['AAPL', 'AMZN', 'GOOG', 'META', 'MSFT', 'NVDA'];

describe('positions watch across worker crashes', () => {
  let env: TestWorkflowEnvironment;
  let polygon: PolygonStandIn;
  let alpaca: AlpacaStandIn;
  let dataDir: string;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    env = await connectTestEnv();
    [polygon, alpaca] = await Promise.all([startPolygonStandIn({ clock: { mode: 'manual' } }), AlpacaStandIn.start()]);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowguard-positions-crash-'));
  });

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await Promise.all([polygon?.close(), alpaca?.close()]);
    await env?.teardown();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let v: T | undefined;
      try {
        v = await read();
        if (done(v)) return v;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) throw new Error(`not met in ${timeoutMs} ms: ${JSON.stringify(v)?.slice(0, 1500)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function runsOf(workflowId: string): Promise<number> {
    let n = 0;
    for await (const _ of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) n++;
    return n;
  }

  it('SIGKILL mid-read and mid-start: every long position ends with exactly one monitor run', async () => {
    const taskQueue = uniqueTaskQueue('positions-crash');
    const account = `c-${randomUUID().slice(0, 6)}`;
    const ctx = cliContext(env, taskQueue);
    for (const s of SYMBOLS) alpaca.setPosition(s, '10', '100.00');
    const workerEnv = {
      TEMPORAL_TASK_QUEUE: taskQueue,
      FLOWGUARD_POSITIONS_WATCH: 'alpaca',
      FLOWGUARD_ACCOUNT: account,
      FLOWGUARD_POSITIONS_RECONCILE_SECONDS: '1',
      ALPACA_KEY_ID: alpaca.keyId,
      ALPACA_SECRET_KEY: alpaca.secretKey,
      ALPACA_BASE_URL: alpaca.baseUrl,
      POLYGON_API_KEY: polygon.apiKey,
      POLYGON_BASE_URL: polygon.restUrl,
      POLYGON_WS_URL: polygon.wsUrl,
      FLOWGUARD_DATA_DIR: dataDir,
    };
    const reads = () => alpaca.requestsFor('GET /v2/positions').length;

    // 1. The first read hangs long enough to kill the worker while it is in flight.
    alpaca.faults.next('GET /v2/positions', { kind: 'delay', ms: 5_000 });
    const first = await startWorkerProcess(workerEnv);
    workers.push(first);
    await until(
      async () => reads(),
      (n) => n >= 1,
      20_000,
    );
    await first.kill();

    // 2. The next worker takes the read over (heartbeat timeout) and starts monitors: killed as the first appears.
    const second = await startWorkerProcess(workerEnv);
    workers.push(second);
    const watchId = WorkflowIds.positions('alpaca', account);
    await until(
      async () => (await positionsStatus(ctx, 'alpaca', account)).events.filter((e) => e.action === 'started').length,
      (n) => n >= 1,
      40_000,
    );
    await second.kill();

    // 3. A third worker finishes the job.
    const third = await startWorkerProcess(workerEnv);
    workers.push(third);
    const view: PositionsView = await until(
      () => positionsStatus(ctx, 'alpaca', account),
      (v) => SYMBOLS.every((s) => v.monitors[s]?.status === 'running'),
      40_000,
    );
    expect(view.workflowId).toBe(watchId);
    for (const s of SYMBOLS) {
      const monitorId = `position:alpaca:${account}:${s}`;
      expect(await runsOf(monitorId)).toBe(1);
      expect((await env.client.workflow.getHandle(monitorId).describe()).status.name).toBe('RUNNING');
    }
    // The watch itself: one workflow id, started by the workers' FLOWGUARD_POSITIONS_WATCH (never by this test).
    expect(await runsOf(watchId)).toBeGreaterThanOrEqual(1);
    expect((await env.client.workflow.getHandle(watchId).describe()).status.name).toBe('RUNNING');

    // Stopped, not terminated: a terminate would cut the busy watch's workflow task short.
    await stopPositionsWatch(ctx, 'alpaca', account, { stopMonitors: true });
    await env.client.workflow.getHandle(watchId).result();
    for (const s of SYMBOLS) await env.client.workflow.getHandle(`position:alpaca:${account}:${s}`).result();
  });
});
