/**
 * Recorded Polygon files read as streams, for replay: memory stays flat whatever the file size (a day of one
 * liquid stock's quotes is gigabytes). Accepted, gzipped or not (detected by the gzip magic bytes):
 * - JSON Lines of records: `/v3/trades` or `/v3/quotes` result objects, or WebSocket `T`/`Q` messages;
 * - v3 response objects (`{"results":[…],"status":"OK",…}`), one or several, on one line each or pretty-printed; a
 *   response without `results` is an empty answer, not a record; a JSON array of records;
 * - Polygon flat files (us_stocks_sip/trades_v1, quotes_v1): CSV with a header row whose first column is `ticker`
 *   and the REST field names after it, every ticker of the day; rows of other tickers are skipped while streaming.
 * Each record is decoded once, here (decode.ts). A file that is empty, not JSON, of the wrong shape or of the other
 * stream is invalid input naming the file and the line (a ValidationError, exit 2 in the CLI).
 */
import { isAscii } from 'node:buffer';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { recordRem, recordUs, type MarketRecord, type MarketStream } from '../domain/market-data/records';
import { RejectCode } from '../domain/market-data/reject-codes';
import { EXPECTED, failInput, kindOf, looksLike, RecordStream, type RecordSource } from '../domain/replay-input';
import { ValidationError } from '../domain/validation';
import {
  decodeRecorded,
  decodeRecordedLine,
  decodeRest,
  flatFileLayout,
  flatFileRecord,
  parsePolygonJson,
  type FlatFileLayout,
} from './decode';

/** A run of consecutive records of one file. */
export interface RecordBatch {
  readonly records: MarketRecord[];
  /** The 1-based line each record starts on. */
  readonly lines: number[];
  /** 0-based position in the file of records[0]. */
  readonly base: number;
  /** The record as read, for rejects only (explanations, `--trades-out`), by index in this batch; null: not JSON. */
  readonly raws: Map<number, unknown>;
}

const CHUNK_BYTES = 1 << 20;
/**
 * How many timed records open a file for the newest-first check. A Polygon answer with order=desc goes backwards at
 * nearly every step; a time-ordered file goes forwards, with at most a stray late print. So the file is refused
 * when more of its first steps go backwards than forwards: 64 records is a fraction of one chunk, decided before
 * the first batch is handed on, and two records are enough for a file that short.
 */
const ORDER_WINDOW = 64;
const WS = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

type Mode = 'detect' | 'lines' | 'csv' | 'json';

/** Response envelope keys: an object with these and no record fields is an answer, not a record. */
function isEnvelope(o: unknown): boolean {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return false;
  const r = o as Record<string, unknown>;
  if ('results' in r) return true;
  if ('sip_timestamp' in r || 'ev' in r) return false;
  return 'status' in r || 'request_id' in r || 'next_url' in r;
}

export class RecordFileReader implements RecordSource {
  readonly stream: RecordStream;
  private readonly kind: MarketStream;
  private readonly chunks: AsyncIterator<string>;
  private mode: Mode = 'detect';
  private buf = '';
  private eof = false;
  /** Line number of buf[0]. */
  private line = 1;
  /** Records read so far (of this symbol, for flat files). */
  count = 0;
  /** Line of the first record (for messages about the whole file). */
  firstLine: number | undefined;
  private firstRaw: unknown = undefined;
  private sawObject = false;
  private out: RecordBatch = RecordFileReader.batch(0);
  // newest-first check over the first ORDER_WINDOW timed records
  private orderSeen = 0;
  private orderPrevUs = -1;
  private orderPrevRem = 0;
  private orderUp = 0;
  private orderDown = 0;
  // csv
  private layout: FlatFileLayout | undefined;
  private readonly rowPrefix: string;
  // json scanner state
  private depth = 0;
  private inStr = false;
  private esc = false;
  private top: 'none' | 'array' | 'object' = 'none';
  private recDepth = -1;
  private elemStart = -1;
  private elemLine = 0;
  private objStart = -1;
  private objLine = 0;
  private keyStart = -1;
  private lastKey = '';
  private sawResults = false;
  private scanPos = 0;

  constructor(
    readonly path: string,
    stream: RecordStream,
    private readonly symbol: string,
  ) {
    this.stream = stream;
    this.kind = stream === RecordStream.Trades ? 'trade' : 'quote';
    this.rowPrefix = `${symbol},`;
    this.chunks = textChunks(path, `--${stream}`);
  }

  private static batch(base: number): RecordBatch {
    return { records: [], lines: [], base, raws: new Map() };
  }

