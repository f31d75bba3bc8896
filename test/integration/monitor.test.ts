import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { MemoryPaperStore } from '../../src/brokers/paper/store';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { monitorStatus } from '../../src/cli/monitor';
import { orderStatus } from '../../src/cli/orders';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { parseScenarioRecords, startPolygonStandIn, type PolygonStandIn } from '../support/polygon-stand-in';
import { runReplay } from '../../src/cli/replay';
import { ALWAYS_OPEN_SESSION, AppConfigSchema } from '../../src/domain/config';
import { createPolygonRest } from '../../src/market-data/polygon-rest';
import { polygonPriceSource } from '../../src/market-data/polygon-price-source';
import { TokenBucketRateLimiter } from '../../src/market-data/rate-limiter';
import { WorkflowIds } from '../../src/shared/contracts';
import { deskWorkflow } from '../../src/workflows/desk';
import {
  positionMonitorWorkflow,
  stopMonitorSignal,
  type MonitorSettings,
  type MonitorView,
  type PositionMonitorInput,
} from '../../src/workflows/position-monitor';
import { firstTimestamp, loadScenario, scenarioNames, shiftRecords } from '../support/scenarios';
import { connectTestEnv, createTestWorker, uniqueTaskQueue, cliContext } from '../support/temporal-harness';

const config = AppConfigSchema.parse({
  marketData: { pollIntervalSeconds: 1, sessions: [ALWAYS_OPEN_SESSION] },
  // The protective exit crosses to the bid so it fills in a falling market.
  orders: { pollIntervalSeconds: 1, sellOffset: '0' },
});

