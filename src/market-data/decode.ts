/**
 * Decoding Polygon market data at the edge, once: REST `/v3/trades` and `/v3/quotes` results, WebSocket `T`/`Q`
 * messages, and recorded files (JSON Lines, v3 response objects, flat-file CSV rows) become the domain's typed
 * TradeEvent/QuoteEvent, or a reject with its stable code (src/domain/market-data/records.ts). Nothing past this
 * module handles a raw record.
 *
 * The validators below are the hot path and enforce exactly the rules of the zod contract in
 * src/domain/market-data/schemas.ts (property-tested in test/unit/market-data/market-data.test.ts); the contract
 * explains a rejection field by field when an operator asks.
 *
 * JSON: nanosecond timestamps (~1.7e18) do not fit a double, so every parse here keeps them exact as digit strings;
 * everything else is plain JSON.parse (see parsePolygonJson and parseRecordLine).
 */
import {
  IGNORED,
  type MarketRecord,
  type MarketStream,
  type Parsed,
  type QuoteEvent,
  type TradeEvent,
} from '../domain/market-data/records';
import { MAX_PRICE, MAX_SIZE, toPriceE8 } from '../domain/market-data/price';
import { RejectCode } from '../domain/market-data/reject-codes';
import { isNs, nsFromMillis, parseNs, type NsTime } from '../domain/market-data/timestamp';

// ---- JSON with exact nanoseconds

/** A value of 16 or more digits after a key: may not be exact in a double. Keys only, so never inside a string. */
const LONG_INT = /("[^"\\]*"\s*:\s*)(\d{16,})(?=\s*[,}\]])/g;

/**
 * JSON.parse, with every integer value of 16 or more digits (SIP and participant timestamps, /v2/last `t`) kept as
 * its exact digit string. For REST bodies and WebSocket frames. Throws SyntaxError on malformed text.
 */
export function parsePolygonJson(text: string): unknown {
  return JSON.parse(text.replace(LONG_INT, '$1"$2"'));
}

const MAX_US = Number.MAX_SAFE_INTEGER;

/**
 * The exact time of `key` in a record's JSON text whose JSON.parse value `parsed` lost precision: the digits after
 * the key, when they are (within rounding) the number JSON.parse made of them; else undefined (unusual spacing, a
 * repeated key), and the caller parses the text exactly instead. Digits are summed in place: no substrings.
 */
function exactNs(line: string, key: string, parsed: number): NsTime | undefined {
  const at = line.indexOf(key);
  if (at < 0) return undefined;
  const start = at + key.length;
  let end = start;
  for (let c = line.charCodeAt(end); c >= 48 && c <= 57; c = line.charCodeAt(++end));
  const n = end - start;
  if (n < 16 || n > 22) return undefined;
  // Microseconds (below 2^53 when valid) summed exactly; the last three digits are the nanosecond remainder.
  let us = 0;
  for (let i = start; i < end - 3; i++) us = us * 10 + (line.charCodeAt(i) - 48);
  const rem =
    (line.charCodeAt(end - 3) - 48) * 100 + (line.charCodeAt(end - 2) - 48) * 10 + line.charCodeAt(end - 1) - 48;
  if (us > MAX_US || Math.abs(us * 1000 + rem - parsed) > parsed * 2 ** -50) return undefined;
  return { us, rem };
}

const SIP_KEY = '"sip_timestamp":';
const PARTICIPANT_KEY = '"participant_timestamp":';

function unsafe(v: unknown): v is number {
  return typeof v === 'number' && v > Number.MAX_SAFE_INTEGER;
}

/**
 * One record of a recorded file, from its JSON text and `raw = JSON.parse(line)`: the hot path of replay. Timestamps
 * that JSON.parse rounded are read back exactly from the text (exactNs), so this costs little more than JSON.parse
 * and gives the verdict and event decodeRecorded gives on the exact parse (parsePolygonJson), property-tested.
 */
