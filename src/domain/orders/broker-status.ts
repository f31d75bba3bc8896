/**
 * What flowguard concludes from a broker's reported quantities, whatever its vocabulary. The vendors' own status
 * words are mapped by their adapters (src/brokers/alpaca/status.ts, src/brokers/robinhood/status.ts).
 */
import { OrderState } from './order-state';

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
