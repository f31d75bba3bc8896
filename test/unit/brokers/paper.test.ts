import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LimitOrderToPlace } from '../../../src/brokers/broker';
import { BrokerError, DuplicateClientOrderId, InvalidPrice, OrderNotFound } from '../../../src/brokers/errors';
import {
  type MarketPriceSource,
  type PaperQuote,
  type PaperTrade,
} from '../../../src/brokers/paper/market-price-source';
import { type MarketDataFailure } from '../../../src/brokers/paper/market-data-guard';
import { nsToIso } from '../../../src/brokers/paper/matching';
import { PaperBroker } from '../../../src/brokers/paper/paper-broker';
import { MemoryPaperStore, type PaperState } from '../../../src/brokers/paper/store';
import { submitIdempotently } from '../../../src/brokers/submit-idempotently';

/** Market data a test scripts by hand; market time is a counter the test moves. */
class ScriptedMarket implements MarketPriceSource {
  nowNs = 1_700_000_000_000_000_000n;
  private readonly quotes = new Map<string, PaperQuote>();
  private readonly trades = new Map<string, PaperTrade[]>();

  quote(symbol: string, bid: string, ask: string, bidSize: number, askSize: number): void {
    this.nowNs += 1_000n;
    this.quotes.set(symbol, { bid, ask, bidSize, askSize, timestampNs: this.nowNs.toString() });
  }

  trade(symbol: string, price: string, size: number): void {
    this.nowNs += 1_000n;
    const list = this.trades.get(symbol) ?? [];
    list.push({ price, size, timestampNs: this.nowNs.toString() });
    this.trades.set(symbol, list);
  }

  latestQuote(symbol: string): PaperQuote | null {
    return this.quotes.get(symbol) ?? null;
  }

  tradesSince(symbol: string, sinceNs: string): PaperTrade[] {
    return (this.trades.get(symbol) ?? []).filter((t) => BigInt(t.timestampNs) > BigInt(sinceNs));
  }
}

let seq = 0;
const order = (over: Partial<LimitOrderToPlace> = {}): LimitOrderToPlace => ({
  clientOrderId: `fg-paper-${++seq}`,
  symbol: 'TSLA',
  side: 'buy',
  quantity: 100,
  limitPrice: '250.00',
  timeInForce: 'gtc',
  ...over,
});

async function caught(p: Promise<unknown>): Promise<BrokerError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BrokerError) return err;
    throw err;
  }
  throw new Error('expected a BrokerError');
}

let market: ScriptedMarket;
let broker: PaperBroker;

beforeEach(() => {
  market = new ScriptedMarket();
  broker = PaperBroker.inMemory(market, { marketTimeNs: () => market.nowNs });
});

describe('marketable orders fill at once against the NBBO', () => {
  it('a buy at or above the ask fills at the ask', async () => {
    market.quote('TSLA', '249.80', '249.90', 500, 500);
    const snap = await broker.submitLimitOrder(order({ limitPrice: '250.00' }));
    expect(snap).toMatchObject({
      state: 'filled',
      filledQuantity: 100,
      averageFillPrice: '249.9',
      brokerStatus: 'filled',
    });
    expect(snap.executions).toEqual([
      { id: `${snap.brokerOrderId}-e1`, quantity: 100, price: '249.9', timestamp: expect.any(String) },
    ]);
  });

  it('a sell at or below the bid fills at the bid', async () => {
    market.quote('TSLA', '249.80', '249.90', 500, 500);
    const snap = await broker.submitLimitOrder(order({ side: 'sell', limitPrice: '249.80' }));
    expect(snap).toMatchObject({ state: 'filled', averageFillPrice: '249.8' });
  });

  it('fills only the displayed size; the same quote is never used twice; a new quote fills more', async () => {
    market.quote('TSLA', '249.80', '249.90', 500, 30);
    const snap = await broker.submitLimitOrder(order());
    expect(snap).toMatchObject({ state: 'partially_filled', filledQuantity: 30 });
    expect((await broker.getOrder(snap.brokerOrderId)).filledQuantity).toBe(30);
    market.quote('TSLA', '249.80', '249.95', 500, 50);
    const later = await broker.getOrder(snap.brokerOrderId);
    expect(later).toMatchObject({ state: 'partially_filled', filledQuantity: 80 });
    // (30 × 249.90 + 50 × 249.95) / 80 = 249.93125
    expect(later.averageFillPrice).toBe('249.93125');
  });

  it('does not fill against a one-sided quote or a worse price', async () => {
    market.quote('TSLA', '249.80', '0', 500, 0);
    expect((await broker.submitLimitOrder(order())).state).toBe('queued');
    market.quote('TSLA', '249.80', '250.01', 500, 500);
    expect((await broker.submitLimitOrder(order())).state).toBe('queued');
  });
});

