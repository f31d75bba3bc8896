import { parseJsonLossless } from './market-data/json';
import { checkRecord, RecordKind } from './market-data/records';
import { RejectCode } from './market-data/reject-codes';
import { ValidationError, type ValidationIssue } from './validation';

/**
 * Reading a recorded trades or quotes file for replay, strictly: a risk tool must not turn a file it could not
 * read into "0 alerts, no exit signal". A file that is empty, not JSON, of the wrong shape, or whose records were
 * all rejected is invalid input naming the file, the line and what was wrong (issue 12 item 2).
 */

export const RecordStream = { Trades: 'trades', Quotes: 'quotes' } as const;
export type RecordStream = (typeof RecordStream)[keyof typeof RecordStream];

/** The records of one file and, for each, the 1-based line it starts on. */
export interface RecordFile {
  readonly stream: RecordStream;
  /** As given on the command line; named in every message. */
  readonly path: string;
  readonly records: unknown[];
  readonly lines: number[];
}

const EXPECTED = {
  trades: 'Polygon /v3/trades results: a response object with "results", a JSON array of records, or JSON Lines',
  quotes: 'Polygon /v3/quotes results: a response object with "results", a JSON array of records, or JSON Lines',
} as const;

function lineAt(text: string, pos: number): number {
  let line = 1;
  const end = Math.min(pos, text.length);
  for (let i = 0; i < end; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function fail(stream: RecordStream, path: string, line: number | undefined, rule: string): never {
  const where = line === undefined ? path : `${path} line ${line}`;
  throw new ValidationError([{ field: `--${stream}`, rule: `${where}: ${rule}` }]);
}

/**
 * The start line of every element of the records array of a JSON text that parsed: the top-level array, or the
 * "results" array of a top-level object. A scan rather than a second parser, since the text is known to be valid.
 */
function elementLines(text: string): number[] {
  const out: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let stringStart = -1;
  let lastKey = '';
  let recordsDepth = -1;
  let expectValue = false;
  const topIsArray = text.trimStart().startsWith('[');
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) line++;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 92) escaped = true;
      else if (c === 34) {
        inString = false;
        if (depth === 1 && !topIsArray) lastKey = text.slice(stringStart + 1, i);
      }
      continue;
    }
    if (c === 32 || c === 10 || c === 13 || c === 9) continue;
    if (expectValue && depth === recordsDepth && c !== 93) {
      out.push(line);
      expectValue = false;
    }
    if (c === 34) {
      inString = true;
      stringStart = i;
    } else if (c === 123 || c === 91) {
      depth++;
      if (c === 91 && recordsDepth < 0 && ((topIsArray && depth === 1) || (depth === 2 && lastKey === 'results'))) {
        recordsDepth = depth;
        expectValue = true;
      }
    } else if (c === 125 || c === 93) {
      if (depth === recordsDepth) recordsDepth = -2; // only the first records array counts
      depth--;
    } else if (c === 44 && depth === recordsDepth) expectValue = true;
  }
  return out;
}

/** Does this look like a record of the other stream (trades and quotes given the wrong way round)? */
function looksLike(raw: unknown): RecordStream | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  if (r.ev !== undefined) return undefined; // WebSocket messages say what they are
  const quote = 'bid_price' in r || 'ask_price' in r || 'bid_size' in r || 'ask_size' in r;
  const trade = 'price' in r || 'size' in r;
  if (quote && !trade) return RecordStream.Quotes;
  if (trade && !quote) return RecordStream.Trades;
  return undefined;
}

function kindOf(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'an array';
  return typeof raw === 'object' ? 'an object' : `a ${typeof raw}`;
}

/**
 * Parses one recorded file: a v3 response object, a JSON array of records, or JSON Lines (a line that does not
 * parse there is kept as null, so it is a SCHEMA rejection where it stood). Throws ValidationError for a file
 * that is empty, not JSON, not a list of records, or of the other stream.
 */
