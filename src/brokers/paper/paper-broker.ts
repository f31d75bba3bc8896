/**
 * The embedded default broker: simulated fills against market data (rules in ./matching.ts), state kept
 * in a PaperStore so orders survive a worker restart. Orders are keyed by client order id, so a resubmit
 * with the same id returns the existing order instead of creating another.
 *
 * It needs no keys: without a market source orders rest until cancelled. With one, market data only ever
 * adds fills: it is fetched outside the state lock with a time bound, and a failure or a slow answer defers
 * filling to a later call (./market-data-guard.ts) instead of failing the submit, read, list or cancel. An
 * operation either completes and is saved, or throws and changes nothing: a submit the caller is told failed
 * never leaves an order behind.
 *
 * Limits, on purpose: no account/buying-power model, and DAY orders are not expired at the close (there is
 * no market calendar here). State is read from the store on every call and written under a per-instance
 * lock; two worker processes sharing one file are not coordinated, so run paper mode with one worker.
 */
import { randomUUID } from 'node:crypto';
import { maskSecrets } from '../../domain/masking';
import { OrderState, isTerminalOrderState } from '../../domain/orders/order-state';
import {
  type Broker,
  type BrokerOrderSnapshot,
  type BrokerPosition,
  type CancelResult,
  type LimitOrderToPlace,
  BrokerName,
  CancelOutcome,
  averagePrice,
  notCancellableReason,
  parseLimitOrderToPlace,
} from '../broker';
import { DuplicateClientOrderId, InvalidPrice, OrderNotFound } from '../errors';
import { type FillContext, fillAgainstQuote, fillAgainstTrades, remaining } from './matching';
import {
  type MarketDataFailure,
  type MarketDataStatus,
  type MarketNeeds,
  type MarketView,
  EMPTY_MARKET_VIEW,
  MarketDataGuard,
} from './market-data-guard';
import { type MarketPriceSource, NO_MARKET_DATA } from './market-price-source';
import { paperPositions } from './positions';
import {
  type PaperOrderRecord,
  type PaperState,
  type PaperStatus,
  type PaperStore,
  JsonFilePaperStore,
  MemoryPaperStore,
} from './store';
import { errorMessage } from '../../shared/error-message';
import { canonicalDecimal } from '../../domain/orders/money';
import { isOnTickGrid } from '../../domain/orders/pricing';

export const DEFAULT_PAPER_STATE_PATH = '.data/paper-broker.json';

/** Market-data bound for a submit or a lookup: fills wait for the next read rather than hold the caller. */
export const DEFAULT_MARKET_DATA_TIMEOUT_MS = 2000;
/** Tighter bound for cancel and listing: the kill switch must never wait on market data. */
export const DEFAULT_CANCEL_MARKET_DATA_TIMEOUT_MS = 1000;

export interface PaperBrokerOptions {
  /** Where state lives: a PaperStore, or a JSON file path. */
  readonly store: PaperStore | { readonly path: string };
  /** What orders fill against; none: orders rest until cancelled. */
  readonly marketPrices?: MarketPriceSource;
  /** Wall clock for timestamps. */
  readonly now?: () => Date;
  /**
   * Market-data time in SIP ns: an order only sees trades printed after it was placed. Defaults to the wall
   * clock; a replay or demo driven by recorded data must pass the data's own clock.
   */
  readonly marketTimeNs?: () => bigint;
  /** Share of a print exactly at our limit that fills us (0–1, default 0.5). */
  readonly atLimitParticipation?: number;
  /** Bound on market data for submit and lookups (default 2000 ms). */
  readonly marketDataTimeoutMs?: number;
  /** Bound on market data for cancel and listing (default 1000 ms). */
  readonly cancelMarketDataTimeoutMs?: number;
  /** Told of every market-data failure (the order operation itself goes on); see throttledFailureLog. */
  readonly onMarketDataFailure?: (failure: MarketDataFailure) => void;
}

/** What `flowguard health` reports about paper, from the worker that runs it. */
export interface PaperBrokerHealth {
  readonly store: { readonly where: string; readonly writable: boolean; readonly error: string | null };
  readonly openOrders: number | null;
  readonly marketData: MarketDataStatus;
}

const STATUS_TO_STATE: Readonly<Record<PaperStatus, OrderState>> = {
  new: OrderState.Queued,
  partially_filled: OrderState.PartiallyFilled,
  filled: OrderState.Filled,
  canceled: OrderState.Cancelled,
};

