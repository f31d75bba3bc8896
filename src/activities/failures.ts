import { ApplicationFailure } from '@temporalio/activity';
import { isBrokerError } from '../brokers/errors';
import { PolygonError, PolygonRateLimited } from '../market-data/polygon-errors';
import { ValidationError } from '../domain/validation';

/**
 * Turns adapter errors into Temporal failures: the broker error's stable `type` becomes the failure type,
 * permanence becomes nonRetryable, and a broker's Retry-After becomes the next retry delay.
 */
export function toActivityFailure(err: unknown): unknown {
  if (isBrokerError(err)) {
    return ApplicationFailure.create({
      message: err.message,
      type: err.type,
      nonRetryable: !err.retryable,
      details: [err.toDetails()],
      ...(err.toDetails().retryAfterMs ? { nextRetryDelay: err.toDetails().retryAfterMs ?? undefined } : {}),
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
