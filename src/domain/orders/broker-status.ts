/**
 * Broker status vocabularies mapped onto flowguard's OrderState (SPEC §3.4). The tables are exhaustive
 * over the documented vendor words; an undocumented word maps to `undefined`, so the adapter refuses the
 * payload loudly instead of guessing whether an order is still live.
 */
import { OrderState } from './order-state';

export const ROBINHOOD_ORDER_STATES = [
  'queued',
  'unconfirmed',
  'confirmed',
  'partially_filled',
  'filled',
  'rejected',
  'cancelled',
  'failed',
] as const;
export type RobinhoodOrderState = (typeof ROBINHOOD_ORDER_STATES)[number];

export const ROBINHOOD_STATE_MAP = {
  queued: OrderState.Queued,
  // Submitted but not yet acknowledged by the venue; it can jump straight to filled, so it is live.
  unconfirmed: OrderState.Queued,
  confirmed: OrderState.Queued,
  partially_filled: OrderState.PartiallyFilled,
  filled: OrderState.Filled,
  rejected: OrderState.Rejected,
  // A cancelled Robinhood order can carry partial executions: filled quantity is read from the payload.
  cancelled: OrderState.Cancelled,
  failed: OrderState.Failed,
} as const satisfies Record<RobinhoodOrderState, OrderState>;

export const ALPACA_ORDER_STATUSES = [
  'new',
  'partially_filled',
  'filled',
  'done_for_day',
  'canceled',
  'expired',
  'replaced',
  'pending_cancel',
  'pending_replace',
  'accepted',
  'pending_new',
  'accepted_for_bidding',
  'stopped',
  'rejected',
  'suspended',
  'calculated',
  'held',
] as const;
export type AlpacaOrderStatus = (typeof ALPACA_ORDER_STATUSES)[number];

export const ALPACA_STATUS_MAP = {
  new: OrderState.Queued,
  partially_filled: OrderState.PartiallyFilled,
  filled: OrderState.Filled,
  // Not terminal: no more executions today, but a GTC order works again next session and a DAY order
  // still turns expired/canceled later. Partial fills upgrade it to partially_filled (refineByFills).
  done_for_day: OrderState.Queued,
  // May carry partial fills (filled_qty > 0); the state stays cancelled.
  canceled: OrderState.Cancelled,
  expired: OrderState.Expired,
  // This order is dead and a different order (replaced_by) lives on; flowguard never replaces orders.
  replaced: OrderState.Cancelled,
  pending_cancel: OrderState.PendingCancel,
  // The original keeps working until the replace is confirmed.
  pending_replace: OrderState.Queued,
  accepted: OrderState.Queued,
  // Received by Alpaca but not yet routed: the broker owns it, so it is open from our side.
  pending_new: OrderState.Queued,
  accepted_for_bidding: OrderState.Queued,
  // An execution is guaranteed but has not happened yet.
  stopped: OrderState.Queued,
  rejected: OrderState.Rejected,
  // Not eligible for trading right now, but still open and still cancellable.
  suspended: OrderState.Queued,
  // "Completed for the day, settlement calculations pending": filled or done-for-day, so it is
  // resolved from the filled quantity (refineByFills) rather than assumed filled.
  calculated: OrderState.Queued,
  held: OrderState.Queued,
} as const satisfies Record<AlpacaOrderStatus, OrderState>;

function lookup<K extends string>(table: Readonly<Record<K, OrderState>>, word: string): OrderState | undefined {
  return Object.prototype.hasOwnProperty.call(table, word) ? table[word as K] : undefined;
}

export function mapRobinhoodState(state: string): OrderState | undefined {
  return lookup(ROBINHOOD_STATE_MAP, state);
}

export function mapAlpacaStatus(status: string): OrderState | undefined {
  return lookup(ALPACA_STATUS_MAP, status);
}

/**
 * Brokers report open orders with executions under several words (Alpaca's `new` after a fill, `calculated`,
 * `done_for_day`); the quantities are authoritative for open orders. Terminal and pending-cancel states are
 * kept as reported, since a cancelled order with partial fills is still cancelled.
 */
export function refineByFills(state: OrderState, filledQuantity: number, quantity: number): OrderState {
  if (state !== OrderState.Queued && state !== OrderState.PartiallyFilled) return state;
  if (quantity > 0 && filledQuantity >= quantity) return OrderState.Filled;
  if (filledQuantity > 0) return OrderState.PartiallyFilled;
  return state;
}
