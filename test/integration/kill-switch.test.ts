/**
 * The kill switch at scale: 25 open orders across several symbols plus orders flowguard did not
 * place, fills racing the cancels, and a broker that refuses one cancel for good. Every order must end with
 * the right per-order result in the desk's cancel-all run, and nothing may be forgotten.
 *
 * Polling is set to 5 minutes so no order workflow polls during a test: a fill is discovered only through the
 * cancel itself, which makes "filled while the cancel was on its way" deterministic.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { createAlpacaBroker } from '../../src/brokers/alpaca/alpaca-broker';
import { type Broker } from '../../src/brokers/broker';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { MemoryPaperStore } from '../../src/brokers/paper/store';
import { createBrokerRegistry } from '../../src/brokers/registry';
import {
  cancelAll,
  deskState,
  OrderRefusedError,
  orderStatus,
  placeOrder,
  resetDesk,
  type PlacedOrder,
  type PlaceOrderOptions,
} from '../../src/cli/orders';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { OrdersConfigSchema } from '../../src/domain/orders/config';
import { isTerminalOrderState } from '../../src/domain/orders/order-state';
import { type CancelAllEntry, type CancelAllRun } from '../../src/workflows/desk';
import { AlpacaStandIn } from '../support/alpaca-stand-in';
import { waitForOrder } from '../support/order-waits';
import { ScriptedMarket } from '../support/scripted-market';
import { connectTestEnv, createTestWorker, uniqueTaskQueue, cliContext } from '../support/temporal-harness';

const settings = orderSettingsFromConfig(
  OrdersConfigSchema.parse({ pollIntervalSeconds: 300, retry: { maximumAttempts: 3, initialIntervalMs: 100 } }),
  5,
);

const SYMBOLS = ['TSLA', 'AAPL', 'MSFT', 'NVDA', 'AMD'] as const;

/**
 * Sits between the Alpaca adapter and the stand-in. Per broker order id it can make the market fill the
 * order just before the broker handles its DELETE (the fill wins the race), or refuse the DELETE with a 503
 * every time (a cancel that fails permanently). Everything else is forwarded untouched.
 */
class CancelRouteProxy {
  readonly fillBeforeCancel = new Map<string, { qty: number | 'full'; price: string }>();
  readonly failCancel = new Set<string>();
  /** DELETEs refused per order id (one per attempt). */
  readonly refused = new Map<string, number>();
  private readonly server: Server;