describe('resting orders fill when the market trades through them', () => {
  it('sell limit: prints above fill at the limit by print size, prints at the limit fill half, below nothing', async () => {
    market.trade('TSLA', '260.00', 1000); // before the order existed: ignored
    market.quote('TSLA', '249.80', '249.90', 500, 500);
    const snap = await broker.submitLimitOrder(order({ side: 'sell', limitPrice: '252.14' }));
    expect(snap.state).toBe('queued');
    market.trade('TSLA', '252.10', 500); // worse for us: nothing
    market.trade('TSLA', '252.14', 41); // at the limit: floor(41 × 0.5) = 20
    market.trade('TSLA', '252.20', 30); // through: all 30, at our limit
    let now = await broker.getOrder(snap.brokerOrderId);
    expect(now).toMatchObject({ state: 'partially_filled', filledQuantity: 50, averageFillPrice: '252.14' });
    expect(now.executions.map((e) => e.quantity)).toEqual([20, 30]);
    market.trade('TSLA', '252.50', 1000);
    now = await broker.getOrder(snap.brokerOrderId);
    expect(now).toMatchObject({ state: 'filled', filledQuantity: 100 });
    expect(now.executions.map((e) => e.quantity)).toEqual([20, 30, 50]);
  });

  it('buy limit: prints below fill; repeated reads never count a print twice', async () => {
    const snap = await broker.submitLimitOrder(order({ limitPrice: '249.93' }));
    market.trade('TSLA', '249.90', 40);
    await broker.getOrder(snap.brokerOrderId);
    await broker.getOrderByClientOrderId(snap.clientOrderId!);
    const now = await broker.getOrder(snap.brokerOrderId);
    expect(now).toMatchObject({ filledQuantity: 40, averageFillPrice: '249.93' });
  });

  it('respects a configured at-limit participation of 0 (only trade-throughs fill)', async () => {
    const strict = PaperBroker.inMemory(market, { marketTimeNs: () => market.nowNs, atLimitParticipation: 0 });
    const snap = await strict.submitLimitOrder(order({ limitPrice: '249.93' }));
    market.trade('TSLA', '249.93', 10_000);
    expect((await strict.getOrder(snap.brokerOrderId)).filledQuantity).toBe(0);
  });

  it('execution timestamps come from the print (ns precision kept)', () => {
    expect(nsToIso('1700000000123456789')).toBe('2023-11-14T22:13:20.123456789Z');
  });
});

describe('without market data', () => {
  it('orders rest open, are listed, and cancel once', async () => {
    const plain = PaperBroker.inMemory();
    const a = await plain.submitLimitOrder(order());
    expect(a.state).toBe('queued');
    expect((await plain.listOpenOrders()).map((o) => o.brokerOrderId)).toEqual([a.brokerOrderId]);
    const first = await plain.cancelOrder(a.brokerOrderId);
    expect(first).toMatchObject({ outcome: 'cancel_requested', order: { state: 'cancelled' } });
    const second = await plain.cancelOrder(a.brokerOrderId);
    expect(second).toMatchObject({ outcome: 'not_cancellable', reason: 'already_cancelled' });
    expect(await plain.listOpenOrders()).toEqual([]);
  });
});

describe('cancel applies fills first', () => {
  it('a print that beat the cancel is kept; a full fill makes the order not cancellable', async () => {
    const a = await broker.submitLimitOrder(order({ limitPrice: '249.93' }));
    const b = await broker.submitLimitOrder(order({ limitPrice: '249.93', quantity: 10 }));
    market.trade('TSLA', '249.50', 25);
    const ra = await broker.cancelOrder(a.brokerOrderId);
    expect(ra).toMatchObject({ outcome: 'cancel_requested', order: { state: 'cancelled', filledQuantity: 25 } });
    const rb = await broker.cancelOrder(b.brokerOrderId);
    expect(rb).toMatchObject({ outcome: 'not_cancellable', reason: 'already_filled', order: { filledQuantity: 10 } });
  });
});

