/**
 * Robinhood's order state vocabulary mapped onto flowguard's OrderState (as robin_stocks and the web app see it).
 * Exhaustive over the known words; an unknown word maps to `undefined`, so the adapter refuses the payload
 * loudly instead of guessing whether an order is still live.
 */
import { OrderState } from '../../domain/orders/order-state';

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

export function mapRobinhoodState(state: string): OrderState | undefined {
  return Object.prototype.hasOwnProperty.call(ROBINHOOD_STATE_MAP, state)
    ? ROBINHOOD_STATE_MAP[state as RobinhoodOrderState]
    : undefined;
}
