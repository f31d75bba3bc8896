/**
 * Alpaca's error answers, keyed by the numeric `code` of its error body (`{"code": 40310100, "message": ...}`).
 *
 * Alpaca's codes are coarse: 40310000 ("forbidden") and 42210000 ("unprocessable") each carry many different
 * refusals, told apart only by `message`. So each code has a default meaning, and a list of the documented
 * messages seen under it that mean something more specific. A code that is not here falls back by HTTP
 * status in the adapter (classifyAlpacaError).
 *
 * Every row says where the code or message was seen. Messages are matched case-insensitively on a stable
 * fragment, because Alpaca interpolates symbols and quantities into them.
 */
import { type BrokerErrorClass, BrokerErrorType, RejectReason } from '../errors';

export interface AlpacaMessageRule extends BrokerErrorClass {
  /** A stable fragment of the documented message, lower case. */
  readonly fragment: string;
  readonly source: string;
}

export interface AlpacaCodeEntry extends BrokerErrorClass {
  readonly meaning: string;
  readonly source: string;
  /** More specific meanings under this code, first match wins. */
  readonly messages?: readonly AlpacaMessageRule[];
}

const rejected = (reason: RejectReason) => ({ type: BrokerErrorType.OrderRejected, reason }) as const;

// Refusals Alpaca has been seen to send under more than one code (wash trade: both 403 40310000 and
// 422 42210000), listed once and shared.
const WASH_TRADE: AlpacaMessageRule = {
  fragment: 'potential wash trade detected',
  ...rejected(RejectReason.WashTrade),
  source:
    'https://forum.alpaca.markets/t/bogus-rule-potential-trade-wash-detected/13817 (403 40310000); ' +
    'github.com/Petersoj/alpaca-java/issues/145 (422 42210000)',
};
const PATTERN_DAY_TRADING: AlpacaMessageRule = {
  fragment: 'pattern day trading',
  ...rejected(RejectReason.PatternDayTrading),
  source: 'https://forum.alpaca.markets/t/apierror-trade-denied-due-to-pattern-day-trading-protection/211',
};

export const ALPACA_ERROR_CODES: Readonly<Record<number, AlpacaCodeEntry>> = {
  40010000: {
    meaning: 'malformed request body',
    ...rejected(RejectReason.Other),
    source: 'github.com/alpacahq/Alpaca-API/issues/89 ({"code":40010000,"message":"request body format is invalid"})',
  },
  40010001: {
    meaning: 'request failed validation',
    ...rejected(RejectReason.Other),
    source: 'github.com/Petersoj/alpaca-java/issues/77, /issues/147; github.com/alpacahq/Alpaca-API/issues/184',
    messages: [
      {
        // submitIdempotently resolves it by looking the existing order up.
        fragment: 'client_order_id must be unique',
        type: BrokerErrorType.DuplicateClientOrderId,
        source: "wording unverified: the stand-in's; a reused client_order_id answers 422 (bot runbooks, Alpaca docs)",
      },
      {
        fragment: 'not allowed for account',
        ...rejected(RejectReason.AccountRestricted),
        source: 'github.com/Petersoj/alpaca-java/issues/147 (422 40010001 "us_equity orders not allowed for account")',
      },
      {
        fragment: 'could not find us_equity',
        ...rejected(RejectReason.NotTradable),
        source: 'github.com/alpacahq/Alpaca-API/issues/184 ("could not find us_equity \'<asset id>\'", 40010001)',
      },
    ],
  },
  40110000: {
    meaning: 'invalid or missing credentials',
    type: BrokerErrorType.Unauthorized,
    source: 'https://docs.rs/alpaca-base/latest/alpaca_base/error/enum.ApiErrorCode.html (InvalidCredentials)',
  },
  40310000: {
    // "Many 403s are account-level restrictions rather than request-format bugs" (Alpaca's own guide): a
    // 40310000 is a refusal of this order or account state, never a credentials failure.
    meaning: 'forbidden: the account may not place this order',
    ...rejected(RejectReason.Other),
    source: 'https://alpaca.markets/learn/how-to-fix-common-trading-api-errors-at-alpaca',
    messages: [
      {
        fragment: 'buying power',
        type: BrokerErrorType.InsufficientFunds,
        source:
          '"insufficient buying power" (stand-in wording) and "insufficient day trading buying power": ' +
          'github.com/alpacahq/Alpaca-API/issues/112',
      },
      WASH_TRADE,
      PATTERN_DAY_TRADING,
      {
        fragment: 'not allowed to short',
        ...rejected(RejectReason.ShortSale),
        source:
          'github.com/alpacahq/alpaca-trade-api-js/issues/57 (403 {"code":40310000,"message":"account is not ' +
          'allowed to short"}); github.com/alpacahq/alpaca-trade-api-python/issues/405',
      },
      {
        fragment: 'insufficient qty',
        ...rejected(RejectReason.InsufficientQuantity),
        source:
          'github.com/alpacahq/alpaca-trade-api-python/issues/74 ("insufficient qty (0 < 1)"); ' +
          '"insufficient qty available for order (requested: N, available: M)" in bot logs',
      },
      {
        fragment: 'rejected by user request',
        ...rejected(RejectReason.AccountRestricted),
        source:
          'github.com/Lumiwealth/lumibot/issues/373 ({"code":40310000,"message":"new orders are rejected by user request"})',
      },
      {
        fragment: 'not authorized to trade',
        ...rejected(RejectReason.AccountRestricted),
        source: 'github.com/alpacahq/alpaca-trade-api-csharp/issues/330 ("account is not authorized to trade")',
      },
      {
        fragment: 'liquidation only',
        ...rejected(RejectReason.AccountRestricted),
        source: 'github.com/alpacahq/Alpaca-API/issues/168 ("Your account is set to liquidation only")',
      },
    ],
  },
  40310100: {
    meaning: 'trade denied due to pattern day trading protection',
    ...rejected(RejectReason.PatternDayTrading),
    source:
      'https://forum.alpaca.markets/t/trade-denied-due-to-pattern-day-trading-protection-not-sure-why-i-get-this-error/2318 ' +
      '(403 {"code":40310100,...}); https://docs.alpaca.markets/broker-functions/pdt-protection/ (HTTP 403)',
  },
  40410000: {
    meaning: 'not found',
    type: BrokerErrorType.OrderNotFound,
    source: 'https://docs.rs/alpaca-base/latest/alpaca_base/error/enum.ApiErrorCode.html (NotFound)',
  },
  42210000: {
    meaning: 'unprocessable: the order was refused',
    ...rejected(RejectReason.Other),
    source: 'https://docs.rs/alpaca-base/latest/alpaca_base/error/enum.ApiErrorCode.html (UnprocessableEntity)',
    messages: [
      WASH_TRADE,
      {
        fragment: 'sub-penny increment',
        type: BrokerErrorType.InvalidPrice,
        source:
          'github.com/frotofraggins/inbound_aigen archive/old_sessions/ALPACA_PAPER_TRADING_FIX_V4.md ' +
          '("invalid take_profit.limit_price 699.7462. sub-penny increment does not f...")',
      },
      {
        fragment: 'is not tradable',
        ...rejected(RejectReason.NotTradable),
        source:
          'body {"code":42210000,"message":"asset \\"RGC\\" is not tradable"} quoted in a public bot\'s test (repo not recorded)',
      },
    ],
  },
  42910000: {
    meaning: 'rate limit exceeded',
    type: BrokerErrorType.RateLimited,
    source: 'https://docs.rs/alpaca-base/latest/alpaca_base/error/enum.ApiErrorCode.html (RateLimitExceeded)',
  },
  50010000: {
    meaning: 'internal server error',
    type: BrokerErrorType.Unavailable,
    source: 'github.com/alpacahq/Alpaca-API/issues/251 ({"code":50010000,"message":"internal server error occurred"})',
  },
};

