/**
 * The positions watch on the real dev server: the Alpaca stand-in and the paper broker as the accounts, the
 * Polygon stand-in for the monitors it starts, and local webhook receivers as notification destinations.
 */
import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { createAlpacaBroker } from '../../src/brokers/alpaca/alpaca-broker';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { MemoryPaperStore, PAPER_STATE_VERSION, type PaperOrderRecord } from '../../src/brokers/paper/store';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { placeOrder } from '../../src/cli/orders';
import {
  positionsStatus,
  protectPosition,
  renderPositions,
  startPositionsWatch,
  stopPositionsWatch,
} from '../../src/cli/positions';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { type CliContext } from '../../src/cli/temporal';
import { startPolygonStandIn, type PolygonStandIn } from '../support/polygon-stand-in';
import { ALWAYS_OPEN_SESSION, AppConfigSchema, type AppConfig } from '../../src/domain/config';
import { createPolygonRest } from '../../src/market-data/polygon-rest';
import { TokenBucketRateLimiter } from '../../src/market-data/rate-limiter';
import { type NotificationDestination } from '../../src/notifications/destinations';
import { NotificationSender } from '../../src/notifications/sender';
import { createFlowguardMetrics } from '../../src/observability/flowguard-metrics';
import { SearchAttributes, WorkflowIds } from '../../src/shared/contracts';
import { monitorStateQuery, type MonitorView } from '../../src/workflows/position-monitor';
import { positionsChangedSignal, type PositionsView } from '../../src/workflows/positions';
import { createRobinhoodBroker } from '../../src/brokers/robinhood/robinhood-broker';
import { AlpacaStandIn } from '../support/alpaca-stand-in';
import { RobinhoodStandIn } from '../support/robinhood-stand-in';
import { connectTestEnv, createTestWorker, uniqueTaskQueue, cliContext } from '../support/temporal-harness';
import { WebhookReceiver, verifySignature } from '../support/webhook-receiver';

// Monitors poll rarely: these tests are about which monitors exist, not what they detect.
const config: AppConfig = AppConfigSchema.parse({
  marketData: { pollIntervalSeconds: 30, sessions: [ALWAYS_OPEN_SESSION], staleCheck: false },
  positions: { reconcileSeconds: 1 },
});

const SECRET = 'whsec-test-0001';

function destination(
  name: string,
  type: NotificationDestination['type'],
  url: string,
  over: Partial<NotificationDestination> = {},
): NotificationDestination {
  return {
    name,
    type,
    url,
    secret: null,
    token: null,
    minSeverity: 'info',
    rateLimitPerMinute: 600,
    describe: `${type} (test)`,
    ...over,
  };
}

async function waitFor<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    try {
      value = await read();
      if (done(value)) return value;
    } catch {
      /* not there yet */
    }
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function filledBuy(symbol: string, quantity: number, price: string, minute: number): PaperOrderRecord {
  const ts = new Date(Date.UTC(2026, 0, 2, 15, minute)).toISOString();
  return {
    brokerOrderId: `paper-${randomUUID()}`,
    clientOrderId: `outside-${randomUUID().slice(0, 8)}`,
    symbol,
    side: 'buy',
    quantity,
    limitPrice: price,
    timeInForce: 'day',
    status: 'filled',
    executions: [{ id: randomUUID(), quantity, price, timestamp: ts }],
    createdAt: ts,
    updatedAt: ts,
    watermarkNs: '0',
    quoteNs: null,
    quoteSizeUsed: 0,
  };
}

