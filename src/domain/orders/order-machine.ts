import { z } from 'zod';
import { issuesFromZod, ValidationError } from '../validation';
import { Money, PriceStringSchema } from './money';
import { isTerminalOrderState, OrderState } from './order-state';

/**
 * The order life cycle, modelled on NautilusTrader's order FSM (nautilus_trader/model/orders): one table of
 * state × event → outcome, and a pure `applyOrderEvent`. Fills are broker facts about money that moved,
 * so they are applied in every state — including after a cancel or an expiry — and never dropped.
 */

export const OrderEventType = {
  Submitted: 'submitted',
  Rejected: 'rejected',
  Fill: 'fill',
  CancelRequested: 'cancel_requested',
  Cancelled: 'cancelled',
  CancelRejected: 'cancel_rejected',
  Expired: 'expired',
  Failed: 'failed',
  BrokerSnapshot: 'broker_snapshot',
} as const;
export type OrderEventType = (typeof OrderEventType)[keyof typeof OrderEventType];
export const ORDER_EVENT_TYPES: readonly OrderEventType[] = Object.values(OrderEventType);

/** States from which a cancel can be requested; `cancel_rejected` returns to one of them. */
export type CancellableState =
  typeof OrderState.PendingSubmit | typeof OrderState.Queued | typeof OrderState.PartiallyFilled;

/**
 * How many executions an order keeps. Workflow state is carried in every query answer and through
 * continue-as-new, so it stays small: 100 executions are about 10 KB. Older ones are dropped (counted in
 * `executionsDropped`); totals and the average stay exact because they are kept separately. Duplicate
 * detection for a dropped execution then relies on the broker's cumulative quantity (fill events and
 * snapshots carry it), which is the broker's own authority on how much has filled.
 */
export const MAX_RETAINED_EXECUTIONS = 100;

/** Execution ids made up by reconciliation start with this, followed by the broker's cumulative quantity. */
export const RECONCILED_EXECUTION_PREFIX = 'reconciled:';

/** Digits kept in the displayed average fill price; the exact notional is kept beside it. */
export const AVERAGE_PRICE_DECIMALS = 8;

const TimestampSchema = z.string({ message: 'must be a timestamp string' }).min(1, 'must not be empty');
const ExecutionIdSchema = z
  .string({ message: 'must be a string' })
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters');
const ShareCountSchema = z.number({ message: 'must be a number' }).int('must be an integer');
const ReasonSchema = z.string().max(1000, 'must be at most 1000 characters');

export const OrderStateSchema = z.enum(Object.values(OrderState) as [OrderState, ...OrderState[]], {
  message: `must be one of ${Object.values(OrderState).join(', ')}`,
});

export const BrokerExecutionSchema = z
  .object({
    id: ExecutionIdSchema,
    quantity: ShareCountSchema.positive('must be > 0'),
    price: PriceStringSchema,
    timestamp: TimestampSchema,
  })
  .strict();
export type BrokerExecution = z.output<typeof BrokerExecutionSchema>;

const at = TimestampSchema.optional();

