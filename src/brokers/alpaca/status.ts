/**
 * Alpaca's order status vocabulary mapped onto flowguard's OrderState. Exhaustive over the documented words
 * (https://docs.alpaca.markets/docs/orders-at-alpaca#order-lifecycle); an undocumented word maps to `undefined`,
 * so the adapter refuses the payload loudly instead of guessing whether an order is still live.
 */
import { OrderState } from '../../domain/orders/order-state';

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

export function mapAlpacaStatus(status: string): OrderState | undefined {
  return Object.prototype.hasOwnProperty.call(ALPACA_STATUS_MAP, status)
    ? ALPACA_STATUS_MAP[status as AlpacaOrderStatus]
    : undefined;
}