  /** The next records (at least one), or null at the end of the file. Throws ValidationError on bad input. */
  async next(): Promise<RecordBatch | null> {
    for (;;) {
      if (this.eof) this.checkOrder();
      if (this.out.records.length > 0 && (this.out.records.length >= 4096 || this.eof)) return this.take();
      if (this.eof) {
        if (this.out.records.length > 0) return this.take();
        this.finish();
        return null;
      }
      const r = await this.chunks.next();
      if (r.done) this.eof = true;
      else this.buf = this.buf.length === 0 ? r.value : this.buf + r.value;
      this.process();
      if (this.out.records.length > 0 && !this.eof) return this.take();
    }
  }

  private take(): RecordBatch {
    const b = this.out;
    this.out = RecordFileReader.batch(this.count);
    return b;
  }

  private fail(line: number | undefined, rule: string): never {
    return failInput(this.stream, this.path, line, rule);
  }

  /** Refuses a file whose first records go backwards in time more often than forwards (see ORDER_WINDOW). */
  private checkOrder(): void {
    if (this.orderSeen === Number.MAX_SAFE_INTEGER) return;
    this.orderSeen = Number.MAX_SAFE_INTEGER;
    if (this.orderDown > this.orderUp)
      this.fail(
        undefined,
        `records are newest first (Polygon's order=desc: ${this.orderDown} of the first ${this.orderUp + this.orderDown} ` +
          'time steps go backwards); fetch with order=asc, or sort the file',
      );
  }

  private orderStep(record: MarketRecord): void {
    const us = recordUs(record);
    if (us < 0) return;
    const rem = recordRem(record);
    if (this.orderPrevUs >= 0) {
      if (us > this.orderPrevUs || (us === this.orderPrevUs && rem > this.orderPrevRem)) this.orderUp++;
      else if (us < this.orderPrevUs || rem < this.orderPrevRem) this.orderDown++;
    }
    this.orderPrevUs = us;
    this.orderPrevRem = rem;
    if (++this.orderSeen >= ORDER_WINDOW) this.checkOrder();
  }

  private notJson(line: number, what: string): never {
    return this.fail(line, `not JSON (${what}); expected ${EXPECTED[this.stream]}`);
  }

  /** A record read: decoded (or rejected) and checked against the file's expected stream. */
  private push(raw: unknown, record: MarketRecord, line: number): void {
    const b = this.out;
    if (this.count === 0) {
      this.firstLine = line;
      this.firstRaw = raw;
    }
    if (!this.sawObject && typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
      this.sawObject = true;
      const other = this.stream === RecordStream.Trades ? RecordStream.Quotes : RecordStream.Trades;
      if (looksLike(raw) === other) {
        const [has, not] =
          other === RecordStream.Quotes ? ['bid_price/ask_price', 'price/size'] : ['price/size', 'bid_price/ask_price'];
        this.fail(
          line,
          `holds ${other.slice(0, -1)} records (${has}, no ${not}); were --trades and --quotes given the wrong way round?`,
        );
      }
    }
    if (record.kind === 'reject') b.raws.set(b.records.length, raw);
    else if (this.orderSeen < ORDER_WINDOW) this.orderStep(record);
    b.records.push(record);
    b.lines.push(line);
    this.count++;
  }