export const OrderEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal(OrderEventType.Submitted), brokerOrderId: z.string().min(1).optional(), at }).strict(),
  z.object({ type: z.literal(OrderEventType.Rejected), reason: ReasonSchema.optional(), at }).strict(),
  z
    .object({
      type: z.literal(OrderEventType.Fill),
      executionId: ExecutionIdSchema,
      quantity: ShareCountSchema.positive('must be > 0'),
      price: PriceStringSchema,
      timestamp: TimestampSchema,
      /** The broker's cumulative filled quantity after this fill, when it says (Alpaca trade_updates do). */
      cumulativeQuantity: ShareCountSchema.nonnegative('must be ≥ 0').optional(),
      at,
    })
    .strict(),
  z.object({ type: z.literal(OrderEventType.CancelRequested), at }).strict(),
  z.object({ type: z.literal(OrderEventType.Cancelled), reason: ReasonSchema.optional(), at }).strict(),
  z.object({ type: z.literal(OrderEventType.CancelRejected), reason: ReasonSchema.optional(), at }).strict(),
  z.object({ type: z.literal(OrderEventType.Expired), at }).strict(),
  z.object({ type: z.literal(OrderEventType.Failed), reason: ReasonSchema.optional(), at }).strict(),
  z
    .object({
      type: z.literal(OrderEventType.BrokerSnapshot),
      /** The broker's status already mapped onto flowguard's states (see broker-status.ts). */
      state: OrderStateSchema,
      filledQuantity: ShareCountSchema.nonnegative('must be ≥ 0'),
      averageFillPrice: PriceStringSchema.optional(),
      executions: z.array(BrokerExecutionSchema).max(10_000, 'must have at most 10000 entries').optional(),
      brokerOrderId: z.string().min(1).optional(),
      at,
    })
    .strict()
    .refine((s) => s.filledQuantity === 0 || s.averageFillPrice !== undefined, {
      path: ['averageFillPrice'],
      message: 'is required when filledQuantity > 0',
    }),
]);
export type OrderEvent = z.output<typeof OrderEventSchema>;
export type OrderEventOf<T extends OrderEventType> = Extract<OrderEvent, { type: T }>;

/** One applied execution. `quantity` is what it added to filledQuantity (0 if a snapshot had counted it). */
export interface OrderExecution {
  readonly id: string;
  readonly quantity: number;
  readonly price: string;
  readonly timestamp: string;
}

/** The order's life-cycle state, as compact JSON for workflow state and the `status` answer. */
export interface OrderRecord {
  readonly state: OrderState;
  readonly quantity: number;
  readonly filledQuantity: number;
  /** max(0, quantity − filledQuantity): never negative, even after an overfill. */
  readonly remainingQuantity: number;
  /** Volume-weighted, rounded half-even to AVERAGE_PRICE_DECIMALS; null before the first fill. */
  readonly averageFillPrice: string | null;
  /** Σ quantity × price of every applied fill, exact. */
  readonly fillNotional: string;
  /** The most recent MAX_RETAINED_EXECUTIONS executions, oldest first. */
  readonly executions: readonly OrderExecution[];
  readonly executionsDropped: number;
  /** Shares filled beyond `quantity` (0 = no overfill). Flagged, and a warning is returned when it grows. */
  readonly overfillQuantity: number;
  /** Set while pending_cancel: the open state a refused cancel returns to. */
  readonly cancelRequestedFrom?: CancellableState;
  readonly brokerOrderId?: string;
  /** Last reject/fail/cancel reason the broker gave. */
  readonly reason?: string;
  /** Time of the last event that changed the order (the event's `at`, or the fill's timestamp). */
  readonly updatedAt?: string;
}

export interface OrderEventRejection {
  readonly code: 'invalid_transition' | 'invalid_event';
  readonly state: OrderState;
  readonly event: string;
  readonly reason: string;
}

export interface ApplyOrderEventResult {
  readonly order: OrderRecord;
  readonly changed: boolean;
  /** Something the operator should see: overfill, a fill on a rejected order, a broker disagreement. */
  readonly warning?: string;
  /** Why an accepted event changed nothing (duplicate fill, late acknowledgement, ...). */
  readonly ignored?: string;
  /** Present when the event is not allowed in the current state or is malformed; `order` is unchanged. */
  readonly rejection?: OrderEventRejection;
}