export class PaperBroker implements Broker {
  readonly name = BrokerName.Paper;
  private readonly store: PaperStore;
  private readonly market: MarketDataGuard;
  private readonly now: () => Date;
  private readonly marketTimeNs: () => bigint;
  private readonly atLimitParticipation: number;
  private readonly readTimeoutMs: number;
  private readonly cancelTimeoutMs: number;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(options: PaperBrokerOptions) {
    this.store = 'path' in options.store ? new JsonFilePaperStore(options.store.path) : options.store;
    this.now = options.now ?? (() => new Date());
    this.market = new MarketDataGuard(options.marketPrices ?? NO_MARKET_DATA, this.now, options.onMarketDataFailure);
    this.marketTimeNs = options.marketTimeNs ?? (() => BigInt(this.now().getTime()) * 1_000_000n);
    const p = options.atLimitParticipation ?? 0.5;
    if (!(p >= 0 && p <= 1)) throw new RangeError('atLimitParticipation must be between 0 and 1');
    this.atLimitParticipation = p;
    this.readTimeoutMs = options.marketDataTimeoutMs ?? DEFAULT_MARKET_DATA_TIMEOUT_MS;
    this.cancelTimeoutMs = options.cancelMarketDataTimeoutMs ?? DEFAULT_CANCEL_MARKET_DATA_TIMEOUT_MS;
  }

  /** Durable paper broker on a JSON file (default `.data/paper-broker.json`). */
  static onFile(
    path: string = DEFAULT_PAPER_STATE_PATH,
    marketPrices?: MarketPriceSource,
    extra: Omit<PaperBrokerOptions, 'store' | 'marketPrices'> = {},
  ): PaperBroker {
    return new PaperBroker({ ...extra, store: { path }, ...(marketPrices ? { marketPrices } : {}) });
  }

  /** Non-durable paper broker for tests. */
  static inMemory(
    marketPrices?: MarketPriceSource,
    extra: Omit<PaperBrokerOptions, 'store' | 'marketPrices'> = {},
  ): PaperBroker {
    return new PaperBroker({ ...extra, store: new MemoryPaperStore(), ...(marketPrices ? { marketPrices } : {}) });
  }

  /** What orders fill against, e.g. "Polygon REST at https://api.polygon.io" or "nothing: …". */
  get fillsAgainst(): string {
    return this.market.fillsAgainst;
  }

  async submitLimitOrder(input: LimitOrderToPlace): Promise<BrokerOrderSnapshot> {
    const req = parseLimitOrderToPlace(input);
    if (!isOnTickGrid(req.limitPrice)) {
      throw new InvalidPrice({
        broker: this.name,
        message: `paper: limit price ${req.limitPrice} is not a valid tick ($0.01 at or above $1.00, $0.0001 below)`,
      });
    }
    // The quote is asked for before the order exists (a new order has no trades to see yet), so the order is
    // created, matched against it and saved in one step: the caller hears of the order only once it is saved,
    // and a failed save leaves no order behind.
    const peek = (state: PaperState) => {
      const existing = state.orders[req.clientOrderId];
      return { orders: existing ? [existing] : [], quoteSymbols: [req.symbol] };
    };
    return this.withFills(peek, this.readTimeoutMs, (state, view) => {
      const existing = state.orders[req.clientOrderId];
      if (existing) {
        if (!sameIntent(existing, req)) {
          throw new DuplicateClientOrderId({
            broker: this.name,
            message: `paper: client order id ${req.clientOrderId} already used for a different order`,
          });
        }
        return this.snapshot(existing);
      }
      const nowIso = this.now().toISOString();
      const order: PaperOrderRecord = {
        brokerOrderId: `paper-${randomUUID()}`,
        clientOrderId: req.clientOrderId,
        symbol: req.symbol,
        side: req.side,
        quantity: req.quantity,
        limitPrice: canonicalDecimal(req.limitPrice),
        timeInForce: req.timeInForce,
        status: 'new',
        executions: [],
        createdAt: nowIso,
        updatedAt: nowIso,
        watermarkNs: this.marketTimeNs().toString(),
        quoteNs: null,
        quoteSizeUsed: 0,
      };
      state.orders[req.clientOrderId] = order;
      this.applyFills(order, { trades: new Map(), quotes: view.quotes });
      return this.snapshot(order);
    });
  }

