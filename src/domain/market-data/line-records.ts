import { parseJsonLossless } from './json';
import { F as FIELDS, LineScanner, ScanResult as SCAN } from './line-scanner';
import { MAX_PRICE as MAX_PX, MAX_SIZE as MAX_SZ, PRICE_SCALE as SCALE } from './price';
import { RejectCode as CODES, type RejectCode as Code } from './reject-codes';
import {
  quoteFromRest,
  quoteFromWs,
  tradeFromRest,
  tradeFromWs,
  type Parsed,
  type QuoteEvent,
  type TradeEvent,
} from './records';

/**
 * The fast path from JSON text to validated events: LineScanner reads the fields in place and the checks
 * below apply exactly the rules of the validators in records.ts (and so of the zod contract). Text the
 * scanner leaves to the general parser goes through parseJsonLossless + those validators. Either way the
 * verdict is the one the general path gives (property-tested on fixtures and generated text).
 *
 * The events written are scratch objects owned by the caller and overwritten by the next call: consume
 * them before reading the next line.
 */

/** A TradeEvent the scanner fills in place. */
export class TradeScratch implements TradeEvent {
  id = '';
  exchange = 0;
  trfId = -1;
  priceE8 = 0;
  size = 0;
  conditions: readonly number[] = EMPTY;
  correction = 0;
  sequence = 0;
  tsUs = 0;
  tsRem = 0;
  execUs = 0;
  execRem = 0;
}

/** A QuoteEvent the scanner fills in place. */
export class QuoteScratch implements QuoteEvent {
  bidE8 = 0;
  bidSize = 0;
  bidExchange = 0;
  askE8 = 0;
  askSize = 0;
  askExchange = 0;
  sequence = 0;
  tsUs = 0;
  tsRem = 0;
}

// Imported bindings copied to module constants: loaders that compile ES modules to CommonJS (tsx, esbuild)
// turn every use of an imported binding into a getter call, which shows up on the per-line path.
const F = FIELDS;
const ScanResult = SCAN;
const RejectCode = CODES;
const MAX_PRICE = MAX_PX;
const MAX_SIZE = MAX_SZ;
const PRICE_SCALE = SCALE;
/** As toPriceE8 in price.ts. */
const toPriceE8 = (price: number) => Math.round(price * PRICE_SCALE);

const EMPTY: readonly number[] = Object.freeze([]);
/** Single-condition arrays are shared (frozen): most prints carry none or one condition. */
const SINGLE: readonly (readonly number[])[] = Array.from({ length: 256 }, (_, c) => Object.freeze([c]));

function conditionsOf(sc: LineScanner, f: number): readonly number[] {
  if (!sc.has(f)) return EMPTY;
  const start = sc.start[f]!;
  const n = sc.end[f]! - start;
  if (n === 0) return EMPTY;
  const e = sc.elems;
  if (n === 1) {
    const c = e[start]!;
    if (c >= 0 && c < 256 && !Object.is(c, -0)) return SINGLE[c]!;
  }
  const out = new Array<number>(n);
  for (let j = 0; j < n; j++) out[j] = e[start + j]!;
  return out;
}

/** parseJsonLossless, with malformed text as null (which every validator rejects as SCHEMA). */
export function parseJsonOrNull(text: string): unknown {
  try {
    return parseJsonLossless(text);
  } catch {
    return null;
  }
}

/** The general path of each kind: parse, then the hand validator. */
export const generalTrade = (line: string) => tradeFromRest(parseJsonOrNull(line));
export const generalQuote = (line: string) => quoteFromRest(parseJsonOrNull(line));
export const generalWsTrade = (line: string) => tradeFromWs(parseJsonOrNull(line));
export const generalWsQuote = (line: string) => quoteFromWs(parseJsonOrNull(line));

// ---- checks on scanned slots (mirrors of records.ts; keep the order of the rules the same)

