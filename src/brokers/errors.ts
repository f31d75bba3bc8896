/**
 * One error hierarchy for every broker. Adapters never retry: they classify, and Temporal's retry policy
 * decides. `type` is stable and is what activities put into ApplicationFailure.type, so the retry policy's
 * nonRetryableErrorTypes can name these classes.
 */

export const BrokerErrorType = {
  Timeout: 'BrokerTimeout',
  Unavailable: 'BrokerUnavailable',
  RateLimited: 'BrokerRateLimited',
  InsufficientFunds: 'InsufficientFunds',
  InvalidPrice: 'InvalidPrice',
  Unauthorized: 'BrokerUnauthorized',
  OrderRejected: 'OrderRejected',
  OrderNotFound: 'OrderNotFound',
  DuplicateClientOrderId: 'DuplicateClientOrderId',
  BadResponse: 'BrokerBadResponse',
} as const;
export type BrokerErrorType = (typeof BrokerErrorType)[keyof typeof BrokerErrorType];

export interface BrokerErrorInit {
  /** Which broker raised it ('alpaca', 'robinhood', 'paper'). */
  readonly broker: string;
  readonly message: string;
  readonly httpStatus?: number;
  /** Vendor error code, e.g. Alpaca 40310000. */
  readonly vendorCode?: string | number;
  /** The vendor's error body, already masked. */
  readonly body?: unknown;
  /**
   * True when the request may have taken effect even though no usable reply came back (reply lost, 5xx
   * after the request was sent, unparseable success). For a submit this means "look the order up by
   * client order id before doing anything else" — see submitIdempotently.
   */
  readonly outcomeUnknown?: boolean;
  readonly cause?: unknown;
}

export abstract class BrokerError extends Error {
  abstract readonly type: BrokerErrorType;
  abstract readonly retryable: boolean;
  readonly broker: string;
  readonly httpStatus: number | undefined;
  readonly vendorCode: string | number | undefined;
  readonly body: unknown;
  readonly outcomeUnknown: boolean;

  constructor(init: BrokerErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.broker = init.broker;
    this.httpStatus = init.httpStatus;
    this.vendorCode = init.vendorCode;
    this.body = init.body;
    this.outcomeUnknown = init.outcomeUnknown ?? false;
  }

  /** Compact, secret-free details for ApplicationFailure details and audit logs. */
  toDetails(): BrokerErrorDetails {
    return {
      type: this.type,
      retryable: this.retryable,
      broker: this.broker,
      message: this.message,
      httpStatus: this.httpStatus ?? null,
      vendorCode: this.vendorCode ?? null,
      outcomeUnknown: this.outcomeUnknown,
      retryAfterMs: this instanceof BrokerRateLimited ? this.retryAfterMs : null,
    };
  }
}

// `name` follows `type`, so stack traces and logs show "BrokerTimeout: ..." without repeating it per class.
Object.defineProperty(BrokerError.prototype, 'name', {
  configurable: true,
  get(this: BrokerError) {
    return this.type;
  },
});

export interface BrokerErrorDetails {
  readonly type: BrokerErrorType;
  readonly retryable: boolean;
  readonly broker: string;
  readonly message: string;
  readonly httpStatus: number | null;
  readonly vendorCode: string | number | null;
  readonly outcomeUnknown: boolean;
  readonly retryAfterMs: number | null;
}

// ── transient ────────────────────────────────────────────────────────────────────────────────────────

/** No reply within the adapter's timeout. The request may or may not have been processed. */
export class BrokerTimeout extends BrokerError {
  readonly type = BrokerErrorType.Timeout;
  readonly retryable = true;
}

/** 5xx, connection refused/reset, DNS failure. */
export class BrokerUnavailable extends BrokerError {
  readonly type = BrokerErrorType.Unavailable;
  readonly retryable = true;
}

/** 429 (or Robinhood's "Request was throttled"); retryAfterMs is the broker's own hint when it gave one. */
export class BrokerRateLimited extends BrokerError {
  readonly type = BrokerErrorType.RateLimited;
  readonly retryable = true;
  readonly retryAfterMs: number | null;
  constructor(init: BrokerErrorInit & { readonly retryAfterMs: number | null }) {
    super(init);
    this.retryAfterMs = init.retryAfterMs;
  }
}

// ── permanent ────────────────────────────────────────────────────────────────────────────────────────

/** Not enough buying power / funds. Trips the circuit breaker (SPEC §3.7). */
export class InsufficientFunds extends BrokerError {
  readonly type = BrokerErrorType.InsufficientFunds;
  readonly retryable = false;
}

/** Price refused (sub-penny increment, too many decimals, outside a collar). */
export class InvalidPrice extends BrokerError {
  readonly type = BrokerErrorType.InvalidPrice;
  readonly retryable = false;
}

/** 401/403 for credentials: a token expired or a key is wrong; needs a human. */
export class BrokerUnauthorized extends BrokerError {
  readonly type = BrokerErrorType.Unauthorized;
  readonly retryable = false;
}

/** Any other refusal of the order by the broker. */
export class OrderRejected extends BrokerError {
  readonly type = BrokerErrorType.OrderRejected;
  readonly retryable = false;
}

export class OrderNotFound extends BrokerError {
  readonly type = BrokerErrorType.OrderNotFound;
  readonly retryable = false;
}

/** The broker already holds an order with this client order id / ref_id (resolved by submitIdempotently). */
export class DuplicateClientOrderId extends BrokerError {
  readonly type = BrokerErrorType.DuplicateClientOrderId;
  readonly retryable = false;
}

/** A 2xx reply that does not match the documented schema: a code or vendor change, not a transient fault. */
export class BrokerBadResponse extends BrokerError {
  readonly type = BrokerErrorType.BadResponse;
  readonly retryable = false;
}

/** Error `type` names Temporal must not retry (pass to RetryPolicy.nonRetryableErrorTypes). */
export const NON_RETRYABLE_BROKER_ERROR_TYPES = [
  BrokerErrorType.InsufficientFunds,
  BrokerErrorType.InvalidPrice,
  BrokerErrorType.Unauthorized,
  BrokerErrorType.OrderRejected,
  BrokerErrorType.OrderNotFound,
  BrokerErrorType.DuplicateClientOrderId,
  BrokerErrorType.BadResponse,
] as const satisfies readonly BrokerErrorType[];

export const RETRYABLE_BROKER_ERROR_TYPES = [
  BrokerErrorType.Timeout,
  BrokerErrorType.Unavailable,
  BrokerErrorType.RateLimited,
] as const satisfies readonly BrokerErrorType[];

export function isBrokerError(err: unknown): err is BrokerError {
  return err instanceof BrokerError;
}

/**
 * Broker errors answer for themselves; a ValidationError (bad request built by our own code) is permanent;
 * anything else is unexpected and left to Temporal's default (retry).
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof BrokerError) return err.retryable;
  if (err instanceof Error && err.name === 'ValidationError') return false;
  return true;
}
