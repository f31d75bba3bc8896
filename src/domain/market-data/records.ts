import { type z } from 'zod';
import { issuesFromZod, type ValidationIssue } from '../validation';
import { RejectCode } from './reject-codes';
import { PolygonQuoteSchema, PolygonTradeSchema, PolygonWsQuoteSchema, PolygonWsTradeSchema } from './schemas';

/** A trade print as the detectors see it. Prices in 1e-8 USD units (price.ts), time split as in timestamp.ts. */
export interface TradeEvent {
  readonly id: string;
  readonly exchange: number;
  /** Trade Reporting Facility id, -1 when the print did not come through a TRF. */
  readonly trfId: number;
  readonly priceE8: number;
  readonly size: number;
  readonly conditions: readonly number[];
  /** Polygon's correction indicator; non-zero means corrected/cancelled. WebSocket prints carry none (0). */
  readonly correction: number;
  readonly sequence: number;
  /** SIP timestamp: whole microseconds and the nanosecond remainder. */
  readonly tsUs: number;
  readonly tsRem: number;
  /**
   * When the print executed, for finding the quote in force: the participant timestamp of a TRF print (its SIP
   * time can trail execution by seconds), the SIP time otherwise.
   */
  readonly execUs: number;
  readonly execRem: number;
}

/** An NBBO update. A price of 0 marks an absent side. Sizes are as received (shares, or round lots in old data). */
export interface QuoteEvent {
  readonly bidE8: number;
  readonly bidSize: number;
  readonly bidExchange: number;
  readonly askE8: number;
  readonly askSize: number;
  readonly askExchange: number;
  readonly sequence: number;
  readonly tsUs: number;
  readonly tsRem: number;
}

/** Either an event or the stable code of the first rule the record broke. */
export type Parsed<T> = T | RejectCode;

export function isRejected<T extends object>(p: Parsed<T>): p is RejectCode {
  return typeof p === 'string';
}

/** Which stream a record belongs to (the file or channel it came from, or the WebSocket `ev`). */
export type MarketStream = 'trade' | 'quote';

/**
 * One Polygon record decoded at the edge (src/market-data/decode.ts): a typed event, a reject with its stable code,
 * or a message of no concern (a WebSocket status message, another symbol). What the detectors consume; nothing
 * past the adapter sees a raw record.
 */
export type MarketRecord =
  | { readonly kind: 'trade'; readonly trade: TradeEvent }
  | { readonly kind: 'quote'; readonly quote: QuoteEvent }
  | { readonly kind: 'reject'; readonly stream: MarketStream; readonly code: RejectCode }
  | { readonly kind: 'ignored' };

export const IGNORED: MarketRecord = Object.freeze({ kind: 'ignored' });

/** SIP time of a record (µs and ns remainder); -1 µs for a reject or an ignored message (no usable time). */
export function recordUs(r: MarketRecord): number {
  return r.kind === 'trade' ? r.trade.tsUs : r.kind === 'quote' ? r.quote.tsUs : -1;
}
export function recordRem(r: MarketRecord): number {
  return r.kind === 'trade' ? r.trade.tsRem : r.kind === 'quote' ? r.quote.tsRem : 0;
}

// ---- zod path: the contract, with field-level explanations. Slower; used for diagnostics and in tests.

/** The verdict of the zod contract on one record: accepted, or the reject code plus every broken rule. */
export type RecordVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: RejectCode; readonly issues: readonly ValidationIssue[] };

export const RecordKind = {
  RestTrade: 'rest_trade',
  RestQuote: 'rest_quote',
  WsTrade: 'ws_trade',
  WsQuote: 'ws_quote',
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

const SCHEMAS: Record<RecordKind, z.ZodType> = {
  rest_trade: PolygonTradeSchema,
  rest_quote: PolygonQuoteSchema,
  ws_trade: PolygonWsTradeSchema,
  ws_quote: PolygonWsQuoteSchema,
};

const RULE_PRECEDENCE: readonly RejectCode[] = [
  RejectCode.NonPositivePrice,
  RejectCode.NonPositiveSize,
  RejectCode.CrossedQuote,
];

/** Checks a record against the zod contract; explains a rejection field by field. */
export function checkRecord(kind: RecordKind, raw: unknown): RecordVerdict {
  const result = SCHEMAS[kind].safeParse(raw);
  if (result.success) return { ok: true };
  const ruleCodes = new Set<RejectCode>();
  let structural = false;
  for (const issue of result.error.issues) {
    const code =
      issue.code === 'custom' ? (issue.params as { rejectCode?: RejectCode } | undefined)?.rejectCode : undefined;
    if (code === undefined) structural = true;
    else ruleCodes.add(code);
  }
  const code = structural ? RejectCode.Schema : (RULE_PRECEDENCE.find((c) => ruleCodes.has(c)) ?? RejectCode.Schema);
  return { ok: false, code, issues: issuesFromZod(result.error) };
}
