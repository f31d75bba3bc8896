/** flowguard's own order states; broker vocabularies are mapped onto these. */
export const OrderState = {
  PendingSubmit: 'pending_submit',
  Queued: 'queued',
  PartiallyFilled: 'partially_filled',
  Filled: 'filled',
  PendingCancel: 'pending_cancel',
  Cancelled: 'cancelled',
  Rejected: 'rejected',
  Expired: 'expired',
  Failed: 'failed',
} as const;
export type OrderState = (typeof OrderState)[keyof typeof OrderState];

export const ORDER_STATES: readonly OrderState[] = Object.values(OrderState);

export const TERMINAL_ORDER_STATES: ReadonlySet<OrderState> = new Set<OrderState>([
  OrderState.Filled,
  OrderState.Cancelled,
  OrderState.Rejected,
  OrderState.Expired,
  OrderState.Failed,
]);

export function isTerminalOrderState(state: OrderState): boolean {
  return TERMINAL_ORDER_STATES.has(state);
}
