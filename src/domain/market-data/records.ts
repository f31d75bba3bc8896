import { type z } from 'zod';
import { issuesFromZod, type ValidationIssue } from '../validation';
import { MAX_PRICE, MAX_SIZE, toPriceE8 } from './price';
import { RejectCode } from './reject-codes';
import { PolygonQuoteSchema, PolygonTradeSchema, PolygonWsQuoteSchema, PolygonWsTradeSchema } from './schemas';
import { nsFromMillis, parseNs } from './timestamp';

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

const EMPTY: readonly number[] = Object.freeze([]);

// ---- hand-written validators: the hot path. They enforce exactly the rules of schemas.ts (property-tested).

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}
function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
function optInt(v: unknown): boolean {
  return v === undefined || isInt(v);
}
function optIntArray(v: unknown): boolean {
  if (v === undefined) return true;
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (!isInt(v[i])) return false;
  return true;
}
function isPrice(v: unknown): v is number {
  return isNum(v) && v <= MAX_PRICE;
}
function isSize(v: unknown): v is number {
  return isNum(v) && v <= MAX_SIZE;
}
function optPrice(v: unknown): boolean {
  return v === undefined || isPrice(v);
}
function optSize(v: unknown): boolean {
  return v === undefined || isSize(v);
}
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates one `/v3/trades` result object. Never throws. */
export function tradeFromRest(raw: unknown): Parsed<TradeEvent> {
  if (!isObject(raw)) return RejectCode.Schema;
  const price = raw.price;
  const size = raw.size;
  const conditions = raw.conditions;
  const correction = raw.correction;
  const exchange = raw.exchange;
  const id = raw.id;
  const seq = raw.sequence_number;
  const trf = raw.trf_id;
  const sip = parseNs(raw.sip_timestamp);
  const participant = parseNs(raw.participant_timestamp);
  if (
    sip === undefined ||
    !isPrice(price) ||
    !isSize(size) ||
    !isInt(exchange) ||
    typeof id !== 'string' ||
    !isInt(seq) ||
    seq < 0 ||
    !optInt(correction) ||
    !optInt(trf) ||
    !optInt(raw.tape) ||
    !optIntArray(conditions) ||
    participant === undefined ||
    (raw.trf_timestamp !== undefined && parseNs(raw.trf_timestamp) === undefined)
  ) {
    return RejectCode.Schema;
  }
  if (price <= 0) return RejectCode.NonPositivePrice;
  if (size <= 0) return RejectCode.NonPositiveSize;
  const exec = trf !== undefined && (trf as number) >= 0 ? participant : sip;
  return {
    id,
    exchange,
    trfId: trf === undefined ? -1 : (trf as number),
    priceE8: toPriceE8(price),
    size,
    conditions: (conditions as number[] | undefined) ?? EMPTY,
    correction: (correction as number | undefined) ?? 0,
    sequence: seq,
    tsUs: sip.us,
    tsRem: sip.rem,
    execUs: exec.us,
    execRem: exec.rem,
  };
}

function quoteRule(bp: number, bs: number, ap: number, as: number): RejectCode | undefined {
  if (bp < 0 || ap < 0) return RejectCode.NonPositivePrice;
  if (bs < 0 || (bp > 0 && bs === 0) || as < 0 || (ap > 0 && as === 0)) return RejectCode.NonPositiveSize;
  if (bp > 0 && ap > 0 && bp > ap) return RejectCode.CrossedQuote;
  return undefined;
}

