/**
 * The real worker entry point in its own process (Temporal's Runtime, and so its Prometheus exporter, is one
 * per process): JSON logs with correlation ids and no secrets, and /metrics serving flowguard's counters next
 * to Temporal's runtime metrics, after a paper order is placed and cancelled through the CLI.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/dev/temporal-dev-server';
import { startPolygonStandIn, type PolygonStandIn } from '../support/polygon-stand-in';
import { runCli } from '../support/cli';
import { readIntegrationState } from '../support/integration-env';
import { uniqueTaskQueue } from '../support/temporal-harness';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

const POLYGON_KEY = `polygon-secret-${randomUUID()}`;
const ALPACA_SECRET = `alpaca-secret-${randomUUID()}`;

describe('worker observability (spawned worker)', () => {
  let polygon: PolygonStandIn;
  let worker: WorkerProcess;
  let metricsPort: number;
  let dataDir: string;
  const taskQueue = uniqueTaskQueue('metrics');
  const account = `acct-${randomUUID().slice(0, 8)}`;
  const { address } = readIntegrationState();
  const cliEnv = () => ({
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    FLOWGUARD_ACCOUNT: account,
  });

  beforeAll(async () => {
    polygon = await startPolygonStandIn({ apiKey: POLYGON_KEY });
    metricsPort = await freePort();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowguard-metrics-'));
    worker = await startWorkerProcess(
      {
        TEMPORAL_TASK_QUEUE: taskQueue,
        FLOWGUARD_METRICS_PORT: String(metricsPort),
        FLOWGUARD_METRICS_HOST: '127.0.0.1',
        FLOWGUARD_DATA_DIR: dataDir,
        FLOWGUARD_LOG_LEVEL: 'info',
        POLYGON_API_KEY: POLYGON_KEY,
        POLYGON_BASE_URL: polygon.restUrl,
        ALPACA_KEY_ID: 'PKUNUSED0000000001',
        ALPACA_SECRET_KEY: ALPACA_SECRET,
      },
      60_000,
    );
  });

  afterAll(async () => {
    await worker?.stop();
    await polygon?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function scrape(): Promise<{ status: number; type: string | null; body: string }> {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
  }

  const sampleValue = (body: string, series: string): number | undefined => {
    const line = body.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('serves flowguard counters and Temporal runtime metrics on one endpoint after an order lifecycle', async () => {
    const clientOrderId = `m-${randomUUID()}`;
    const placed = await runCli(
      [
        'order',
        'place',
        '--symbol',
        'TSLA',
        '--side',
        'buy',
        '--quantity',
        '5',
        '--reference-price',
        '250.30',
        '--client-order-id',
        clientOrderId,
        '--json',
      ],
      cliEnv(),
    );
    expect(placed.stderr).toBe('');
    expect(placed.code).toBe(0);
    const workflowId = (JSON.parse(placed.stdout) as { workflowId: string }).workflowId;

    // Wait until the broker accepted it (the stand-in has no quote for TSLA, so the paper order rests).
    await waitFor('queued', async () => {
      const s = await runCli(['order', 'status', clientOrderId, '--json'], cliEnv());
      return s.code === 0 && (JSON.parse(s.stdout) as { state: string }).state === 'queued' ? true : undefined;
    });
    const cancelled = await runCli(['order', 'cancel', clientOrderId], cliEnv());
    expect(cancelled.code).toBe(0);
    await waitFor('cancelled', async () => {
      const s = await runCli(['order', 'status', clientOrderId, '--json'], cliEnv());
      return s.code === 0 && (JSON.parse(s.stdout) as { state: string }).state === 'cancelled' ? true : undefined;
    });

    // Workflow log lines are forwarded after a short buffer (about 100 ms): poll the scrape until they count.
    const body = await waitFor('terminal order counted', async () => {
      const r = await scrape();
      return sampleValue(r.body, 'flowguard_orders_terminal_total{state="cancelled"}') === 1 ? r.body : undefined;
    });
    const { status, type } = await scrape();
    expect(status).toBe(200);
    expect(type).toBe('text/plain; version=0.0.4; charset=utf-8');

    expect(sampleValue(body, 'flowguard_order_transitions_total{from="pending_submit",to="queued"}')).toBe(1);
    expect(sampleValue(body, 'flowguard_order_transitions_total{from="queued",to="pending_cancel"}')).toBe(1);
    expect(sampleValue(body, 'flowguard_orders_terminal_total{state="cancelled"}')).toBe(1);
    expect(
      sampleValue(body, 'flowguard_broker_call_duration_seconds_count{broker="paper",operation="submit",outcome="ok"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sampleValue(body, 'flowguard_broker_call_duration_seconds_count{broker="paper",operation="cancel",outcome="ok"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(body).toMatch(new RegExp(`flowguard_worker_info\\{identity="[^"]+",task_queue="${taskQueue}",namespace="`));
    // The worker's shared Polygon WebSocket: no stream-mode monitor here, so closed and empty.
    expect(sampleValue(body, 'flowguard_polygon_stream_connected')).toBe(0);
    expect(sampleValue(body, 'flowguard_polygon_stream_feeds')).toBe(0);
    // Temporal's own exporter, re-exported: its families, with this worker's task queue.
    expect(sampleValue(body, 'flowguard_temporal_metrics_up')).toBe(1);
    expect(body).toMatch(/^# TYPE temporal_\w+ (counter|gauge|histogram)$/m);
    expect(body).toMatch(new RegExp(`^temporal_\\w+\\{[^}]*task_queue="${taskQueue}"[^}]*\\} \\d`, 'm'));
    expect(body).toMatch(/^temporal_activity_execution_latency_(bucket|count)\{/m);
    // One TYPE line per family across both sources.
    const families = body.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(new Set(families).size).toBe(families.length);

    const notFound = await fetch(`http://127.0.0.1:${metricsPort}/other`);
    expect(notFound.status).toBe(404);

    // Logs: every stdout/stderr line is JSON; the workflow's transition lines carry its ids; no secret anywhere.
    const output = worker.output();
    const lines = output.split('\n').filter((l) => l.trim() !== '');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const transitions = records.filter((r) => r.msg === 'order state changed' && r.workflowId === workflowId);
    expect(transitions.length).toBeGreaterThanOrEqual(3);
    expect(transitions[0]).toMatchObject({
      level: 'info',
      sdkComponent: 'workflow',
      workflowType: 'orderWorkflow',
      clientOrderId,
      taskQueue,
    });
    expect(typeof transitions[0]!.runId).toBe('string');
    // Business events (issue 12 item 8): each transition says which, and the submit the broker took is one line.
    for (const t of transitions) expect(t.event).toBe(`order.${String(t.to)}`);
    const placedLines = records.filter((r) => r.event === 'order.placed' && r.clientOrderId === clientOrderId);
    expect(placedLines).toHaveLength(1);
    expect(placedLines[0]).toMatchObject({ level: 'info', symbol: expect.any(String), side: expect.any(String) });
    expect(String(placedLines[0]!.msg)).toMatch(/^order placed: (buy|sell) \d+ [A-Z]+ @ [\d.]+ on paper$/);
    // webpack's statistics never reach info (the worker bundles nothing here, and would log them at debug).
    expect(records.filter((r) => /webpack \d/.test(String(r.msg)))).toEqual([]);
    const audit = records.find(
      (r) => r.component === 'audit' && r.event === 'submit' && r.clientOrderId === clientOrderId,
    );
    expect(audit).toMatchObject({ workflowId, outcome: 'ok', broker: 'paper' });
    expect(output).not.toContain(POLYGON_KEY);
    expect(output).not.toContain(ALPACA_SECRET);
    expect(output).not.toContain('taskToken');
  });
});