/** A `/v3/trades` result already scanned into sc. */
export function restTradeFromSlots(sc: LineScanner, out: TradeScratch): Parsed<TradeEvent> {
  if (
    !sc.ns(F.sip_timestamp) ||
    !sc.isNumMax(F.price, MAX_PRICE) ||
    !sc.isNumMax(F.size, MAX_SIZE) ||
    !sc.isInt(F.exchange) ||
    !sc.isStr(F.id) ||
    !sc.isInt(F.sequence_number) ||
    sc.num[F.sequence_number]! < 0 ||
    !sc.optInt(F.correction) ||
    !sc.optInt(F.trf_id) ||
    !sc.optInt(F.tape) ||
    !sc.optIntArray(F.conditions)
  ) {
    return RejectCode.Schema;
  }
  const us = sc.us;
  const rem = sc.rem;
  if (!sc.nsOk(F.participant_timestamp) || (sc.has(F.trf_timestamp) && !sc.nsOk(F.trf_timestamp))) {
    return RejectCode.Schema;
  }
  const price = sc.num[F.price]!;
  const size = sc.num[F.size]!;
  if (price <= 0) return RejectCode.NonPositivePrice;
  if (size <= 0) return RejectCode.NonPositiveSize;
  out.id = sc.str(F.id);
  out.exchange = sc.num[F.exchange]!;
  out.trfId = sc.has(F.trf_id) ? sc.num[F.trf_id]! : -1;
  out.priceE8 = toPriceE8(price);
  out.size = size;
  out.conditions = conditionsOf(sc, F.conditions);
  out.correction = sc.has(F.correction) ? sc.num[F.correction]! : 0;
  out.sequence = sc.num[F.sequence_number]!;
  out.tsUs = us;
  out.tsRem = rem;
  out.execUs = us;
  out.execRem = rem;
  // A TRF print is placed at its participant time (already validated; ns() sets sc.us/sc.rem).
  if (out.trfId >= 0 && sc.ns(F.participant_timestamp)) {
    out.execUs = sc.us;
    out.execRem = sc.rem;
  }
  return out;
}

function quoteRule(bp: number, bs: number, ap: number, as: number): Code | undefined {
  if (bp < 0 || ap < 0) return RejectCode.NonPositivePrice;
  if (bs < 0 || (bp > 0 && bs === 0) || as < 0 || (ap > 0 && as === 0)) return RejectCode.NonPositiveSize;
  if (bp > 0 && ap > 0 && bp > ap) return RejectCode.CrossedQuote;
  return undefined;
}

const numOr0 = (sc: LineScanner, f: number) => (sc.has(f) ? sc.num[f]! : 0);

/** A `/v3/quotes` result already scanned into sc. */
export function restQuoteFromSlots(sc: LineScanner, out: QuoteScratch): Parsed<QuoteEvent> {
  if (
    !sc.ns(F.sip_timestamp) ||
    !sc.optNumMax(F.bid_price, MAX_PRICE) ||
    !sc.optNumMax(F.bid_size, MAX_SIZE) ||
    !sc.optNumMax(F.ask_price, MAX_PRICE) ||
    !sc.optNumMax(F.ask_size, MAX_SIZE) ||
    !sc.isInt(F.sequence_number) ||
    sc.num[F.sequence_number]! < 0 ||
    !sc.optInt(F.bid_exchange) ||
    !sc.optInt(F.ask_exchange) ||
    !sc.optInt(F.tape) ||
    !sc.optIntArray(F.conditions) ||
    !sc.optIntArray(F.indicators)
  ) {
    return RejectCode.Schema;
  }
  const us = sc.us;
  const rem = sc.rem;
  if (!sc.nsOk(F.participant_timestamp) || (sc.has(F.trf_timestamp) && !sc.nsOk(F.trf_timestamp))) {
    return RejectCode.Schema;
  }
  const bidPrice = numOr0(sc, F.bid_price);
  const askPrice = numOr0(sc, F.ask_price);
  const bidSize = numOr0(sc, F.bid_size);
  const askSize = numOr0(sc, F.ask_size);
  const broken = quoteRule(bidPrice, bidSize, askPrice, askSize);
  if (broken !== undefined) return broken;
  out.bidE8 = toPriceE8(bidPrice);
  out.bidSize = bidSize;
  out.bidExchange = numOr0(sc, F.bid_exchange);
  out.askE8 = toPriceE8(askPrice);
  out.askSize = askSize;
  out.askExchange = numOr0(sc, F.ask_exchange);
  out.sequence = sc.num[F.sequence_number]!;
  out.tsUs = us;
  out.tsRem = rem;
  return out;
}

/** A non-negative safe integer. */
function nonNegInt(sc: LineScanner, f: number): boolean {
  return sc.isInt(f) && sc.num[f]! >= 0;
}