describe('positions watch on Temporal', () => {
  let env: TestWorkflowEnvironment;
  let polygon: PolygonStandIn;
  let alpaca: AlpacaStandIn;
  let robinhood: RobinhoodStandIn;
  let webhook: WebhookReceiver;
  let slack: WebhookReceiver;
  let ntfy: WebhookReceiver;
  const paperStore = new MemoryPaperStore();
  const workers: { worker: Worker; running: Promise<void> }[] = [];
  let ctx: CliContext;
  let notifyCtx: CliContext;
  const taskQueue = uniqueTaskQueue('positions');
  const notifyMetrics = createFlowguardMetrics();
  const notifyQueue = uniqueTaskQueue('positions-notify');

  const monitor = (workflowId: string) => env.client.workflow.getHandle(workflowId).query(monitorStateQuery);
  const status = (c: CliContext, broker: 'alpaca' | 'paper' | 'robinhood', account: string) =>
    positionsStatus(c, broker, account);

  beforeAll(async () => {
    env = await connectTestEnv();
    [polygon, alpaca, webhook, slack, ntfy] = await Promise.all([
      startPolygonStandIn({ clock: { mode: 'manual' }, maxConnections: 1 }),
      AlpacaStandIn.start(),
      WebhookReceiver.start(),
      WebhookReceiver.start(),
      WebhookReceiver.start(),
    ]);
    // Two positions a page, symbols only from instruments: the watch reads every page as robin_stocks does.
    robinhood = await RobinhoodStandIn.start({ pageSize: 2 });
    const rest = createPolygonRest({
      apiKey: polygon.apiKey,
      baseUrl: polygon.restUrl,
      rateLimiter: new TokenBucketRateLimiter({ ratePerSecond: 50 }),
    });
    const common = {
      polygon: () => rest,
      polygonStream: () => ({ apiKey: polygon.apiKey, wsBaseUrl: polygon.wsUrl }),
      audit: createMemoryAuditLog(),
    };
    const brokers = createBrokerRegistry({
      overrides: {
        alpaca: createAlpacaBroker(alpaca.config()),
        robinhood: createRobinhoodBroker(robinhood.config()),
        paper: new PaperBroker({ store: paperStore }),
      },
      // Alpaca's trade_updates stream too: the desk relays fills from it (and wakes the watch).
      alpacaConfig: alpaca.config(),
    });
    // The main worker sends nowhere; the notification worker (its own task queue) to the three receivers.
    const main = await createTestWorker(env, {
      taskQueue,
      deps: { ...common, brokers, notifications: new NotificationSender({ destinations: [] }) },
    });
    const notifying = await createTestWorker(env, {
      taskQueue: notifyQueue,
      deps: {
        ...common,
        brokers,
        metrics: notifyMetrics,
        notifications: new NotificationSender({
          destinations: [
            destination('webhook', 'webhook', `${webhook.url}/flowguard`, { secret: SECRET }),
            destination('slack', 'slack', `${slack.url}/services/T0/B0/XYZ`),
            destination('phone', 'ntfy', `${ntfy.url}/flowguard-test`, { rateLimitPerMinute: 6 }),
          ],
        }),
      },
    });
    for (const worker of [main, notifying]) workers.push({ worker, running: worker.run() });
    ctx = cliContext(env, taskQueue);
    notifyCtx = cliContext(env, notifyQueue);
  });

  afterAll(async () => {
    for (const w of workers) w.worker.shutdown();
    await Promise.all(workers.map((w) => w.running));
    await Promise.all([
      polygon?.close(),
      alpaca?.close(),
      robinhood?.close(),
      webhook?.close(),
      slack?.close(),
      ntfy?.close(),
    ]);
    await env?.teardown();
  });

  it('Alpaca: a position opened outside flowguard is picked up, a short skipped with a note, partly sold, closed', async () => {
    const account = `a-${randomUUID().slice(0, 6)}`;
    alpaca.setPosition('TSLA', '10', '250.25');
    alpaca.setPosition('NVDA', '-20', '130.10');
    const { workflowId } = await startPositionsWatch(ctx, { broker: 'alpaca', account }, config);
    expect(workflowId).toBe(`positions:alpaca:${account}`);
    const tsla = `position:alpaca:${account}:TSLA`;
    const watched = await waitFor(
      () => status(ctx, 'alpaca', account),
      (v) => v.monitors.TSLA?.status === 'running',
    );
    expect(watched.monitors.TSLA).toMatchObject({ workflowId: tsla, quantity: 10, entryPrice: '250.25' });
    expect(watched.skipped).toEqual([
      expect.objectContaining({
        symbol: 'NVDA',
        quantity: '-20',
        reason: 'short',
        note: expect.stringMatching(/short 20 NVDA: not monitored/),
      }),
    ]);
    expect(watched.monitors.NVDA).toBeUndefined();
    expect(await monitor(tsla)).toMatchObject({ symbol: 'TSLA', quantity: 10, entryPrice: '250.25', mode: 'alert' });
    const desc = await env.client.workflow.getHandle(tsla).describe();
    expect(desc.typedSearchAttributes.get(SearchAttributes.BrokerAccount)).toBe(`alpaca:${account}`);

    // Partly sold outside flowguard: the monitor is told the new quantity.
    alpaca.setPosition('TSLA', '4', '250.25');
    await waitFor(
      () => monitor(tsla),
      (m: MonitorView) => m.quantity === 4,
    );

    // Closed: the monitor ends as closed and the watch forgets it.
    alpaca.setPosition('TSLA', '0', '0');
    const ended = (await env.client.workflow.getHandle(tsla).result()) as MonitorView;
    expect(ended.state).toBe('closed');
    const after = await waitFor(
      () => status(ctx, 'alpaca', account),
      (v) => v.monitors.TSLA === undefined,
    );
    expect(after.events.map((e) => `${e.symbol} ${e.action}`)).toEqual(
      expect.arrayContaining(['TSLA started', 'NVDA skipped', 'TSLA resized', 'TSLA ended']),
    );
    alpaca.setPosition('NVDA', '0', '0');
    await stopPositionsWatch(ctx, 'alpaca', account, {});
  });

  it('a fill wakes the watch at once; a restarted or duplicated watch adopts the running monitor, never starts a second', async () => {
    const account = `b-${randomUUID().slice(0, 6)}`;
    // Reconcile once a minute: only the fill signal can make the monitor appear within the test's time.
    const { workflowId } = await startPositionsWatch(ctx, { broker: 'alpaca', account, reconcileSeconds: 60 }, config);
    await waitFor(
      () => status(ctx, 'alpaca', account),
      (v) => v.syncs >= 1,
    );
    const buy = await createAlpacaBroker(alpaca.config()).submitLimitOrder({
      clientOrderId: `fill-${randomUUID()}`,
      symbol: 'AMD',
      side: 'buy',
      quantity: 7,
      limitPrice: '150.00',
      timeInForce: 'day',
    });
    alpaca.fill(buy.brokerOrderId, 7, '149.90');
    const signalledAt = Date.now();
    await env.client.workflow.getHandle(workflowId).signal(positionsChangedSignal, { symbol: 'AMD', reason: 'fill' });
    const amd = `position:alpaca:${account}:AMD`;
    await waitFor(
      () => status(ctx, 'alpaca', account),
      (v) => v.monitors.AMD?.status === 'running',
      10_000,
    );
    expect(Date.now() - signalledAt).toBeLessThan(10_000);

    // A second `watch` is the same workflow.
    const again = await startPositionsWatch(ctx, { broker: 'alpaca', account, reconcileSeconds: 60 }, config);
    expect(again.workflowId).toBe(workflowId);

    // The watch restarted with its memory lost (terminated and started afresh): the monitor is adopted. Terminated
    // while idle (its notification activity done), so no workflow task is cut short.
    const idle = await waitFor(
      () => status(ctx, 'alpaca', account),
      (v) => v.notifications.requested > 0 && v.notifications.pending === 0,
    );
    // This worker sends nowhere: its events are skipped, not "delivered".
    expect(idle.notifications).toMatchObject({ delivered: 0, failed: 0, skipped: idle.notifications.requested });
    expect(renderPositions(idle)).toContain(
      `notifications: 0 delivered, 0 sending, 0 failed, ${idle.notifications.requested} skipped (no destination wanted them)`,
    );
    await new Promise((r) => setTimeout(r, 500));
    await env.client.workflow.getHandle(workflowId).terminate('simulated loss of the watch');
    await startPositionsWatch(ctx, { broker: 'alpaca', account, reconcileSeconds: 60 }, config);
    const adopted = await waitFor(
      () => status(ctx, 'alpaca', account),
      (v) => v.monitors.AMD?.status === 'running',
    );
    expect(adopted.events.map((e) => `${e.symbol} ${e.action}`)).toContain('AMD adopted');
    const runs: string[] = [];
    for await (const wf of env.client.workflow.list({ query: `WorkflowId = '${amd}'` })) runs.push(wf.runId);
    expect(runs).toHaveLength(1);

    // Stopping the watch leaves the monitor running...
    await stopPositionsWatch(ctx, 'alpaca', account, {});
    const stopped = (await env.client.workflow.getHandle(workflowId).result()) as PositionsView;
    expect(stopped.state).toBe('stopped');
    expect((await env.client.workflow.getHandle(amd).describe()).status.name).toBe('RUNNING');
    alpaca.setPosition('AMD', '0', '0');
    await env.client.workflow.getHandle(amd).terminate('test cleanup');
  });

  it('order place --protect: when the BUY fills, the desk wakes the watch and it starts the monitor in the mode asked', async () => {
    const account = `o-${randomUUID().slice(0, 6)}`;
    // An hourly reconcile in alert mode: only the fill's wake-up, with the mode --protect asked for, explains the result.
    const hourly = { ...config, positions: { ...config.positions, reconcileSeconds: 3600 } };
    const { workflowId } = await protectPosition(
      ctx,
      { broker: 'alpaca', account, symbol: 'QQQ', autoExit: true },
      hourly,
    );
    const orderSettings = orderSettingsFromConfig(
      AppConfigSchema.parse({ orders: { pollIntervalSeconds: 1 } }).orders,
      3,
    );
    const placed = await placeOrder(
      ctx,
      {
        symbol: 'QQQ',
        side: 'buy',
        quantity: '8',
        referencePrice: '400.00',
        broker: 'alpaca',
        account,
        clientOrderId: `protect-${randomUUID()}`,
      },
      orderSettings,
    );
    const atBroker = await waitFor(
      async () => alpaca.orderByClientId(placed.clientOrderId),
      (o) => o !== undefined,
    );
    const before = await status(ctx, 'alpaca', account);
    expect(before.protectModes).toEqual({ QQQ: 'auto-exit' });
    expect(before.monitors.QQQ).toBeUndefined();
    alpaca.fill(atBroker!.id, 8, '399.90');
    const watched = await waitFor(
      () => status(ctx, 'alpaca', account),
      (v) => v.monitors.QQQ?.status === 'running',
      20_000,
    );
    expect(watched.monitors.QQQ).toMatchObject({ quantity: 8, entryPrice: '399.9' });
    expect(watched.protectModes).toEqual({});
    expect(await monitor(`position:alpaca:${account}:QQQ`)).toMatchObject({ mode: 'auto-exit', quantity: 8 });
    alpaca.setPosition('QQQ', '0', '0');
    await stopPositionsWatch(ctx, 'alpaca', account, { stopMonitors: true });
    await env.client.workflow.getHandle(workflowId).result();
  });

  it("a partial fill on Alpaca's trade_updates stream wakes the watch while the order still works", async () => {
    const account = `s-${randomUUID().slice(0, 6)}`;
    await startPositionsWatch(ctx, { broker: 'alpaca', account, reconcileSeconds: 3600 }, config);
    const before = await waitFor(
      () => status(ctx, 'alpaca', account),
      (v) => v.syncs >= 1,
    );
    const orderSettings = orderSettingsFromConfig(
      AppConfigSchema.parse({ orders: { pollIntervalSeconds: 60 } }).orders,
      3,
    );
    const placed = await placeOrder(
      ctx,
      {
        symbol: 'IWM',
        side: 'buy',
        quantity: '10',
        referencePrice: '220.00',
        broker: 'alpaca',
        account,
        clientOrderId: `partial-${randomUUID()}`,
      },
      orderSettings,
    );
    const atBroker = await waitFor(
      async () => alpaca.orderByClientId(placed.clientOrderId),
      (o) => o !== undefined,
    );
    await waitFor(
      async () => alpaca.streamListeners,
      (n) => n > 0,
    );
    alpaca.fill(atBroker!.id, 4, '219.80');
    const watched = await waitFor(
      () => status(ctx, 'alpaca', account),
      (v) => v.monitors.IWM?.status === 'running',
      15_000,
    );
    expect(watched.syncs).toBeGreaterThan(before.syncs);
    expect(watched.monitors.IWM).toMatchObject({ quantity: 4, entryPrice: '219.8' });
    expect(alpaca.order(atBroker!.id).status).toBe('partially_filled');
    await createAlpacaBroker(alpaca.config()).cancelOrder(atBroker!.id);
    alpaca.setPosition('IWM', '0', '0');
    await stopPositionsWatch(ctx, 'alpaca', account, { stopMonitors: true });
    await env.client.workflow.getHandle(WorkflowIds.positions('alpaca', account)).result();
  });

  it('Robinhood: shares bought by hand are watched, a fraction skipped, the sold position ends its monitor', async () => {
    const account = `r-${randomUUID().slice(0, 6)}`;
    robinhood.setPosition('AAPL', '12', '190.10');
    robinhood.setPosition('KO', '3', '60.00');
    robinhood.setPosition('TSLA', '0.40000000', '250.00');
    await startPositionsWatch(ctx, { broker: 'robinhood', account }, config);
    const watched = await waitFor(
      () => status(ctx, 'robinhood', account),
      (v) => v.monitors.AAPL?.status === 'running' && v.monitors.KO?.status === 'running',
    );
    expect(watched.monitors.AAPL).toMatchObject({ quantity: 12, entryPrice: '190.1' });
    expect(watched.skipped).toEqual([
      expect.objectContaining({ symbol: 'TSLA', quantity: '0.4', reason: 'fractional' }),
    ]);
    expect(robinhood.requestsFor('GET /positions/')[0]!.query).toMatchObject({ nonzero: 'true' });
    robinhood.setPosition('KO', '0', '0');
    const ended = (await env.client.workflow.getHandle(`position:robinhood:${account}:KO`).result()) as MonitorView;
    expect(ended.state).toBe('closed');
    await stopPositionsWatch(ctx, 'robinhood', account, { stopMonitors: true });
    await env.client.workflow.getHandle(WorkflowIds.positions('robinhood', account)).result();
  });

  it('paper: positions from its store; continue-as-new carries the monitors; --stop-monitors stops them', async () => {
    const account = `p-${randomUUID().slice(0, 6)}`;
    await paperStore.save({
      version: PAPER_STATE_VERSION,
      orders: Object.fromEntries(
        [filledBuy('MSFT', 12, '410.50', 1), filledBuy('AAPL', 3, '190.00', 2)].map((o) => [o.clientOrderId, o]),
      ),
    });
    const { workflowId } = await startPositionsWatch(ctx, { broker: 'paper', account, syncsPerRun: 3 }, config);
    const watched = await waitFor(
      () => status(ctx, 'paper', account),
      (v) => v.runs >= 3 && Object.keys(v.monitors).length === 2,
      40_000,
    );
    expect(watched.monitors.MSFT).toMatchObject({ quantity: 12, entryPrice: '410.5', status: 'running' });
    expect(watched.monitors.AAPL).toMatchObject({ quantity: 3, status: 'running' });
    // One run per monitor: continuing-as-new did not start them again.
    const started = watched.events.filter((e) => e.action === 'started').map((e) => e.symbol);
    expect(started.sort()).toEqual(['AAPL', 'MSFT']);
    const desc = await env.client.workflow.getHandle(workflowId).describe();
    expect(desc.typedSearchAttributes.get(SearchAttributes.WatchedPositions)).toBe(2);
    // The UI's summary of the watch (current details, shown on the workflow's page).
    const meta = await env.client.workflow
      .getHandle(workflowId)
      .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(meta.currentDetails).toContain(`**paper:${account}** — watching, 2 watched, 0 skipped`);
    expect(meta.currentDetails).toContain(`- MSFT ×12: position:paper:${account}:MSFT`);

    await stopPositionsWatch(ctx, 'paper', account, { stopMonitors: true });
    await env.client.workflow.getHandle(workflowId).result();
    for (const symbol of ['MSFT', 'AAPL']) {
      const m = (await env.client.workflow.getHandle(`position:paper:${account}:${symbol}`).result()) as MonitorView;
      expect(m.state).toBe('stopped');
    }
  });

  it('notifications: signed webhook, Slack and a rate-limited ntfy; a destination down then back gets each event once', async () => {
    const account = `n-${randomUUID().slice(0, 6)}`;
    const symbols = ['AAA', 'BBB', 'CCC', 'DDD', 'EEE', 'FFF', 'GGG'];
    for (const [i, s] of symbols.entries()) alpaca.setPosition(s, String(10 + i), '20.00');
    webhook.failWith(503);
    await startPositionsWatch(notifyCtx, { broker: 'alpaca', account }, config);
    const syncsAtStart = await waitFor(
      () => status(notifyCtx, 'alpaca', account),
      (v) => Object.keys(v.monitors).length === symbols.length,
    );
    // The webhook is refusing: Slack and the phone have their notifications meanwhile, and the watch keeps syncing.
    await waitFor(
      async () => slack.accepted().length,
      (n) => n === symbols.length,
      15_000,
    );
    const during = await waitFor(
      () => status(notifyCtx, 'alpaca', account),
      (v) => v.syncs >= syncsAtStart.syncs + 3 && v.notifications.pending > 0,
    );
    expect(during.notifications.delivered).toBeLessThan(symbols.length);
    expect(webhook.requests().length).toBeGreaterThan(0);
    expect(webhook.accepted()).toHaveLength(0);
    webhook.recover();
    const done = await waitFor(
      () => status(notifyCtx, 'alpaca', account),
      (v) => v.notifications.delivered === symbols.length && v.notifications.pending === 0,
      60_000,
    );
    expect(done.notifications.failed).toBe(0);

    // Each event once at every destination, though the webhook's failures retried the activity.
    const keys = (list: { json: unknown }[]) => list.map((r) => (r.json as { key?: string }).key);
    const hooked = webhook.accepted();
    expect(hooked).toHaveLength(symbols.length);
    expect(new Set(keys(hooked)).size).toBe(symbols.length);
    for (const r of hooked) {
      expect(verifySignature(r, SECRET)).toBe(true);
      expect(verifySignature(r, 'wrong-secret')).toBe(false);
      expect(r.headers['idempotency-key']).toBe((r.json as { key: string }).key);
      expect(r.json).toMatchObject({
        flowguard: 1,
        kind: 'monitor_started',
        severity: 'info',
        symbol: expect.any(String),
      });
    }
    const slacked = slack.accepted();
    expect(slacked).toHaveLength(symbols.length);
    expect(slacked[0]!.path).toBe('/services/T0/B0/XYZ');
    expect(slacked[0]!.json).toMatchObject({ text: expect.any(String), blocks: expect.any(Array) });

    // ntfy at 6 a minute: six at once, the seventh about ten seconds later.
    await waitFor(
      async () => ntfy.accepted().length,
      (n) => n === symbols.length,
      30_000,
    );
    const phone = ntfy.accepted();
    expect(phone.map((r) => (r.json as { topic: string }).topic)).toEqual(Array(symbols.length).fill('flowguard-test'));
    const gap = phone[6]!.at - phone[0]!.at;
    // Counted per destination: every delivery once, every refused attempt of the webhook as failed.
    expect(notifyMetrics.notifications.get({ destination: 'slack', outcome: 'delivered' })).toBe(symbols.length);
    expect(notifyMetrics.notifications.get({ destination: 'webhook', outcome: 'delivered' })).toBe(symbols.length);
    expect(notifyMetrics.notifications.get({ destination: 'webhook', outcome: 'failed' })).toBe(
      webhook.requests().length - symbols.length,
    );
    expect(gap).toBeGreaterThanOrEqual(8_000);
    expect(phone[5]!.at - phone[0]!.at).toBeLessThan(5_000);

    for (const s of symbols) alpaca.setPosition(s, '0', '0');
    await stopPositionsWatch(notifyCtx, 'alpaca', account, { stopMonitors: true });
    await env.client.workflow.getHandle(WorkflowIds.positions('alpaca', account)).result();
  });
});