export function parseReplayFile(text: string, stream: RecordStream, path: string): RecordFile {
  const trimmed = text.trim();
  if (trimmed === '') return fail(stream, path, undefined, `is empty; expected ${EXPECTED[stream]}`);
  let records: unknown[];
  let lines: number[];
  let whole: unknown;
  let wholeError: Error | undefined;
  try {
    whole = parseJsonLossless(text);
  } catch (err) {
    wholeError = err as Error;
  }
  if (wholeError === undefined) {
    if (Array.isArray(whole)) records = whole;
    else if (typeof whole === 'object' && whole !== null && Array.isArray((whole as { results?: unknown }).results))
      records = (whole as { results: unknown[] }).results;
    else if (typeof whole === 'object' && whole !== null) records = [whole];
    else {
      const first = lineAt(text, text.length - text.trimStart().length);
      return fail(stream, path, first, `is ${kindOf(whole)}, not a list of records; expected ${EXPECTED[stream]}`);
    }
    const single = records.length === 1 && records[0] === whole;
    lines = single ? [lineAt(text, text.length - text.trimStart().length)] : elementLines(text);
    if (lines.length !== records.length) lines = records.map(() => 1);
  } else {
    // JSON Lines only when its first line is JSON by itself; otherwise the file is broken JSON (a truncated
    // response, CSV, binary) and the whole-text parser says where.
    records = [];
    lines = [];
    let first = true;
    let start = 0;
    let line = 1;
    while (start <= text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      const l = text.slice(start, end);
      if (l.trim() !== '') {
        try {
          records.push(parseJsonLossless(l));
        } catch (err) {
          if (first) {
            const m = /at position (\d+)$/.exec(wholeError.message);
            const at = m === null ? line : lineAt(text, Number(m[1]));
            const what = wholeError.message.replace(/ at position \d+$/, '');
            return fail(stream, path, at, `not JSON (${what}); expected ${EXPECTED[stream]}`);
          }
          void err;
          records.push(null);
        }
        lines.push(line);
        first = false;
      }
      start = end + 1;
      line++;
    }
  }
  if (records.length === 0) return fail(stream, path, undefined, `holds no records; expected ${EXPECTED[stream]}`);
  const objectAt = records.findIndex((r) => typeof r === 'object' && r !== null && !Array.isArray(r));
  if (objectAt < 0)
    return fail(
      stream,
      path,
      lines[0],
      `wrong shape: record 1 is ${kindOf(records[0])}, and no record is an object; expected ${EXPECTED[stream]}`,
    );
  const other = stream === RecordStream.Trades ? RecordStream.Quotes : RecordStream.Trades;
  if (looksLike(records[objectAt]) === other)
    return fail(
      stream,
      path,
      lines[objectAt],
      `holds ${other.slice(0, -1)} records (${other === RecordStream.Quotes ? 'bid_price/ask_price' : 'price/size'}, no ${
        other === RecordStream.Quotes ? 'price/size' : 'bid_price/ask_price'
      }); were --trades and --quotes given the wrong way round?`,
    );
  return { stream, path, records, lines };
}

/** One rejected record, explained. */
export interface Rejection {
  readonly file: string;
  readonly stream: RecordStream;
  readonly line: number;
  /** 1-based position among the file's records. */
  readonly record: number;
  readonly code: RejectCode;
  /** The field that broke the rule ("sip_timestamp"), "(record)" for the record as a whole. */
  readonly field: string;
  readonly rule: string;
}

const CODE_RULE: Record<RejectCode, { field: string; rule: string }> = {
  SCHEMA: { field: '(record)', rule: 'not a valid record' },
  NON_POSITIVE_PRICE: { field: 'price', rule: 'must be > 0' },
  NON_POSITIVE_SIZE: { field: 'size', rule: 'must be > 0' },
  CROSSED_QUOTE: { field: 'bid_price', rule: 'must not be above ask_price (crossed NBBO)' },
  OUT_OF_ORDER: { field: 'sip_timestamp', rule: 'earlier than a record already processed' },
  DUPLICATE: { field: '(record)', rule: 'repeats a record already processed' },
  STALE: { field: 'sip_timestamp', rule: 'older than staleRejectSeconds' },
};

/** Why a record was rejected, field by field for SCHEMA (through the zod contract: slower, so only on demand). */
export function explainRejection(file: RecordFile, index: number, code: RejectCode): Rejection {
  const raw = file.records[index];
  const base = { file: file.path, stream: file.stream, line: file.lines[index] ?? 1, record: index + 1, code };
  if (code !== RejectCode.Schema) return { ...base, ...CODE_RULE[code] };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return {
      ...base,
      field: '(record)',
      rule: raw === null ? 'not JSON, or null' : `is ${kindOf(raw)}, not an object`,
    };
  const ws = (raw as { ev?: unknown }).ev !== undefined;
  const kind =
    file.stream === RecordStream.Trades
      ? ws && (raw as { ev?: unknown }).ev === 'Q'
        ? RecordKind.WsQuote
        : ws
          ? RecordKind.WsTrade
          : RecordKind.RestTrade
      : ws && (raw as { ev?: unknown }).ev === 'T'
        ? RecordKind.WsTrade
        : ws
          ? RecordKind.WsQuote
          : RecordKind.RestQuote;
  const verdict = checkRecord(kind, raw);
  const issue: ValidationIssue | undefined = verdict.ok ? undefined : verdict.issues[0];
  return { ...base, field: issue?.field || '(record)', rule: issue?.rule ?? 'not a valid record' };
}

/** Tallies of one file's outcomes, kept while it replays. */
export interface StreamTally {
  accepted: number;
  rejected: number;
  ignored: number;
  firstRejected: number;
}

/**
 * After the replay: a file none of whose records was accepted is invalid input, with the first rejection's
 * line and reason; `ignored` are WebSocket messages of another symbol or kind.
 */
export function assertSomeAccepted(file: RecordFile, tally: StreamTally, explain: Rejection | undefined): void {
  if (tally.accepted > 0) return;
  const n = file.records.length;
  if (tally.rejected === 0)
    return fail(
      file.stream,
      file.path,
      file.lines[0],
      `none of its ${n} record(s) is a ${file.stream.slice(0, -1)} of this symbol`,
    );
  const why = explain === undefined ? '' : `; first: ${explain.code} ${explain.field}: ${explain.rule}`;
  return fail(file.stream, file.path, explain?.line, `all ${n} record(s) were rejected${why}`);
}
