/**
 * Issue 11, item 5: the paper broker is embedded. The real worker entry point in its own process with no keys
 * at all takes a paper order (it rests: nothing to fill against), says so at start and in `flowguard health`,
 * and the kill switch confirms the cancel. With a Polygon key whose base URL does not answer (the issue's
 * reproduction), the order is still created and queued, never declared failed, and cancel-all confirms it.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/dev/temporal-dev-server';
import { type CancelAllEntry } from '../../src/workflows/desk';
import { type OrderStatus } from '../../src/workflows/order';
import { runCli, type CliResult } from '../support/cli';
import { readIntegrationState } from '../support/integration-env';
import { uniqueTaskQueue } from '../support/temporal-harness';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

/** Nothing from the developer's shell: no market data, no broker keys, no config file. */
const NO_KEYS = {
  POLYGON_API_KEY: '',
  POLYGON_BASE_URL: '',
  POLYGON_WS_URL: '',
  ALPACA_KEY_ID: '',
  ALPACA_SECRET_KEY: '',
  ALPACA_BASE_URL: '',
  ROBINHOOD_TOKEN: '',
  ROBINHOOD_ACCOUNT_NUMBER: '',
  FLOWGUARD_CONFIG: '',
  FLOWGUARD_HEALTH_BROKERS: '',
};

function json<T>(r: CliResult): T {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}

interface Placed {
  readonly workflowId: string;
  readonly clientOrderId: string;
}

interface HealthReport {
  readonly healthy: boolean;
  readonly checks: readonly { name: string; ok: boolean; detail: string; required: boolean }[];
}

describe.each([
  { name: 'no keys at all', polygon: () => Promise.resolve({}), fillsAgainst: /fills against nothing: no market data/ },
  {
    name: 'a Polygon key whose base URL does not answer',
    polygon: async () => ({
      POLYGON_API_KEY: 'key-that-goes-nowhere',
      POLYGON_BASE_URL: `http://127.0.0.1:${await freePort()}`,
    }),
    fillsAgainst: /fills against Polygon REST at http:\/\/127\.0\.0\.1:\d+/,
  },
])('paper broker with $name (spawned worker)', ({ polygon, fillsAgainst }) => {
  const { address, namespace } = readIntegrationState();
  const taskQueue = uniqueTaskQueue('paper-no-keys');
  const account = `acct-${randomUUID().slice(0, 8)}`;
  let worker: WorkerProcess;
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowguard-paper-no-keys-'));
    env = {
      ...NO_KEYS,
      ...(await polygon()),
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      FLOWGUARD_ACCOUNT: account,
      FLOWGUARD_DATA_DIR: dataDir,
      FLOWGUARD_ORDER_POLL_INTERVAL_SECONDS: '1',
    };
    worker = await startWorkerProcess(env);
  });

  afterAll(async () => {
    await worker?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('says at start what paper fills against', () => {
    const line = worker
      .output()
      .split('\n')
      .find((l) => l.includes('paper broker fills against'));
    expect(line).toMatch(fillsAgainst);
  });

  it('an order rests queued, health reports paper honestly, and cancel-all confirms the cancel', async () => {
    const placed = json<Placed>(
      await runCli(
        [
          'order',
          'place',
          '--symbol',
          'TSLA',
          '--side',
          'buy',
          '--quantity',
          '10',
          '--reference-price',
          '250.30',
          '--json',
        ],
        env,
      ),
    );
    const deadline = Date.now() + 20_000;
    let status: OrderStatus;
    for (;;) {
      status = json<OrderStatus>(await runCli(['order', 'status', placed.clientOrderId, '--json'], env));
      if (status.state !== 'pending_submit') break;
      if (Date.now() > deadline) throw new Error(`order stuck in ${status.state}: ${worker.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toMatchObject({ state: 'queued', filledQuantity: 0 });

    // The worker's own paper store holds exactly that order, open.
    const book = JSON.parse(fs.readFileSync(path.join(dataDir, 'paper-broker.json'), 'utf8')) as {
      orders: Record<string, { status: string }>;
    };
    expect(book.orders[placed.clientOrderId]).toMatchObject({ status: 'new' });

    const health = await runCli(['health', '--json'], env);
    const report = JSON.parse(health.stdout) as HealthReport;
    const paper = report.checks.find((c) => c.name === 'broker:paper');
    expect(paper).toMatchObject({ ok: true, required: true });
    expect(paper?.detail).toContain(`store ${path.join(dataDir, 'paper-broker.json')} writable, 1 open order(s)`);
    expect(paper?.detail).toMatch(fillsAgainst);

    const killed = json<{ broker: string; results: CancelAllEntry[] }>(
      await runCli(['cancel-all', '--wait', '--json', '--reason', 'paper without market data'], env),
    );
    expect(killed.broker).toBe('paper');
    expect(killed.results).toEqual([
      expect.objectContaining({ source: 'flowguard', clientOrderId: placed.clientOrderId, outcome: 'cancelled' }),
    ]);
    const after = JSON.parse(fs.readFileSync(path.join(dataDir, 'paper-broker.json'), 'utf8')) as typeof book;
    expect(after.orders[placed.clientOrderId]).toMatchObject({ status: 'canceled' });
  });
});
