/**
 * Polygon REST on @polygon.io/client-js: trades and NBBO quotes since a cursor, last trade/quote, key check.
 *
 * Records are returned as Polygon sent them (loosely typed; src/domain validates them), except that
 * nanosecond timestamps are exact decimal-digit strings (parsePolygonJson in decode.ts). Every HTTP request, including
 * each next_url page, first takes a permit from the shared rate limiter.
 */
import { z } from 'zod';
import { nsToBigInt, parseNs } from '../domain/market-data/timestamp';
import { parseOrThrow } from '../domain/validation';
import {
  maskApiKey,
  PolygonError,
  PolygonRateLimited,
  PolygonRequestRejected,
  PolygonUnauthorized,
  PolygonUnavailable,
} from './polygon-errors';
import { parsePolygonJson } from './decode';
import { loadPolygonSdk, type PolygonSdk } from './polygon-sdk';
import { sharedRateLimiter, type TokenBucketRateLimiter } from './rate-limiter';
import { parseRetryAfter } from '../shared/retry-after';

/** A v3 trade as sent by Polygon; every field unchecked (timestamps are digit strings). */
export interface PolygonWireTrade {
  readonly conditions?: unknown;
  readonly correction?: unknown;
  readonly exchange?: unknown;
  readonly id?: unknown;
  readonly participant_timestamp?: unknown;
  readonly price?: unknown;
  readonly sequence_number?: unknown;
  readonly sip_timestamp?: unknown;
  readonly size?: unknown;
  readonly tape?: unknown;
  readonly trf_id?: unknown;
  readonly trf_timestamp?: unknown;
  readonly [field: string]: unknown;
}

/** A v3 NBBO quote as sent by Polygon; every field unchecked. */
export interface PolygonWireQuote {
  readonly ask_exchange?: unknown;
  readonly ask_price?: unknown;
  readonly ask_size?: unknown;
  readonly bid_exchange?: unknown;
  readonly bid_price?: unknown;
  readonly bid_size?: unknown;
  readonly conditions?: unknown;
  readonly indicators?: unknown;
  readonly participant_timestamp?: unknown;
  readonly sequence_number?: unknown;
  readonly sip_timestamp?: unknown;
  readonly tape?: unknown;
  readonly [field: string]: unknown;
}

/** `results` of /v2/last/trade (T,c,e,f,i,p,q,r,s,t,x,y,z; t/y/f in ns as digit strings). */
export type PolygonWireLastTrade = Readonly<Record<string, unknown>>;
/** `results` of /v2/last/nbbo (P,S,X ask; p,s,x bid; T,c,i,q,t,y,z). */
export type PolygonWireLastQuote = Readonly<Record<string, unknown>>;

/**
 * Where the next fetch starts. Exact at equal timestamps: the next request asks for `timestamp.gte =
 * sipTimestamp` and drops the records listed in `seenAtTimestamp` (the sequence numbers already returned at
 * exactly that nanosecond), so a burst of prints sharing one timestamp is neither lost (as with `gt`) nor
 * duplicated (as with plain `gte`). `resumePath` continues an interrupted next_url chain (no key in it).
 * Plain JSON, so it can travel through Temporal payloads.
 */
export interface PolygonCursor {
  readonly sipTimestamp: string;
  readonly seenAtTimestamp: readonly string[];
  readonly resumePath?: string;
  /**
   * The exclusive upper bound (ns) of the query that started the `resumePath` chain, null when it had none; absent
   * in cursors written before it was recorded (unknown). A chain keeps its query's bound, and a poll bounds its
   * quotes by its newest trade, so the next poll's bound may differ: see fetchSince.
   */
  readonly resumeUntilNs?: string | null;
}