export function decodeRecordedLine(raw: unknown, line: string, stream: MarketStream, symbol: string): MarketRecord {
  if (typeof raw !== 'object' || raw === null || (raw as { ev?: unknown }).ev !== undefined)
    return decodeRecorded(raw, stream, symbol);
  const r = raw as Record<string, unknown>;
  let sip: NsTime | undefined;
  let part: NsTime | undefined;
  const s = r.sip_timestamp;
  const p = r.participant_timestamp;
  if (unsafe(s) && (sip = exactNs(line, SIP_KEY, s)) === undefined)
    return decodeRecorded(parsePolygonJson(line), stream, symbol);
  const trf = r.trf_id;
  if (
    stream === 'trade' &&
    typeof trf === 'number' &&
    trf >= 0 &&
    unsafe(p) &&
    (part = exactNs(line, PARTICIPANT_KEY, p)) === undefined
  )
    return decodeRecorded(parsePolygonJson(line), stream, symbol);
  return stream === 'trade'
    ? rejectOr(tradeFromRest(r, sip, part), 'trade', (trade) => ({ kind: 'trade', trade }))
    : rejectOr(quoteFromRest(r, sip), 'quote', (quote) => ({ kind: 'quote', quote }));
}

// ---- validators: one record object to an event or a reject code. Never throw.

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

/**
 * Validates one `/v3/trades` result object. Never throws. `sipNs`/`participantNs`: the exact times when the
 * caller read them from the text (decodeRecordedLine), the record then holding JSON.parse's rounding of them.
 */
export function tradeFromRest(raw: unknown, sipNs?: NsTime, participantNs?: NsTime): Parsed<TradeEvent> {
  if (!isObject(raw)) return RejectCode.Schema;
  const price = raw.price;
  const size = raw.size;
  const conditions = raw.conditions;
  const correction = raw.correction;
  const exchange = raw.exchange;
  const id = raw.id;
  const seq = raw.sequence_number;
  const trf = raw.trf_id;
  const sip = sipNs ?? parseNs(raw.sip_timestamp);
  // The participant time is only a value for a TRF print (see TradeEvent.execUs); otherwise it is only checked.
  const trfPrint = isInt(trf) && trf >= 0;
  const participant = participantNs ?? (trfPrint ? parseNs(raw.participant_timestamp) : undefined);
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
    (trfPrint ? participant === undefined : participantNs === undefined && !isNs(raw.participant_timestamp)) ||
    (raw.trf_timestamp !== undefined && !isNs(raw.trf_timestamp))
  ) {
    return RejectCode.Schema;
  }
  if (price <= 0) return RejectCode.NonPositivePrice;
  if (size <= 0) return RejectCode.NonPositiveSize;
  const exec = trfPrint ? participant! : sip;
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

