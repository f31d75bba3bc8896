/**
 * A notification destination down for two minutes (issue 13): the monitor keeps its cadence and raises its alerts
 * on time meanwhile, and once the destination answers again every event reaches it exactly once.
 */
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
import { startPolygonStandIn, type PolygonStandIn } from '../support/polygon-stand-in';
import { ALWAYS_OPEN_SESSION, AppConfigSchema } from '../../src/domain/config';
import { createPolygonRest } from '../../src/market-data/polygon-rest';
import { TokenBucketRateLimiter } from '../../src/market-data/rate-limiter';
import { NotificationSender } from '../../src/notifications/sender';
import { WorkflowIds } from '../../src/shared/contracts';
import { positionMonitorWorkflow, stopMonitorSignal, type MonitorView } from '../../src/workflows/position-monitor';
import { loadScenario, shiftRecords } from '../support/scenarios';
import { connectTestEnv, createTestWorker, uniqueTaskQueue, cliContext } from '../support/temporal-harness';
import { WebhookReceiver } from '../support/webhook-receiver';

jest.setTimeout(240_000);

const OUTAGE_MS = 120_000;
const config = AppConfigSchema.parse({ marketData: { pollIntervalSeconds: 1, sessions: [ALWAYS_OPEN_SESSION] } });

describe('a notification destination down for two minutes', () => {
  let env: TestWorkflowEnvironment;
  let polygon: PolygonStandIn;
  let hook: WebhookReceiver;
  let worker: Worker;
  let running: Promise<void>;
  let ctx: CliContext;
  const taskQueue = uniqueTaskQueue('notify-outage');

  beforeAll(async () => {
    env = await connectTestEnv();
    [polygon, hook] = await Promise.all([
      startPolygonStandIn({ clock: { mode: 'manual' }, maxConnections: 1 }),
      WebhookReceiver.start(),
    ]);
    const rest = createPolygonRest({
      apiKey: polygon.apiKey,
      baseUrl: polygon.restUrl,
      rateLimiter: new TokenBucketRateLimiter({ ratePerSecond: 50 }),
    });
    worker = await createTestWorker(env, {
      taskQueue,
      deps: {
        polygon: () => rest,
        polygonStream: () => ({ apiKey: polygon.apiKey, wsBaseUrl: polygon.wsUrl }),
        brokers: createBrokerRegistry({ overrides: { paper: new PaperBroker({ store: new MemoryPaperStore() }) } }),
        audit: createMemoryAuditLog(),
        notifications: new NotificationSender({
          destinations: [
            {
              name: 'webhook',
              type: 'webhook',
              url: `${hook.url}/down-then-up`,
              secret: null,
              token: null,
              minSeverity: 'info',
              rateLimitPerMinute: 600,
              describe: 'webhook (test)',
            },
          ],
        }),
      },
    });
    running = worker.run();
    ctx = cliContext(env, taskQueue);
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await Promise.all([polygon?.close(), hook?.close()]);
    await env?.teardown();
  });

  it('the monitor keeps polling and alerting; every event is delivered once after the destination returns', async () => {
    const scenario = loadScenario('seller-cluster-exit');
    const firstAlertNs = BigInt(scenario.expected.alerts[0]!.timestampNs as string);
    const now = BigInt(Date.now()) * 1_000_000n;
    const delta = now - (firstAlertNs - 20_000_000_000n);
    const symbol = 'DOWNX';
    polygon.loadScenario(symbol, {
      trades: shiftRecords(scenario.trades, delta),
      quotes: shiftRecords(scenario.quotes, delta),
    });
    polygon.advanceTo(now);
    const positionId = `outage-${randomUUID().slice(0, 8)}`;
    const workflowId = WorkflowIds.position(positionId);
    await env.client.workflow.start(positionMonitorWorkflow, {
      workflowId,
      taskQueue,
      args: [
        {
          positionId,
          symbol,
          quantity: 200,
          mode: 'alert',
          dataMode: 'poll',
          settings: {
            detectors: config.detectors,
            pollIntervalSeconds: 1,
            sessions: config.marketData.sessions,
            staleCheck: true,
            exit: { broker: 'paper', account: 'outage', pricing: orderSettingsFromConfig(config.orders).pricing },
          },
        },
      ],
    });
    const status = () => monitorStatus(ctx, positionId);
    const wait = async (done: (v: MonitorView) => boolean, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await status();
        if (done(v)) return v;
        if (Date.now() > deadline) throw new Error(`monitor did not get there: ${JSON.stringify(v).slice(0, 1500)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    await wait((v) => v.live && v.dataHealth.tradesSeen > 0, 30_000);

    hook.failWith(503);
    const downAt = Date.now();
    polygon.releaseAll();
    // Alerts and the exit signal arrive on time although nothing can be delivered.
    const alerted = await wait((v) => v.alertTotal === 3 && v.exitSignal !== null, 30_000);
    expect(Date.now() - downAt).toBeLessThan(30_000);
    expect(hook.accepted()).toHaveLength(0);

    // Two minutes of refusals: the monitor polls at its 1 s cadence the whole time.
    const pollsSamples: number[] = [];
    while (Date.now() - downAt < OUTAGE_MS) {
      pollsSamples.push((await status()).dataHealth.polls);
      await new Promise((r) => setTimeout(r, 10_000));
    }
    const during = await status();
    expect(during.state).toBe('monitoring');
    // ≥ 0.5 polls a second through the outage (1 s cadence, generous for a shared CI machine).
    expect(during.dataHealth.polls - alerted.dataHealth.polls).toBeGreaterThan((Date.now() - downAt) / 2000 - 10);
    for (let i = 1; i < pollsSamples.length; i++) expect(pollsSamples[i]!).toBeGreaterThan(pollsSamples[i - 1]!);
    const refused = hook.requests().length;
    expect(refused).toBeGreaterThanOrEqual(4 * 4); // 4 events, retried several times each
    expect(hook.accepted()).toHaveLength(0);

    hook.recover();
    const upAt = Date.now();
    const deadline = upAt + 60_000;
    while (hook.accepted().length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const delivered = hook.accepted().map((r) => r.json as { key: string; kind: string });
    // Retries back off to at most 30 s: everything lands within about that once the destination is back.
    expect(Date.now() - upAt).toBeLessThan(45_000);
    expect(delivered.map((e) => e.kind).sort()).toEqual(['alert', 'alert', 'alert', 'exit_signal']);
    expect(new Set(delivered.map((e) => e.key)).size).toBe(4);
    // Nothing more arrives later (no duplicate from a retry still in flight).
    await new Promise((r) => setTimeout(r, 5_000));
    expect(hook.accepted()).toHaveLength(4);
    const after = await status();
    expect(after.alertTotal).toBe(3);
    // The monitor continued-as-new during the outage (the dev server suggests it every 200 events here): the events
    // still in flight went to the next run and were sent from there, still once each.
    let runs = 0;
    for await (const _ of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs++;
    expect(runs).toBeGreaterThan(1);

    await env.client.workflow.getHandle(workflowId).signal(stopMonitorSignal, { reason: 'test done' });
    await env.client.workflow.getHandle(workflowId).result();
  });
});