  getOrderByClientOrderId(clientOrderId: string): Promise<BrokerOrderSnapshot | null> {
    const pick = (state: PaperState) => state.orders[clientOrderId];
    return this.withFills(
      (state) => ({ orders: optional(pick(state)) }),
      this.readTimeoutMs,
      (state) => {
        const order = pick(state);
        return order ? this.snapshot(order) : null;
      },
    );
  }

  getOrder(brokerOrderId: string): Promise<BrokerOrderSnapshot> {
    return this.withFills(
      (state) => ({ orders: optional(lookupById(state, brokerOrderId)) }),
      this.readTimeoutMs,
      (state) => this.snapshot(this.findById(state, brokerOrderId)),
    );
  }

  /** The kill switch's view: answered from the store; fills are applied first only if market data is quick. */
  listOpenOrders(): Promise<BrokerOrderSnapshot[]> {
    const open = (state: PaperState) => Object.values(state.orders).filter((o) => !isTerminalStatus(o.status));
    return this.withFills(
      (state) => ({ orders: open(state) }),
      this.cancelTimeoutMs,
      (state) => open(state).map((o) => this.snapshot(o)),
    );
  }

  cancelOrder(brokerOrderId: string): Promise<CancelResult> {
    // Fills the market already gave us come first (a cancel never erases an execution it can see), but only
    // as far as market data answers within the cancel bound: the cancel itself never waits on the feed.
    return this.withFills(
      (state) => ({ orders: optional(lookupById(state, brokerOrderId)) }),
      this.cancelTimeoutMs,
      (state): CancelResult => {
        const order = this.findById(state, brokerOrderId);
        if (isTerminalStatus(order.status)) {
          const snap = this.snapshot(order);
          return { outcome: CancelOutcome.NotCancellable, reason: notCancellableReason(snap.state), order: snap };
        }
        order.status = 'canceled';
        order.updatedAt = this.now().toISOString();
        return { outcome: CancelOutcome.CancelRequested, order: this.snapshot(order) };
      },
    );
  }

  /** Positions netted from every execution in the store; fills the market already gave open orders come first. */
  listPositions(): Promise<BrokerPosition[]> {
    const open = (state: PaperState) => Object.values(state.orders).filter((o) => !isTerminalStatus(o.status));
    return this.withFills(
      (state) => ({ orders: open(state) }),
      this.cancelTimeoutMs,
      (state) => paperPositions(Object.values(state.orders)),
    );
  }

  async ping(): Promise<void> {
    await this.withState(() => undefined);
  }

