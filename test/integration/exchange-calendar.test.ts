import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { MemoryPaperStore } from '../../src/brokers/paper/store';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { monitorStatus } from '../../src/cli/monitor';
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

  beforeAll(async () => {
    env = await connectTestEnv();
    polygon = await startPolygonStandIn({ clock: { mode: 'manual' } });
    const rest = createPolygonRest({
      apiKey: polygon.apiKey,
      baseUrl: polygon.restUrl,
      rateLimiter: new TokenBucketRateLimiter({ ratePerSecond: 50 }),
    });
    const paper = new PaperBroker({ store: new MemoryPaperStore(), marketPrices: polygonPriceSource(() => rest) });
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
});
