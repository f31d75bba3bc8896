import fc from 'fast-check';
import { startPolygonStandIn, type PolygonStandIn } from '../../support/polygon-stand-in';
import {
  PolygonRateLimited,
  PolygonRequestRejected,
  PolygonUnauthorized,
  PolygonUnavailable,
} from '../../../src/market-data/polygon-errors';
import {
  createPolygonRest,
  cursorFrom,
  type PolygonRest,
  type PolygonRestOptions,
} from '../../../src/market-data/polygon-rest';
import { loadPolygonSdk, type PolygonSdk } from '../../../src/market-data/polygon-sdk';
import { TokenBucketRateLimiter } from '../../../src/market-data/rate-limiter';
import { ValidationError } from '../../../src/domain/validation';
import { BASE_NS, quote, trade } from '../polygon-stand-in/records';

const KEY = 'secret-key-123';
let sdk: PolygonSdk;
let standIn: PolygonStandIn;

beforeAll(async () => {
  sdk = await loadPolygonSdk();
});

beforeEach(async () => {
  standIn = await startPolygonStandIn({ apiKey: KEY });
});

afterEach(async () => {
  await standIn.close();
});

/** No client-side limit unless a test is about it, so tests run at full speed. */
function rest(options: Partial<PolygonRestOptions> = {}): Promise<PolygonRest> {
  return createPolygonRest({
    apiKey: KEY,
    baseUrl: standIn.restUrl,
    sdk,
    rateLimiter: new TokenBucketRateLimiter({ ratePerSecond: 1000, burst: 1000 }),
    ...options,
  });
}

const seqOf = (records: readonly Record<string, unknown>[]) => records.map((r) => r.sequence_number);