  private pushText(text: string, line: number, strict: boolean): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      if (strict) this.notJson(line, (err as Error).message.replace(/ in JSON at position \d+.*$/, ''));
      this.push(null, { kind: 'reject', stream: this.kind, code: RejectCode.Schema }, line);
      return;
    }
    const record = decodeRecordedLine(raw, text, this.kind, this.symbol);
    // A reject keeps its record exactly as written (explanations, --trades-out): rare, so parsed again.
    this.push(record.kind === 'reject' ? parsePolygonJson(text) : raw, record, line);
  }

  private finish(): void {
    if (this.mode === 'detect') this.fail(undefined, `is empty; expected ${EXPECTED[this.stream]}`);
    if (this.mode === 'json' && (this.depth > 0 || this.inStr)) this.notJson(this.line, 'unexpected end of JSON');
    if (this.count === 0) {
      if (this.mode === 'csv')
        this.fail(undefined, `holds no records of ${this.symbol} (flat file filtered on --symbol)`);
      this.fail(undefined, `holds no records; expected ${EXPECTED[this.stream]}`);
    }
    if (!this.sawObject)
      this.fail(
        this.firstLine,
        `wrong shape: record 1 is ${kindOf(this.firstRaw)}, and no record is an object; expected ${EXPECTED[this.stream]}`,
      );
  }

  private process(): void {
    if (this.mode === 'detect' && !this.detect()) return;
    if (this.mode === 'json') this.scanJson();
    else this.readLines();
  }

  /** Decides the format from the first line; false while more text is needed. */
  private detect(): boolean {
    const s = this.buf;
    let i = 0;
    while (i < s.length && WS(s.charCodeAt(i))) i++;
    if (i === s.length) return this.eof ? false : false;
    let nl = s.indexOf('\n', i);
    if (nl < 0 && !this.eof) return false;
    if (nl < 0) nl = s.length;
    const first = s.slice(i, nl).trim();
    if (/^"?ticker"?,/.test(first)) this.mode = 'csv';
    else if (s.charCodeAt(i) === 123) {
      let o: unknown;
      try {
        o = JSON.parse(first);
      } catch {
        o = undefined;
      }
      this.mode = typeof o === 'object' && o !== null && !Array.isArray(o) && !isEnvelope(o) ? 'lines' : 'json';
    } else this.mode = 'json';
    return true;
  }

  /** JSON Lines and flat-file CSV: one record per line. */
  private readLines(): void {
    const s = this.buf;
    const n = s.length;
    let start = 0;
    let line = this.line;
    const csv = this.mode === 'csv';
    for (;;) {
      let end = s.indexOf('\n', start);
      if (end < 0) {
        if (!this.eof || start >= n) break;
        end = n;
      }
      let stop = end;
      if (stop > start && s.charCodeAt(stop - 1) === 13) stop--;
      if (stop > start) {
        if (csv) this.csvRow(s, start, stop, line);
        else {
          const text = s.slice(start, stop);
          if (text.trim() !== '') this.pushText(text, line, false);
        }
      }
      start = end + 1;
      line++;
    }
    this.buf = start >= n ? '' : s.slice(start);
    this.line = line;
  }

  private csvRow(s: string, start: number, stop: number, line: number): void {
    if (this.layout === undefined) {
      this.layout = flatFileLayout(splitCsv(s.slice(start, stop)).map((h) => h.trim().toLowerCase()));
      return;
    }
    // Every ticker of the day: skip other symbols before splitting anything.
    if (!s.startsWith(this.rowPrefix, start) && !s.startsWith(`"${this.rowPrefix.slice(0, -1)}",`, start)) return;
    const text = s.slice(start, stop);
    const raw = flatFileRecord(this.layout, text.includes('"') ? splitCsv(text) : text.split(','));
    this.push(raw, decodeRest(raw, this.kind), line);
  }

  /**
   * Any other JSON: a scan that finds each record of a top-level array, or of the `results` array of each
   * top-level object, and parses it alone, so no more than one record (or one envelope) is held at a time.
   */
  private scanJson(): void {
    const s = this.buf;
    const n = s.length;
    let i = this.scanPos;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (this.inStr) {
        if (this.esc) this.esc = false;
        else if (c === 92) this.esc = true;
        else if (c === 34) {
          this.inStr = false;
          if (this.top === 'object' && this.depth === 1 && this.keyStart >= 0)
            this.lastKey = s.slice(this.keyStart + 1, i);
          if (this.elemStart >= 0 && this.depth === this.recDepth) this.emit(s, i + 1);
        } else if (c === 10) this.line++;
        continue;
      }
      if (c === 10) {
        this.line++;
        if (this.elemStart >= 0 && this.depth === this.recDepth) this.emit(s, i);
        continue;
      }
      if (WS(c)) {
        if (this.elemStart >= 0 && this.depth === this.recDepth) this.emit(s, i);
        continue;
      }
      if (this.depth === 0) {
        if (c === 91) {
          this.top = 'array';
          this.depth = 1;
          this.recDepth = 1;
        } else if (c === 123) {
          this.top = 'object';
          this.depth = 1;
          this.objStart = i;
          this.objLine = this.line;
          this.lastKey = '';
          this.sawResults = false;
        } else this.topScalar(s, i);
        continue;
      }
      if (this.depth === this.recDepth) {
        if (this.elemStart >= 0) {
          // A scalar record ends at its delimiter.
          if (c === 44 || c === 93) this.emit(s, i);
        }
        if (this.elemStart < 0) {
          if (c === 44) continue;
          if (c === 93) {
            this.depth--;
            this.recDepth = -1;
            if (this.depth === 0) this.top = 'none';
            continue;
          }
          this.elemStart = i;
          this.elemLine = this.line;
        }
      }
      if (c === 34) {
        this.inStr = true;
        this.keyStart = this.top === 'object' && this.depth === 1 ? i : -1;
      } else if (c === 123 || c === 91) {
        if (c === 91 && this.top === 'object' && this.depth === 1 && this.lastKey === 'results' && !this.sawResults) {
          this.sawResults = true;
          this.objStart = -1; // the envelope is not kept: its records are read one by one
          this.recDepth = 2;
        }
        this.depth++;
      } else if (c === 125 || c === 93) {
        this.depth--;
        if (this.depth < 0) this.notJson(this.line, 'unexpected character');
        if (this.elemStart >= 0 && this.depth === this.recDepth) this.emit(s, i + 1);
        else if (this.depth === 0) this.endTop(s, i + 1);
      }
    }
    // Keep only the unfinished record (or envelope) text.
    const keep = this.elemStart >= 0 ? this.elemStart : this.objStart;
    if (keep < 0) {
      this.buf = '';
      this.scanPos = 0;
    } else {
      this.buf = s.slice(keep);
      this.scanPos = i - keep;
      if (this.elemStart >= 0) this.elemStart -= keep;
      if (this.objStart >= 0) this.objStart -= keep;
    }
  }

  private emit(s: string, end: number): void {
    this.pushText(s.slice(this.elemStart, end), this.elemLine, true);
    this.elemStart = -1;
  }

  /** A top-level object ended: its records were read, or it is an empty answer, or it is one record. */
  private endTop(s: string, end: number): void {
    if (this.top === 'object' && !this.sawResults && this.objStart >= 0) {
      const text = s.slice(this.objStart, end);
      let o: unknown;
      try {
        o = parsePolygonJson(text);
      } catch (err) {
        this.notJson(this.objLine, (err as Error).message.replace(/ in JSON at position \d+.*$/, ''));
      }
      if (!isEnvelope(o)) this.push(o, decodeRecorded(o, this.kind, this.symbol), this.objLine);
    }
    this.objStart = -1;
    this.top = 'none';
  }

  /** A top-level value that is not an array or object: a wrong shape if it is JSON, else not JSON. */
  private topScalar(s: string, i: number): never {
    let end = i;
    while (end < s.length && !WS(s.charCodeAt(end))) end++;
    let v: unknown;
    try {
      v = JSON.parse(s.slice(i, end));
    } catch {
      return this.notJson(this.line, 'unexpected character');
    }
    return this.fail(this.line, `is ${kindOf(v)}, not a list of records; expected ${EXPECTED[this.stream]}`);
  }
}

