import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { MemoryPaperStore, PAPER_STATE_VERSION } from '../../src/brokers/paper/store';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { monitorStatus } from '../../src/cli/monitor';
import { positionsStatus, startPositionsWatch, stopPositionsWatch } from '../../src/cli/positions';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { AppConfigSchema, type TradingSession } from '../../src/domain/config';
import { localDateTime } from '../../src/domain/sessions';
import { createPolygonRest } from '../../src/market-data/polygon-rest';
import { polygonPriceSource } from '../../src/market-data/polygon-price-source';
import { TokenBucketRateLimiter } from '../../src/market-data/rate-limiter';
import { WorkflowIds } from '../../src/shared/contracts';
import { positionMonitorWorkflow, stopMonitorSignal, type MonitorView } from '../../src/workflows/position-monitor';
import { startPolygonStandIn, type PolygonStandIn } from '../support/polygon-stand-in';
import { cliContext, connectTestEnv, createTestWorker, uniqueTaskQueue } from '../support/temporal-harness';

// Issue 13 item 4 end to end: the monitor reads Polygon's market-status endpoints (the stand-in's) through the
// real client and activity on the dev server, and sleeps through a holiday instead of polling an empty market.
const config = AppConfigSchema.parse({});
/** Every day, all day, New York time: only the exchange calendar can close it. */
const ALL_DAY_NEW_YORK: TradingSession = {
  name: 'allday',
  start: '00:00',
  end: '24:00',
  timeZone: 'America/New_York',
  days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
};