describe('fetchTradesSince / fetchQuotesSince', () => {
  it('follows several next_url pages and returns every record once, ascending', async () => {
    const trades = Array.from({ length: 23 }, (_, i) => trade(i + 1, BASE_NS + BigInt(i) * 10n));
    standIn.loadScenario('TSLA', { trades: [...trades].reverse() });
    const client = await rest({ pageLimit: 5, maxPages: 10 });
    const page = await client.fetchTradesSince('TSLA', cursorFrom(BASE_NS));
    expect(page.pages).toBe(5);
    expect(page.truncated).toBe(false);
    expect(seqOf(page.records)).toEqual(trades.map((t) => t.sequence_number));
    expect(page.cursor).toEqual({ sipTimestamp: (BASE_NS + 220n).toString(), seenAtTimestamp: ['t["23",4,null]'] });
    // next_url pages went out with only the cursor (plus the key the client adds).
    const paths = standIn.requests.map((r) => r.path);
    expect(paths[0]).toMatch(/order=asc/);
    expect(paths.slice(1).every((p) => /^\/v3\/trades\/TSLA\?apiKey=\*\*\*&cursor=[\w-]+$/.test(p))).toBe(true);

    const next = await client.fetchTradesSince('TSLA', page.cursor);
    expect(next.records).toEqual([]);
    expect(next.cursor).toEqual(page.cursor);
  });

  it('keeps nanosecond timestamps exact end to end', async () => {
    standIn.loadScenario('TSLA', {
      trades: [trade(1, 1732200000123456789n)],
      quotes: [quote(2, 1732200000123456789n)],
    });
    const client = await rest();
    const trades = await client.fetchTradesSince('TSLA', cursorFrom('1732200000123456789'));
    expect(trades.records[0]!.sip_timestamp).toBe('1732200000123456789');
    expect(trades.records[0]!.participant_timestamp).toBe('1732200000123455789');
    expect(trades.records[0]!.price).toBe(100.25);
    expect(trades.cursor.sipTimestamp).toBe('1732200000123456789');
    const quotes = await client.fetchQuotesSince('TSLA', cursorFrom(0n));
    expect(quotes.records[0]!.sip_timestamp).toBe('1732200000123456789');
    const last = await client.lastTrade('TSLA');
    expect(last).toMatchObject({ T: 'TSLA', t: '1732200000123456789', y: '1732200000123455789', p: 100.25 });
  });

  it('loses and duplicates nothing when calls end inside a run of identical timestamps', async () => {
    // Runs of equal sip_timestamps, split arbitrarily across pages and calls, with events arriving between calls.
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 10 }),
        async (runLengths, pageLimit, maxPages, liveSplit) => {
          const local = await startPolygonStandIn({ apiKey: KEY });
          try {
            let seq = 0;
            const all = runLengths.flatMap((n, run) =>
              Array.from({ length: n }, () => trade(++seq, BASE_NS + BigInt(run) * 7n)),
            );
            const early = all.slice(0, Math.min(liveSplit, all.length));
            const late = all.slice(early.length);
            local.loadScenario('TSLA', { trades: early });
            const client = await createPolygonRest({
              apiKey: KEY,
              baseUrl: local.restUrl,
              sdk,
              pageLimit,
              maxPages,
              rateLimiter: new TokenBucketRateLimiter({ ratePerSecond: 10_000, burst: 10_000 }),
            });
            const got: unknown[] = [];
            let cursor = cursorFrom(BASE_NS);
            for (let i = 0; i < 100; i++) {
              if (i === 1) local.publish('TSLA', { trades: late });
              const page = await client.fetchTradesSince('TSLA', cursor);
              got.push(...seqOf(page.records));
              cursor = page.cursor;
              if (i > 1 && page.records.length === 0) break;
            }
            expect(got).toEqual(all.map((t) => t.sequence_number));
          } finally {
            await local.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('marks a call stopped by maxPages as truncated and resumes from the stored next_url', async () => {
    standIn.loadScenario('TSLA', { quotes: Array.from({ length: 10 }, (_, i) => quote(i + 1, BASE_NS + BigInt(i))) });
    const client = await rest({ pageLimit: 3, maxPages: 2 });
    const first = await client.fetchQuotesSince('TSLA', cursorFrom(BASE_NS));
    expect(first).toMatchObject({ pages: 2, truncated: true });
    expect(seqOf(first.records)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(first.cursor.resumePath).toMatch(/^\/v3\/quotes\/TSLA\?cursor=/);
    expect(JSON.stringify(first.cursor)).not.toContain(KEY);
    standIn.clearRequests();
    const second = await client.fetchQuotesSince('TSLA', first.cursor);
    expect(seqOf(second.records)).toEqual([7, 8, 9, 10]);
    expect(second.truncated).toBe(false);
    expect(standIn.requests[0]!.path).toMatch(/cursor=/);

    // An expired resume cursor falls back to the timestamp query without losing or repeating records.
    const stale = { ...first.cursor, resumePath: '/v3/quotes/TSLA?cursor=expired' };
    const fallback = await client.fetchQuotesSince('TSLA', stale);
    expect(seqOf(fallback.records)).toEqual([7, 8, 9, 10]);
  });

  it('a bounded call reads up to its own untilNs even when the cursor resumes a chain made under a lower bound', async () => {
    // A poll bounds its quotes by its newest trade. The first poll's chain (bound: +5) stopped after one page; the
    // next poll, with newer trades (bound: +10), followed that chain, got the quotes up to +5, "not truncated",
    // and classified its trades after +5 against a stale NBBO. Now the chain is read to its end, then a query
    // from its bound reads on to +10.
    standIn.loadScenario('TSLA', { quotes: Array.from({ length: 10 }, (_, i) => quote(i + 1, BASE_NS + BigInt(i))) });
    const client = await rest({ pageLimit: 2, maxPages: 1 });
    const first = await client.fetchQuotesSince('TSLA', cursorFrom(BASE_NS), { untilNs: (BASE_NS + 5n).toString() });
    expect(first).toMatchObject({ truncated: true, cursor: { resumeUntilNs: (BASE_NS + 5n).toString() } });
    expect(seqOf(first.records)).toEqual([1, 2]);
    const wider = await rest({ pageLimit: 10, maxPages: 5 });
    const second = await wider.fetchQuotesSince('TSLA', first.cursor, { untilNs: (BASE_NS + 10n).toString() });
    expect(seqOf(second.records)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(second.truncated).toBe(false);
    // Out of pages where the old chain ends: truncated, and the next call starts at that chain's bound.
    const short = await client.fetchQuotesSince('TSLA', first.cursor, { untilNs: (BASE_NS + 10n).toString() });
    expect(seqOf(short.records)).toEqual([3, 4]);
    const rest2 = await client.fetchQuotesSince('TSLA', short.cursor, { untilNs: (BASE_NS + 10n).toString() });
    expect(seqOf(rest2.records)).toEqual([5]);
    expect(rest2.truncated).toBe(true);
    expect(rest2.cursor).toEqual({ sipTimestamp: (BASE_NS + 5n).toString(), seenAtTimestamp: [] });
    // A chain made under a higher bound (or none) stops at this call's bound, complete.
    const open = await client.fetchQuotesSince('TSLA', cursorFrom(BASE_NS));
    const lower = await wider.fetchQuotesSince('TSLA', open.cursor, { untilNs: (BASE_NS + 4n).toString() });
    expect(seqOf(lower.records)).toEqual([3, 4]);
    expect(lower.truncated).toBe(false);
  });

  it('bounded calls whose bound moves each time get past a run of records at one instant longer than a call', async () => {
    // Seven quotes in one nanosecond, two per page, one page per call: only the next_url chain gets past them
    // (a query from the cursor serves the first two again every time).
    const quotes = [
      ...Array.from({ length: 7 }, (_, i) => quote(i + 1, BASE_NS, 100 + i / 100)),
      quote(8, BASE_NS + 1n),
    ];
    standIn.loadScenario('TSLA', { quotes });
    const client = await rest({ pageLimit: 2, maxPages: 1 });
    let cursor = cursorFrom(BASE_NS);
    const got: unknown[] = [];
    for (let i = 0; i < 10 && got.length < 8; i++) {
      const page = await client.fetchQuotesSince('TSLA', cursor, { untilNs: (BASE_NS + 2n + BigInt(i)).toString() });
      got.push(...seqOf(page.records));
      cursor = page.cursor;
    }
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('two distinct prints sharing a sequence number at the cursor instant are both returned, once (issue 16)', async () => {
    const a = { ...trade(130924, BASE_NS), id: '00220725', size: 100 };
    const b = { ...trade(130924, BASE_NS), id: '00220726', size: 12_000 };
    standIn.loadScenario('TSLA', { trades: [a] });
    const client = await rest();
    const first = await client.fetchTradesSince('TSLA', cursorFrom(BASE_NS));
    expect(first.records.map((r) => r.id)).toEqual(['00220725']);
    standIn.loadScenario('TSLA', { trades: [a, b] });
    const second = await client.fetchTradesSince('TSLA', first.cursor);
    expect(second.records.map((r) => r.id)).toEqual(['00220726']);
    expect(second.cursor.seenAtTimestamp).toHaveLength(2);
    // A cursor from before identities were keys (sequence numbers) is still honoured.
    const legacy = await client.fetchTradesSince('TSLA', {
      sipTimestamp: BASE_NS.toString(),
      seenAtTimestamp: ['q130924'],
    });
    expect(legacy.records).toEqual([]);
  });

  it('stops at untilNs (exclusive)', async () => {
    standIn.loadScenario('TSLA', { trades: [1, 2, 3].map((i) => trade(i, BASE_NS + BigInt(i))) });
    const client = await rest();
    const page = await client.fetchTradesSince('TSLA', cursorFrom(BASE_NS), { untilNs: (BASE_NS + 3n).toString() });
    expect(seqOf(page.records)).toEqual([1, 2]);
  });

  it('passes malformed rows through without advancing the cursor on them', async () => {
    standIn.loadScenario('TSLA', { trades: [trade(1, BASE_NS), trade(2, BASE_NS + 5n)] });
    const bad = [{ price: -5, sip_timestamp: 'soon' }, 'not an object', { sequence_number: 99 }];
    standIn.injectMalformed({ symbol: 'TSLA', kind: 'trades', via: 'rest', rows: bad, position: 1 });
    const client = await rest();
    const page = await client.fetchTradesSince('TSLA', cursorFrom(BASE_NS));
    expect(page.records).toHaveLength(5);
    expect(page.records.slice(1, 4)).toEqual(bad);
    expect(page.cursor).toEqual({ sipTimestamp: (BASE_NS + 5n).toString(), seenAtTimestamp: ['t["2",4,null]'] });
  });

  it('a next_url chain that does not advance is not followed: repeats dropped, not truncated, stalled says why', async () => {
    const trades = Array.from({ length: 4 }, (_, i) => trade(i + 1, BASE_NS + BigInt(i) * 10n));
    standIn.loadScenario('TSLA', { trades });
    standIn.loopPages('TSLA');
    const client = await rest({ maxPages: 5 });
    const first = await client.fetchTradesSince('TSLA', cursorFrom(BASE_NS));
    // Page 1 is new; page 2 (the next_url) serves it again and the chain stops there, not after maxPages.
    expect(first.pages).toBe(2);
    expect(seqOf(first.records)).toEqual([1, 2]);
    expect(first.truncated).toBe(false);
    expect(first.stalled?.reason).toMatch(/repeated records/);
    expect(first.cursor.resumePath).toBeUndefined();
    // From the cursor the same page is all old records: one request, nothing returned.
    const next = await client.fetchTradesSince('TSLA', first.cursor);
    expect(next.pages).toBe(1);
    expect(next.records).toEqual([]);
    expect(next.stalled).toBeDefined();
    expect(next.cursor).toEqual(first.cursor);
  });

  it('a next_url seen before in the same call is a loop even when its page is empty', async () => {
    standIn.loopPages('TSLA', 0);
    const client = await rest({ maxPages: 5 });
    const page = await client.fetchTradesSince('TSLA', cursorFrom(BASE_NS));
    expect(page.pages).toBe(2);
    expect(page.stalled?.reason).toMatch(/already fetched/);
    expect(page.truncated).toBe(false);
  });

  it('validates the cursor it is given', async () => {
    const client = await rest();
    await expect(client.fetchTradesSince('TSLA', { sipTimestamp: '-1', seenAtTimestamp: [] })).rejects.toThrow(
      ValidationError,
    );
    expect(() => cursorFrom('12.5')).toThrow(
      'cursor.sipTimestamp: must be a non-negative integer nanosecond timestamp',
    );
  });
});

describe('error classification', () => {
  const call = async (client: PolygonRest) => client.fetchTradesSince('TSLA', cursorFrom(BASE_NS));

  it.each([401, 403])('maps %i to PolygonUnauthorized (not retryable) without exposing the key', async (status) => {
    standIn.failNext({ status });
    const err = await call(await rest()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolygonUnauthorized);
    expect(err).toMatchObject({ name: 'PolygonUnauthorized', retryable: false, status });
    expect(JSON.stringify(err) + String(err) + (err as Error).stack).not.toContain(KEY);
    expect((err as PolygonUnauthorized).url).toContain('apiKey=***');
  });

  it('maps a bad key from the server to PolygonUnauthorized', async () => {
    const err = await call(await rest({ apiKey: 'wrong-key' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolygonUnauthorized);
    expect(String(err)).toContain('Unknown API Key');
    expect(String(err)).not.toContain('wrong-key');
  });

  it('maps 429 to PolygonRateLimited with Retry-After, or the default wait', async () => {
    standIn.failNext({ status: 429, retryAfterSeconds: 3 });
    const client = await rest({ defaultRetryAfterMs: 1500 });
    await expect(call(client)).rejects.toMatchObject({
      name: 'PolygonRateLimited',
      retryAfterMs: 3000,
      retryable: true,
    });
    standIn.failNext({ status: 429 });
    const err = await call(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolygonRateLimited);
    expect((err as PolygonRateLimited).retryAfterMs).toBe(1500);
  });

  it.each([500, 502, 503, 504])('maps %i to PolygonUnavailable (retryable)', async (status) => {
    standIn.failNext({ status, body: status === 502 ? '<html>Bad Gateway</html>' : undefined });
    await expect(call(await rest())).rejects.toMatchObject({ name: 'PolygonUnavailable', retryable: true, status });
  });

  it('maps resets, refused connections and timeouts to PolygonUnavailable', async () => {
    standIn.failNext({ status: 'reset' });
    await expect(call(await rest())).rejects.toBeInstanceOf(PolygonUnavailable);
    standIn.setLatency({ ms: 400, count: 1 });
    await expect(call(await rest({ timeoutMs: 100 }))).rejects.toMatchObject({
      name: 'PolygonUnavailable',
      message: expect.stringContaining('ECONNABORTED'),
    });
    const closed = await rest({ baseUrl: 'http://127.0.0.1:1' });
    const err = await call(closed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolygonUnavailable);
    expect(String(err)).not.toContain(KEY);
  });

  it('fails a whole call when a later page fails, so the caller retries with the same cursor', async () => {
    standIn.loadScenario('TSLA', { trades: [1, 2, 3, 4].map((i) => trade(i, BASE_NS + BigInt(i))) });
    const client = await rest({ pageLimit: 2 });
    // First page passes, the next_url page fails.
    standIn.failNext({ status: 500, route: 'trades', skip: 1 });
    await expect(client.fetchTradesSince('TSLA', cursorFrom(BASE_NS))).rejects.toBeInstanceOf(PolygonUnavailable);
    expect(standIn.requests.map((r) => r.status)).toEqual([200, 500]);
    const retry = await client.fetchTradesSince('TSLA', cursorFrom(BASE_NS));
    expect(seqOf(retry.records)).toEqual([1, 2, 3, 4]);
  });

  it('maps other 4xx to PolygonRequestRejected', async () => {
    standIn.failNext({ status: 400 });
    await expect(call(await rest())).rejects.toMatchObject({ name: 'PolygonRequestRejected', retryable: false });
    await expect(call(await rest())).resolves.toBeDefined();
    expect(new PolygonRequestRejected('x').retryable).toBe(false);
  });
});

describe('lastTrade / lastQuote / validateKey', () => {
  it('returns the v2 results objects, undefined without data', async () => {
    standIn.loadScenario('TSLA', { trades: [trade(1, BASE_NS)], quotes: [quote(2, BASE_NS + 1n)] });
    const client = await rest();
    expect(await client.lastTrade('TSLA')).toMatchObject({ T: 'TSLA', p: 100.25, s: 100, q: 1 });
    expect(await client.lastQuote('TSLA')).toMatchObject({
      T: 'TSLA',
      P: 100.3,
      p: 100.2,
      t: (BASE_NS + 1n).toString(),
    });
    expect(await client.lastTrade('NONE')).toBeUndefined();
    standIn.failNext({ status: 401, route: 'last-nbbo' });
    await expect(client.lastQuote('TSLA')).rejects.toBeInstanceOf(PolygonUnauthorized);
  });

  it('validateKey checks trades and quotes entitlement', async () => {
    await expect((await rest()).validateKey()).resolves.toBeUndefined();
    expect(standIn.requestCount('trades')).toBe(1);
    expect(standIn.requestCount('quotes')).toBe(1);
    await expect((await rest({ apiKey: 'nope' })).validateKey()).rejects.toBeInstanceOf(PolygonUnauthorized);
    standIn.failNext({ status: 403, route: 'quotes' });
    await expect((await rest()).validateKey()).rejects.toThrow('not entitled to quotes');
  });
});