/** A new order awaiting submission. Throws ValidationError for a non-positive or non-integer quantity. */
export function newOrderRecord(quantity: number, at?: string): OrderRecord {
  if (!Number.isSafeInteger(quantity) || quantity <= 0) {
    throw new ValidationError([{ field: 'quantity', rule: 'must be a positive integer' }]);
  }
  return {
    state: OrderState.PendingSubmit,
    quantity,
    filledQuantity: 0,
    remainingQuantity: quantity,
    averageFillPrice: null,
    fillNotional: '0',
    executions: [],
    executionsDropped: 0,
    overfillQuantity: 0,
    ...(at !== undefined ? { updatedAt: at } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// The transition table

export type Transition =
  /** Move to `state`. `requiresNoFills`: refused once any share has filled (an order with fills was accepted). */
  | { readonly kind: 'to'; readonly state: OrderState; readonly requiresNoFills?: boolean }
  /** Apply the fill; while shares remain, go to partially_filled or stay put; when complete, go to filled. */
  | { readonly kind: 'fill'; readonly whilePartial: 'partially_filled' | 'stay'; readonly warning?: string }
  /** Go to pending_cancel, remembering the open state to return to. */
  | { readonly kind: 'cancel' }
  /** The broker refused the cancel: back to the open state the order was in (partially_filled if fills came). */
  | { readonly kind: 'restore' }
  /** Reconcile with the broker's view. */
  | { readonly kind: 'reconcile' }
  /** Allowed, changes nothing (duplicate or late news). */
  | { readonly kind: 'ignore'; readonly why: string }
  /** Not allowed: a typed rejection for the workflow to record. */
  | { readonly kind: 'invalid'; readonly why: string };

/** Every state × every event: a missing state or event is a compile error. */
export type TransitionTable = { readonly [S in OrderState]: { readonly [E in OrderEventType]: Transition } };

const to = (state: OrderState, requiresNoFills = false): Transition => ({ kind: 'to', state, requiresNoFills });
const ignore = (why: string): Transition => ({ kind: 'ignore', why });
const invalid = (why: string): Transition => ({ kind: 'invalid', why });
const fill = (whilePartial: 'partially_filled' | 'stay', warning?: string): Transition =>
  warning === undefined ? { kind: 'fill', whilePartial } : { kind: 'fill', whilePartial, warning };
const cancel: Transition = { kind: 'cancel' };
const restore: Transition = { kind: 'restore' };
const reconcile: Transition = { kind: 'reconcile' };

const NO_CANCEL_PENDING = invalid('no cancel is pending');
const S = OrderState;

export const ORDER_TRANSITIONS: TransitionTable = {
  [S.PendingSubmit]: {
    submitted: to(S.Queued),
    rejected: to(S.Rejected, true),
    // Robinhood's `unconfirmed` can go straight to filled: a fill may beat the acknowledgement.
    fill: fill('partially_filled'),
    cancel_requested: cancel,
    cancelled: to(S.Cancelled),
    cancel_rejected: NO_CANCEL_PENDING,
    expired: to(S.Expired),
    failed: to(S.Failed),
    broker_snapshot: reconcile,
  },
  [S.Queued]: {
    submitted: ignore('already acknowledged'),
    rejected: to(S.Rejected, true),
    fill: fill('partially_filled'),
    cancel_requested: cancel,
    cancelled: to(S.Cancelled),
    cancel_rejected: NO_CANCEL_PENDING,
    expired: to(S.Expired),
    failed: to(S.Failed),
    broker_snapshot: reconcile,
  },
  [S.PartiallyFilled]: {
    submitted: ignore('acknowledgement arrived after a fill'),
    rejected: invalid('an order with fills cannot be rejected'),
    fill: fill('partially_filled'),
    cancel_requested: cancel,
    // A cancelled order keeps its partial executions.
    cancelled: to(S.Cancelled),
    cancel_rejected: NO_CANCEL_PENDING,
    expired: to(S.Expired),
    failed: to(S.Failed),
    broker_snapshot: reconcile,
  },
  [S.Filled]: {
    submitted: ignore('acknowledgement arrived after the order filled'),
    rejected: invalid('order is already filled'),
    // A new execution id here is an overfill: applied and flagged, never silently absorbed.
    fill: fill('stay'),
    cancel_requested: invalid('order is already filled'),
    cancelled: invalid('order is already filled'),
    // The usual race: the cancel reached the broker after the last fill.
    cancel_rejected: ignore('the cancel lost the race against the final fill'),
    expired: invalid('order is already filled'),
    failed: invalid('order is already filled'),
    broker_snapshot: reconcile,
  },
  [S.PendingCancel]: {
    submitted: ignore('acknowledgement arrived after the cancel request'),
    rejected: to(S.Rejected, true),
    // Surprising but real: the order keeps trading until the broker confirms the cancel. The fill is
    // applied and the order stays pending_cancel, unless it completes the order (then filled).
    fill: fill('stay'),
    cancel_requested: ignore('a cancel is already pending'),
    cancelled: to(S.Cancelled),
    cancel_rejected: restore,
    expired: to(S.Expired),
    failed: to(S.Failed),
    broker_snapshot: reconcile,
  },
  [S.Cancelled]: {
    submitted: ignore('acknowledgement arrived after the cancel'),
    rejected: invalid('order is already cancelled'),
    // Surprising but real (NautilusTrader: Canceled → Filled): a fill that raced the cancel is reported
    // after it. Applied; the order stays cancelled unless the fill completes it, then it is filled.
    fill: fill('stay'),
    cancel_requested: invalid('order is already cancelled'),
    cancelled: ignore('already cancelled'),
    // A retried cancel finds the order already cancelled and is refused: nothing to undo.
    cancel_rejected: ignore('order is already cancelled'),
    expired: invalid('order is already cancelled'),
    failed: invalid('order is already cancelled'),
    broker_snapshot: reconcile,
  },
  [S.Rejected]: {
    submitted: invalid('a rejected order cannot be acknowledged'),
    rejected: ignore('already rejected'),
    // Shares moved, so our "rejected" was wrong: apply the fill and reopen, loudly.
    fill: fill('partially_filled', 'fill received for an order recorded as rejected: the broker shows it live'),
    cancel_requested: invalid('order was rejected'),
    cancelled: invalid('order was rejected'),
    cancel_rejected: ignore('order was rejected'),
    expired: invalid('order was rejected'),
    failed: invalid('order was rejected'),
    broker_snapshot: reconcile,
  },
  [S.Expired]: {
    submitted: ignore('acknowledgement arrived after expiry'),
    rejected: invalid('order has expired'),
    // Same race as after a cancel: a fill just before expiry can be reported after it.
    fill: fill('stay'),
    cancel_requested: invalid('order has expired'),
    cancelled: invalid('order has expired'),
    cancel_rejected: ignore('order has expired'),
    expired: ignore('already expired'),
    failed: invalid('order has expired'),
    broker_snapshot: reconcile,
  },
  [S.Failed]: {
    submitted: invalid('order has failed'),
    rejected: invalid('order has failed'),
    // "failed" can be our own conclusion after an unknown submit outcome; a fill proves the order lives.
    fill: fill('partially_filled', 'fill received for an order recorded as failed: the broker shows it live'),
    cancel_requested: invalid('order has failed'),
    cancelled: invalid('order has failed'),
    cancel_rejected: ignore('order has failed'),
    expired: invalid('order has failed'),
    failed: ignore('already failed'),
    broker_snapshot: reconcile,
  },
};

// ---------------------------------------------------------------------------------------------------
// Applying events

/**
 * Applies one event. Pure and total: malformed events and transitions the table forbids come back as a
 * typed `rejection` with the order unchanged, never as an exception.
 */
export function applyOrderEvent(order: OrderRecord, event: OrderEvent): ApplyOrderEventResult {
  const parsed = OrderEventSchema.safeParse(event);
  if (!parsed.success) {
    const reason = issuesFromZod(parsed.error, 'event')
      .map((i) => `${i.field}: ${i.rule}`)
      .join('; ');
    const type = (event as { type?: unknown } | null | undefined)?.type;
    return reject(order, 'invalid_event', typeof type === 'string' ? type : '(unknown)', reason);
  }
  return applyParsed(order, parsed.data);
}

function applyParsed(order: OrderRecord, event: OrderEvent): ApplyOrderEventResult {
  const transition = ORDER_TRANSITIONS[order.state][event.type];
  switch (transition.kind) {
    case 'invalid':
      return reject(
        order,
        'invalid_transition',
        event.type,
        `${event.type} not allowed in ${order.state}: ${transition.why}`,
      );
    case 'ignore':
      return { order, changed: false, ignored: transition.why };
    case 'to': {
      if (transition.requiresNoFills === true && order.filledQuantity > 0) {
        return reject(
          order,
          'invalid_transition',
          event.type,
          `${event.type} not allowed: ${order.filledQuantity} shares have filled`,
        );
      }
      return changedTo(order, transition.state, event);
    }
    case 'cancel':
      return changedTo(order, OrderState.PendingCancel, event, order.state as CancellableState);
    case 'restore': {
      const back =
        order.filledQuantity > 0 ? OrderState.PartiallyFilled : (order.cancelRequestedFrom ?? OrderState.Queued);
      return changedTo(order, back, event);
    }
    case 'fill':
      if (event.type !== OrderEventType.Fill) throw new Error(`transition table maps ${event.type} to a fill`);
      return applyFill(order, event, transition);
    case 'reconcile':
      if (event.type !== OrderEventType.BrokerSnapshot)
        throw new Error(`transition table maps ${event.type} to reconcile`);
      return reconcileSnapshot(order, event);
  }
}

function reject(
  order: OrderRecord,
  code: OrderEventRejection['code'],
  event: string,
  reason: string,
): ApplyOrderEventResult {
  return { order, changed: false, rejection: { code, state: order.state, event, reason } };
}

function changedTo(
  order: OrderRecord,
  state: OrderState,
  event: OrderEvent,
  cancelFrom?: CancellableState,
): ApplyOrderEventResult {
  const { cancelRequestedFrom: _dropped, ...rest } = order;
  const brokerOrderId =
    'brokerOrderId' in event && event.brokerOrderId !== undefined ? event.brokerOrderId : order.brokerOrderId;
  const reason = 'reason' in event && event.reason !== undefined ? event.reason : order.reason;
  const next: OrderRecord = {
    ...rest,
    state,
    ...(cancelFrom !== undefined ? { cancelRequestedFrom: cancelFrom } : {}),
    ...(brokerOrderId !== undefined ? { brokerOrderId } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(event.at !== undefined ? { updatedAt: event.at } : {}),
  };
  return { order: next, changed: true };
}

/** Adds `quantity` shares worth `notional` to the totals and keeps the invariants. */
function addFill(
  order: OrderRecord,
  execution: OrderExecution,
  notional: Money,
): { order: OrderRecord; warning?: string } {
  const filledQuantity = order.filledQuantity + execution.quantity;
  const fillNotional = new Money(order.fillNotional).add(notional);
  const overfillQuantity = Math.max(0, filledQuantity - order.quantity);
  let executions = [...order.executions, execution];
  let executionsDropped = order.executionsDropped;
  if (executions.length > MAX_RETAINED_EXECUTIONS) {
    executionsDropped += executions.length - MAX_RETAINED_EXECUTIONS;
    executions = executions.slice(executions.length - MAX_RETAINED_EXECUTIONS);
  }
  const next: OrderRecord = {
    ...order,
    filledQuantity,
    remainingQuantity: Math.max(0, order.quantity - filledQuantity),
    fillNotional: fillNotional.toFixed(),
    averageFillPrice:
      filledQuantity > 0
        ? fillNotional.div(filledQuantity).toDecimalPlaces(AVERAGE_PRICE_DECIMALS, Money.ROUND_HALF_EVEN).toFixed()
        : null,
    executions,
    executionsDropped,
    overfillQuantity,
  };
  const warning =
    overfillQuantity > order.overfillQuantity
      ? `overfill: ${filledQuantity} shares filled for an order of ${order.quantity} (${overfillQuantity} in excess)`
      : undefined;
  return warning === undefined ? { order: next } : { order: next, warning };
}

function hasExecution(order: OrderRecord, id: string): boolean {
  return order.executions.some((e) => e.id === id);
}

/** State after fills, for a fill transition: complete → filled, else per `whilePartial`. */
function stateAfterFill(order: OrderRecord, whilePartial: 'partially_filled' | 'stay'): OrderState {
  if (order.filledQuantity >= order.quantity) return OrderState.Filled;
  if (whilePartial === 'stay') return order.state;
  return order.filledQuantity > 0 ? OrderState.PartiallyFilled : order.state;
}

function withState(order: OrderRecord, state: OrderState): OrderRecord {
  if (state === order.state) return order;
  if (state === OrderState.PendingCancel) return { ...order, state };
  const { cancelRequestedFrom: _dropped, ...rest } = order;
  return { ...rest, state };
}

function applyFill(
  order: OrderRecord,
  event: OrderEventOf<'fill'>,
  transition: Extract<Transition, { kind: 'fill' }>,
): ApplyOrderEventResult {
  if (hasExecution(order, event.executionId)) return { order, changed: false, ignored: 'duplicate execution id' };
  // A broker that reports its cumulative quantity tells us how much of this fill is new to us: a snapshot
  // may already have counted it (stream and poll race), and then it must not be counted twice.
  const quantity =
    event.cumulativeQuantity === undefined
      ? event.quantity
      : Math.max(0, Math.min(event.quantity, event.cumulativeQuantity - order.filledQuantity));
  const execution: OrderExecution = {
    id: event.executionId,
    quantity,
    price: event.price,
    timestamp: event.timestamp,
  };
  const added = addFill(order, execution, new Money(event.price).mul(quantity));
  const state = stateAfterFill(added.order, transition.whilePartial);
  const next: OrderRecord = { ...withState(added.order, state), updatedAt: event.at ?? event.timestamp };
  const warnings = [quantity > 0 ? transition.warning : undefined, added.warning].filter((w) => w !== undefined);
  return {
    order: next,
    changed: true,
    ...(warnings.length > 0 ? { warning: warnings.join('; ') } : {}),
    ...(quantity === 0 ? { ignored: 'execution already counted by the broker cumulative quantity' } : {}),
  };
}

/**
 * Moves the order to agree with the broker's view. Fills first: executions we have not seen are applied
 * when they account exactly for the broker's cumulative quantity; otherwise the gap is applied as one
 * reconciled fill priced so the average matches the broker's. Our filled quantity never goes down (a
 * snapshot can be older than a streamed fill). Then the state: open broker states never reopen a
 * terminal order or undo a pending cancel (stale snapshot); terminal broker states go through the same
 * table as the matching event.
 */
function reconcileSnapshot(order: OrderRecord, snap: OrderEventOf<'broker_snapshot'>): ApplyOrderEventResult {
  const warnings: string[] = [];
  let current = order;
  const gap = snap.filledQuantity - order.filledQuantity;
  if (gap > 0) {
    const seen = new Set(order.executions.map((e) => e.id));
    const unseen: BrokerExecution[] = [];
    for (const e of snap.executions ?? []) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      unseen.push(e);
    }
    const unseenQuantity = unseen.reduce((sum, e) => sum + e.quantity, 0);
    if (unseenQuantity === gap) {
      for (const e of unseen) {
        const added = addFill(current, e, new Money(e.price).mul(e.quantity));
        current = added.order;
        if (added.warning !== undefined) warnings.push(added.warning);
      }
    } else if (snap.averageFillPrice !== undefined) {
      const targetNotional = new Money(snap.averageFillPrice).mul(snap.filledQuantity);
      let notional = targetNotional.sub(current.fillNotional);
      // A broker average rounded coarser than our exact notional can leave nothing (or less) to add.
      if (notional.lte(0)) notional = new Money(snap.averageFillPrice).mul(gap);
      const added = addFill(
        current,
        {
          id: `${RECONCILED_EXECUTION_PREFIX}${snap.filledQuantity}`,
          quantity: gap,
          price: notional.div(gap).toDecimalPlaces(AVERAGE_PRICE_DECIMALS, Money.ROUND_HALF_EVEN).toFixed(),
          timestamp: snap.at ?? order.updatedAt ?? '',
        },
        notional,
      );
      current = added.order;
      warnings.push(`reconciled ${gap} shares from the broker's cumulative quantity without their executions`);
      if (added.warning !== undefined) warnings.push(added.warning);
    } else {
      warnings.push(`broker reports ${gap} more shares filled but gives no average price: not applied`);
    }
  } else if (gap < 0) {
    warnings.push(
      `broker reports ${snap.filledQuantity} shares filled, fewer than the ${order.filledQuantity} applied here: keeping ours`,
    );
  }

  // Snapshot fills move the state exactly as fill events would in this state.
  if (current !== order) {
    const fillRule = ORDER_TRANSITIONS[order.state].fill;
    if (fillRule.kind === 'fill') {
      current = withState(current, stateAfterFill(current, fillRule.whilePartial));
      if (fillRule.warning !== undefined) warnings.push(fillRule.warning);
    }
  }

  current = reconcileState(current, snap, warnings);
  if (snap.brokerOrderId !== undefined && current.brokerOrderId === undefined) {
    current = { ...current, brokerOrderId: snap.brokerOrderId };
  }
  const changed = current !== order;
  if (changed && snap.at !== undefined) current = { ...current, updatedAt: snap.at };
  return { order: current, changed, ...(warnings.length > 0 ? { warning: warnings.join('; ') } : {}) };
}

function reconcileState(order: OrderRecord, snap: OrderEventOf<'broker_snapshot'>, warnings: string[]): OrderRecord {
  const broker = snap.state;
  if (broker === order.state) return order;
  switch (broker) {
    case OrderState.PendingSubmit:
    case OrderState.Queued:
    case OrderState.PartiallyFilled:
      if (isTerminalOrderState(order.state)) {
        if (order.state !== OrderState.Filled) {
          warnings.push(
            `broker shows the order ${broker} but it is ${order.state} here (stale snapshot?): keeping ${order.state}`,
          );
        }
        return order;
      }
      if (order.state === OrderState.PendingSubmit) {
        return { ...order, state: order.filledQuantity > 0 ? OrderState.PartiallyFilled : OrderState.Queued };
      }
      return order; // queued/partially_filled follow the fills; pending_cancel waits for the broker's answer
    case OrderState.Filled:
      if (order.filledQuantity < order.quantity) {
        warnings.push(
          `broker reports filled but only ${order.filledQuantity} of ${order.quantity} shares are known: following the broker`,
        );
      }
      return withState(order, OrderState.Filled);
    case OrderState.PendingCancel:
      return viaTable(order, broker, OrderEventType.CancelRequested, warnings);
    case OrderState.Cancelled:
      return viaTable(order, broker, OrderEventType.Cancelled, warnings);
    case OrderState.Rejected:
      return viaTable(order, broker, OrderEventType.Rejected, warnings);
    case OrderState.Expired:
      return viaTable(order, broker, OrderEventType.Expired, warnings);
    case OrderState.Failed:
      return viaTable(order, broker, OrderEventType.Failed, warnings);
  }
}

/** A broker state carried through the table as the event of the same meaning. */
function viaTable(
  order: OrderRecord,
  broker: OrderState,
  type: 'cancel_requested' | 'cancelled' | 'rejected' | 'expired' | 'failed',
  warnings: string[],
): OrderRecord {
  const result = applyParsed(order, { type });
  if (result.rejection !== undefined) {
    warnings.push(`broker reports ${broker}, not applied: ${result.rejection.reason}`);
    return order;
  }
  return result.order;
}

/** Open orders are the ones a kill switch must cancel. */
export function isOpenOrder(order: OrderRecord): boolean {
  return !isTerminalOrderState(order.state);
}
