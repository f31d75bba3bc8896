/**
 * Notifications from the workflows that have something to say (issue 13 item 3), on the real dev server: a
 * monitor's alerts, exit signal and protective-exit fill; the kill switch; the circuit breaker. And a fill the desk
 * hears of wakes the account's positions watch at once. Destinations are local webhook receivers.
 */
import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { createAlpacaBroker } from '../../src/brokers/alpaca/alpaca-broker';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { MemoryPaperStore } from '../../src/brokers/paper/store';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { monitorStatus } from '../../src/cli/monitor';
import { cancelAll, deskState, placeOrder } from '../../src/cli/orders';
import { positionsStatus, startPositionsWatch, stopPositionsWatch } from '../../src/cli/positions';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { startPolygonStandIn, type PolygonStandIn } from '../support/polygon-stand-in';
import { ALWAYS_OPEN_SESSION, AppConfigSchema } from '../../src/domain/config';
import { createPolygonRest } from '../../src/market-data/polygon-rest';
import { polygonPriceSource } from '../../src/market-data/polygon-price-source';
import { TokenBucketRateLimiter } from '../../src/market-data/rate-limiter';
import { NotificationSender } from '../../src/notifications/sender';
import { WorkflowIds } from '../../src/shared/contracts';
import { deskWorkflow } from '../../src/workflows/desk';
import { positionMonitorWorkflow, type MonitorView } from '../../src/workflows/position-monitor';
import { AlpacaStandIn } from '../support/alpaca-stand-in';
import { loadScenario, shiftRecords } from '../support/scenarios';
import { connectTestEnv, createTestWorker, uniqueTaskQueue, cliContext } from '../support/temporal-harness';
import { WebhookReceiver, verifySignature, type ReceivedRequest } from '../support/webhook-receiver';

const config = AppConfigSchema.parse({
  marketData: { pollIntervalSeconds: 1, sessions: [ALWAYS_OPEN_SESSION] },
  orders: { pollIntervalSeconds: 1, sellOffset: '0', retry: { maximumAttempts: 2, initialIntervalMs: 200 } },
});
const orderSettings = orderSettingsFromConfig(config.orders, 3);
const SECRET = 'whsec-hooks-0001';

interface Sent {
  key: string;
  kind: string;
  severity: string;
  title: string;
  workflowId: string;
  fields: Record<string, unknown>;
}

