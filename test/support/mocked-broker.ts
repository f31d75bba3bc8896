/**
 * The broker side of the mocked-activity workflow tests (test/support/mocked-workflows.ts): the order settings they
 * share, a broker's order snapshot and the failures a broker adapter raises.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { BrokerOrderSnapshot } from '../../src/brokers/broker';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { OrdersConfigSchema } from '../../src/domain/orders/config';
import { type OrderSettings } from '../../src/workflows/order';

/** Polls every 5 s, three attempts per broker call, 1 s back-off doubling. */
export const settings: OrderSettings = {
  ...orderSettingsFromConfig(OrdersConfigSchema.parse({ pollIntervalSeconds: 5 }), 3),
  retry: { maximumAttempts: 3, initialIntervalMs: 1000, backoffCoefficient: 2 },
};

export function snapshot(
  over: Partial<BrokerOrderSnapshot> & Pick<BrokerOrderSnapshot, 'clientOrderId'>,
): BrokerOrderSnapshot {
  return {
    broker: 'paper',
    brokerOrderId: `b-${over.clientOrderId}`,
    symbol: 'AAPL',
    side: 'buy',
    quantity: 10,
    limitPrice: '189.72',
    state: 'queued',
    brokerStatus: 'new',
    filledQuantity: 0,
    averageFillPrice: null,
    executions: [],
    executionsComplete: true,
    rejectReason: null,
    updatedAt: '2026-01-05T15:00:00.000Z',
    raw: null,
    ...over,
  };
}

/** An ApplicationFailure of `type`, as the broker adapters (and the market-data activities) raise them. */
export function brokerFailure(type: string, details: Record<string, unknown> = {}, nonRetryable = false) {
  return ApplicationFailure.create({ message: `${type} from the mock`, type, nonRetryable, details: [details] });
}