  /** For `flowguard health`: can the store take a save now, and what do orders fill against (never calls the feed). */
  async health(): Promise<PaperBrokerHealth> {
    const where = this.store.where ?? 'custom store';
    let openOrders: number | null = null;
    try {
      const state = await this.store.load();
      openOrders = Object.values(state.orders).filter((o) => !isTerminalStatus(o.status)).length;
      await this.store.checkWritable?.();
      return { store: { where, writable: true, error: null }, openOrders, marketData: this.market.status() };
    } catch (err) {
      const error = errorMessage(err);
      return { store: { where, writable: false, error }, openOrders, marketData: this.market.status() };
    }
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────────────

  /**
   * Reads (unlocked) which orders an operation concerns, fetches their market data with a bound and outside
   * the lock (so one slow feed call never queues every other operation behind it), then under the lock
   * applies what arrived to those orders and runs `fn`. Data fetched before the lock is safe to apply late:
   * trades are filtered by each order's current watermark, and a quote's displayed size is used once.
   */
  private async withFills<T>(
    targets: (state: PaperState) => { orders: readonly PaperOrderRecord[]; quoteSymbols?: readonly string[] },
    timeoutMs: number,
    fn: (state: PaperState, view: MarketView) => T,
  ): Promise<T> {
    let view = EMPTY_MARKET_VIEW;
    if (this.market.configured) {
      let needs: MarketNeeds = new Map();
      try {
        needs = marketNeeds(targets(await this.store.load()));
      } catch {
        // An unreadable store is reported by the locked load below, with the operation's own error.
      }
      view = await this.market.fetch(needs, timeoutMs);
    }
    return this.withState((state) => {
      for (const order of targets(state).orders) this.applyFills(order, view);
      return fn(state, view);
    });
  }

  /**
   * Serialises every operation and saves the state after it only when it succeeded: an operation that throws
   * changes nothing (fills it applied on the way are re-derived from the watermark by the next call).
   */
  private withState<T>(fn: (state: PaperState) => T): Promise<T> {
    const run = this.lock.then(async () => {
      const state = await this.store.load();
      const before = JSON.stringify(state);
      const result = fn(state);
      if (JSON.stringify(state) !== before) await this.store.save(state);
      return result;
    });
    this.lock = run.catch(() => undefined);
    return run;
  }

  private findById(state: PaperState, brokerOrderId: string): PaperOrderRecord {
    const order = lookupById(state, brokerOrderId);
    if (!order) throw new OrderNotFound({ broker: this.name, message: `paper: order ${brokerOrderId} not found` });
    return order;
  }

  private fillContext(): FillContext {
    return { atLimitParticipation: this.atLimitParticipation, nowIso: this.now().toISOString() };
  }

  /**
   * Applies what the feed answered for the order's symbol; never throws. Data the feed did not answer in time
   * is simply absent, so the watermark stays where it was and those prints are considered next time. Data
   * that cannot be applied (a malformed price) leaves the order exactly as it was.
   */
  private applyFills(order: PaperOrderRecord, view: MarketView): void {
    if (isTerminalStatus(order.status)) return;
    const before = structuredClone(order);
    try {
      const ctx = this.fillContext();
      const trades = view.trades.get(order.symbol);
      if (trades) fillAgainstTrades(order, trades, ctx);
      if (remaining(order) > 0 && view.quotes.has(order.symbol)) {
        fillAgainstQuote(order, view.quotes.get(order.symbol) ?? null, ctx);
      }
      this.settle(order);
    } catch (err) {
      Object.assign(order, before);
      this.market.reportApplyFailure(order.symbol, err);
    }
  }

  private settle(order: PaperOrderRecord): void {
    const left = remaining(order);
    const status: PaperStatus = left <= 0 ? 'filled' : order.executions.length > 0 ? 'partially_filled' : 'new';
    if (status !== order.status) {
      order.status = status;
      order.updatedAt = this.now().toISOString();
    }
  }

  private snapshot(order: PaperOrderRecord): BrokerOrderSnapshot {
    const filledQuantity = order.quantity - remaining(order);
    const state = STATUS_TO_STATE[order.status];
    return {
      broker: this.name,
      brokerOrderId: order.brokerOrderId,
      clientOrderId: order.clientOrderId,
      symbol: order.symbol,
      side: order.side,
      quantity: order.quantity,
      limitPrice: order.limitPrice,
      state,
      brokerStatus: order.status,
      filledQuantity,
      averageFillPrice: averagePrice(order.executions),
      executions: order.executions.map((e) => ({ ...e })),
      executionsComplete: true,
      rejectReason: null,
      updatedAt: order.updatedAt,
      raw: maskSecrets({ ...order, executions: order.executions.map((e) => ({ ...e })) }),
    };
  }
}

function optional<T>(value: T | undefined): T[] {
  return value === undefined ? [] : [value];
}

function lookupById(state: PaperState, brokerOrderId: string): PaperOrderRecord | undefined {
  return Object.values(state.orders).find((o) => o.brokerOrderId === brokerOrderId);
}

/** Per symbol: trades after the oldest watermark of its open orders (each order filters by its own), and the NBBO. */
function marketNeeds(target: {
  orders: readonly PaperOrderRecord[];
  quoteSymbols?: readonly string[];
}): Map<string, { sinceNs: string | null }> {
  const needs = new Map<string, { sinceNs: string | null }>();
  for (const symbol of target.quoteSymbols ?? []) if (!needs.has(symbol)) needs.set(symbol, { sinceNs: null });
  for (const order of target.orders) {
    if (isTerminalStatus(order.status)) continue;
    const prev = needs.get(order.symbol)?.sinceNs ?? null;
    const sinceNs = prev === null || BigInt(order.watermarkNs) < BigInt(prev) ? order.watermarkNs : prev;
    needs.set(order.symbol, { sinceNs });
  }
  return needs;
}

function isTerminalStatus(status: PaperStatus): boolean {
  return isTerminalOrderState(STATUS_TO_STATE[status]);
}

function sameIntent(order: PaperOrderRecord, req: LimitOrderToPlace): boolean {
  return (
    order.symbol === req.symbol &&
    order.side === req.side &&
    order.quantity === req.quantity &&
    order.limitPrice === canonicalDecimal(req.limitPrice) &&
    order.timeInForce === req.timeInForce
  );
}