describe('idempotency and validation', () => {
  it('a resubmit with the same client order id returns the existing order', async () => {
    const req = order();
    const first = await broker.submitLimitOrder(req);
    const again = await submitIdempotently(broker, req);
    expect(again.order.brokerOrderId).toBe(first.brokerOrderId);
    expect(await broker.listOpenOrders()).toHaveLength(1);
  });

  it('the same client order id with a different intent is refused', async () => {
    const req = order();
    await broker.submitLimitOrder(req);
    const err = await caught(broker.submitLimitOrder({ ...req, quantity: 5 }));
    expect(err).toBeInstanceOf(DuplicateClientOrderId);
  });

  it('refuses sub-penny prices and unknown ids', async () => {
    expect(await caught(broker.submitLimitOrder(order({ limitPrice: '249.931' })))).toBeInstanceOf(InvalidPrice);
    expect(await caught(broker.getOrder('paper-nope'))).toBeInstanceOf(OrderNotFound);
    await expect(broker.getOrderByClientOrderId('nope')).resolves.toBeNull();
  });
});

describe('persistence (JSON file)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fg-paper-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('survives a restart: a new instance on the same file sees orders, fills and idempotency', async () => {
    const path = join(dir, 'nested', 'paper-broker.json');
    const opts = { marketTimeNs: () => market.nowNs };
    const before = PaperBroker.onFile(path, market, opts);
    market.quote('TSLA', '249.80', '249.90', 500, 40);
    const req = order();
    const placed = await before.submitLimitOrder(req);
    expect(placed.filledQuantity).toBe(40);

    const after = PaperBroker.onFile(path, market, opts); // "worker restart"
    const seen = await after.getOrderByClientOrderId(req.clientOrderId);
    expect(seen).toMatchObject({ brokerOrderId: placed.brokerOrderId, filledQuantity: 40, state: 'partially_filled' });
    const resubmitted = await after.submitLimitOrder(req);
    expect(resubmitted.brokerOrderId).toBe(placed.brokerOrderId);
    expect(resubmitted.filledQuantity).toBe(40); // the quote's size was already used before the restart
    market.trade('TSLA', '249.00', 60);
    expect((await after.getOrder(placed.brokerOrderId)).state).toBe('filled');

    const files = await readdir(join(dir, 'nested'));
    expect(files).toEqual(['paper-broker.json']); // no temp files left behind
    const state = JSON.parse(await readFile(path, 'utf8')) as { orders: Record<string, unknown> };
    expect(Object.keys(state.orders)).toEqual([req.clientOrderId]);
  });

  it('serialises concurrent operations so none is lost', async () => {
    const path = join(dir, 'paper.json');
    const b = PaperBroker.onFile(path);
    await Promise.all(Array.from({ length: 20 }, () => b.submitLimitOrder(order())));
    const reopened = PaperBroker.onFile(path);
    expect(await reopened.listOpenOrders()).toHaveLength(20);
  });

  it('refuses a corrupt state file instead of starting an empty book', async () => {
    const path = join(dir, 'paper.json');
    await writeFile(path, '{"version":1,"orders":{"x":{"nope":true}}}');
    await expect(PaperBroker.onFile(path).listOpenOrders()).rejects.toThrow(/paper broker state .* is invalid/);
    await writeFile(path, '{not json');
    await expect(PaperBroker.onFile(path).ping()).rejects.toThrow(/not valid JSON/);
  });
});

/** A market source whose calls the test breaks, hangs and repairs; it counts what it was asked. */
class FlakyMarket implements MarketPriceSource {
  readonly description = 'a flaky test feed';
  mode: 'ok' | 'throw' | 'hang' = 'ok';
  calls = 0;
  constructor(private readonly inner: ScriptedMarket) {}

  private gate<T>(answer: () => T): Promise<T> {
    this.calls += 1;
    if (this.mode === 'throw') return Promise.reject(new Error('ECONNREFUSED 127.0.0.1:1'));
    if (this.mode === 'hang') return new Promise<T>(() => undefined);
    return Promise.resolve(answer());
  }

  latestQuote(symbol: string): Promise<PaperQuote | null> {
    return this.gate(() => this.inner.latestQuote(symbol));
  }

  tradesSince(symbol: string, sinceNs: string): Promise<PaperTrade[]> {
    return this.gate(() => this.inner.tradesSince(symbol, sinceNs));
  }
}

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await p;
  return { value, ms: Date.now() - started };
}

