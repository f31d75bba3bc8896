import { maskSecrets } from '../../domain/masking';
import { refineByFills } from '../../domain/orders/broker-status';
import { type BrokerExecution, type BrokerOrderSnapshot, BrokerName } from '../broker';
import { BrokerBadResponse } from '../errors';
import { type AlpacaOrder, type AlpacaTradeUpdate } from './schemas';
import { mapAlpacaStatus } from './status';
import { canonicalDecimal } from '../../domain/orders/money';

export function alpacaOrderToSnapshot(order: AlpacaOrder): BrokerOrderSnapshot {
  const base = mapAlpacaStatus(order.status);
  if (base === undefined) {
    throw new BrokerBadResponse({
      broker: BrokerName.Alpaca,
      message: `alpaca: order ${order.id} has undocumented status '${order.status}'`,
      body: maskSecrets(order),
    });
  }
  const quantity = Number(order.qty ?? '0');
  const filledQuantity = Number(order.filled_qty);
  return {
    broker: BrokerName.Alpaca,
    brokerOrderId: order.id,
    clientOrderId: order.client_order_id === '' ? null : order.client_order_id,
    symbol: order.symbol,
    side: order.side,
    quantity,
    limitPrice: order.limit_price ? canonicalDecimal(order.limit_price) : null,
    state: refineByFills(base, filledQuantity, quantity),
    brokerStatus: order.status,
    filledQuantity,
    averageFillPrice: order.filled_avg_price && filledQuantity > 0 ? canonicalDecimal(order.filled_avg_price) : null,
    // Alpaca's order object has cumulative figures only; per-execution detail arrives on trade_updates.
    executions: [],
    executionsComplete: false,
    rejectReason: null,
    updatedAt: order.updated_at ?? order.submitted_at ?? order.created_at,
    raw: maskSecrets(order),
  };
}

/** The execution a `fill` / `partial_fill` event reports, or null for other events. */
export function alpacaExecutionFromUpdate(update: AlpacaTradeUpdate): BrokerExecution | null {
  if (update.event !== 'fill' && update.event !== 'partial_fill') return null;
  if (!update.execution_id || !update.price || !update.qty) return null;
  return {
    id: update.execution_id,
    quantity: Number(update.qty),
    price: canonicalDecimal(update.price),
    timestamp: update.timestamp ?? update.order.updated_at ?? update.order.created_at,
  };
}
