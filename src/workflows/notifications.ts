import { defineSignal } from '@temporalio/workflow';
import { type OrderState } from '../domain/orders/order-state';

/**
 * What an order workflow tells whoever asked for it (the desk, a position monitor) when it reaches a terminal
 * state — or when the desk refused to start it. Delivered by workflow id, so it reaches the requester's
 * current run even after it continued-as-new.
 */
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

export const orderTerminalSignal = defineSignal<[OrderTerminalNotice]>('orderTerminal');