describe('market data never fails an order operation (issue 11, item 5)', () => {
  let flaky: FlakyMarket;
  let failures: MarketDataFailure[];
  let fragile: PaperBroker;

  beforeEach(() => {
    flaky = new FlakyMarket(market);
    failures = [];
    fragile = PaperBroker.inMemory(flaky, {
      marketTimeNs: () => market.nowNs,
      marketDataTimeoutMs: 200,
      cancelMarketDataTimeoutMs: 50,
      onMarketDataFailure: (f) => failures.push(f),
    });
  });

  it('a feed that throws: submit, lookups, listing and cancel all answer; the failures are counted', async () => {
    flaky.mode = 'throw';
    const placed = await fragile.submitLimitOrder(order());
    expect(placed).toMatchObject({ state: 'queued', filledQuantity: 0 });
    expect(await fragile.getOrder(placed.brokerOrderId)).toMatchObject({ state: 'queued' });
    expect(await fragile.getOrderByClientOrderId(placed.clientOrderId!)).toMatchObject({ state: 'queued' });
    expect((await fragile.listOpenOrders()).map((o) => o.brokerOrderId)).toEqual([placed.brokerOrderId]);
    const cancelled = await fragile.cancelOrder(placed.brokerOrderId);
    expect(cancelled).toMatchObject({ outcome: 'cancel_requested', order: { state: 'cancelled' } });
    expect(await fragile.listOpenOrders()).toEqual([]);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatchObject({
      symbol: 'TSLA',
      timedOut: false,
      error: expect.stringContaining('ECONNREFUSED'),
    });
    const status = (await fragile.health()).marketData;
    expect(status).toMatchObject({ configured: true, fillsAgainst: 'a flaky test feed', failures: failures.length });
    expect(status.lastFailure).toContain('ECONNREFUSED');
  });

  it('a feed that hangs: every operation answers within its bound, the kill switch within the cancel bound', async () => {
    flaky.mode = 'hang';
    const submit = await timed(fragile.submitLimitOrder(order()));
    expect(submit.value.state).toBe('queued');
    expect(submit.ms).toBeLessThan(1000);
    const list = await timed(fragile.listOpenOrders());
    expect(list.value).toHaveLength(1);
    expect(list.ms).toBeLessThan(500);
    const cancel = await timed(fragile.cancelOrder(submit.value.brokerOrderId));
    expect(cancel.value.outcome).toBe('cancel_requested');
    expect(cancel.ms).toBeLessThan(500);
    expect(failures.every((f) => f.timedOut)).toBe(true);
  });

  it('a lookup stuck on the feed does not hold a cancel behind it (market data is fetched outside the lock)', async () => {
    const placed = await fragile.submitLimitOrder(order());
    flaky.mode = 'hang';
    const slowRead = fragile.getOrder(placed.brokerOrderId); // waits up to its 200 ms bound on the feed
    const cancel = await timed(fragile.cancelOrder(placed.brokerOrderId));
    expect(cancel.value.outcome).toBe('cancel_requested');
    expect(cancel.ms).toBeLessThan(150);
    expect((await slowRead).state).toBe('cancelled');
  });

  it('fills resume when the feed recovers, and prints from the outage are not lost', async () => {
    const placed = await fragile.submitLimitOrder(order({ limitPrice: '249.93' }));
    flaky.mode = 'throw';
    market.trade('TSLA', '249.50', 30); // printed while the feed is down
    expect((await fragile.getOrder(placed.brokerOrderId)).filledQuantity).toBe(0);
    expect((await fragile.listOpenOrders())[0]?.filledQuantity).toBe(0);
    flaky.mode = 'ok';
    market.trade('TSLA', '249.60', 20);
    const now = await fragile.getOrder(placed.brokerOrderId);
    expect(now).toMatchObject({ state: 'partially_filled', filledQuantity: 50, averageFillPrice: '249.93' });
    expect(now.executions.map((e) => e.quantity)).toEqual([30, 20]);
    expect((await fragile.health()).marketData.lastSuccessAt).not.toBeNull();
  });

  it('a marketable order that met a dead feed fills against the first quote after recovery', async () => {
    flaky.mode = 'throw';
    market.quote('TSLA', '249.80', '249.90', 500, 500);
    const placed = await fragile.submitLimitOrder(order({ limitPrice: '250.00' }));
    expect(placed.state).toBe('queued');
    flaky.mode = 'ok';
    expect(await fragile.getOrder(placed.brokerOrderId)).toMatchObject({ state: 'filled', averageFillPrice: '249.9' });
  });

  it('data that cannot be applied (a malformed price) leaves the order as it was and is counted', async () => {
    const placed = await fragile.submitLimitOrder(order({ limitPrice: '249.93' }));
    market.trade('TSLA', '249.50', 10);
    market.trade('TSLA', 'not-a-price', 10);
    const seen = await fragile.getOrder(placed.brokerOrderId);
    expect(seen).toMatchObject({ state: 'queued', filledQuantity: 0 });
    expect(failures.at(-1)).toMatchObject({ call: 'apply' });
  });

  it('a cancel still applies the fills the feed gives it within the bound', async () => {
    const placed = await fragile.submitLimitOrder(order({ limitPrice: '249.93' }));
    market.trade('TSLA', '249.50', 25);
    const r = await fragile.cancelOrder(placed.brokerOrderId);
    expect(r).toMatchObject({ outcome: 'cancel_requested', order: { state: 'cancelled', filledQuantity: 25 } });
  });

  it('without a market source nothing is asked and health says orders rest', async () => {
    const plain = PaperBroker.inMemory();
    await plain.submitLimitOrder(order());
    const h = await plain.health();
    expect(h).toMatchObject({
      store: { writable: true, where: 'memory (not durable)' },
      openOrders: 1,
      marketData: { configured: false, failures: 0 },
    });
    expect(h.marketData.fillsAgainst).toBe('nothing: no market data configured (orders rest until cancelled)');
  });
});

