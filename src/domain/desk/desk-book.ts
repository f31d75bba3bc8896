import { isTerminalOrderState, type OrderState } from '../orders/order-state';

/**
 * The desk's book for one broker account, as plain data and rules: the registry of open orders, the kill switch
 * and circuit breaker latches, the duplicate guard and the cancel-all runs. The desk workflow owns one and only
 * calls methods on it; everything here is synchronous and free of Temporal, so a replay sees the same decisions
 * and a unit test needs no server. Time is passed in (ISO-8601 strings): the domain has no clock.
 */

/** What an order workflow tells the desk (and a requester) when it ends, or when the desk refused it. */
export interface OrderTerminalNotice {
  readonly clientOrderId: string;
  readonly workflowId: string;
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  readonly state: OrderState;
  readonly brokerOrderId: string | null;
  readonly filledQuantity: number;
  readonly averageFillPrice: string | null;
  /** Why it failed or was rejected (an error type such as InsufficientFunds, or a refusal reason). */
  readonly reason: string | null;
  readonly errorType: string | null;
}

export interface OpenOrderEntry {
  readonly clientOrderId: string;
  readonly workflowId: string;
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  readonly quantity: number;
  readonly limitPrice: string;
  /** `SYMBOL:side:limit:quantity` (PreparedLimitOrder.intentKey). */
  readonly intentKey: string;
  readonly placedAt: string;
  /** False between registration and the order workflow's start: a cancel-all waits for it. */
  started: boolean;
}

export type CancelAllOutcome =
  | 'pending'
  | 'cancelled'
  | 'filled'
  | 'partially_filled_then_cancelled'
  | 'rejected'
  | 'expired'
  | 'failed'
  | 'unconfirmed';

export interface CancelAllEntry {
  readonly key: string;
  readonly source: 'flowguard' | 'broker';
  readonly clientOrderId: string | null;
  brokerOrderId: string | null;
  readonly symbol: string;
  outcome: CancelAllOutcome;
  filledQuantity: number;
  detail: string | null;
}

export interface CancelAllRun {
  readonly id: number;
  readonly reason: string;
  readonly requestedAt: string;
  completedAt: string | null;
  readonly results: Record<string, CancelAllEntry>;
}

export interface Latch {
  readonly reason: string;
  readonly at: string;
  readonly clientOrderId?: string;
}

/** The whole book, serialisable: carried across continue-as-new and answered to `deskState` queries. */
export interface DeskState {
  killSwitch: Latch | null;
  breaker: Latch | null;
  openOrders: Record<string, OpenOrderEntry>;
  /** The last terminal notices, newest last (bounded by RECENT_LIMIT). */
  recent: OrderTerminalNotice[];
  cancelAll: CancelAllRun | null;
  cancelAllCount: number;
}

export interface ResetResult {
  readonly killSwitchWasEngaged: boolean;
  readonly breakerWasTripped: boolean;
  readonly breakerReason: string | null;
}

export interface PlaceOrderResult {
  readonly workflowId: string;
  readonly clientOrderId: string;
  readonly limitPrice: string;
  /** Set when the request matched an order already in flight (same client order id or same intent). */
  readonly existing: 'same_client_order_id' | 'same_intent' | null;
}

/** The parts of a prepared order the book decides on (domain/orders/order-request.ts PreparedLimitOrder). */
export interface PreparedIdentity {
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  readonly quantity: number;
  readonly limitPrice: string;
  readonly intentKey: string;
}

/** An order the broker shows open (activities' OpenOrderSummary). */
export interface BrokerOpenOrder {
  readonly brokerOrderId: string;
  readonly clientOrderId: string | null;
  readonly symbol: string;
  readonly filledQuantity: number;
}

/** The broker's answer about one order: its state and how much filled. */
export interface BrokerAnswer {
  readonly state: OrderState;
  readonly filledQuantity: number;
}

/**
 * Asks whether a versioned rule applies (Temporal's `patched(id)` in the workflow). Called at exactly the points
 * where the rule is decided, so the markers it records fall where they always did in the history.
 */
export type RuleGate = (id: string) => boolean;

/** Thrown for a request the desk refuses; the workflow turns it into a non-retryable failure of this type. */
export class DeskRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OrderRefused';
  }
}

export const RECENT_LIMIT = 50;

/** The intent key without its quantity (`SYMBOL:side:limit`): what desks matched on before 'desk-order-identity'. */
export function priceIntent(intentKey: string): string {
  return intentKey.split(':').slice(0, 3).join(':');
}

export function outcomeOf(state: OrderState, filledQuantity: number): CancelAllOutcome {
  switch (state) {
    case 'filled':
      return 'filled';
    case 'cancelled':
      return filledQuantity > 0 ? 'partially_filled_then_cancelled' : 'cancelled';
    case 'rejected':
      return 'rejected';
    case 'expired':
      return 'expired';
    case 'failed':
      return 'failed';
    default:
      return 'pending';
  }
}

function summary(o: OpenOrderEntry): Omit<PlaceOrderResult, 'existing'> {
  return { workflowId: o.workflowId, clientOrderId: o.clientOrderId, limitPrice: o.limitPrice };
}

