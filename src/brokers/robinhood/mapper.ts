import { maskSecrets } from '../../domain/masking';
import { refineByFills } from '../../domain/orders/broker-status';
import { type BrokerOrderSnapshot, BrokerName, averagePrice } from '../broker';
import { BrokerBadResponse } from '../errors';
import { type RobinhoodOrder } from './schemas';
import { mapRobinhoodState } from './status';
import { canonicalDecimal } from '../../domain/orders/money';

export function robinhoodOrderToSnapshot(
  order: RobinhoodOrder,
  symbol: string,
  clientOrderId: string | null,
): BrokerOrderSnapshot {
  const base = mapRobinhoodState(order.state);
  if (base === undefined) {
    throw new BrokerBadResponse({
      broker: BrokerName.Robinhood,
      message: `robinhood: order ${order.id} has undocumented state '${order.state}'`,
      body: maskSecrets(order),
    });
  }
  const quantity = Number(order.quantity);
  const filledQuantity = Number(order.cumulative_quantity);
  const executions = order.executions.map((e) => ({
    id: e.id,
    quantity: Number(e.quantity),
    price: canonicalDecimal(e.price),
    timestamp: e.timestamp,
  }));
  const reported = order.average_price && filledQuantity > 0 ? canonicalDecimal(order.average_price) : null;
  return {
    broker: BrokerName.Robinhood,
    brokerOrderId: order.id,
    clientOrderId,
    symbol,
    side: order.side,
    quantity,
    limitPrice: order.price ? canonicalDecimal(order.price) : null,
    state: refineByFills(base, filledQuantity, quantity),
    brokerStatus: order.state,
    filledQuantity,
    averageFillPrice: reported ?? averagePrice(executions),
    executions,
    executionsComplete: true,
    rejectReason: order.reject_reason ?? null,
    updatedAt: order.updated_at,
    raw: maskSecrets(order),
  };
}