describe('notifications from monitors, the desk and fills', () => {
  let env: TestWorkflowEnvironment;
  let polygon: PolygonStandIn;
  let alpaca: AlpacaStandIn;
  let hook: WebhookReceiver;
  let worker: Worker;
  let running: Promise<void>;
  let ctx: CliContext;
  const taskQueue = uniqueTaskQueue('notify-hooks');

  const sent = (where: string): Sent[] =>
    hook
      .accepted()
      .map((r: ReceivedRequest) => r.json as Sent)
      .filter((e) => e.workflowId === where);

  async function waitFor<T>(read: () => Promise<T> | T, done: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let v: T | undefined;
      try {
        v = await read();
        if (done(v)) return v;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) throw new Error(`not met in ${timeoutMs} ms: ${JSON.stringify(v)?.slice(0, 2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    env = await connectTestEnv();
    [polygon, alpaca, hook] = await Promise.all([
      startPolygonStandIn({ clock: { mode: 'manual' }, maxConnections: 1 }),
      AlpacaStandIn.start({ buyingPower: '100000' }),
      WebhookReceiver.start(),
    ]);
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
        brokers: createBrokerRegistry({ overrides: { paper, alpaca: createAlpacaBroker(alpaca.config(1000)) } }),
        audit: createMemoryAuditLog(),
        notifications: new NotificationSender({
          destinations: [
            {
              name: 'webhook',
              type: 'webhook',
              url: `${hook.url}/flowguard`,
              secret: SECRET,
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
    await Promise.all([polygon?.close(), alpaca?.close(), hook?.close()]);
    await env?.teardown();
  });

  it("a monitor's alerts, exit signal and protective-exit fill are sent once each; the fill wakes the positions watch", async () => {
    const account = `m-${randomUUID().slice(0, 6)}`;
    // The watch reconciles hourly: only the desk's wake-up can make it read the account within the test.
    await startPositionsWatch(ctx, { broker: 'paper', account, reconcileSeconds: 3600 }, config);
    const watchBefore = await waitFor(
      () => positionsStatus(ctx, 'paper', account),
      (v) => v.syncs >= 1,
    );

    const scenario = loadScenario('seller-cluster-exit');
    const firstAlertNs = BigInt(scenario.expected.alerts[0]!.timestampNs as string);
    const now = BigInt(Date.now()) * 1_000_000n;
    const delta = now - (firstAlertNs - 20_000_000_000n);
    const symbol = 'HOOKX';
    polygon.loadScenario(symbol, {
      trades: shiftRecords(scenario.trades, delta),
      quotes: shiftRecords(scenario.quotes, delta),
    });
    polygon.advanceTo(now);
    await env.client.workflow.start(deskWorkflow, {
      workflowId: WorkflowIds.desk('paper', account),
      taskQueue,
      workflowIdConflictPolicy: 'USE_EXISTING',
      args: [{ broker: 'paper', account, settings: orderSettings }],
    });
    const positionId = `hooks-${randomUUID().slice(0, 8)}`;
    const workflowId = WorkflowIds.position(positionId);
    await env.client.workflow.start(positionMonitorWorkflow, {
      workflowId,
      taskQueue,
      args: [
        {
          positionId,
          symbol,
          quantity: 500,
          entryPrice: '251.00',
          mode: 'auto-exit',
          dataMode: 'poll',
          settings: {
            detectors: config.detectors,
            pollIntervalSeconds: 1,
            sessions: config.marketData.sessions,
            staleCheck: true,
            exit: { broker: 'paper', account, pricing: orderSettings.pricing },
          },
        },
      ],
    });
    await waitFor(
      () => monitorStatus(ctx, positionId),
      (v: MonitorView) => v.live && v.dataHealth.tradesSeen > 0,
    );
    polygon.releaseAll();
    const exited = (await env.client.workflow.getHandle(workflowId).result()) as MonitorView;
    expect(exited.state).toBe('exited');

    const events = await waitFor(
      () => sent(workflowId),
      (list) => list.some((e) => e.kind === 'protective_exit'),
    );
    expect(events.map((e) => e.kind)).toEqual(['alert', 'alert', 'alert', 'exit_signal', 'protective_exit']);
    expect(new Set(events.map((e) => e.key)).size).toBe(events.length);
    expect(events.every((e) => e.key.startsWith(`${workflowId}#`))).toBe(true);
    expect(events[3]).toMatchObject({ severity: 'critical', title: `${symbol}: EXIT SIGNAL (large_seller_cluster)` });
    expect(events[4]).toMatchObject({
      severity: 'warning',
      fields: expect.objectContaining({ state: 'filled', filledQuantity: 500 }),
    });
    for (const r of hook.accepted()) expect(verifySignature(r, SECRET)).toBe(true);

    // The protective SELL filled at the paper broker: the desk woke the watch, which read the account at once
    // (500 sold that were never bought there: a short, listed and skipped with its note).
    const watched = await waitFor(
      () => positionsStatus(ctx, 'paper', account),
      (v) => v.syncs > watchBefore.syncs && v.skipped.some((s) => s.symbol === symbol),
      15_000,
    );
    expect(watched.skipped).toEqual([expect.objectContaining({ symbol, quantity: '-500', reason: 'short' })]);
    await stopPositionsWatch(ctx, 'paper', account, {});
  });

  it("a partial fill seen by the order's own polling wakes the watch while the order still works", async () => {
    const account = `p-${randomUUID().slice(0, 6)}`;
    // No trade_updates stream in this file and an hourly reconcile: only the order workflow's wake-up can do it.
    await startPositionsWatch(ctx, { broker: 'alpaca', account, reconcileSeconds: 3600 }, config);
    await waitFor(
      () => positionsStatus(ctx, 'alpaca', account),
      (v) => v.syncs >= 1,
    );
    const placed = await placeOrder(
      ctx,
      {
        symbol: 'DIA',
        side: 'buy',
        quantity: '10',
        referencePrice: '400.00',
        broker: 'alpaca',
        account,
        clientOrderId: `poll-partial-${randomUUID()}`,
      },
      orderSettings,
    );
    const atBroker = await waitFor(
      () => alpaca.orderByClientId(placed.clientOrderId),
      (o) => o !== undefined,
    );
    alpaca.fill(atBroker!.id, 3, '399.50');
    const watched = await waitFor(
      () => positionsStatus(ctx, 'alpaca', account),
      (v) => v.monitors.DIA?.status === 'running',
      15_000,
    );
    expect(watched.monitors.DIA).toMatchObject({ quantity: 3, entryPrice: '399.5' });
    expect(alpaca.order(atBroker!.id).status).toBe('partially_filled');
    await cancelAll(ctx, { broker: 'alpaca', account, reason: 'test cleanup', wait: true }, orderSettings);
    alpaca.setPosition('DIA', '0', '0');
    await stopPositionsWatch(ctx, 'alpaca', account, { stopMonitors: true });
  });

  it('the kill switch run is sent, critical, with its counts', async () => {
    const account = `k-${randomUUID().slice(0, 6)}`;
    const { run } = await cancelAll(
      ctx,
      { broker: 'paper', account, reason: 'test kill switch', wait: true },
      orderSettings,
    );
    const desk = WorkflowIds.desk('paper', account);
    const [event] = await waitFor(
      () => sent(desk),
      (list) => list.length === 1,
    );
    expect(event).toMatchObject({
      key: `${desk}#kill_switch:${run!.id}`,
      kind: 'kill_switch',
      severity: 'critical',
      fields: expect.objectContaining({ orders: 0 }),
    });
  });

  it('a destination that refuses outright: the failure is recorded and shown, not retried, the watch unaffected', async () => {
    const account = `f-${randomUUID().slice(0, 6)}`;
    alpaca.setPosition('ZZZ', '-5', '10.00');
    hook.failWith(404);
    try {
      await startPositionsWatch(ctx, { broker: 'alpaca', account, reconcileSeconds: 1 }, config);
      const v = await waitFor(
        () => positionsStatus(ctx, 'alpaca', account),
        (s) => s.notifications.failed === 1 && s.syncs >= 3,
      );
      expect(v.notifications).toMatchObject({ requested: 1, delivered: 0, pending: 0 });
      expect(v.notifications.failures[0]).toMatchObject({
        kind: 'position_skipped',
        message: expect.stringContaining('HTTP 404 (refused: check the destination)'),
      });
      // One attempt: a 404 is not retried (nothing a retry could fix).
      const watchId = WorkflowIds.positions('alpaca', account);
      expect(hook.requests().filter((r) => (r.json as Sent).workflowId === watchId)).toHaveLength(1);
    } finally {
      hook.recover();
      alpaca.setPosition('ZZZ', '0', '0');
    }
    await stopPositionsWatch(ctx, 'alpaca', account, {});
  });

  it('a circuit-breaker trip (insufficient buying power) is sent once', async () => {
    const account = `b-${randomUUID().slice(0, 6)}`;
    // 1000 × ~250 is beyond the stand-in's 100 000 buying power: rejected InsufficientFunds, breaker tripped.
    await placeOrder(
      ctx,
      {
        symbol: 'TSLA',
        side: 'buy',
        quantity: '1000',
        referencePrice: '250.30',
        broker: 'alpaca',
        account,
        clientOrderId: `nsf-${randomUUID()}`,
      },
      orderSettings,
    );
    await waitFor(
      () => deskState(ctx, 'alpaca', account),
      (s) => s?.breaker != null,
    );
    const desk = WorkflowIds.desk('alpaca', account);
    const events = await waitFor(
      () => sent(desk),
      (list) => list.length >= 1,
    );
    expect(events).toEqual([
      expect.objectContaining({
        kind: 'circuit_breaker',
        severity: 'critical',
        title: `alpaca:${account}: circuit breaker tripped`,
      }),
    ]);
  });
});