/** Validates one `/v3/quotes` result object. Never throws. */
export function quoteFromRest(raw: unknown): Parsed<QuoteEvent> {
  if (!isObject(raw)) return RejectCode.Schema;
  const bp = raw.bid_price;
  const bs = raw.bid_size;
  const ap = raw.ask_price;
  const as = raw.ask_size;
  const seq = raw.sequence_number;
  const sip = parseNs(raw.sip_timestamp);
  if (
    sip === undefined ||
    !optPrice(bp) ||
    !optSize(bs) ||
    !optPrice(ap) ||
    !optSize(as) ||
    !isInt(seq) ||
    seq < 0 ||
    !optInt(raw.bid_exchange) ||
    !optInt(raw.ask_exchange) ||
    !optInt(raw.tape) ||
    !optIntArray(raw.conditions) ||
    !optIntArray(raw.indicators) ||
    parseNs(raw.participant_timestamp) === undefined ||
    (raw.trf_timestamp !== undefined && parseNs(raw.trf_timestamp) === undefined)
  ) {
    return RejectCode.Schema;
  }
  const bidPrice = (bp as number | undefined) ?? 0;
  const askPrice = (ap as number | undefined) ?? 0;
  const bidSize = (bs as number | undefined) ?? 0;
  const askSize = (as as number | undefined) ?? 0;
  const broken = quoteRule(bidPrice, bidSize, askPrice, askSize);
  if (broken !== undefined) return broken;
  return {
    bidE8: toPriceE8(bidPrice),
    bidSize,
    bidExchange: (raw.bid_exchange as number | undefined) ?? 0,
    askE8: toPriceE8(askPrice),
    askSize,
    askExchange: (raw.ask_exchange as number | undefined) ?? 0,
    sequence: seq,
    tsUs: sip.us,
    tsRem: sip.rem,
  };
}

/** Validates one WebSocket `T` message. Never throws. */
export function tradeFromWs(raw: unknown): Parsed<TradeEvent> {
  if (!isObject(raw)) return RejectCode.Schema;
  const { p, s, c, x, i, t, q, trfi } = raw;
  if (
    raw.ev !== 'T' ||
    typeof raw.sym !== 'string' ||
    !isPrice(p) ||
    !isSize(s) ||
    !isInt(x) ||
    typeof i !== 'string' ||
    !isInt(t) ||
    t < 0 ||
    !isInt(q) ||
    q < 0 ||
    !optInt(raw.z) ||
    !optInt(trfi) ||
    !optIntArray(c) ||
    (raw.trft !== undefined && !(isInt(raw.trft) && raw.trft >= 0))
  ) {
    return RejectCode.Schema;
  }
  if (p <= 0) return RejectCode.NonPositivePrice;
  if (s <= 0) return RejectCode.NonPositiveSize;
  const ts = nsFromMillis(t);
  return {
    id: i,
    exchange: x,
    trfId: trfi === undefined ? -1 : (trfi as number),
    priceE8: toPriceE8(p),
    size: s,
    conditions: (c as number[] | undefined) ?? EMPTY,
    correction: 0,
    sequence: q,
    tsUs: ts.us,
    tsRem: ts.rem,
    // WebSocket prints carry no participant time.
    execUs: ts.us,
    execRem: ts.rem,
  };
}

/** Validates one WebSocket `Q` message. Never throws. */
export function quoteFromWs(raw: unknown): Parsed<QuoteEvent> {
  if (!isObject(raw)) return RejectCode.Schema;
  const { bp, bs, ap, t, q } = raw;
  const as = raw.as;
  if (
    raw.ev !== 'Q' ||
    typeof raw.sym !== 'string' ||
    !optPrice(bp) ||
    !optSize(bs) ||
    !optPrice(ap) ||
    !optSize(as) ||
    !isInt(t) ||
    t < 0 ||
    !isInt(q) ||
    q < 0 ||
    !optInt(raw.bx) ||
    !optInt(raw.ax) ||
    !optInt(raw.c) ||
    !optInt(raw.z) ||
    !optIntArray(raw.i)
  ) {
    return RejectCode.Schema;
  }
  const bidPrice = (bp as number | undefined) ?? 0;
  const askPrice = (ap as number | undefined) ?? 0;
  const bidSize = (bs as number | undefined) ?? 0;
  const askSize = (as as number | undefined) ?? 0;
  const broken = quoteRule(bidPrice, bidSize, askPrice, askSize);
  if (broken !== undefined) return broken;
  const ts = nsFromMillis(t);
  return {
    bidE8: toPriceE8(bidPrice),
    bidSize,
    bidExchange: (raw.bx as number | undefined) ?? 0,
    askE8: toPriceE8(askPrice),
    askSize,
    askExchange: (raw.ax as number | undefined) ?? 0,
    sequence: q,
    tsUs: ts.us,
    tsRem: ts.rem,
  };
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