describe('a submit the caller is told failed leaves no order', () => {
  /** A store whose next saves fail, like a full disk. */
  class FailingStore extends MemoryPaperStore {
    failSaves = 0;
    override save(state: PaperState): Promise<void> {
      if (this.failSaves > 0) {
        this.failSaves -= 1;
        return Promise.reject(new Error('ENOSPC: no space left on device'));
      }
      return super.save(state);
    }
  }

  it('a failed save fails the submit and no order exists; the retry creates exactly one', async () => {
    const store = new FailingStore();
    const b = new PaperBroker({ store, marketPrices: new FlakyMarket(market), marketTimeNs: () => market.nowNs });
    store.failSaves = 1;
    const req = order();
    await expect(b.submitLimitOrder(req)).rejects.toThrow(/ENOSPC/);
    expect(await b.getOrderByClientOrderId(req.clientOrderId)).toBeNull();
    expect(await b.listOpenOrders()).toEqual([]);
    const placed = await b.submitLimitOrder(req);
    expect(await b.listOpenOrders()).toEqual([expect.objectContaining({ brokerOrderId: placed.brokerOrderId })]);
  });

  it('a failed save fails the cancel and the order stays open', async () => {
    const store = new FailingStore();
    const b = new PaperBroker({ store });
    const placed = await b.submitLimitOrder(order());
    store.failSaves = 1;
    await expect(b.cancelOrder(placed.brokerOrderId)).rejects.toThrow(/ENOSPC/);
    expect((await b.getOrder(placed.brokerOrderId)).state).toBe('queued');
  });

  it('a refused resubmit (same id, other intent) changes nothing', async () => {
    const req = order();
    const placed = await broker.submitLimitOrder(req);
    market.trade('TSLA', '249.00', 10);
    await expect(broker.submitLimitOrder({ ...req, quantity: 5 })).rejects.toBeInstanceOf(DuplicateClientOrderId);
    expect((await broker.getOrder(placed.brokerOrderId)).filledQuantity).toBe(10);
  });
});

describe('health of the file store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fg-paper-health-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a writable store is ok and leaves no probe file behind', async () => {
    const path = join(dir, 'paper.json');
    const h = await PaperBroker.onFile(path).health();
    expect(h.store).toEqual({ where: path, writable: true, error: null });
    expect(await readdir(dir)).toEqual([]);
  });

  it('a store under a path that cannot be a directory is reported unusable', async () => {
    await writeFile(join(dir, 'blocker'), 'a file, not a directory');
    const h = await PaperBroker.onFile(join(dir, 'blocker', 'paper.json')).health();
    expect(h.store).toMatchObject({ writable: false, error: expect.stringMatching(/ENOTDIR|EEXIST/) });
  });
});
