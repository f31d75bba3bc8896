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

/**
 * Why the broker refused an order, stable across brokers so the workflows, the desk and alerts can act on it
 * without parsing vendor prose. Every one of these is permanent: resubmitting the same order gets the same
 * answer until a human (or the calendar) changes something.
 */
export const RejectReason = {
  PatternDayTrading: 'pattern_day_trading',
  WashTrade: 'wash_trade',
  Halted: 'halted',
  MarketClosed: 'market_closed',
  ShortSale: 'short_sale_restricted',
  NotTradable: 'not_tradable',
  InsufficientQuantity: 'insufficient_quantity',
  /** The account may not place this order at all (trading blocked, liquidation only, asset class not enabled). */
  AccountRestricted: 'account_restricted',
  Other: 'other',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

/** Vendor bodies larger than this are cut in details: they travel through workflow history on every failure. */
const MAX_DETAILS_BODY_CHARS = 2_000;

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
      rejectReason: this instanceof OrderRejected ? this.reason : null,
      body: detailsBody(this.body),
    };
  }
}

/** The masked vendor body as it goes into details: whole when small, else a cut JSON string. */
function detailsBody(body: unknown): unknown {
  if (body === undefined) return null;
  let text: string;
  try {
    text = typeof body === 'string' ? body : JSON.stringify(body);
  } catch {
    return null;
  }
  if (text.length <= MAX_DETAILS_BODY_CHARS) return body;
  return `${text.slice(0, MAX_DETAILS_BODY_CHARS)}…`;
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
  /** Set for OrderRejected only. */
  readonly rejectReason: RejectReason | null;
  /** The broker's own answer, already masked (cut when large), so a rejection's status can show it verbatim. */
  readonly body: unknown;
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

/** Not enough buying power / funds. Trips the desk's circuit breaker. */
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

/** Any other refusal of the order by the broker; `reason` says which kind (RejectReason.Other when unknown). */
export class OrderRejected extends BrokerError {
  readonly type = BrokerErrorType.OrderRejected;
  readonly retryable = false;
  readonly reason: RejectReason;
  constructor(init: BrokerErrorInit & { readonly reason?: RejectReason }) {
    super(init);
    this.reason = init.reason ?? RejectReason.Other;
  }
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

/** What an adapter's error table decides for one vendor answer: the error type and, for rejections, why. */
export interface BrokerErrorClass {
  readonly type: BrokerErrorType;
  readonly reason?: RejectReason;
}

/**
 * Builds the error a table entry names. A 5xx is always an unknown outcome (the broker may have acted);
 * retryAfterMs only matters for BrokerRateLimited.
 */
export function brokerErrorOf(
  cls: BrokerErrorClass,
  init: BrokerErrorInit,
  extra: { readonly retryAfterMs?: number | null } = {},
): BrokerError {
  const full = (init.httpStatus ?? 0) >= 500 ? { ...init, outcomeUnknown: true } : init;
  switch (cls.type) {
    case BrokerErrorType.Timeout:
      return new BrokerTimeout(full);
    case BrokerErrorType.Unavailable:
      return new BrokerUnavailable(full);
    case BrokerErrorType.RateLimited:
      return new BrokerRateLimited({ ...full, retryAfterMs: extra.retryAfterMs ?? null });
    case BrokerErrorType.InsufficientFunds:
      return new InsufficientFunds(full);
    case BrokerErrorType.InvalidPrice:
      return new InvalidPrice(full);
    case BrokerErrorType.Unauthorized:
      return new BrokerUnauthorized(full);
    case BrokerErrorType.OrderRejected:
      return new OrderRejected({ ...full, reason: cls.reason ?? RejectReason.Other });
    case BrokerErrorType.OrderNotFound:
      return new OrderNotFound(full);
    case BrokerErrorType.DuplicateClientOrderId:
      return new DuplicateClientOrderId(full);
    case BrokerErrorType.BadResponse:
      return new BrokerBadResponse(full);
  }
}

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
