import { ApplicationFailure } from '@temporalio/activity';
import { isBrokerError } from '../brokers/errors';
import { PolygonError, PolygonRateLimited } from '../market-data/polygon-errors';
import { ValidationError } from '../domain/validation';
import { BROKER_WAIT_TOO_LONG, DEFAULT_MAX_BROKER_WAIT_SECONDS } from '../domain/orders/submit-outcome';

const DEFAULT_MAX_BROKER_WAIT_MS = DEFAULT_MAX_BROKER_WAIT_SECONDS * 1000;

export interface ToActivityFailureOptions {
  /**
   * The longest broker-advised wait (Retry-After, a throttle's "expected available in N seconds") that is
   * honoured as the next retry delay. A longer one fails the attempt as non-retryable `BrokerWaitTooLong`:
   * Robinhood has been seen asking for 1,154,515 s, which would park a submit (and a kill switch) for 13 days.
   */
  readonly maxBrokerWaitMs?: number;
}

/**
 * Turns adapter errors into Temporal failures: the broker error's stable `type` becomes the failure type,
 * permanence becomes nonRetryable, and a broker's Retry-After becomes the next retry delay.
 */
export function toActivityFailure(err: unknown, options: ToActivityFailureOptions = {}): unknown {
  if (isBrokerError(err)) {
    const details = err.toDetails();
    const cap = options.maxBrokerWaitMs ?? DEFAULT_MAX_BROKER_WAIT_MS;
    if (details.retryAfterMs !== null && details.retryAfterMs > cap) {
      return ApplicationFailure.create({
        message: `${err.broker} asked to wait ${formatSeconds(details.retryAfterMs)} before trying again, more than the ${formatSeconds(cap)} cap (orders.maxBrokerWaitSeconds, FLOWGUARD_ORDER_MAX_BROKER_WAIT_SECONDS): ${err.message}`,
        type: BROKER_WAIT_TOO_LONG,
        nonRetryable: true,
        details: [details],
      });
    }
    return ApplicationFailure.create({
      message: err.message,
      type: err.type,
      nonRetryable: !err.retryable,
      details: [details],
      ...(details.retryAfterMs ? { nextRetryDelay: details.retryAfterMs } : {}),
    });
  }
  if (err instanceof PolygonError) {
    return ApplicationFailure.create({
      message: err.message,
      type: err.name,
      nonRetryable: !err.retryable,
      details: [{ status: err.status ?? null, url: err.url ?? null }],
      ...(err instanceof PolygonRateLimited ? { nextRetryDelay: err.retryAfterMs } : {}),
    });
  }
  if (err instanceof ValidationError) {
    return ApplicationFailure.create({
      message: err.message,
      type: 'ValidationError',
      nonRetryable: true,
      details: [err.issues],
    });
  }
  return err;
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