/** One CSV line split into cells; double quotes group a cell ("12,37") and "" is a quote inside one. */
export function splitCsv(line: string): string[] {
  const out: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cell);
      cell = '';
    } else cell += c;
  }
  out.push(cell);
  return out;
}

/**
 * What went wrong reading a file, for a person: zlib's codes say little alone, so a gzip file cut short or corrupted
 * is named as such, the code kept in parentheses for a search.
 */
export function readError(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `file not found: ${path}`;
  if (code === 'Z_BUF_ERROR') return `${path} is truncated (the gzip stream ends early) (Z_BUF_ERROR)`;
  if (code === 'Z_DATA_ERROR') return `${path} is not a valid gzip stream (corrupt data) (Z_DATA_ERROR)`;
  return `cannot read ${path} (${code ?? String(err)})`;
}

/** The file's text in chunks, gunzipped when it starts with the gzip magic bytes. Read errors name the flag. */
async function* textChunks(path: string, flag: string): AsyncGenerator<string> {
  const cannot = (err: unknown): ValidationError => new ValidationError([{ field: flag, rule: readError(path, err) }]);
  let gz = false;
  try {
    const fd = openSync(path, 'r');
    try {
      const magic = Buffer.alloc(2);
      gz = readSync(fd, magic, 0, 2, null) === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw cannot(err);
  }
  const file = createReadStream(path, { highWaterMark: CHUNK_BYTES });
  const source = gz ? file.pipe(createGunzip({ chunkSize: CHUNK_BYTES })) : file;
  if (gz) file.on('error', (err) => source.destroy(err));
  let decoder = new StringDecoder('utf8');
  let decoding = false;
  try {
    for await (const chunk of source) {
      const bytes = chunk as Buffer;
      // Polygon files are ASCII: such a chunk is its own text (a cheap one-byte copy, no UTF-8 decoding). A chunk
      // that is not goes through the decoder, which carries a character split across chunks.
      if (!isAscii(bytes)) {
        decoding = true;
        yield decoder.write(bytes);
        continue;
      }
      if (decoding) {
        const pending = decoder.end();
        if (pending !== '') yield pending;
        decoder = new StringDecoder('utf8');
        decoding = false;
      }
      yield bytes.toString('latin1');
    }
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw cannot(err);
  } finally {
    file.destroy();
    source.destroy();
  }
  const tail = decoder.end();
  if (tail !== '') yield tail;
}