describe('position monitor on Temporal with the Polygon stand-in', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let polygon: PolygonStandIn;
  let ctx: CliContext;
  const taskQueue = uniqueTaskQueue('monitor');
  const account = `acct-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    env = await connectTestEnv();
    // One WebSocket per key, as on Polygon's usual plans: stream-mode monitors must share the worker's connection.
    polygon = await startPolygonStandIn({ clock: { mode: 'manual' }, maxConnections: 1 });
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

  function settings(staleCheck: boolean): MonitorSettings {
    return {
      detectors: config.detectors,
      pollIntervalSeconds: 1,
      sessions: config.marketData.sessions,
      staleCheck,
      exit: { broker: 'paper', account, pricing: orderSettingsFromConfig(config.orders).pricing },
    };
  }

  async function startMonitor(input: Omit<PositionMonitorInput, 'settings'> & { settings?: MonitorSettings }) {
    const workflowId = WorkflowIds.position(input.positionId);
    await env.client.workflow.start(positionMonitorWorkflow, {
      workflowId,
      taskQueue,
      args: [{ settings: settings(false), ...input }],
    });
    return workflowId;
  }

  async function waitFor(positionId: string, done: (v: MonitorView) => boolean, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await monitorStatus(ctx, positionId);
      if (done(v)) return v;
      if (Date.now() > deadline)
        throw new Error(`monitor ${positionId} did not get there: ${JSON.stringify(v, null, 1).slice(0, 3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The fields an expected alert states, taken from the actual alert. */
  const pickLike = (actual: Record<string, unknown>, expected: Record<string, unknown>) =>
    Object.fromEntries(Object.keys(expected).map((k) => [k, actual[k]]));

  const scenarios = scenarioNames().map((name, i) => [name, `SC${String.fromCharCode(65 + i)}`] as const);
  describe.each(scenarios)('scenario %s replayed through a live monitor (poll mode)', (name, symbol) => {
    it('gives the same alerts and exit signal as the offline replay', async () => {
      const scenario = loadScenario(name);
      polygon.loadScenario(symbol, { trades: scenario.trades, quotes: scenario.quotes });
      polygon.releaseAll();
      const positionId = `replay-${name}-${randomUUID().slice(0, 6)}`;
      const start = firstTimestamp([...scenario.trades, ...scenario.quotes]);
      await startMonitor({
        positionId,
        symbol,
        quantity: 100,
        mode: 'alert',
        dataMode: 'poll',
        startAtNs: start.toString(),
      });
      const total = scenario.trades.length;
      const view = await waitFor(positionId, (v) => v.dataHealth.tradesSeen >= total && v.state === 'monitoring');
      const expectedAlerts = scenario.expected.alerts;
      expect(
        view.alerts.map((a, i) => pickLike(a as unknown as Record<string, unknown>, expectedAlerts[i] ?? {})),
      ).toEqual(expectedAlerts);
      const expectedExit = scenario.expected.exitSignal;
      expect(
        view.exitSignal && expectedExit
          ? pickLike(view.exitSignal as unknown as Record<string, unknown>, expectedExit)
          : view.exitSignal,
      ).toEqual(expectedExit);
      expect(view.alertTotal).toBe(scenario.expected.alerts.length);
      await env.client.workflow
        .getHandle(WorkflowIds.position(positionId))
        .signal(stopMonitorSignal, { reason: 'test done' });
    });
  });

  // Issue 10: the real AMZN day (66,490 records, test/fixtures/realdata) through the Polygon stand-in, polled or
  // streamed (the stream backfills the day over REST through the same decoder and merge), gives the alerts and the
  // exit signal of the offline replay of the same files. With the adaptive large-seller rule on (stated, whatever
  // the default): the backfill's quotes used to run out of pages at 15:40 while its trades reached the close, and
  // the last 20 minutes' trades met a stale NBBO (a percentile large_seller at 15:59:47 the replay did not raise).
  describe.each(['poll', 'stream'] as const)(
    'the real AMZN day replayed through a live monitor (%s mode)',
    (dataMode) => {
      it('gives the alerts and exit signal of the offline replay, largeOrderPercentile 99.9', async () => {
        const file = (kind: string) => join(__dirname, '../fixtures/realdata', `AMZN-2012-06-21.${kind}.jsonl.gz`);
        const read = (kind: string) => parseScenarioRecords(gunzipSync(readFileSync(file(kind))).toString('utf8'));
        const trades = read('trades');
        const quotes = read('quotes');
        const detectors = { ...config.detectors, largeOrderPercentile: 99.9 };
        const dir = mkdtempSync(join(tmpdir(), 'fg-realday-'));
        const cfg = join(dir, 'detectors.json');
        writeFileSync(cfg, JSON.stringify(detectors));
        const offline = await runReplay({
          symbol: 'AMZN',
          trades: file('trades'),
          quotes: file('quotes'),
          config: cfg,
        });
        rmSync(dir, { recursive: true, force: true });
        expect(offline.alerts.length).toBeGreaterThan(0);
        const symbol = dataMode === 'poll' ? 'AMZNP' : 'AMZNS';
        polygon.loadScenario(symbol, { trades, quotes });
        polygon.releaseAll();
        const positionId = `realday-${dataMode}-${randomUUID().slice(0, 6)}`;
        await startMonitor({
          positionId,
          symbol,
          quantity: 100,
          mode: 'alert',
          dataMode,
          startAtNs: firstTimestamp([...trades, ...quotes]).toString(),
          settings: { ...settings(false), detectors },
        });
        const view = await waitFor(
          positionId,
          (v) => v.dataHealth.tradesSeen >= trades.length && v.state === 'monitoring' && v.live,
          120_000,
        );
        const brief = (a: { kind: string; severity: string; timestampNs: string; rule: string }) => [
          a.kind,
          a.severity,
          a.timestampNs,
          a.rule,
        ];
        expect(view.alerts.map(brief)).toEqual(offline.alerts.map(brief));
        expect(view.exitSignal?.timestampNs).toBe(offline.exitSignal?.timestampNs);
        await env.client.workflow
          .getHandle(WorkflowIds.position(positionId))
          .signal(stopMonitorSignal, { reason: 'test done' });
      }, 150_000);
    },
  );

  it('live: backfills the baseline quietly, alerts on the decisive prints, and places exactly one protective SELL that fills', async () => {
    const scenario = loadScenario('seller-cluster-exit');
    const firstAlertNs = BigInt(scenario.expected.alerts[0]!.timestampNs as string);
    // Everything up to 20 s before the first alert is history at monitor start; the rest arrives live.
    const now = BigInt(Date.now()) * 1_000_000n;
    const delta = now - (firstAlertNs - 20_000_000_000n);
    const symbol = 'LIVEX';
    const trades = shiftRecords(scenario.trades, delta);
    const quotes = shiftRecords(scenario.quotes, delta);
    polygon.loadScenario(symbol, { trades, quotes });
    polygon.advanceTo(now);

    await env.client.workflow.start(deskWorkflow, {
      workflowId: WorkflowIds.desk('paper', account),
      taskQueue,
      workflowIdConflictPolicy: 'USE_EXISTING',
      args: [{ broker: 'paper', account, settings: orderSettingsFromConfig(config.orders) }],
    });
    const positionId = `live-${randomUUID().slice(0, 8)}`;
    await startMonitor({
      positionId,
      symbol,
      quantity: 500,
      entryPrice: '251.00',
      mode: 'auto-exit',
      dataMode: 'poll',
      settings: settings(true),
    });
    const warm = await waitFor(positionId, (v) => v.live && v.dataHealth.tradesSeen > 0);
    expect(warm.alerts).toEqual([]);

    polygon.releaseAll();
    const exited = await waitFor(positionId, (v) => v.state === 'exited', 45_000);
    expect(exited.alerts.map((a) => a.kind)).toEqual(['large_seller', 'large_seller', 'large_seller']);
    expect(exited.exitSignal?.reason).toBe('large_seller_cluster');
    expect(exited.exitOrder).toMatchObject({
      clientOrderId: `exit-${positionId}`,
      state: 'filled',
      filledQuantity: 500,
    });
    const order = await orderStatus(ctx, `exit-${positionId}`);
    expect(order).toMatchObject({ side: 'sell', quantity: 500, state: 'filled' });
  });

  /** Loads a scenario shifted so its first alert comes `leadMs` after now, and publishes the history before now. */
  function publishLive(name: string, symbol: string, leadMs = 20_000) {
    const scenario = loadScenario(name);
    const firstAlertNs = BigInt(scenario.expected.alerts[0]!.timestampNs as string);
    const now = BigInt(Date.now()) * 1_000_000n;
    const delta = now - (firstAlertNs - BigInt(leadMs) * 1_000_000n);
    polygon.loadScenario(symbol, {
      trades: shiftRecords(scenario.trades, delta),
      quotes: shiftRecords(scenario.quotes, delta),
    });
    polygon.advanceTo(now);
    return { scenario, delta };
  }

  it('stream mode: alerts arrive over the WebSocket with the same result as the replay', async () => {
    const { scenario, delta } = publishLive('seller-cluster-exit', 'STRMA');
    const positionId = `stream-${randomUUID().slice(0, 8)}`;
    await startMonitor({
      positionId,
      symbol: 'STRMA',
      quantity: 100,
      mode: 'alert',
      dataMode: 'stream',
      settings: settings(true),
    });
    await waitFor(positionId, (v) => v.live && v.state === 'monitoring');
    polygon.releaseAll();
    const v = await waitFor(positionId, (x) => x.exitSignal !== null && x.alertTotal >= 3);
    expect(v.alerts.map((a) => [a.kind, a.severity, a.price])).toEqual(
      scenario.expected.alerts.map((a) => [a.kind, a.severity, a.price]),
    );
    // WebSocket times are milliseconds: the decisive print keeps its millisecond.
    const expectedExitMs = (BigInt(scenario.expected.exitSignal!.timestampNs) + delta) / 1_000_000n;
    expect(BigInt(v.exitSignal!.timestampNs) / 1_000_000n).toBe(expectedExitMs);
    const handle = env.client.workflow.getHandle(WorkflowIds.position(positionId));
    await handle.signal(stopMonitorSignal, {});
    // Stopping does not wait for the stream activity's next heartbeat.
    const stopped = await Promise.race([handle.result(), new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    expect(stopped?.state).toBe('stopped');
    expect((await monitorStatus(ctx, positionId)).alertTotal).toBe(v.alertTotal);
  });

  it('stream mode: a dropped WebSocket reconnects and backfills the gap without missing the decisive trade', async () => {
    const { scenario } = publishLive('seller-cluster-exit', 'STRMB');
    const positionId = `drop-${randomUUID().slice(0, 8)}`;
    await startMonitor({
      positionId,
      symbol: 'STRMB',
      quantity: 100,
      mode: 'alert',
      dataMode: 'stream',
      settings: settings(true),
    });
    await waitFor(positionId, (v) => v.live && v.state === 'monitoring');
    // The socket drops and the next reconnects are refused while the selling prints.
    polygon.refuseConnections(2);
    polygon.dropConnections();
    polygon.releaseAll();
    const v = await waitFor(positionId, (x) => x.exitSignal !== null && x.alertTotal >= 3, 45_000);
    expect(v.alerts.map((a) => [a.kind, a.severity])).toEqual(
      scenario.expected.alerts.map((a) => [a.kind, a.severity]),
    );
    await env.client.workflow.getHandle(WorkflowIds.position(positionId)).signal(stopMonitorSignal, {});
  });

  it('stream mode: prints that arrive on the WebSocket while the start-up backfill is in flight are applied once', async () => {
    const { scenario } = publishLive('seller-cluster-exit', 'HOLDA');
    // The backfill's trades page is computed now and delivered 2 s late: the decisive prints released meanwhile
    // are not in it, only on the socket the monitor subscribed before asking REST.
    polygon.setLatency({ ms: 2000, route: 'trades', symbol: 'HOLDA', count: 1, phase: 'after' });
    const positionId = `hold-${randomUUID().slice(0, 8)}`;
    await startMonitor({
      positionId,
      symbol: 'HOLDA',
      quantity: 100,
      mode: 'alert',
      dataMode: 'stream',
      settings: settings(true),
    });
    const deadline = Date.now() + 20_000;
    while (!polygon.requests.some((r) => r.route === 'trades' && r.symbol === 'HOLDA')) {
      if (Date.now() > deadline) throw new Error('the monitor never asked for HOLDA trades');
      await new Promise((r) => setTimeout(r, 20));
    }
    polygon.releaseAll();
    const v = await waitFor(
      positionId,
      (x) => x.exitSignal !== null && x.alertTotal >= scenario.expected.alerts.length,
    );
    await new Promise((r) => setTimeout(r, 500));
    const after = await monitorStatus(ctx, positionId);
    expect(after.alerts.map((a) => [a.kind, a.severity, a.price])).toEqual(
      scenario.expected.alerts.map((a) => [a.kind, a.severity, a.price]),
    );
    expect(after.alertTotal).toBe(v.alertTotal);
    await env.client.workflow.getHandle(WorkflowIds.position(positionId)).signal(stopMonitorSignal, {});
  });

  it("stream mode: monitors on different symbols share the worker's one WebSocket and keep their own alerts", async () => {
    const symbols = ['SHRA', 'SHRB', 'SHRC'];
    const names = ['seller-cluster-exit', 'resting-large-offer', 'spread-sellers-no-exit'];
    const runs = symbols.map((symbol, i) => ({
      symbol,
      positionId: `share-${i}-${randomUUID().slice(0, 8)}`,
      ...publishLive(names[i]!, symbol),
    }));
    for (const r of runs) {
      await startMonitor({
        positionId: r.positionId,
        symbol: r.symbol,
        quantity: 100,
        mode: 'alert',
        dataMode: 'stream',
        settings: settings(true),
      });
    }
    for (const r of runs) await waitFor(r.positionId, (v) => v.live && v.state === 'monitoring');
    polygon.releaseAll();
    for (const r of runs) {
      const expected = r.scenario.expected;
      const v = await waitFor(
        r.positionId,
        (x) => x.alertTotal >= expected.alerts.length && (expected.exitSignal === null || x.exitSignal !== null),
      );
      expect(v.alerts.map((a) => [a.kind, a.severity, a.price])).toEqual(
        expected.alerts.map((a) => [a.kind, a.severity, a.price]),
      );
      expect(v.exitSignal === null).toBe(expected.exitSignal === null);
    }
    expect(polygon.connectionCount()).toBe(1);
    expect(polygon.connectionsOverLimit()).toBe(0);
    for (const r of runs) {
      await env.client.workflow.getHandle(WorkflowIds.position(r.positionId)).signal(stopMonitorSignal, {});
    }
  });

  it('401: the monitor enters a clear unauthorized state instead of retrying hot', async () => {
    const goodKey = polygon.apiKey;
    polygon.setApiKey('a-different-key');
    try {
      const positionId = `auth-${randomUUID().slice(0, 8)}`;
      await startMonitor({
        positionId,
        symbol: 'AUTHX',
        quantity: 100,
        mode: 'alert',
        dataMode: 'poll',
        settings: settings(true),
      });
      const v = await waitFor(positionId, (x) => x.state === 'unauthorized');
      expect(v.dataHealth.lastError).toMatch(/PolygonUnauthorized/);
      expect(v.healthAlerts.some((h) => h.severity === 'critical' && /unauthorized/.test(h.rule))).toBe(true);
      const requests = polygon.requestCount();
      await new Promise((r) => setTimeout(r, 3000));
      // Paused: at most the one in-flight retry, no loop.
      expect(polygon.requestCount() - requests).toBeLessThanOrEqual(2);
      await env.client.workflow.getHandle(WorkflowIds.position(positionId)).signal(stopMonitorSignal, {});
    } finally {
      polygon.setApiKey(goodKey);
    }
  });

  it('continue-as-new keeps detector state and alert counts (a resting offer does not re-alert in the new run)', async () => {
    const scenario = loadScenario('resting-large-offer');
    const symbol = 'CANRX';
    polygon.loadScenario(symbol, { trades: scenario.trades, quotes: scenario.quotes });
    const alertNs = BigInt(scenario.expected.alerts[0]!.timestampNs as string);
    polygon.advanceTo(alertNs + 5_000_000_000n);
    const positionId = `can-${randomUUID().slice(0, 8)}`;
    const workflowId = await startMonitor({
      positionId,
      symbol,
      quantity: 100,
      mode: 'alert',
      dataMode: 'poll',
      startAtNs: firstTimestamp([...scenario.trades, ...scenario.quotes]).toString(),
      // Polls fast so history reaches the dev server's low continue-as-new suggestion within seconds.
      settings: { ...settings(false), pollIntervalSeconds: 0.05 },
    });
    const handle = env.client.workflow.getHandle(workflowId);
    const firstRun = (await handle.describe()).runId;
    await waitFor(positionId, (v) => v.alertTotal === 1);
    const deadline = Date.now() + 60_000;
    while ((await handle.describe()).runId === firstRun) {
      if (Date.now() > deadline) throw new Error('monitor never continued-as-new');
      await new Promise((r) => setTimeout(r, 250));
    }
    // The rest of the episode arrives in the new run: the same resting offer must not alert again.
    polygon.releaseAll();
    const total = scenario.trades.length;
    const v = await waitFor(positionId, (x) => x.dataHealth.tradesSeen >= total);
    expect(v.alertTotal).toBe(scenario.expected.alerts.length);
    expect(v.alerts).toHaveLength(scenario.expected.alerts.length);
    expect(Object.values(v.alertCounts).reduce((a, b) => a + b, 0)).toBe(scenario.expected.alerts.length);
    await handle.signal(stopMonitorSignal, {});
  });
});