/** A WebSocket `T` message already scanned into sc. */
export function wsTradeFromSlots(sc: LineScanner, out: TradeScratch): Parsed<TradeEvent> {
  if (
    !sc.isStr(F.ev) ||
    !sc.strEquals(F.ev, 'T') ||
    !sc.isStr(F.sym) ||
    !sc.isNumMax(F.p, MAX_PRICE) ||
    !sc.isNumMax(F.s, MAX_SIZE) ||
    !sc.isInt(F.x) ||
    !sc.isStr(F.i) ||
    !nonNegInt(sc, F.t) ||
    !nonNegInt(sc, F.q) ||
    !sc.optInt(F.z) ||
    !sc.optInt(F.trfi) ||
    !sc.optIntArray(F.c) ||
    (sc.has(F.trft) && !nonNegInt(sc, F.trft))
  ) {
    return RejectCode.Schema;
  }
  const p = sc.num[F.p]!;
  const s = sc.num[F.s]!;
  if (p <= 0) return RejectCode.NonPositivePrice;
  if (s <= 0) return RejectCode.NonPositiveSize;
  out.id = sc.str(F.i);
  out.exchange = sc.num[F.x]!;
  out.trfId = sc.has(F.trfi) ? sc.num[F.trfi]! : -1;
  out.priceE8 = toPriceE8(p);
  out.size = s;
  out.conditions = conditionsOf(sc, F.c);
  out.correction = 0;
  out.sequence = sc.num[F.q]!;
  out.tsUs = sc.num[F.t]! * 1000;
  out.tsRem = 0;
  out.execUs = out.tsUs;
  out.execRem = 0;
  return out;
}

/** A WebSocket `Q` message already scanned into sc. */
export function wsQuoteFromSlots(sc: LineScanner, out: QuoteScratch): Parsed<QuoteEvent> {
  if (
    !sc.isStr(F.ev) ||
    !sc.strEquals(F.ev, 'Q') ||
    !sc.isStr(F.sym) ||
    !sc.optNumMax(F.bp, MAX_PRICE) ||
    !sc.optNumMax(F.bs, MAX_SIZE) ||
    !sc.optNumMax(F.ap, MAX_PRICE) ||
    !sc.optNumMax(F.as, MAX_SIZE) ||
    !nonNegInt(sc, F.t) ||
    !nonNegInt(sc, F.q) ||
    !sc.optInt(F.bx) ||
    !sc.optInt(F.ax) ||
    !sc.optInt(F.c) ||
    !sc.optInt(F.z) ||
    !sc.optIntArray(F.i)
  ) {
    return RejectCode.Schema;
  }
  const bidPrice = numOr0(sc, F.bp);
  const askPrice = numOr0(sc, F.ap);
  const bidSize = numOr0(sc, F.bs);
  const askSize = numOr0(sc, F.as);
  const broken = quoteRule(bidPrice, bidSize, askPrice, askSize);
  if (broken !== undefined) return broken;
  out.bidE8 = toPriceE8(bidPrice);
  out.bidSize = bidSize;
  out.bidExchange = numOr0(sc, F.bx);
  out.askE8 = toPriceE8(askPrice);
  out.askSize = askSize;
  out.askExchange = numOr0(sc, F.ax);
  out.sequence = sc.num[F.q]!;
  out.tsUs = sc.num[F.t]! * 1000;
  out.tsRem = 0;
  return out;
}

/** Reusable scanner and scratch events; one per consumer (not shared across interleaved calls). */
export class LineReader {
  readonly sc = new LineScanner();
  readonly trade = new TradeScratch();
  readonly quote = new QuoteScratch();
  /** Lines the scanner handed to the general parser (for tests and diagnostics). */
  general = 0;

  /** One `/v3/trades` result as JSON text. */
  restTrade(line: string): Parsed<TradeEvent> {
    const r = this.sc.scan(line);
    if (r === ScanResult.Ok) return restTradeFromSlots(this.sc, this.trade);
    if (r === ScanResult.Syntax) return RejectCode.Schema;
    this.general++;
    return generalTrade(line);
  }

  /** One `/v3/quotes` result as JSON text. */
  restQuote(line: string): Parsed<QuoteEvent> {
    const r = this.sc.scan(line);
    if (r === ScanResult.Ok) return restQuoteFromSlots(this.sc, this.quote);
    if (r === ScanResult.Syntax) return RejectCode.Schema;
    this.general++;
    return generalQuote(line);
  }

  /** One WebSocket `T` message as JSON text. */
  wsTrade(line: string): Parsed<TradeEvent> {
    const r = this.sc.scan(line);
    if (r === ScanResult.Ok) return wsTradeFromSlots(this.sc, this.trade);
    if (r === ScanResult.Syntax) return RejectCode.Schema;
    this.general++;
    return generalWsTrade(line);
  }

  /** One WebSocket `Q` message as JSON text. */
  wsQuote(line: string): Parsed<QuoteEvent> {
    const r = this.sc.scan(line);
    if (r === ScanResult.Ok) return wsQuoteFromSlots(this.sc, this.quote);
    if (r === ScanResult.Syntax) return RejectCode.Schema;
    this.general++;
    return generalWsQuote(line);
  }
}
