/**
 * Robinhood's error answers, keyed by their text. Robinhood has no numeric error codes: a refusal is a
 * sentence in `detail` (`{"detail": "Not enough shares to sell."}`), in a field list (`{"ref_id": [...]}`,
 * `{"non_field_errors": [...]}`, `{"price": [...]}`), or, for an order refused after it was accepted, in the
 * order's `reject_reason`. The API is unofficial, so the sources are the public reports of people running
 * robin_stocks and other clients against it; each row names one.
 *
 * A text that is not here falls back by HTTP status in the adapter (classifyRobinhoodError).
 */
import { type BrokerErrorClass, BrokerErrorType, RejectReason } from '../errors';

export interface RobinhoodTextRule extends BrokerErrorClass {
  /** A stable fragment of the documented text, lower case. */
  readonly fragment: string;
  /** Statuses the rule applies to; all error statuses when absent. */
  readonly statuses?: readonly number[];
  readonly source: string;
}

const rejected = (reason: RejectReason) => ({ type: BrokerErrorType.OrderRejected, reason }) as const;

/** First match wins, so the specific sentences come before the broad words. */
export const ROBINHOOD_ERROR_TEXTS: readonly RobinhoodTextRule[] = [
  {
    // Sent as 429 or as a 400 with the same sentence; the wait can be absurd (1154515 s in issue 326).
    fragment: 'request was throttled',
    type: BrokerErrorType.RateLimited,
    source:
      'github.com/jmfernandes/robin_stocks/issues/264 ("Request was throttled. Expected available in 14 seconds."), ' +
      '/issues/257, /issues/326',
  },
  {
    fragment: 'order with this ref_id already exists',
    type: BrokerErrorType.DuplicateClientOrderId,
    source: 'github.com/jmfernandes/robin_stocks/pull/40 ({"ref_id": ["Order with this ref_id already exists."]})',
  },
  {
    fragment: 'incorrect authentication credentials',
    type: BrokerErrorType.Unauthorized,
    statuses: [401, 403],
    source: 'Django REST framework NotAuthenticated/AuthenticationFailed detail texts, which Robinhood answers with',
  },
  {
    fragment: 'authentication credentials were not provided',
    type: BrokerErrorType.Unauthorized,
    statuses: [401, 403],
    source: 'Django REST framework NotAuthenticated detail text',
  },
  {
    fragment: 'you can only purchase',
    type: BrokerErrorType.InsufficientFunds,
    source: 'github.com/jmfernandes/robin_stocks/issues/390 ("You can only purchase x amount of shares")',
  },
  {
    fragment: 'buying power',
    type: BrokerErrorType.InsufficientFunds,
    source: 'github.com/jmfernandes/robin_stocks/issues/8 (400 when buying power is short; wording of the stand-in)',
  },
  {
    fragment: 'may cause pdt designation',
    ...rejected(RejectReason.PatternDayTrading),
    source: 'github.com/siropkin/robinhood-ai-trading-bot/issues/17 ({"detail": "Sell may cause PDT designation."})',
  },
  {
    fragment: 'pattern day trad',
    ...rejected(RejectReason.PatternDayTrading),
    source:
      'https://robinhood.com/us/en/support/articles/pattern-day-trading/ (linked from the issue above; ' +
      'wording of the refusal itself unverified)',
  },
  {
    fragment: 'not enough shares to sell',
    ...rejected(RejectReason.InsufficientQuantity),
    source:
      'github.com/siropkin/robinhood-ai-trading-bot/issues/19 ({"detail": "Not enough shares to sell."}); ' +
      'github.com/kevin1chun/robinhood-for-agents/issues/26 (HTTP 400)',
  },
  {
    fragment: 'do not have enough shares to close your position',
    ...rejected(RejectReason.InsufficientQuantity),
    source: 'github.com/jmfernandes/robin_stocks/issues/1623',
  },
  {
    fragment: 'min tick value',
    type: BrokerErrorType.InvalidPrice,
    source:
      'github.com/jmfernandes/robin_stocks/issues/1623 ({"detail": "Price does not satisfy the min tick value."})',
  },
  {
    fragment: 'decimal places',
    type: BrokerErrorType.InvalidPrice,
    source:
      'Django REST framework DecimalField text ("Ensure that there are no more than 2 decimal places."), sent ' +
      'as a field error under "price" like those in github.com/sanko/Robinhood/issues/11',
  },
  {
    fragment: 'limit order quantity cannot include fractional shares',
    ...rejected(RejectReason.Other),
    source: 'github.com/jmfernandes/robin_stocks/issues/452',
  },
  {
    fragment: 'missing important stock trading updates',
    ...rejected(RejectReason.Other),
    source: 'github.com/aurbano/robinhood-node/issues/145 (order form outdated; needs a code change, not a retry)',
  },
  // No public Robinhood body was found for these three kinds; they match the plain words, so a sentence
  // Robinhood words differently still falls back to a rejection by status (400), never to a retry.
  {
    fragment: 'halted',
    ...rejected(RejectReason.Halted),
    source: 'undocumented wording: no public Robinhood error body for a halted symbol was found',
  },
  {
    fragment: 'market is closed',
    ...rejected(RejectReason.MarketClosed),
    source: 'undocumented wording: no public Robinhood error body for a closed market was found',
  },
  {
    fragment: 'sell short',
    ...rejected(RejectReason.ShortSale),
    source: 'undocumented wording: no public Robinhood error body for a short-sale refusal was found',
  },
];

/** The table's answer for a Robinhood error status and its texts, or null when no documented text matches. */
export function robinhoodErrorClassFor(status: number, texts: readonly string[]): BrokerErrorClass | null {
  const lower = texts.map((t) => t.toLowerCase());
  const rule = ROBINHOOD_ERROR_TEXTS.find(
    (r) => (r.statuses === undefined || r.statuses.includes(status)) && lower.some((t) => t.includes(r.fragment)),
  );
  if (!rule) return null;
  return rule.reason === undefined ? { type: rule.type } : { type: rule.type, reason: rule.reason };
}

/**
 * The stable reason for an order Robinhood accepted and then rejected (its `reject_reason` text), for callers
 * that hold an order snapshot rather than an error. Unknown or missing texts are RejectReason.Other.
 */
export function robinhoodRejectReason(rejectReason: string | null | undefined): RejectReason {
  if (!rejectReason) return RejectReason.Other;
  const cls = robinhoodErrorClassFor(400, [rejectReason]);
  return cls?.type === BrokerErrorType.OrderRejected ? (cls.reason ?? RejectReason.Other) : RejectReason.Other;
}