  private constructor(private readonly alpaca: AlpacaStandIn) {
    this.server = createServer((req, res) => {
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const url = req.url ?? '/';
        const cancelled = req.method === 'DELETE' ? /^\/v2\/orders\/([^/?]+)$/.exec(url)?.[1] : undefined;
        const id = cancelled === undefined ? undefined : decodeURIComponent(cancelled);
        if (id !== undefined && this.failCancel.has(id)) {
          this.refused.set(id, (this.refused.get(id) ?? 0) + 1);
          res.writeHead(503, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ code: 50010000, message: 'service unavailable' }));
          return;
        }
        const fill = id === undefined ? undefined : this.fillBeforeCancel.get(id);
        if (id !== undefined && fill) {
          const o = this.alpaca.order(id);
          const left = Number(o.qty) - Number(o.filled_qty);
          const qty = fill.qty === 'full' ? left : Math.min(left, fill.qty);
          if (qty > 0) this.alpaca.fill(id, qty, fill.price);
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) {
          if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
        }
        const body = Buffer.concat(chunks);
        const upstream = await fetch(`${this.alpaca.baseUrl}${url}`, {
          method: req.method ?? 'GET',
          headers,
          ...(body.length > 0 ? { body } : {}),
        });
        const reply = Buffer.from(await upstream.arrayBuffer());
        const out: Record<string, string> = {};
        upstream.headers.forEach((v, k) => {
          if (!['connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(k)) out[k] = v;
        });
        res.writeHead(upstream.status, out);
        res.end(reply);
      })().catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(599, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: `proxy: ${String(err)}` }));
      });
    });
  }

  static async start(alpaca: AlpacaStandIn): Promise<CancelRouteProxy> {
    const p = new CancelRouteProxy(alpaca);
    await new Promise<void>((resolve) => p.server.listen(0, '127.0.0.1', resolve));
    return p;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface Rig {
  readonly ctx: CliContext;
  close(): Promise<void>;
}

describe('kill switch: cancel-all at scale', () => {
  let env: TestWorkflowEnvironment;
  const rigs: Rig[] = [];

  beforeAll(async () => {
    env = await connectTestEnv();
  });

  afterAll(async () => {
    for (const rig of rigs.splice(0)) await rig.close();
    await env?.teardown();
  });

  /** A worker on its own task queue with its own broker, so one test's open orders never leak into another's. */
  async function startRig(broker: Broker, extraClose: () => Promise<void> = async () => undefined): Promise<Rig> {
    const taskQueue = uniqueTaskQueue('kill');
    const worker: Worker = await createTestWorker(env, {
      taskQueue,
      deps: { brokers: createBrokerRegistry({ overrides: { [broker.name]: broker } }), audit: createMemoryAuditLog() },
    });
    const running = worker.run();
    const rig: Rig = {
      ctx: cliContext(env, taskQueue),
      close: async () => {
        worker.shutdown();
        await running;
        await extraClose();
      },
    };
    rigs.push(rig);
    return rig;
  }

  /** The Alpaca stand-in behind a proxy that can hold or refuse cancel requests, and a rig on it. */
  async function startAlpacaRig() {
    const alpaca = await AlpacaStandIn.start({ buyingPower: '10000000' });
    const proxy = await CancelRouteProxy.start(alpaca);
    const broker = createAlpacaBroker({
      keyId: alpaca.keyId,
      secretKey: alpaca.secretKey,
      baseUrl: proxy.baseUrl,
      timeoutMs: 2000,
    });
    const { ctx } = await startRig(broker, async () => {
      await proxy.close();
      await alpaca.close();
    });
    return { alpaca, proxy, ctx };
  }

  const waitForStatus = waitForOrder;

  /** 25 orders: 5 symbols × 5 reference prices (distinct limits, so the duplicate-intent guard lets each through). */
  async function placeTwentyFive(ctx: CliContext, base: Partial<PlaceOrderOptions>): Promise<PlacedOrder[]> {
    const requests = SYMBOLS.flatMap((symbol, s) =>
      [0, 1, 2, 3, 4].map((k): PlaceOrderOptions => ({
        symbol,
        side: 'buy',
        quantity: '10',
        referencePrice: `${100 + 10 * s + k}.00`,
        clientOrderId: `ks-${symbol}-${k}-${randomUUID().slice(0, 8)}`,
        ...base,
      })),
    );
    const placed = await Promise.all(requests.map((r) => placeOrder(ctx, r, settings)));
    expect(placed.every((p) => p.existing === null)).toBe(true);
    const statuses = await Promise.all(
      placed.map((p) => waitForStatus(ctx, p.clientOrderId, (s) => s.state === 'queued')),
    );
    expect(new Set(statuses.map((s) => s.brokerOrderId)).size).toBe(25);
    return placed;
  }

  const byKey = (run: CancelAllRun | null): Record<string, CancelAllEntry> => {
    if (!run) throw new Error('cancel-all returned no run');
    expect(run.completedAt).toEqual(expect.any(String));
    return run.results;
  };

  /** The highest-priced order of a symbol: a print just below its limit fills it and no other order of that symbol. */
  const topOf = (placed: PlacedOrder[], symbol: string) =>
    placed.filter((p) => p.clientOrderId.startsWith(`ks-${symbol}-4-`))[0]!;

  it('Alpaca: 25 orders + 3 foreign, fills racing the cancels → every order terminal with its own result; refused until reset', async () => {
    const { alpaca, proxy, ctx } = await startAlpacaRig();
    const account = `ks-${randomUUID().slice(0, 8)}`;
    const placed = await placeTwentyFive(ctx, { broker: 'alpaca', account });

    // Orders someone placed by hand at the broker: flowguard has never seen them.
    const foreign = await Promise.all(
      [
        { symbol: 'IBM', side: 'sell', qty: '5', limit_price: '300.00' },
        { symbol: 'ORCL', side: 'buy', qty: '7', limit_price: '150.00' },
        { symbol: 'TSLA', side: 'buy', qty: '3', limit_price: '90.00' },
      ].map(async (o, i) => {
        const res = await fetch(`${alpaca.baseUrl}/v2/orders`, {
          method: 'POST',
          headers: {
            'APCA-API-KEY-ID': alpaca.keyId,
            'APCA-API-SECRET-KEY': alpaca.secretKey,
            'Content-Type': 'application/json',
          },
          body: JSON.stringify({
            ...o,
            type: 'limit',
            time_in_force: 'day',
            client_order_id: `manual-${i}-${randomUUID()}`,
          }),
        });
        expect(res.status).toBe(200);
        return (await res.json()) as { id: string; client_order_id: string };
      }),
    );

    const idOf = (p: PlacedOrder) => alpaca.orderByClientId(p.clientOrderId)!.id;
    const fullyFilled = topOf(placed, 'AAPL');
    const partlyFilled = topOf(placed, 'NVDA');
    proxy.fillBeforeCancel.set(idOf(fullyFilled), { qty: 'full', price: '139.00' });
    proxy.fillBeforeCancel.set(idOf(partlyFilled), { qty: 4, price: '168.00' });
    proxy.fillBeforeCancel.set(foreign[1]!.id, { qty: 'full', price: '149.50' });

    const result = await cancelAll(
      ctx,
      { broker: 'alpaca', account, reason: 'kill switch test', wait: true },
      settings,
    );
    const results = byKey(result.run);

    expect(Object.keys(results).sort()).toEqual(
      [...placed.map((p) => p.clientOrderId), ...foreign.map((f) => `broker:${f.id}`)].sort(),
    );
    for (const p of placed) {
      const r = results[p.clientOrderId]!;
      expect(r).toMatchObject({ source: 'flowguard', clientOrderId: p.clientOrderId, brokerOrderId: idOf(p) });
      const expected =
        p === fullyFilled
          ? { outcome: 'filled', filledQuantity: 10 }
          : p === partlyFilled
            ? { outcome: 'partially_filled_then_cancelled', filledQuantity: 4 }
            : { outcome: 'cancelled', filledQuantity: 0 };
      expect(r).toMatchObject({ key: p.clientOrderId, ...expected });
      // The desk confirms from the broker's answers; each order workflow closes moments later, on the desk's signal.
      const status = await waitForStatus(ctx, p.clientOrderId, (s) => isTerminalOrderState(s.state), 10_000);
      expect(status.state).toBe(expected.outcome === 'filled' ? 'filled' : 'cancelled');
      expect(status.filledQuantity).toBe(expected.filledQuantity);
      expect(alpaca.order(idOf(p)).status).toBe(expected.outcome === 'filled' ? 'filled' : 'canceled');
    }
    expect(results[`broker:${foreign[0]!.id}`]).toMatchObject({
      source: 'broker',
      clientOrderId: foreign[0]!.client_order_id,
      symbol: 'IBM',
      outcome: 'cancelled',
    });
    expect(results[`broker:${foreign[1]!.id}`]).toMatchObject({
      source: 'broker',
      outcome: 'filled',
      filledQuantity: 7,
    });
    expect(results[`broker:${foreign[2]!.id}`]).toMatchObject({
      source: 'broker',
      symbol: 'TSLA',
      outcome: 'cancelled',
    });
    // Nothing is left open at the broker, and no order was cancelled twice (by its workflow and by the desk).
    expect(alpaca.orders().filter((o) => !['canceled', 'filled'].includes(o.status))).toEqual([]);
    const deletes = alpaca.requestsFor('DELETE /v2/orders/:id').map((r) => r.path);
    expect(deletes).toHaveLength(new Set(deletes).size);
    expect(deletes).toHaveLength(28);
    // Each order workflow reports its end to the desk just after the desk's own confirmation.
    const deadline = Date.now() + 10_000;
    let desk = await deskState(ctx, 'alpaca', account);
    while (Object.keys(desk?.openOrders ?? {}).length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      desk = await deskState(ctx, 'alpaca', account);
    }
    expect(desk?.openOrders).toEqual({});

    const before = alpaca.ordersCreated;
    const refused = placeOrder(
      ctx,
      { broker: 'alpaca', account, symbol: 'GOOG', side: 'buy', quantity: '1', referencePrice: '170.00' },
      settings,
    );
    await expect(refused).rejects.toThrow(OrderRefusedError);
    await expect(refused).rejects.toThrow(/refused.*kill switch engaged/);
    expect(alpaca.ordersCreated).toBe(before);

    const reset = await resetDesk(ctx, { broker: 'alpaca', account }, settings);
    expect(reset).toMatchObject({ killSwitchWasEngaged: true, breakerWasTripped: false });
    const after = await placeOrder(
      ctx,
      { broker: 'alpaca', account, symbol: 'GOOG', side: 'buy', quantity: '1', referencePrice: '170.00' },
      settings,
    );
    const queued = await waitForStatus(ctx, after.clientOrderId, (s) => s.state === 'queued');
    expect(queued.brokerOrderId).toBe(alpaca.orderByClientId(after.clientOrderId)?.id);
  });

  it('paper: 25 orders + 2 foreign, prints racing the cancels → every order terminal with its own result; refused until reset', async () => {
    const market = new ScriptedMarket();
    const paper = new PaperBroker({
      store: new MemoryPaperStore(),
      marketPrices: market,
      marketTimeNs: () => market.nowNs(),
    });
    const { ctx } = await startRig(paper);
    const account = `ks-${randomUUID().slice(0, 8)}`;
    const placed = await placeTwentyFive(ctx, { account });
    const foreign = await Promise.all(
      [
        { symbol: 'IBM', side: 'sell' as const, quantity: 5, limitPrice: '300.00' },
        { symbol: 'ORCL', side: 'buy' as const, quantity: 7, limitPrice: '150.00' },
      ].map((o, i) =>
        paper.submitLimitOrder({ ...o, clientOrderId: `manual-${i}-${randomUUID()}`, timeInForce: 'day' }),
      ),
    );

    // Prints after the orders rested: one trades through the whole of an order, one through 4 of 10 shares.
    // The paper broker applies them when it next looks at those orders — here, when their cancels arrive.
    const fullyFilled = topOf(placed, 'MSFT');
    const partlyFilled = topOf(placed, 'AMD');
    const below = (p: PlacedOrder) => (Number(p.limitPrice) - 0.01).toFixed(2);
    market.print('MSFT', below(fullyFilled), 500);
    market.print('AMD', below(partlyFilled), 4);

    const result = await cancelAll(ctx, { account, reason: 'kill switch test', wait: true }, settings);
    const results = byKey(result.run);
    expect(Object.keys(results).sort()).toEqual(
      [...placed.map((p) => p.clientOrderId), ...foreign.map((f) => `broker:${f.brokerOrderId}`)].sort(),
    );
    for (const p of placed) {
      const expected =
        p === fullyFilled
          ? { outcome: 'filled', filledQuantity: 10 }
          : p === partlyFilled
            ? { outcome: 'partially_filled_then_cancelled', filledQuantity: 4 }
            : { outcome: 'cancelled', filledQuantity: 0 };
      expect(results[p.clientOrderId]).toMatchObject({
        key: p.clientOrderId,
        source: 'flowguard',
        ...expected,
      });
      // The desk confirms from the broker's answers; each order workflow closes moments later, on the desk's signal.
      const status = await waitForStatus(ctx, p.clientOrderId, (s) => isTerminalOrderState(s.state), 10_000);
      expect(status.state).toBe(expected.outcome === 'filled' ? 'filled' : 'cancelled');
      expect(status.filledQuantity).toBe(expected.filledQuantity);
    }
    expect(results[`broker:${foreign[0]!.brokerOrderId}`]).toMatchObject({ source: 'broker', outcome: 'cancelled' });
    expect(results[`broker:${foreign[1]!.brokerOrderId}`]).toMatchObject({ source: 'broker', outcome: 'cancelled' });
    expect(await paper.listOpenOrders()).toEqual([]);

    await expect(
      placeOrder(ctx, { account, symbol: 'GOOG', side: 'buy', quantity: '1', referencePrice: '170.00' }, settings),
    ).rejects.toThrow(OrderRefusedError);
    expect(await resetDesk(ctx, { account }, settings)).toMatchObject({ killSwitchWasEngaged: true });
    const after = await placeOrder(
      ctx,
      { account, symbol: 'GOOG', side: 'buy', quantity: '1', referencePrice: '170.00' },
      settings,
    );
    await waitForStatus(ctx, after.clientOrderId, (s) => s.state === 'queued');
  });

  it('a cancel the broker refuses every time is reported, the others are confirmed, and nothing is forgotten', async () => {
    const { alpaca, proxy, ctx } = await startAlpacaRig();
    const account = `ks-${randomUUID().slice(0, 8)}`;
    const placed = await Promise.all(
      SYMBOLS.map((symbol, i) =>
        placeOrder(
          ctx,
          { broker: 'alpaca', account, symbol, side: 'sell', quantity: '20', referencePrice: `${200 + i}.00` },
          settings,
        ),
      ),
    );
    await Promise.all(placed.map((p) => waitForStatus(ctx, p.clientOrderId, (s) => s.state === 'queued')));
    expect(alpaca.orders()).toHaveLength(5);
    const manual = await Promise.all(
      ['IBM', 'ORCL'].map(async (symbol) => {
        const res = await fetch(`${alpaca.baseUrl}/v2/orders`, {
          method: 'POST',
          headers: {
            'APCA-API-KEY-ID': alpaca.keyId,
            'APCA-API-SECRET-KEY': alpaca.secretKey,
            'Content-Type': 'application/json',
          },
          body: JSON.stringify({
            symbol,
            side: 'buy',
            qty: '2',
            type: 'limit',
            time_in_force: 'gtc',
            limit_price: '50.00',
            client_order_id: `manual-${randomUUID()}`,
          }),
        });
        return (await res.json()) as { id: string };
      }),
    );
    const stuck = placed[2]!;
    const stuckId = alpaca.orderByClientId(stuck.clientOrderId)!.id;
    const stuckForeign = manual[0]!.id;
    proxy.failCancel.add(stuckId);
    proxy.failCancel.add(stuckForeign);

    const first = await cancelAll(ctx, { broker: 'alpaca', account, reason: 'broker half down', wait: true }, settings);
    const results = byKey(first.run);
    for (const p of placed) {
      if (p === stuck) continue;
      expect(results[p.clientOrderId]).toMatchObject({
        key: p.clientOrderId,
        outcome: 'cancelled',
      });
    }
    // Ours: the desk's cancel failed and its order workflow took over; the desk stops waiting and says so.
    expect(results[stuck.clientOrderId]).toMatchObject({ source: 'flowguard', outcome: 'unconfirmed' });
    expect(results[stuck.clientOrderId]!.detail).toMatch(/keeps trying/);
    // Foreign: the desk's own cancel failed after its retries; the broker's refusal is quoted.
    expect(results[`broker:${stuckForeign}`]).toMatchObject({ source: 'broker', outcome: 'failed' });
    expect(results[`broker:${stuckForeign}`]!.detail).toMatch(/503/);
    expect(results[`broker:${manual[1]!.id}`]).toMatchObject({ source: 'broker', outcome: 'cancelled' });

    // The stuck order is still tracked: open at the broker, its workflow alive, the desk still lists it.
    const stuckStatus = await orderStatus(ctx, stuck.clientOrderId);
    expect(isTerminalOrderState(stuckStatus.state)).toBe(false);
    expect(alpaca.order(stuckId).status).toBe('new');
    const desk = await deskState(ctx, 'alpaca', account);
    expect(Object.keys(desk?.openOrders ?? {})).toEqual([stuck.clientOrderId]);
    // ...and the ones already cancelled are remembered as such.
    const recent = new Map(desk?.recent.map((n) => [n.clientOrderId, n.state]));
    for (const p of placed) if (p !== stuck) expect(recent.get(p.clientOrderId)).toBe('cancelled');
    // A 503 is transient: the desk's own attempts are bounded; for our order its workflow keeps the cancel owed.
    expect(proxy.refused.get(stuckId)).toBeGreaterThanOrEqual(settings.retry.maximumAttempts);
    expect(proxy.refused.get(stuckForeign)).toBe(settings.retry.maximumAttempts);
    await expect(
      placeOrder(
        ctx,
        { broker: 'alpaca', account, symbol: 'GOOG', side: 'buy', quantity: '1', referencePrice: '170.00' },
        settings,
      ),
    ).rejects.toThrow(OrderRefusedError);

    // The broker recovers: our order's workflow completes its owed cancel by itself; the first run's result follows.
    proxy.failCancel.clear();
    await waitForStatus(ctx, stuck.clientOrderId, (s) => s.state === 'cancelled', 30_000);
    const deadline = Date.now() + 15_000;
    while (
      (await deskState(ctx, 'alpaca', account))?.cancelAll?.results[stuck.clientOrderId]?.outcome !== 'cancelled'
    ) {
      if (Date.now() > deadline) throw new Error('the desk never recorded the late cancel');
      await new Promise((r) => setTimeout(r, 100));
    }
    // The foreign order needs another cancel-all: nothing else owns it.
    const second = await cancelAll(
      ctx,
      { broker: 'alpaca', account, reason: 'retry after outage', wait: true },
      settings,
    );
    const again = byKey(second.run);
    expect(Object.keys(again)).toEqual([`broker:${stuckForeign}`]);
    expect(again[`broker:${stuckForeign}`]).toMatchObject({ outcome: 'cancelled' });
    expect(alpaca.orders().filter((o) => o.status !== 'canceled')).toEqual([]);
    expect((await orderStatus(ctx, stuck.clientOrderId)).state).toBe('cancelled');
  }, 120_000);
});