/** Validates one `/v3/quotes` result object. Never throws. `sipNs`: as for tradeFromRest. */
export function quoteFromRest(raw: unknown, sipNs?: NsTime): Parsed<QuoteEvent> {
  if (!isObject(raw)) return RejectCode.Schema;
  const bp = raw.bid_price;
  const bs = raw.bid_size;
  const ap = raw.ask_price;
  const as = raw.ask_size;
  const seq = raw.sequence_number;
  const sip = sipNs ?? parseNs(raw.sip_timestamp);
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
    !isNs(raw.participant_timestamp) ||
    (raw.trf_timestamp !== undefined && !isNs(raw.trf_timestamp))
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

// ---- records to MarketRecord

function rejectOr<T extends object>(p: Parsed<T>, stream: MarketStream, wrap: (e: T) => MarketRecord): MarketRecord {
  return typeof p === 'string' ? { kind: 'reject', stream, code: p } : wrap(p);
}

/** One `/v3/trades` (stream 'trade') or `/v3/quotes` (stream 'quote') result object. */
export function decodeRest(raw: unknown, stream: MarketStream): MarketRecord {
  return stream === 'trade'
    ? rejectOr(tradeFromRest(raw), 'trade', (trade) => ({ kind: 'trade', trade }))
    : rejectOr(quoteFromRest(raw), 'quote', (quote) => ({ kind: 'quote', quote }));
}

/**
 * One element of a WebSocket frame for `symbol`: a `T` or `Q` message of that symbol is decoded; status messages,
 * other channels and other symbols are ignored; a `T`/`Q` whose `sym` is not a string is a SCHEMA reject.
 */
export function decodeWs(raw: unknown, symbol: string): MarketRecord {
  const m = typeof raw === 'object' && raw !== null ? (raw as { ev?: unknown; sym?: unknown }) : undefined;
  if (m === undefined || (m.ev !== 'T' && m.ev !== 'Q')) return IGNORED;
  const stream: MarketStream = m.ev === 'T' ? 'trade' : 'quote';
  if (typeof m.sym !== 'string') return { kind: 'reject', stream, code: RejectCode.Schema };
  if (m.sym !== symbol) return IGNORED;
  return stream === 'trade'
    ? rejectOr(tradeFromWs(raw), 'trade', (trade) => ({ kind: 'trade', trade }))
    : rejectOr(quoteFromWs(raw), 'quote', (quote) => ({ kind: 'quote', quote }));
}

/** A record of a recorded file of `stream`: a WebSocket message (it has `ev`) or a REST result object. */
export function decodeRecorded(raw: unknown, stream: MarketStream, symbol: string): MarketRecord {
  if (typeof raw === 'object' && raw !== null && (raw as { ev?: unknown }).ev !== undefined)
    return decodeWs(raw, symbol);
  return decodeRest(raw, stream);
}

// ---- Polygon flat files (daily gzipped CSV of every ticker: us_stocks_sip/trades_v1, quotes_v1)

/** Columns whose cells are integer lists ("12,37", quoted in the CSV when there are several). */
const LIST_COLUMNS = new Set(['conditions', 'indicators']);
/** Columns kept as text: the trade id, and timestamps (exact nanoseconds as digit strings). */
const TEXT_COLUMNS = new Set(['id', 'sip_timestamp', 'participant_timestamp', 'trf_timestamp']);

const CELL_SKIP = 0;
const CELL_TEXT = 1;
const CELL_LIST = 2;
const CELL_NUMBER = 3;

/** How a flat file's columns are read, worked out once from its header row (flatFileRecord). */
export interface FlatFileLayout {
  readonly names: readonly string[];
  readonly kinds: readonly number[];
}

/** The flat files use the REST field names, with `ticker` first (filtered by the reader, not a record field). */
export function flatFileLayout(header: readonly string[]): FlatFileLayout {
  const kinds = header.map((name) =>
    name === 'ticker'
      ? CELL_SKIP
      : TEXT_COLUMNS.has(name)
        ? CELL_TEXT
        : LIST_COLUMNS.has(name)
          ? CELL_LIST
          : CELL_NUMBER,
  );
  return { names: header, kinds };
}

/**
 * A flat-file row (its cells split by the caller) as the v3 REST record it stands for: an empty cell is an absent
 * field; a cell that is not a number where one is expected stays text, so the validator rejects it as SCHEMA.
 */
export function flatFileRecord(layout: FlatFileLayout, cells: readonly string[]): Record<string, unknown> {
  const r: Record<string, unknown> = {};
  const { names, kinds } = layout;
  for (let i = 0; i < names.length; i++) {
    const cell = cells[i];
    if (cell === undefined || cell === '') continue;
    const kind = kinds[i];
    if (kind === CELL_NUMBER) r[names[i]!] = numberOrText(cell);
    else if (kind === CELL_TEXT) r[names[i]!] = cell;
    else if (kind === CELL_LIST) r[names[i]!] = cell.split(',').map(numberOrText);
  }
  return r;
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$/;
/** A cell as JSON would have had it: a number when it is written as a JSON number, else the text. */
function numberOrText(cell: string): number | string {
  // Plain digits (sizes, exchanges, sequence numbers) need no regex; anything else is checked against JSON's grammar.
  const c0 = cell.charCodeAt(0);
  if (c0 >= 49 && c0 <= 57 && cell.length < 16) {
    let plain = true;
    for (let i = 1; i < cell.length && plain; i++) {
      const c = cell.charCodeAt(i);
      plain = c >= 48 && c <= 57;
    }
    if (plain) return Number(cell);
  }
  return NUMBER.test(cell) ? Number(cell) : cell;
}
