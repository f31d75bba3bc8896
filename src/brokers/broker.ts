/**
 * The neutral broker contract. Activities talk to this interface only; each adapter maps its vendor's
 * vocabulary onto it. Adapters never retry (Temporal owns retries): failures are BrokerError subclasses.
 */
import Decimal from 'decimal.js';
import { type OrderState } from '../domain/orders/order-state';

export * from './errors';

// The order vocabulary is the domain's; brokers speak it too.
import { BrokerName, TimeInForce, type LimitOrderToPlace } from '../domain/orders/order-request';
import { OrderSide } from '../domain/orders/pricing';
export { BrokerName, OrderSide, TimeInForce };

/**
 * What an adapter is asked to place is the domain's prepared order (its broker fields): one order shape and one
 * set of field rules (symbol, client order id, quantity, price) from the request to the broker, checked again at
 * this boundary by parseLimitOrderToPlace. Vendor replies keep their own schemas in each adapter.
 */
export { parseLimitOrderToPlace, type LimitOrderToPlace } from '../domain/orders/order-request';

export interface BrokerExecution {
  /** Broker execution id: the key for ignoring duplicate fills. */
  readonly id: string;
  readonly quantity: number;
  /** Decimal string. */
  readonly price: string;
  /** ISO-8601. */
  readonly timestamp: string;
}

export interface BrokerOrderSnapshot {
  readonly broker: BrokerName;
  readonly brokerOrderId: string;
  /**
   * flowguard's client order id. Alpaca and paper echo it; Robinhood only stores a ref_id derived from it,
   * so it is known only when this process placed or looked the order up. Null for foreign orders.
   */
  readonly clientOrderId: string | null;
  readonly symbol: string;
  readonly side: OrderSide;
  /** Whole shares for flowguard's orders; foreign orders listed by listOpenOrders may be fractional. */
  readonly quantity: number;
  /** Decimal string; null for foreign non-limit orders. */
  readonly limitPrice: string | null;
  readonly state: OrderState;
  /** The vendor's own word ('partially_filled', 'done_for_day', 'confirmed', ...). */
  readonly brokerStatus: string;
  /** Cumulative, as reported by the broker: the source of truth for fills. */
  readonly filledQuantity: number;
  readonly averageFillPrice: string | null;
  readonly executions: readonly BrokerExecution[];
  /**
   * False when the broker's order object carries only cumulative figures (Alpaca REST): executions then come
   * from the trade_updates stream, and filledQuantity/averageFillPrice stay authoritative.
   */
  readonly executionsComplete: boolean;
  readonly rejectReason: string | null;
  /** ISO-8601. */
  readonly updatedAt: string;
  /** The vendor payload with secrets and account numbers masked (for audit). */
  readonly raw: unknown;
}

export const CancelOutcome = {
  CancelRequested: 'cancel_requested',
  NotCancellable: 'not_cancellable',
} as const;

export type NotCancellableReason = 'already_filled' | 'already_cancelled' | 'already_closed';

export type CancelResult =
  /** The broker accepted the request; `order` is the state read back afterwards (it may already show a fill). */
  | { readonly outcome: typeof CancelOutcome.CancelRequested; readonly order: BrokerOrderSnapshot }
  /** The order was already terminal (a fill may have beaten the cancel); `order` shows how it ended. */
  | {
      readonly outcome: typeof CancelOutcome.NotCancellable;
      readonly reason: NotCancellableReason;
      readonly order: BrokerOrderSnapshot;
    };

/**
 * One open position as the broker reports it. Long positions have a positive quantity, short ones a negative
 * one; both are decimal strings because brokers report fractional shares (Alpaca, Robinhood).
 */
export interface BrokerPosition {
  readonly symbol: string;
  /** Signed decimal string: `"10"`, `"-5"`, `"0.5"`. */
  readonly quantity: string;
  /** Average entry price per share, decimal string; null when the broker does not say. */
  readonly averageEntryPrice: string | null;
}

export interface Broker {
  readonly name: BrokerName;
  /** Places a limit order. Never retries; on an unknown outcome use submitIdempotently. */
  submitLimitOrder(order: LimitOrderToPlace): Promise<BrokerOrderSnapshot>;
  /** Null when the broker holds no order with this client order id. */
  getOrderByClientOrderId(clientOrderId: string): Promise<BrokerOrderSnapshot | null>;
  /** Throws OrderNotFound when the id is unknown. */
  getOrder(brokerOrderId: string): Promise<BrokerOrderSnapshot>;
  /** Every open order on the account, including orders flowguard did not place (kill switch). */
  listOpenOrders(): Promise<BrokerOrderSnapshot[]>;
  cancelOrder(brokerOrderId: string): Promise<CancelResult>;
  /** Cheap authenticated call for the health check. */
  ping(): Promise<void>;
  /**
   * Every open (nonzero) position on the account, long and short (the positions watch). Optional so adapters
   * and test doubles without it still satisfy the contract; the positions activity names the broker that lacks it.
   */
  listPositions?(): Promise<BrokerPosition[]>;
}

/** Why a terminal order cannot be cancelled, from its neutral state. */
export function notCancellableReason(state: OrderState): NotCancellableReason {
  if (state === 'filled') return 'already_filled';
  if (state === 'cancelled') return 'already_cancelled';
  return 'already_closed';
}

/** Quantity-weighted average of execution prices, as a decimal string (null without executions). */
export function averagePrice(executions: readonly Pick<BrokerExecution, 'quantity' | 'price'>[]): string | null {
  let qty = new Decimal(0);
  let notional = new Decimal(0);
  for (const e of executions) {
    qty = qty.plus(e.quantity);
    notional = notional.plus(new Decimal(e.price).times(e.quantity));
  }
  if (qty.isZero()) return null;
  return notional.div(qty).toDecimalPlaces(6, Decimal.ROUND_HALF_EVEN).toFixed();
}
