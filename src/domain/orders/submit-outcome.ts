/**
 * What one failed submit attempt tells us, and what the order workflow does next. Pure: the workflow hands in
 * the failure's stable type and the broker error's details, and gets back a decision.
 *
 * The rule that matters for money (issue "Orders under real faults", items 1b and 2): any failure after which
 * the request *may* have reached the broker is resolved by looking the order up by client order id before
 * flowguard calls the order rejected or failed. Only a refusal the broker stated itself (an HTTP 4xx with its
 * code), a throttle (a 429 refuses the request, it creates nothing), or a failure before a byte was sent
 * proves that no order exists.
 */

/** Failure types that are the broker's own refusal of the order: nothing was created. */
export const BROKER_REFUSAL_TYPES: ReadonlySet<string> = new Set([
  'InsufficientFunds',
  'InvalidPrice',
  'OrderRejected',
  'BrokerUnauthorized',
  // flowguard refused to send it (the adapter's own validation): nothing left the process.
  'ValidationError',
  'BrokerNotConfigured',
]);

/** Default cap on a broker-advised wait before the next attempt (orders.maxBrokerWaitSeconds). */
export const DEFAULT_MAX_BROKER_WAIT_SECONDS = 60;
/** Default time an unknown submit outcome is resolved by lookup (orders.unknownOutcomeWindowSeconds). */
export const DEFAULT_UNKNOWN_OUTCOME_WINDOW_SECONDS = 60;

/** A broker-advised wait (Retry-After, Robinhood's "Expected available in N seconds") over the configured cap. */
export const BROKER_WAIT_TOO_LONG = 'BrokerWaitTooLong';

/** The subset of an activity failure the decision needs (BrokerErrorDetails carries these fields). */
export interface SubmitFailure {
  /** ApplicationFailure type: a BrokerErrorType, 'ValidationError', 'BrokerWaitTooLong', or anything else. */
  readonly type: string | null;
  /** False when the failure is Temporal's own (start-to-close timeout after a worker crash, say). */
  readonly fromBroker: boolean;
  /** From BrokerErrorDetails: the request may have taken effect though no usable reply came back. */
  readonly outcomeUnknown: boolean;
  /** From BrokerErrorDetails: the broker's own advice on when to try again, in ms. */
  readonly retryAfterMs: number | null;
}

export const SubmitNext = {
  /** Try again after `delayMs` (the broker's advice, else exponential backoff). */
  Retry: 'retry',
  /** No more submit attempts: the broker refused, or waiting longer is not allowed. */
  Stop: 'stop',
} as const;
export type SubmitNext = (typeof SubmitNext)[keyof typeof SubmitNext];

export interface SubmitDecision {
  readonly next: SubmitNext;
  /** Whether this attempt may have created the order at the broker (then it must be resolved by lookup). */
  readonly mayHaveReachedBroker: boolean;
  /** The broker stated a refusal: the order ends `rejected` unless a lookup finds it after all. */
  readonly refused: boolean;
  readonly delayMs: number;
}

export interface SubmitBackoff {
  readonly initialIntervalMs: number;
  readonly backoffCoefficient: number;
}

/**
 * Decides after failed attempt number `attempt` (1-based). A broker error whose outcome is unknown (timeout,
 * 5xx, lost reply, unreadable 2xx), an id the broker says already exists, and any failure that is not the
 * broker's (Temporal timed the attempt out, the worker died, an unexpected exception) may have created the
 * order. Refusals, throttles and connection failures before sending did not.
 */
export function decideAfterSubmitFailure(
  failure: SubmitFailure,
  attempt: number,
  backoff: SubmitBackoff,
): SubmitDecision {
  const type = failure.type ?? '';
  const backoffMs = Math.round(
    backoff.initialIntervalMs * Math.pow(backoff.backoffCoefficient, Math.max(0, attempt - 1)),
  );
  if (!failure.fromBroker)
    return { next: SubmitNext.Retry, mayHaveReachedBroker: true, refused: false, delayMs: backoffMs };
  if (type === BROKER_WAIT_TOO_LONG) {
    return { next: SubmitNext.Stop, mayHaveReachedBroker: false, refused: false, delayMs: 0 };
  }
  if (BROKER_REFUSAL_TYPES.has(type))
    return { next: SubmitNext.Stop, mayHaveReachedBroker: false, refused: true, delayMs: 0 };
  if (type === 'DuplicateClientOrderId') {
    // The id exists at the broker: there is nothing to submit again, only an order to find.
    return { next: SubmitNext.Stop, mayHaveReachedBroker: true, refused: false, delayMs: 0 };
  }
  if (type === 'BrokerBadResponse' || type === 'OrderNotFound') {
    // Our own failure to read a reply is not the broker's refusal; a 2xx we could not read created the order.
    return { next: SubmitNext.Stop, mayHaveReachedBroker: failure.outcomeUnknown, refused: false, delayMs: 0 };
  }
  if (type === 'BrokerRateLimited') {
    return {
      next: SubmitNext.Retry,
      mayHaveReachedBroker: false,
      refused: false,
      delayMs: failure.retryAfterMs ?? backoffMs,
    };
  }
  // BrokerTimeout, BrokerUnavailable and anything unrecognised: transient, reached the broker unless proven not.
  const reached = type === 'BrokerTimeout' || type === 'BrokerUnavailable' ? failure.outcomeUnknown : true;
  return {
    next: SubmitNext.Retry,
    mayHaveReachedBroker: reached,
    refused: false,
    delayMs: failure.retryAfterMs ?? backoffMs,
  };
}

/**
 * Until when an unknown submit outcome is resolved by lookup: a request can still land at the broker until the
 * attempt's own deadline (the activity's start-to-close, above the adapter's HTTP timeout) plus a margin for a
 * broker that processes late. Returns epoch ms.
 */
export function resolveDeadlineMs(lastAttemptStartedMs: number, windowSeconds: number): number {
  return lastAttemptStartedMs + windowSeconds * 1000;
}
