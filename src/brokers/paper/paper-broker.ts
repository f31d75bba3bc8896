/**
 * The embedded default broker: simulated fills against market data (rules in ./matching.ts), state kept
 * in a PaperStore so orders survive a worker restart. Orders are keyed by client order id, so a resubmit
 * with the same id returns the existing order instead of creating another.
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
  type CancelResult,
  type LimitOrderRequest,
  BrokerName,
  CancelOutcome,
  averagePrice,
  isValidTick,
  normaliseDecimal,
  notCancellableReason,
  parseLimitOrderRequest,
} from '../broker';
import { DuplicateClientOrderId, InvalidPrice, OrderNotFound } from '../errors';
import { type FillContext, fillAgainstQuote, fillAgainstTrades, remaining } from './matching';
import { type MarketPriceSource, NO_MARKET_DATA } from './market-price-source';
import {
  type PaperOrderRecord,
  type PaperState,
  type PaperStatus,
  type PaperStore,
  JsonFilePaperStore,
  MemoryPaperStore,
} from './store';

export const DEFAULT_PAPER_STATE_PATH = '.data/paper-broker.json';

export interface PaperBrokerOptions {
  /** Where state lives: a PaperStore, or a JSON file path. */
  readonly store: PaperStore | { readonly path: string };
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
  private readonly market: MarketPriceSource;
  private readonly now: () => Date;
  private readonly marketTimeNs: () => bigint;
  private readonly atLimitParticipation: number;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(options: PaperBrokerOptions) {
    this.store = 'path' in options.store ? new JsonFilePaperStore(options.store.path) : options.store;
    this.market = options.marketPrices ?? NO_MARKET_DATA;
    this.now = options.now ?? (() => new Date());
    this.marketTimeNs = options.marketTimeNs ?? (() => BigInt(this.now().getTime()) * 1_000_000n);
    const p = options.atLimitParticipation ?? 0.5;
    if (!(p >= 0 && p <= 1)) throw new RangeError('atLimitParticipation must be between 0 and 1');
    this.atLimitParticipation = p;
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

  async submitLimitOrder(input: LimitOrderRequest): Promise<BrokerOrderSnapshot> {
    const req = parseLimitOrderRequest(input);
    if (!isValidTick(req.limitPrice)) {
      throw new InvalidPrice({
        broker: this.name,
        message: `paper: limit price ${req.limitPrice} is not a valid tick ($0.01 at or above $1.00, $0.0001 below)`,
      });
    }
    return this.withState(async (state) => {
      const existing = state.orders[req.clientOrderId];
      if (existing) {
        if (!sameIntent(existing, req)) {
          throw new DuplicateClientOrderId({
            broker: this.name,
            message: `paper: client order id ${req.clientOrderId} already used for a different order`,
          });
        }
        await this.advance(existing);
        return this.snapshot(existing);
      }
      const nowIso = this.now().toISOString();
      const order: PaperOrderRecord = {
        brokerOrderId: `paper-${randomUUID()}`,
        clientOrderId: req.clientOrderId,
        symbol: req.symbol,
        side: req.side,
        quantity: req.quantity,
        limitPrice: normaliseDecimal(req.limitPrice),
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
      fillAgainstQuote(order, await this.market.latestQuote(order.symbol), this.fillContext());
      this.settle(order);
      return this.snapshot(order);
    });
  }

  getOrderByClientOrderId(clientOrderId: string): Promise<BrokerOrderSnapshot | null> {
    return this.withState(async (state) => {
      const order = state.orders[clientOrderId];
      if (!order) return null;
      await this.advance(order);
      return this.snapshot(order);
    });
  }

  getOrder(brokerOrderId: string): Promise<BrokerOrderSnapshot> {
    return this.withState(async (state) => {
      const order = this.findById(state, brokerOrderId);
      await this.advance(order);
      return this.snapshot(order);
    });
  }

  listOpenOrders(): Promise<BrokerOrderSnapshot[]> {
    return this.withState(async (state) => {
      const open: BrokerOrderSnapshot[] = [];
      for (const order of Object.values(state.orders)) {
        if (isTerminalStatus(order.status)) continue;
        await this.advance(order);
        if (!isTerminalStatus(order.status)) open.push(this.snapshot(order));
      }
      return open;
    });
  }

  cancelOrder(brokerOrderId: string): Promise<CancelResult> {
    return this.withState(async (state): Promise<CancelResult> => {
      const order = this.findById(state, brokerOrderId);
      // Fills the market already gave us come first: a cancel never erases an execution.
      await this.advance(order);
      if (isTerminalStatus(order.status)) {
        const snap = this.snapshot(order);
        return { outcome: CancelOutcome.NotCancellable, reason: notCancellableReason(snap.state), order: snap };
      }
      order.status = 'canceled';
      order.updatedAt = this.now().toISOString();
      return { outcome: CancelOutcome.CancelRequested, order: this.snapshot(order) };
    });
  }

  async ping(): Promise<void> {
    await this.withState(() => Promise.resolve());
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────────────

  /** Serialises every operation and persists the state after it (also when it throws midway). */
  private withState<T>(fn: (state: PaperState) => Promise<T>): Promise<T> {
    const run = this.lock.then(async () => {
      const state = await this.store.load();
      const before = JSON.stringify(state);
      try {
        return await fn(state);
      } finally {
        if (JSON.stringify(state) !== before) await this.store.save(state);
      }
    });
    this.lock = run.catch(() => undefined);
    return run;
  }

  private findById(state: PaperState, brokerOrderId: string): PaperOrderRecord {
    const order = Object.values(state.orders).find((o) => o.brokerOrderId === brokerOrderId);
    if (!order) throw new OrderNotFound({ broker: this.name, message: `paper: order ${brokerOrderId} not found` });
    return order;
  }

  private fillContext(): FillContext {
    return { atLimitParticipation: this.atLimitParticipation, nowIso: this.now().toISOString() };
  }

  private async advance(order: PaperOrderRecord): Promise<void> {
    if (isTerminalStatus(order.status)) return;
    const ctx = this.fillContext();
    const trades = await this.market.tradesSince(order.symbol, order.watermarkNs);
    fillAgainstTrades(order, trades, ctx);
    if (remaining(order) > 0) fillAgainstQuote(order, await this.market.latestQuote(order.symbol), ctx);
    this.settle(order);
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

function isTerminalStatus(status: PaperStatus): boolean {
  return isTerminalOrderState(STATUS_TO_STATE[status]);
}

function sameIntent(order: PaperOrderRecord, req: LimitOrderRequest): boolean {
  return (
    order.symbol === req.symbol &&
    order.side === req.side &&
    order.quantity === req.quantity &&
    order.limitPrice === normaliseDecimal(req.limitPrice) &&
    order.timeInForce === req.timeInForce
  );
}
