/**
 * Order outcomes counted from the order workflow itself. The workflow logs `order state changed` with
 * `{ from, to }` on every real transition (src/workflows/order.ts); workflow log calls go through the SDK's
 * logger sink, which is not called while a workflow replays, so each transition is counted once per
 * execution (again only if a workflow task is retried after the line was written). Counting here rather than
 * in a broker activity also covers transitions that arrive by signal (Alpaca's trade_updates stream), which
 * no activity observes.
 */
import { ORDER_STATES, type OrderState, TERMINAL_ORDER_STATES } from '../domain/orders/order-state';
import { type FlowguardMetrics } from './flowguard-metrics';
import { type TemporalLogObserver } from './temporal-logging';

/** The message of the order workflow's transition log line; the contract between the two files. */
export const ORDER_STATE_CHANGED = 'order state changed';

const isOrderState = (v: unknown): v is OrderState => typeof v === 'string' && ORDER_STATES.includes(v as OrderState);

export function orderTransitionObserver(metrics: Pick<FlowguardMetrics, 'orderTransitions' | 'ordersTerminal'>) {
  const observe: TemporalLogObserver = (_level, message, meta) => {
    if (message !== ORDER_STATE_CHANGED || meta.sdkComponent !== 'workflow') return;
    const { from, to } = meta;
    if (!isOrderState(from) || !isOrderState(to) || from === to) return;
    metrics.orderTransitions.inc({ from, to });
    // The first terminal state is the outcome; a fill that lands after a cancel is a transition, not a new order.
    if (TERMINAL_ORDER_STATES.has(to) && !TERMINAL_ORDER_STATES.has(from)) metrics.ordersTerminal.inc({ state: to });
  };
  return observe;
}