/**
 * Refusals looked for in the message when the code is missing or not in the table. PDT, wash-trade and
 * short-sale wording is documented above. No public Alpaca body was found for a halted symbol or a closed
 * market (Alpaca queues most out-of-hours orders; its order docs say orders not eligible for extended hours
 * submitted 4:00pm–7:00pm ET are rejected, quoted in github.com/QuantConnect/Lean/issues/4126), so those two
 * rows match the plain words and are marked as such.
 */
export const ALPACA_MESSAGE_FALLBACKS: readonly AlpacaMessageRule[] = [
  PATTERN_DAY_TRADING,
  WASH_TRADE,
  {
    fragment: 'halted',
    ...rejected(RejectReason.Halted),
    source: 'undocumented wording: no public Alpaca error body for a halted symbol was found',
  },
  {
    fragment: 'market is closed',
    ...rejected(RejectReason.MarketClosed),
    source: 'undocumented wording; rule from https://docs.alpaca.markets/docs/orders-at-alpaca (via Lean#4126)',
  },
  {
    fragment: 'not allowed to short',
    ...rejected(RejectReason.ShortSale),
    source: 'github.com/alpacahq/alpaca-trade-api-js/issues/57',
  },
  {
    fragment: 'cannot be sold short',
    ...rejected(RejectReason.ShortSale),
    source: 'undocumented wording: short-sale refusal for a non-shortable asset',
  },
];

/** The table's answer for a code and message, or null when the code is not documented here. */
export function alpacaErrorClassFor(code: number | undefined, message: string): BrokerErrorClass | null {
  const msg = message.toLowerCase();
  const entry = code === undefined ? undefined : ALPACA_ERROR_CODES[code];
  if (entry) {
    // The refusal words mean the same under any of Alpaca's coarse codes, so they are tried before the
    // code's own default (e.g. a halt answered as a plain 42210000).
    const rule =
      entry.messages?.find((m) => msg.includes(m.fragment)) ??
      (entry.type === BrokerErrorType.OrderRejected
        ? ALPACA_MESSAGE_FALLBACKS.find((m) => msg.includes(m.fragment))
        : undefined);
    return toClass(rule ?? entry);
  }
  const fallback = ALPACA_MESSAGE_FALLBACKS.find((m) => msg.includes(m.fragment));
  return fallback ? toClass(fallback) : null;
}

function toClass(c: BrokerErrorClass): BrokerErrorClass {
  return c.reason === undefined ? { type: c.type } : { type: c.type, reason: c.reason };
}