export class DeskBook {
  constructor(readonly state: DeskState = DeskBook.empty()) {}

  static empty(): DeskState {
    return { killSwitch: null, breaker: null, openOrders: {}, recent: [], cancelAll: null, cancelAllCount: 0 };
  }

  /** Why a new order is refused now (kill switch first, then breaker), or null. */
  refusal(): string | null {
    const { killSwitch, breaker } = this.state;
    if (killSwitch) {
      return `kill switch engaged at ${killSwitch.at} (${killSwitch.reason}): new orders are refused until 'flowguard kill-switch reset'`;
    }
    if (breaker) {
      return `circuit breaker tripped at ${breaker.at} (${breaker.reason}): new orders are refused until 'flowguard kill-switch reset'`;
    }
    return null;
  }

  /** @throws DeskRefusal while the kill switch or the breaker is latched. */
  assertAccepting(): void {
    const refused = this.refusal();
    if (refused) throw new DeskRefusal(refused);
  }

  /**
   * An order already known for this request, or null when a new order is to be placed. A retry of the same client
   * order id is answered with its order (open, or among the recent terminal ones); the same id on a different
   * order is refused. Only a generated id (`clientOrderIdGenerated`) may be matched to an open order by intent.
   * @throws DeskRefusal for a client order id reused on a different order.
   */
  existingFor(
    req: { readonly clientOrderId: string; readonly clientOrderIdGenerated?: boolean },
    prepared: PreparedIdentity,
    gate: RuleGate,
  ): PlaceOrderResult | null {
    const { clientOrderId } = req;
    const same = this.state.openOrders[clientOrderId];
    if (same) {
      // Entries from before quantity joined the key match on price.
      const sameOrder = same.intentKey === prepared.intentKey || same.intentKey === priceIntent(prepared.intentKey);
      if (!sameOrder && gate('desk-client-order-id-reuse')) {
        throw new DeskRefusal(
          `client order id ${clientOrderId} is already used by another open order (${same.side} ${same.quantity} ${same.symbol} limit ${same.limitPrice}); use a new id`,
        );
      }
      return { ...summary(same), existing: 'same_client_order_id' };
    }
    const done = (): PlaceOrderResult | null => {
      const notice = this.state.recent.find((n) => n.clientOrderId === clientOrderId);
      if (!notice) return null;
      return {
        workflowId: notice.workflowId,
        clientOrderId,
        limitPrice: prepared.limitPrice,
        existing: 'same_client_order_id',
      };
    };
    const open = Object.values(this.state.openOrders);
    if (!gate('desk-order-identity')) {
      // Histories from before: any open order at the same symbol, side and limit (quantity and the caller's id
      // ignored) stood in for this one. Replayed as it ran.
      const legacy = open.find((o) => priceIntent(o.intentKey) === priceIntent(prepared.intentKey));
      if (legacy) return { ...summary(legacy), existing: 'same_intent' };
      return done();
    }
    const finished = done();
    if (finished) return finished;
    if (req.clientOrderIdGenerated !== true) return null;
    const sameIntent = open.find((o) => o.intentKey === prepared.intentKey);
    return sameIntent ? { ...summary(sameIntent), existing: 'same_intent' } : null;
  }

  /** Registers an order before its workflow starts, so a cancel-all arriving meanwhile already sees it. */
  register(entry: Omit<OpenOrderEntry, 'started'>): OpenOrderEntry {
    const registered: OpenOrderEntry = { ...entry, started: false };
    this.state.openOrders[entry.clientOrderId] = registered;
    return registered;
  }

  /** The order's workflow could not be started: it never existed for the book. */
  unregister(clientOrderId: string): void {
    delete this.state.openOrders[clientOrderId];
  }

  isOpen(clientOrderId: string): boolean {
    return this.state.openOrders[clientOrderId] !== undefined;
  }

  openOrder(clientOrderId: string | null): OpenOrderEntry | undefined {
    return clientOrderId ? this.state.openOrders[clientOrderId] : undefined;
  }

  /**
   * An order ended: it leaves the registry, joins the recent list, trips the breaker on InsufficientFunds, and
   * settles its line in a running cancel-all.
   */
  orderEnded(notice: OrderTerminalNotice, now: string): void {
    const s = this.state;
    // Told twice (the desk closed it from the kill switch's answer, then its workflow told it too): the line of a
    // running cancel-all takes the later word, the rest was done the first time.
    const told = !s.openOrders[notice.clientOrderId] && s.recent.some((n) => n.clientOrderId === notice.clientOrderId);
    if (told) return this.settleCancelAllLine(notice);
    delete s.openOrders[notice.clientOrderId];
    s.recent.push(notice);
    if (s.recent.length > RECENT_LIMIT) s.recent.splice(0, s.recent.length - RECENT_LIMIT);
    if (notice.errorType === 'InsufficientFunds' && !s.breaker) {
      s.breaker = {
        reason: `insufficient funds on ${notice.clientOrderId}`,
        at: now,
        clientOrderId: notice.clientOrderId,
      };
    }
    this.settleCancelAllLine(notice);
  }