export const PolygonCursorSchema = z.object({
  sipTimestamp: z.string().regex(/^\d{1,20}$/, 'must be a non-negative integer nanosecond timestamp'),
  seenAtTimestamp: z.array(z.string()).max(1_000_000, 'must list at most 1000000 keys'),
  resumePath: z
    .string()
    .regex(/^\/v3\/(trades|quotes)\/[^?#]+\?[^#]*$/, 'must be a /v3 path with a query')
    .optional(),
  resumeUntilNs: z
    .string()
    .regex(/^\d{1,20}$/, 'must be integer nanoseconds')
    .nullable()
    .optional(),
});

export interface PolygonPage<T> {
  /** Ascending by sip_timestamp, each record once; malformed rows are included as received. */
  readonly records: T[];
  readonly cursor: PolygonCursor;
  /** HTTP requests made for this call. */
  readonly pages: number;
  /** True when maxPages stopped the call with more data waiting: call again with `cursor`. */
  readonly truncated: boolean;
  /**
   * Set when the source stopped advancing (a next_url seen before in this call, or a page of nothing but records
   * already returned): the chain was not followed further, repeats were dropped and `truncated` is false, so
   * the caller keeps its normal cadence instead of asking again at once (polygon-io issue 289).
   */
  readonly stalled?: { readonly reason: string; readonly repeated: number };
}

export interface FetchOptions {
  /**
   * Only records with sip_timestamp below this (exclusive upper bound, ns). It may differ from the bound of the
   * call that left the cursor's resumePath: the chain is followed up to the lower of the two, then a query reads on.
   */
  readonly untilNs?: string;
  readonly maxPages?: number;
}

export interface PolygonRestOptions {
  readonly apiKey: string;
  /** Default https://api.polygon.io; a stand-in's http://127.0.0.1:PORT in tests and the demo. */
  readonly baseUrl?: string;
  /** Records per page, 1–50000; default 10000. */
  readonly pageLimit?: number;
  /** Pages per fetch call; default 5. */
  readonly maxPages?: number;
  /** Per request; default 10000 ms. */
  readonly timeoutMs?: number;
  /** Wait advised on a 429 without Retry-After; default 1000 ms. */
  readonly defaultRetryAfterMs?: number;
  /** Default: the process-wide limiter named 'polygon' (5 requests/s). */
  readonly rateLimiter?: TokenBucketRateLimiter;
  readonly sdk?: PolygonSdk;
}

export interface PolygonRest {
  fetchTradesSince(
    symbol: string,
    cursor: PolygonCursor,
    options?: FetchOptions,
  ): Promise<PolygonPage<PolygonWireTrade>>;
  fetchQuotesSince(
    symbol: string,
    cursor: PolygonCursor,
    options?: FetchOptions,
  ): Promise<PolygonPage<PolygonWireQuote>>;
  /** undefined when Polygon has no last trade for the symbol (404). */
  lastTrade(symbol: string): Promise<PolygonWireLastTrade | undefined>;
  lastQuote(symbol: string): Promise<PolygonWireLastQuote | undefined>;
  /** Resolves when the key may read trades and quotes; PolygonUnauthorized otherwise. */
  validateKey(probeSymbol?: string): Promise<void>;
  /**
   * One-minute aggregates (`/v2/aggs/ticker/{T}/range/1/minute/{from}/{to}`, dates YYYY-MM-DD inclusive, New York
   * calendar as Polygon counts them), ascending, in one request through the rate limiter: up to 50,000 bars,
   * about 50 sessions with extended hours. Rows are passed on as received (`t` ms, `v` shares); a missing or
   * non-array `results` is no bars (Polygon leaves it out when there are none).
   */
  minuteAggregates(symbol: string, from: string, to: string): Promise<Record<string, unknown>[]>;
  /** /v1/marketstatus/upcoming as sent (an array of holiday rows, unchecked: the caller decodes it). */
  marketHolidays(): Promise<unknown>;
  /** /v1/marketstatus/now as sent (unchecked). */
  marketStatus(): Promise<unknown>;
}

/** A cursor that includes every record at or after `ns`. */
export function cursorFrom(ns: string | bigint): PolygonCursor {
  const text = typeof ns === 'bigint' ? ns.toString() : ns;
  return parseOrThrow(PolygonCursorSchema, { sipTimestamp: text, seenAtTimestamp: [] }, 'cursor');
}

/**
 * The leading part of a fetched page whose records are stamped at or before `throughNs`, with the cursor that
 * resumes right after it (the records cut off are asked for again from there). Records are ascending, so the cut
 * is a prefix; a malformed row (no time) stays with the records around it. Nothing cut: the page as it is.
 * Anything cut: `truncated`, as more is waiting. Used by a poll whose quotes stopped short of its trades: a trade
 * beyond the last quote fetched would be classified against an NBBO that is no longer in force.
 */
export function pageThrough<T>(page: PolygonPage<T>, start: PolygonCursor, throughNs: bigint): PolygonPage<T> {
  let keep = 0;
  let maxTs = BigInt(start.sipTimestamp);
  let seenAtMax = new Set(start.seenAtTimestamp);
  for (const record of page.records) {
    const t = isObject(record) ? parseNs(record.sip_timestamp) : undefined;
    const ts = t === undefined ? undefined : nsToBigInt(t);
    if (ts !== undefined && ts > throughNs) break;
    keep += 1;
    if (ts === undefined) continue;
    const key = recordKey(record as Record<string, unknown>);
    if (ts > maxTs) {
      maxTs = ts;
      seenAtMax = new Set([key]);
    } else if (ts === maxTs) seenAtMax.add(key);
  }
  if (keep === page.records.length) return page;
  // Nothing kept: the start cursor as it was (its resumePath, if any, still leads to the same records).
  const cursor = keep === 0 ? start : { sipTimestamp: maxTs.toString(), seenAtTimestamp: [...seenAtMax] };
  return { ...page, records: page.records.slice(0, keep), cursor, truncated: true };
}

type Kind = 'trades' | 'quotes';
type RestClient = ReturnType<PolygonSdk['restClient']>;

interface AxiosLikeError {
  readonly isAxiosError: true;
  readonly code?: string;
  readonly message: string;
  readonly config?: { readonly url?: unknown };
  readonly response?: { readonly status: number; readonly headers?: Record<string, unknown>; readonly data?: unknown };
}

export async function createPolygonRest(options: PolygonRestOptions): Promise<PolygonRest> {
  const sdk = options.sdk ?? (await loadPolygonSdk());
  return new PolygonRestAdapter(sdk, options);
}

class PolygonRestAdapter implements PolygonRest {
  private readonly client: RestClient;
  private readonly apiKey: string;
  private readonly pageLimit: number;
  private readonly maxPages: number;
  private readonly timeoutMs: number;
  private readonly defaultRetryAfterMs: number;
  private readonly limiter: TokenBucketRateLimiter;

  constructor(
    private readonly sdk: PolygonSdk,
    options: PolygonRestOptions,
  ) {
    if (!options.apiKey) throw new PolygonUnauthorized('no Polygon API key configured');
    this.apiKey = options.apiKey;
    this.pageLimit = options.pageLimit ?? 10_000;
    this.maxPages = options.maxPages ?? 5;
    if (!Number.isInteger(this.pageLimit) || this.pageLimit < 1 || this.pageLimit > 50_000) {
      throw new RangeError('pageLimit must be an integer from 1 to 50000');
    }
    if (!Number.isInteger(this.maxPages) || this.maxPages < 1)
      throw new RangeError('maxPages must be a positive integer');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.defaultRetryAfterMs = options.defaultRetryAfterMs ?? 1000;
    this.limiter = options.rateLimiter ?? sharedRateLimiter('polygon');
    this.client = sdk.restClient(options.apiKey, options.baseUrl?.replace(/\/+$/, ''));
  }

  fetchTradesSince(symbol: string, cursor: PolygonCursor, options?: FetchOptions) {
    return this.fetchSince<PolygonWireTrade>('trades', symbol, cursor, options);
  }

  fetchQuotesSince(symbol: string, cursor: PolygonCursor, options?: FetchOptions) {
    return this.fetchSince<PolygonWireQuote>('quotes', symbol, cursor, options);
  }

  async lastTrade(symbol: string): Promise<PolygonWireLastTrade | undefined> {
    return this.last(`/v2/last/trade/${symbol}`, () => this.client.getLastStocksTrade(symbol, this.axiosOptions()));
  }

  async lastQuote(symbol: string): Promise<PolygonWireLastQuote | undefined> {
    return this.last(`/v2/last/nbbo/${symbol}`, () => this.client.getLastStocksQuote(symbol, this.axiosOptions()));
  }

  async validateKey(probeSymbol = 'SPY'): Promise<void> {
    for (const kind of ['trades', 'quotes'] as const) {
      try {
        await this.request(`/v3/${kind}/${probeSymbol}`, () => this.query(kind, probeSymbol, '0', undefined, 1));
      } catch (err) {
        if (err instanceof PolygonUnauthorized && err.status === 403) {
          throw new PolygonUnauthorized(`Polygon API key is not entitled to ${kind}: ${err.message}`, 403, err.url);
        }
        throw err;
      }
    }
  }

  async minuteAggregates(symbol: string, from: string, to: string): Promise<Record<string, unknown>[]> {
    for (const [name, value] of [
      ['from', from],
      ['to', to],
    ] as const) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new RangeError(`${name} must be a date YYYY-MM-DD (got ${value})`);
    }
    const path = `/v2/aggs/ticker/${symbol}/range/1/minute/${from}/${to}`;
    const body = await this.request(path, () =>
      this.client.getStocksAggregates(
        symbol,
        1,
        this.sdk.GetStocksAggregatesTimespanEnum.Minute,
        from,
        to,
        true,
        this.sdk.GetStocksAggregatesSortEnum.Asc,
        50_000,
        this.axiosOptions(),
      ),
    );
    if (!isObject(body)) throw new PolygonUnavailable(`Polygon ${path} answered without a JSON object`, 200, path);
    return Array.isArray(body.results) ? body.results.filter(isObject) : [];
  }

  marketHolidays(): Promise<unknown> {
    return this.request('/v1/marketstatus/upcoming', () => this.client.getMarketHolidays(this.axiosOptions()));
  }

  marketStatus(): Promise<unknown> {
    return this.request('/v1/marketstatus/now', () => this.client.getMarketStatus(this.axiosOptions()));
  }

  private async last(path: string, call: () => Promise<unknown>): Promise<Record<string, unknown> | undefined> {
    try {
      const body = await this.request(path, call);
      const results = isObject(body) ? body.results : undefined;
      if (!isObject(results)) throw new PolygonUnavailable(`Polygon ${path} answered without results`, 200, path);
      return results;
    } catch (err) {
      if (err instanceof PolygonRequestRejected && err.status === 404) return undefined;
      throw err;
    }
  }

  private async fetchSince<T extends Record<string, unknown>>(
    kind: Kind,
    symbol: string,
    cursorInput: PolygonCursor,
    options: FetchOptions = {},
  ): Promise<PolygonPage<T>> {
    const cursor = parseOrThrow(PolygonCursorSchema, cursorInput, 'cursor');
    const maxPages = options.maxPages ?? this.maxPages;
    const untilNs = options.untilNs;
    if (untilNs !== undefined && !/^\d+$/.test(untilNs)) throw new RangeError('untilNs must be integer nanoseconds');
    const bound = untilNs === undefined ? null : BigInt(untilNs);
    // Where the query being read started: records before it, or at it and listed, were returned already.
    let floor = BigInt(cursor.sipTimestamp);
    let seenAtFloor = new Set(cursor.seenAtTimestamp);

    let maxTs = floor;
    let seenAtMax = new Set(seenAtFloor);
    const returned = new Set<string>();
    const records: T[] = [];
    let pages = 0;
    let nextPath: string | undefined = cursor.resumePath;
    // The bound of the chain being read (null: none, undefined: unknown, a cursor from before bounds were kept).
    // A chain is followed whatever its bound: only its next_url gets past a run of records at one instant longer
    // than a call's pages. Records at or past this call's bound end the call; a chain that ends below this
    // call's bound is followed by a query from where it stopped.
    let chainBound: bigint | null | undefined =
      nextPath === undefined
        ? bound
        : cursor.resumeUntilNs === undefined || cursor.resumeUntilNs === null
          ? cursor.resumeUntilNs
          : BigInt(cursor.resumeUntilNs);
    let queryPending = nextPath === undefined;
    let first = true;
    // A next_url chain must move forward: paths already asked for in this call, and records already returned,
    // mean the source loops. Polygon's pages are ascending, so every record of a real next page is newer.
    const visited = new Set<string>();
    let stalled: { reason: string; repeated: number } | undefined;
    let repeated = 0;

    while (pages < maxPages) {
      let body: unknown;
      if (queryPending) {
        const gte = floor.toString();
        visited.add(`/v3/${kind}/${symbol}?gte=${gte}`);
        queryPending = false;
        chainBound = bound;
        body = await this.request(`/v3/${kind}/${symbol}`, () =>
          this.query(kind, symbol, gte, untilNs, this.pageLimit),
        );
      } else {
        const path = nextPath!;
        if (visited.has(path)) {
          stalled = { reason: 'next_url points at a page already fetched', repeated };
          break;
        }
        visited.add(path);
        try {
          body = await this.request(path, () => this.follow(kind, symbol, path));
        } catch (err) {
          // A stored resume cursor can expire; the gte query reaches the same records (the seen set dedupes).
          if (!(first && err instanceof PolygonRequestRejected)) throw err;
          nextPath = undefined;
          queryPending = true;
          continue;
        }
      }
      first = false;
      pages += 1;
      const page = pageOf(body, `/v3/${kind}/${symbol}`);
      let fresh = 0;
      let repeatedHere = 0;
      let beyond = false;
      const pageRecords: { readonly record: T; readonly ts?: bigint; readonly key?: string }[] = [];
      for (const record of page.results) {
        const t = isObject(record) ? parseNs(record.sip_timestamp) : undefined;
        const ts = t === undefined ? undefined : nsToBigInt(t);
        if (ts === undefined) {
          pageRecords.push({ record: record as T }); // malformed: the domain rejects and counts it
          continue;
        }
        // At or past this call's bound (a chain made under a higher one or none): the rest is for a later call.
        if (bound !== null && ts >= bound) {
          beyond = true;
          break;
        }
        const key = recordKey(record as Record<string, unknown>);
        // Returned by the previous call. A cursor written before identities were keys lists sequence numbers
        // (`q<n>`): honoured for that one call, so an upgrade does not replay the cursor's last instant.
        if (ts === floor && (seenAtFloor.has(key) || seenAtFloor.has(legacyKey(record as Record<string, unknown>))))
          continue;
        // Before the cursor: the gte query never returns these, so it is a page served again, not data.
        if (ts < floor) {
          repeatedHere += 1;
          continue;
        }
        if (returned.has(key)) repeatedHere += 1;
        else fresh += 1;
        pageRecords.push({ record: record as T, ts, key });
      }
      nextPath = beyond || page.nextUrl === undefined ? undefined : this.pathOf(page.nextUrl, kind, symbol);
      repeated += repeatedHere;
      // A next page made only of records already returned means the source loops: it is dropped and the chain
      // not followed. Repeats mixed with new records are passed on, so the domain rejects them as DUPLICATE and
      // counts them (bad data is counted, never silently lost).
      if (nextPath !== undefined && fresh === 0 && repeatedHere > 0) {
        stalled = { reason: 'a page with a next_url repeated records already returned', repeated };
        break;
      }
      for (const { record, ts, key } of pageRecords) {
        records.push(record);
        if (ts === undefined || key === undefined) continue;
        returned.add(key);
        if (ts > maxTs) {
          maxTs = ts;
          seenAtMax = new Set([key]);
        } else if (ts === maxTs) seenAtMax.add(key);
      }
      if (nextPath !== undefined) continue;
      // The chain ended: every record below its bound was returned. Below this call's too, unless its bound was
      // lower (or unknown): then a query from where it stopped reads on (a later call, when the pages ran out).
      const covered =
        beyond || chainBound === null || (chainBound !== undefined && bound !== null && chainBound >= bound);
      if (covered) break;
      if (chainBound !== undefined && chainBound !== null && chainBound > maxTs) {
        maxTs = chainBound;
        seenAtMax = new Set();
      }
      floor = maxTs;
      seenAtFloor = new Set(seenAtMax);
      queryPending = true;
    }
    if (stalled) {
      stalled = { ...stalled, repeated };
      // Not followed further: the next call starts over from the cursor's timestamp, at the caller's cadence.
      nextPath = undefined;
      queryPending = false;
    }

    const truncated = nextPath !== undefined || queryPending;
    return {
      records,
      cursor: {
        sipTimestamp: maxTs.toString(),
        seenAtTimestamp: [...seenAtMax],
        ...(nextPath !== undefined
          ? {
              resumePath: nextPath,
              ...(chainBound !== undefined
                ? { resumeUntilNs: chainBound === null ? null : chainBound.toString() }
                : {}),
            }
          : {}),
      },
      pages,
      truncated,
      ...(stalled ? { stalled } : {}),
    };
  }

  private query(kind: Kind, symbol: string, gte: string, lt: string | undefined, limit: number): Promise<unknown> {
    const { sdk } = this;
    const opts = this.axiosOptions();
    return kind === 'trades'
      ? this.client.getStocksTrades(
          symbol,
          undefined,
          gte,
          undefined,
          undefined,
          lt,
          sdk.GetStocksTradesOrderEnum.Asc,
          limit,
          sdk.GetStocksTradesSortEnum.Timestamp,
          opts,
        )
      : this.client.getStocksQuotes(
          symbol,
          undefined,
          gte,
          undefined,
          undefined,
          lt,
          sdk.GetStocksQuotesOrderEnum.Asc,
          limit,
          sdk.GetStocksQuotesSortEnum.Timestamp,
          opts,
        );
  }

  /**
   * Fetches a next_url page through the client's own method (same axios instance, base URL and apiKey
   * handling): the next_url's query (its `cursor`) goes in as axios `params`. Resolving against the configured
   * base instead of the next_url's host means the key is only ever sent to the configured server.
   */
  private follow(kind: Kind, symbol: string, path: string): Promise<unknown> {
    const url = new URL(path, 'http://next.invalid');
    const params = Object.fromEntries([...url.searchParams].filter(([name]) => name.toLowerCase() !== 'apikey'));
    const opts = { ...this.axiosOptions(), params };
    return kind === 'trades'
      ? this.client.getStocksTrades(
          symbol,
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
          opts,
        )
      : this.client.getStocksQuotes(
          symbol,
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
          opts,
        );
  }

  /** Path and query of a next_url, checked to continue the same endpoint; the apiKey is never kept. */
  private pathOf(nextUrl: string, kind: Kind, symbol: string): string {
    let url: URL;
    try {
      url = new URL(nextUrl);
    } catch {
      throw new PolygonUnavailable(`Polygon returned an invalid next_url for /v3/${kind}/${symbol}`);
    }
    const expected = `/v3/${kind}/${encodeURIComponent(symbol)}`;
    if (url.pathname !== expected && decodeURIComponent(url.pathname) !== `/v3/${kind}/${symbol}`) {
      throw new PolygonUnavailable(`Polygon next_url leaves ${expected}: ${maskApiKey(url.pathname)}`);
    }
    url.searchParams.delete('apiKey');
    return `${expected}?${url.searchParams.toString()}`;
  }

  private axiosOptions() {
    return { transformResponse: [polygonJsonResponse], timeout: this.timeoutMs };
  }

  /** One HTTP request: a rate-limit permit first, then the call, with errors mapped and the key masked. */
  private async request(path: string, call: () => Promise<unknown>): Promise<unknown> {
    await this.limiter.acquire();
    try {
      return await call();
    } catch (err) {
      throw this.classify(err, maskApiKey(path, this.apiKey));
    }
  }

  private classify(err: unknown, fallbackPath: string): unknown {
    if (err instanceof PolygonError) return err;
    if (!isAxiosError(err)) return err;
    const path = typeof err.config?.url === 'string' ? maskApiKey(err.config.url, this.apiKey) : fallbackPath;
    const status = err.response?.status;
    const detail = maskApiKey(describeBody(err.response?.data) ?? err.message, this.apiKey);
    if (status === undefined) {
      const code = err.code ? ` (${err.code})` : '';
      return new PolygonUnavailable(
        `Polygon request ${path} failed${code}: ${maskApiKey(err.message, this.apiKey)}`,
        undefined,
        path,
      );
    }
    const message = `Polygon ${path} answered ${status}: ${detail}`;
    if (status === 401 || status === 403) return new PolygonUnauthorized(message, status, path);
    if (status === 429) {
      return new PolygonRateLimited(
        message,
        parseRetryAfter(err.response?.headers?.['retry-after']) ?? this.defaultRetryAfterMs,
        status,
        path,
      );
    }
    if (status >= 500 || status === 408) return new PolygonUnavailable(message, status, path);
    return new PolygonRequestRejected(message, status, path);
  }
}

/** Axios `transformResponse` that parses JSON with exact nanoseconds; non-JSON bodies (HTML error pages) pass as text. */
function polygonJsonResponse(data: unknown): unknown {
  if (typeof data !== 'string' || data.trim() === '') return data;
  try {
    return parsePolygonJson(data);
  } catch {
    return data;
  }
}

function pageOf(body: unknown, path: string): { results: unknown[]; nextUrl: string | undefined } {
  if (!isObject(body)) throw new PolygonUnavailable(`Polygon ${path} answered with a body that is not JSON`, 200, path);
  const results = body.results ?? [];
  if (!Array.isArray(results))
    throw new PolygonUnavailable(`Polygon ${path} answered with non-array results`, 200, path);
  const nextUrl = typeof body.next_url === 'string' && body.next_url !== '' ? body.next_url : undefined;
  return { results, nextUrl };
}

/**
 * A record's identity among those at one timestamp: a trade's id with its exchange and TRF (sequence numbers are
 * not identities: two distinct prints can share one); anything else, the whole row (a quote's fields).
 */
function recordKey(record: Record<string, unknown>): string {
  const id = record.id;
  if (typeof id === 'string' && record.price !== undefined) {
    return `t${JSON.stringify([id, record.exchange ?? null, record.trf_id ?? null])}`;
  }
  return `r${JSON.stringify(record)}`;
}

function legacyKey(record: Record<string, unknown>): string {
  const seq = record.sequence_number;
  return typeof seq === 'number' || typeof seq === 'string' ? `q${seq}` : '';
}

function describeBody(data: unknown): string | undefined {
  if (isObject(data)) {
    const text = data.error ?? data.message ?? data.status;
    return typeof text === 'string' ? text : undefined;
  }
  return typeof data === 'string' && data.trim() !== '' ? data.trim().slice(0, 200) : undefined;
}

function isAxiosError(err: unknown): err is AxiosLikeError {
  return isObject(err) && err.isAxiosError === true;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
