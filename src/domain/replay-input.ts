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

/** Where a recorded file's records came from, named in every message. */
export interface RecordSource {
  readonly stream: RecordStream;
  /** As given on the command line. */
  readonly path: string;
}

export const EXPECTED = {
  trades:
    'Polygon /v3/trades results: JSON Lines of records, v3 response objects with "results", a JSON array of records, or a flat-file CSV (trades_v1), gzipped or not',
  quotes:
    'Polygon /v3/quotes results: JSON Lines of records, v3 response objects with "results", a JSON array of records, or a flat-file CSV (quotes_v1), gzipped or not',
} as const;

export function failInput(stream: RecordStream, path: string, line: number | undefined, rule: string): never {
  const where = line === undefined ? path : `${path} line ${line}`;
  throw new ValidationError([{ field: `--${stream}`, rule: `${where}: ${rule}` }]);
}

/** Does this look like a record of the other stream (trades and quotes given the wrong way round)? */
export function looksLike(raw: unknown): RecordStream | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  if (r.ev !== undefined) return undefined; // WebSocket messages say what they are
  const quote = 'bid_price' in r || 'ask_price' in r || 'bid_size' in r || 'ask_size' in r;
  const trade = 'price' in r || 'size' in r;
  if (quote && !trade) return RecordStream.Quotes;
  if (trade && !quote) return RecordStream.Trades;
  return undefined;
}

export function kindOf(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'an array';
  return typeof raw === 'object' ? 'an object' : `a ${typeof raw}`;
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

/**
 * Why a record was rejected, field by field for SCHEMA through the zod contract (slower, so only on demand). `raw`:
 * the record as read (null when its text was not JSON); `record`: its 1-based position among the file's records.
 */
export function explainRejection(
  file: RecordSource,
  at: { readonly line: number; readonly record: number },
  code: RejectCode,
  raw: unknown,
): Rejection {
  const base = { file: file.path, stream: file.stream, line: at.line, record: at.record, code };
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

/**
 * After the replay: a file none of whose records was accepted is invalid input, with the first rejection's line and
 * reason; `ignored` are WebSocket messages of another symbol or kind.
 */
export function assertSomeAccepted(
  file: RecordSource,
  tally: { readonly records: number; readonly accepted: number; readonly rejected: number; readonly firstLine: number },
  explain: Rejection | undefined,
): void {
  if (tally.accepted > 0) return;
  const n = tally.records;
  if (tally.rejected === 0)
    return failInput(
      file.stream,
      file.path,
      tally.firstLine,
      `none of its ${n} record(s) is a ${file.stream.slice(0, -1)} of this symbol`,
    );
  const why = explain === undefined ? '' : `; first: ${explain.code} ${explain.field}: ${explain.rule}`;
  return failInput(file.stream, file.path, explain?.line, `all ${n} record(s) were rejected${why}`);
}