  private settleCancelAllLine(notice: OrderTerminalNotice): void {
    const entry = this.state.cancelAll?.results[notice.clientOrderId];
    if (entry) {
      entry.brokerOrderId = notice.brokerOrderId;
      entry.filledQuantity = notice.filledQuantity;
      entry.outcome = outcomeOf(notice.state, notice.filledQuantity);
      entry.detail = notice.reason;
    }
  }

  /** Latches the kill switch (the first reason stands); returns the reason this cancel-all runs for. */
  engageKillSwitch(reason: string | undefined, now: string): string {
    const why = reason?.trim() || 'cancel-all requested';
    this.state.killSwitch ??= { reason: why, at: now };
    return why;
  }

  reset(): ResetResult {
    const s = this.state;
    const result: ResetResult = {
      killSwitchWasEngaged: s.killSwitch !== null,
      breakerWasTripped: s.breaker !== null,
      breakerReason: s.breaker?.reason ?? null,
    };
    s.killSwitch = null;
    s.breaker = null;
    return result;
  }

  /** Opens a cancel-all run with a pending line for every order in the registry; returns those orders. */
  beginCancelAll(reason: string, now: string): { run: CancelAllRun; ours: OpenOrderEntry[] } {
    const s = this.state;
    s.cancelAllCount += 1;
    const run: CancelAllRun = { id: s.cancelAllCount, reason, requestedAt: now, completedAt: null, results: {} };
    s.cancelAll = run;
    const ours = Object.values(s.openOrders);
    for (const o of ours) {
      run.results[o.clientOrderId] = {
        key: o.clientOrderId,
        source: 'flowguard',
        clientOrderId: o.clientOrderId,
        brokerOrderId: null,
        symbol: o.symbol,
        outcome: 'pending',
        filledQuantity: 0,
        detail: null,
      };
    }
    return { run, ours };
  }

  /** The broker's open orders could not be listed: one failed line says so. */
  listFailed(run: CancelAllRun, detail: string): void {
    run.results['broker:list'] = {
      key: 'broker:list',
      source: 'broker',
      clientOrderId: null,
      brokerOrderId: null,
      symbol: '*',
      outcome: 'failed',
      filledQuantity: 0,
      detail: `could not list the broker's open orders: ${detail}`,
    };
  }

  /** The line for an order the broker shows open: ours (by client order id) or the broker's own. */
  cancelEntry(run: CancelAllRun, o: BrokerOpenOrder, ours: OpenOrderEntry | undefined): CancelAllEntry {
    const key = ours ? ours.clientOrderId : `broker:${o.brokerOrderId}`;
    const entry: CancelAllEntry = run.results[key] ?? {
      key,
      source: 'broker',
      clientOrderId: o.clientOrderId,
      brokerOrderId: o.brokerOrderId,
      symbol: o.symbol,
      outcome: 'pending',
      filledQuantity: o.filledQuantity,
      detail: null,
    };
    entry.brokerOrderId = o.brokerOrderId;
    run.results[key] = entry;
    return entry;
  }

  /**
   * The broker's last answer after the cancel decides the line: a terminal state is the outcome; a broker-only
   * order still open is unconfirmed; ours stays pending for its workflow to settle.
   */
  cancelAnswered(entry: CancelAllEntry, ours: OpenOrderEntry | undefined, order: BrokerAnswer): void {
    entry.filledQuantity = order.filledQuantity;
    if (isTerminalOrderState(order.state)) entry.outcome = outcomeOf(order.state, order.filledQuantity);
    else if (!ours) entry.outcome = 'unconfirmed';
  }

  /** The cancel failed: ours stay pending (their workflow takes the cancel over), the broker's own fail. */
  cancelFailed(entry: CancelAllEntry, ours: OpenOrderEntry | undefined, detail: string): void {
    entry.detail = detail;
    if (!ours) entry.outcome = 'failed';
  }

  static settled(run: CancelAllRun): boolean {
    return Object.values(run.results).every((r) => r.outcome !== 'pending');
  }

  /**
   * Closes the run. Lines still pending after the bound become unconfirmed, saying whether their order workflow
   * keeps trying or was unreachable (`notRunning`: workflow id → why its signal was refused).
   */
  completeCancelAll(
    run: CancelAllRun,
    confirmed: boolean,
    boundMs: number,
    notRunning: ReadonlyMap<string, string>,
    workflowIdOf: (clientOrderId: string) => string,
    now: string,
  ): void {
    if (!confirmed) {
      for (const r of Object.values(run.results)) {
        if (r.outcome !== 'pending') continue;
        r.outcome = 'unconfirmed';
        const within = `no terminal state within ${boundMs / 1000} s`;
        // "Keeps trying" only for a workflow that took the desk's signal, i.e. one that is running.
        const unreachable = r.clientOrderId ? notRunning.get(workflowIdOf(r.clientOrderId)) : undefined;
        r.detail = unreachable
          ? `${within}; its order workflow is not running (${unreachable}): see 'flowguard order status ${r.clientOrderId}'`
          : `${within}; its order workflow keeps trying to cancel`;
      }
    }
    run.completedAt = now;
  }
}