describe('exchange calendar: monitor with the Polygon stand-in', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let polygon: PolygonStandIn;
  let ctx: CliContext;
  const taskQueue = uniqueTaskQueue('calendar');
  const paperStore = new MemoryPaperStore();

  beforeAll(async () => {
    env = await connectTestEnv();
    polygon = await startPolygonStandIn({ clock: { mode: 'manual' } });
    const rest = createPolygonRest({
      apiKey: polygon.apiKey,
      baseUrl: polygon.restUrl,
      rateLimiter: new TokenBucketRateLimiter({ ratePerSecond: 50 }),
    });
    const paper = new PaperBroker({ store: paperStore, marketPrices: polygonPriceSource(() => rest) });
    worker = await createTestWorker(env, {
      taskQueue,
      deps: {
        polygon: () => rest,
        polygonStream: () => ({ apiKey: polygon.apiKey, wsBaseUrl: polygon.wsUrl }),
        brokers: createBrokerRegistry({ overrides: { paper } }),
        audit: createMemoryAuditLog(),
      },
    });
    running = worker.run();
    ctx = cliContext(env, taskQueue);
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await polygon?.close();
    await env?.teardown();
  });

  async function startMonitor(symbol: string) {
    const positionId = `cal-${randomUUID().slice(0, 8)}`;
    await env.client.workflow.start(positionMonitorWorkflow, {
      workflowId: WorkflowIds.position(positionId),
      taskQueue,
      args: [
        {
          positionId,
          symbol,
          quantity: 10,
          mode: 'alert',
          dataMode: 'poll',
          settings: {
            detectors: config.detectors,
            pollIntervalSeconds: 1,
            sessions: [ALL_DAY_NEW_YORK],
            staleCheck: true,
            exit: { broker: 'paper', account: 'main', pricing: orderSettingsFromConfig(config.orders).pricing },
          },
        },
      ],
    });
    return positionId;
  }

  async function waitFor(positionId: string, done: (v: MonitorView) => boolean, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await monitorStatus(ctx, positionId);
      if (done(v)) return v;
      if (Date.now() > deadline) throw new Error(`monitor ${positionId}: ${JSON.stringify(v).slice(0, 2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function stop(positionId: string) {
    const handle = env.client.workflow.getHandle(WorkflowIds.position(positionId));
    await handle.signal(stopMonitorSignal, {});
    await handle.result();
  }

  it('a holiday today: outside_session with the holiday named, no market-data request, no stale alert', async () => {
    const today = localDateTime(Date.now(), 'America/New_York').date;
    polygon.setHolidays([
      { date: today, exchange: 'NYSE', name: 'Test Holiday', status: 'closed' },
      { date: today, exchange: 'NASDAQ', name: 'Test Holiday', status: 'closed' },
    ]);
    polygon.clearRequests();
    const positionId = await startMonitor('HOLI');
    const v = await waitFor(positionId, (x) => x.state === 'outside_session');
    expect(v.sessionWait?.reason).toBe('holiday (Test Holiday)');
    expect(v.sessionWait?.sessions).toEqual(['allday']);
    await new Promise((r) => setTimeout(r, 3000));
    const after = await monitorStatus(ctx, positionId);
    expect(after.state).toBe('outside_session');
    expect(after.healthAlerts).toEqual([]);
    expect(polygon.requests.filter((r) => r.symbol === 'HOLI')).toEqual([]);
    expect(polygon.requestCount('market-upcoming')).toBe(1);
    await stop(positionId);
  });

  it('a second monitor on the same worker: the worker’s calendar of the day answers, no second request', async () => {
    const positionId = await startMonitor('HOL2');
    const v = await waitFor(positionId, (x) => x.state === 'outside_session');
    expect(v.sessionWait?.reason).toBe('holiday (Test Holiday)');
    expect(polygon.requestCount('market-upcoming')).toBe(1);
    expect(polygon.requests.filter((r) => r.symbol === 'HOL2')).toEqual([]);
    await stop(positionId);
  });

  it('the positions watch on the holiday: reads the broker every 15 min, and the monitor it starts sleeps to the open', async () => {
    const account = `cal-${randomUUID().slice(0, 6)}`;
    const at = new Date().toISOString();
    const today = localDateTime(Date.now(), 'America/New_York').date;
    // Set again (the same rows as above) so this test also runs alone; the worker's calendar of the day may be held.
    polygon.setHolidays([
      { date: today, exchange: 'NYSE', name: 'Test Holiday', status: 'closed' },
      { date: today, exchange: 'NASDAQ', name: 'Test Holiday', status: 'closed' },
    ]);
    const upcomingBefore = polygon.requestCount('market-upcoming');
    await paperStore.save({
      version: PAPER_STATE_VERSION,
      orders: {
        'cal-buy': {
          brokerOrderId: 'paper-cal-buy',
          clientOrderId: 'cal-buy',
          symbol: 'HOLC',
          side: 'buy',
          quantity: 5,
          limitPrice: '50.00',
          timeInForce: 'day',
          status: 'filled',
          executions: [{ id: 'cal-buy-1', quantity: 5, price: '50.00', timestamp: at }],
          createdAt: at,
          updatedAt: at,
          watermarkNs: '0',
          quoteNs: null,
          quoteSizeUsed: 0,
        },
      },
    });
    const watchConfig = AppConfigSchema.parse({
      marketData: { sessions: [ALL_DAY_NEW_YORK], pollIntervalSeconds: 1 },
      positions: { reconcileSeconds: 1 },
    });
    await startPositionsWatch(ctx, { broker: 'paper', account }, watchConfig);
    const deadline = Date.now() + 30_000;
    let v = await positionsStatus(ctx, 'paper', account);
    while (!(v.market && v.monitors.HOLC?.status === 'running') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      v = await positionsStatus(ctx, 'paper', account);
    }
    expect(v).toMatchObject({ monitors: { HOLC: { status: 'running' } } });
    expect(v.market).toMatchObject({ open: false, reason: 'holiday (Test Holiday)', reconcileSeconds: 900 });
    const monitor = await waitFor(`paper:${account}:HOLC`, (x) => x.state === 'outside_session');
    expect(monitor.sessionWait?.reason).toBe('holiday (Test Holiday)');
    // Reconcile every second in session; on the holiday one read, not a few more, in the next three seconds.
    const syncs = v.syncs;
    await new Promise((r) => setTimeout(r, 3000));
    expect((await positionsStatus(ctx, 'paper', account)).syncs).toBe(syncs);
    // The worker's calendar of the day answered the watch too.
    expect(polygon.requestCount('market-upcoming')).toBe(Math.max(1, upcomingBefore));
    expect(polygon.requests.filter((r) => r.symbol === 'HOLC')).toEqual([]);
    await stopPositionsWatch(ctx, 'paper', account, { stopMonitors: true });
    await env.client.workflow.getHandle(WorkflowIds.positions('paper', account)).result();
  });
});
