import { NON_RETRYABLE_BROKER_ERROR_TYPES } from '../brokers/errors';
import { type OrdersConfig } from '../domain/orders/config';
import { withProtectiveStrategy } from '../domain/orders/protective';
import { BROKER_WAIT_TOO_LONG } from '../domain/orders/submit-outcome';
import { type OrderSettings } from '../workflows/order';

/** Error types an order activity must never retry, beyond the broker's own permanent ones. */
const NON_RETRYABLE_ORDER_ERROR_TYPES = ['ValidationError', BROKER_WAIT_TOO_LONG] as const;

/** Comfortably above the adapters' default HTTP timeout (10 s), so an attempt ends by the adapter's own timeout. */
export const DEFAULT_BROKER_ACTIVITY_TIMEOUT_SECONDS = 30;

/** The order settings a workflow needs, resolved from configuration by the client that starts it. */
export function orderSettingsFromConfig(
  orders: OrdersConfig,
  activityTimeoutSeconds = DEFAULT_BROKER_ACTIVITY_TIMEOUT_SECONDS,
): OrderSettings {
  return {
    // The protective strategy is always known, so `--strategy protective` prices as the monitor's exit does.
    pricing: withProtectiveStrategy({
      offsetMode: orders.offsetMode,
      buyOffset: orders.buyOffset,
      sellOffset: orders.sellOffset,
      maxSlippagePct: orders.maxSlippagePct,
      strategies: orders.strategies,
    }),
    pollIntervalSeconds: orders.pollIntervalSeconds,
    activityTimeoutSeconds,
    retry: { ...orders.retry },
    nonRetryableErrorTypes: [...NON_RETRYABLE_BROKER_ERROR_TYPES, ...NON_RETRYABLE_ORDER_ERROR_TYPES],
    brokerEvents: orders.brokerEvents,
    maxBrokerWaitSeconds: orders.maxBrokerWaitSeconds,
    unknownOutcomeWindowSeconds: orders.unknownOutcomeWindowSeconds,
    limits: { maxQuantity: orders.maxQuantity, maxNotional: orders.maxNotional },
  };
}
