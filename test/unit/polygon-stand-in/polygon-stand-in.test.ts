import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  parseScenarioRecords,
  readScenarioDir,
  startPolygonStandIn,
  type PolygonStandIn,
} from '../../support/polygon-stand-in';
import { loadPolygonSdk, type PolygonSdk } from '../../../src/market-data/polygon-sdk';
import { BASE_NS, quote, trade } from './records';
import { openProbe } from './ws-probe';

const KEY = 'unit-key';
let sdk: PolygonSdk;
let standIn: PolygonStandIn;

beforeAll(async () => {
  sdk = await loadPolygonSdk();
});

afterEach(async () => {
  await standIn?.close();
});

async function getText(url: string): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text(), headers: res.headers };
}

function tradesUrl(query: string, symbol = 'TSLA'): string {
  return `${standIn.restUrl}/v3/trades/${symbol}?apiKey=${KEY}${query ? `&${query}` : ''}`;
}

/** Sequence numbers of a v3 page body parsed from text (sequence numbers are small, JSON.parse is exact). */
function seqs(text: string): number[] {
  return (JSON.parse(text) as { results: { sequence_number: number }[] }).results.map((r) => r.sequence_number);
}

describe('Polygon stand-in REST', () => {
  beforeEach(async () => {
    standIn = await startPolygonStandIn({ apiKey: KEY });
    standIn.loadScenario('TSLA', {
      trades: [1, 2, 3, 4, 5].map((i) => trade(i, BASE_NS + BigInt(i) * 1000n)),
      quotes: [quote(10, BASE_NS)],
    });
  });

  it('serves v3 trades through @polygon.io/client-js, newest first by default like Polygon', async () => {
    const client = sdk.restClient(KEY, standIn.restUrl);
    const body = await client.getStocksTrades('TSLA');
    expect(body.status).toBe('OK');
    expect(body.results?.map((r) => r.sequence_number)).toEqual([5, 4, 3, 2, 1]);
    expect(typeof body.request_id).toBe('string');
  });

  it('writes nanosecond timestamps as exact unquoted integers', async () => {
    const { text } = await getText(tradesUrl('order=asc&limit=1'));
    expect(text).toContain(`"sip_timestamp":${BASE_NS + 1000n}`);
    expect(text).toContain(`"participant_timestamp":${BASE_NS}`);
  });

  it('applies timestamp filters, order and limit, and pages with absolute next_url cursors', async () => {
    expect(seqs((await getText(tradesUrl(`order=asc&timestamp.gt=${BASE_NS + 2000n}`))).text)).toEqual([3, 4, 5]);
    expect(seqs((await getText(tradesUrl(`order=asc&timestamp.gte=${BASE_NS + 2000n}`))).text)).toEqual([2, 3, 4, 5]);
    expect(seqs((await getText(tradesUrl(`order=asc&timestamp.lt=${BASE_NS + 2000n}`))).text)).toEqual([1]);
    expect(seqs((await getText(tradesUrl(`order=asc&timestamp.lte=${BASE_NS + 2000n}`))).text)).toEqual([1, 2]);
    expect(seqs((await getText(tradesUrl(`timestamp=${BASE_NS + 3000n}`))).text)).toEqual([3]);

    const first = JSON.parse((await getText(tradesUrl('order=asc&limit=2'))).text) as { next_url: string };
    const next = new URL(first.next_url);
    expect(`${next.protocol}//${next.host}`).toBe(standIn.restUrl);
    expect(next.pathname).toBe('/v3/trades/TSLA');
    expect([...next.searchParams.keys()]).toEqual(['cursor']);
    const second = await getText(`${first.next_url}&apiKey=${KEY}`);
    expect(seqs(second.text)).toEqual([3, 4]);
    const third = JSON.parse(
      (await getText(`${(JSON.parse(second.text) as { next_url: string }).next_url}&apiKey=${KEY}`)).text,
    ) as {
      results: { sequence_number: number }[];
      next_url?: string;
    };
    expect(third.results.map((r) => r.sequence_number)).toEqual([5]);
    expect(third.next_url).toBeUndefined();

    const desc = JSON.parse((await getText(tradesUrl('limit=3'))).text) as { next_url: string };
    expect(seqs((await getText(`${desc.next_url}&apiKey=${KEY}`)).text)).toEqual([2, 1]);
  });

  it('rejects bad parameters with 400 and a Polygon error body', async () => {
    for (const query of ['limit=0', 'limit=50001', 'order=up', 'timestamp.gt=yesterday', 'sort=price']) {
      const { status, text } = await getText(tradesUrl(query));
      expect(status).toBe(400);
      expect(JSON.parse(text)).toMatchObject({ status: 'ERROR', error: expect.any(String) });
    }
    expect((await getText(`${standIn.restUrl}/v3/trades/TSLA?cursor=garbage&apiKey=${KEY}`)).status).toBe(400);
  });

  it("answers 401 with Polygon's body for a wrong or missing key, and logs requests with the key masked", async () => {
    const wrong = await getText(`${standIn.restUrl}/v3/trades/TSLA?apiKey=nope`);
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.text)).toEqual({
      status: 'ERROR',
      request_id: expect.any(String),
      error: 'Unknown API Key',
    });
    expect((await getText(`${standIn.restUrl}/v3/trades/TSLA`)).status).toBe(401);
    await getText(tradesUrl(''));
    expect(standIn.requestCount('trades')).toBe(3);
    expect(standIn.requests.map((r) => r.status)).toEqual([401, 401, 200]);
    expect(JSON.stringify(standIn.requests)).not.toContain(KEY);
    expect(standIn.requests[2]!.path).toBe('/v3/trades/TSLA?apiKey=***');
  });

  it('serves the last trade and last NBBO in v2 shape with exact ns, and 404 without data', async () => {
    const lastTrade = await getText(`${standIn.restUrl}/v2/last/trade/TSLA?apiKey=${KEY}`);
    expect(lastTrade.text).toContain(`"t":${BASE_NS + 5000n}`);
    expect(JSON.parse(lastTrade.text)).toMatchObject({
      status: 'OK',
      results: { T: 'TSLA', i: '5', p: 100.25, q: 5, s: 100, x: 4, z: 3, c: [0] },
    });
    const nbbo = await getText(`${standIn.restUrl}/v2/last/nbbo/TSLA?apiKey=${KEY}`);
    expect(JSON.parse(nbbo.text)).toMatchObject({
      results: { T: 'TSLA', P: 100.3, S: 300, X: 11, p: 100.2, s: 200, x: 12, q: 10, i: [604] },
    });
    expect((await getText(`${standIn.restUrl}/v2/last/trade/NONE?apiKey=${KEY}`)).status).toBe(404);
    const client = sdk.restClient(KEY, standIn.restUrl);
    expect((await client.getLastStocksQuote('TSLA')).results?.T).toBe('TSLA');
  });

  it('injects HTTP faults: status with Retry-After, socket reset, slow responses', async () => {
    standIn.failNext({ status: 429, retryAfterSeconds: 2, route: 'trades' });
    const limited = await getText(tradesUrl(''));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect((await getText(tradesUrl(''))).status).toBe(200);

    standIn.failNext({ status: 503, count: 2, body: '<html>bad gateway</html>' });
    expect((await getText(tradesUrl(''))).text).toBe('<html>bad gateway</html>');
    expect((await getText(tradesUrl(''))).status).toBe(503);
    expect((await getText(tradesUrl(''))).status).toBe(200);

    standIn.failNext({ status: 'reset' });
    await expect(fetch(tradesUrl(''))).rejects.toThrow();

    standIn.setLatency({ ms: 150, count: 1 });
    const started = Date.now();
    await getText(tradesUrl(''));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('delivers a late response with the data as it was on arrival (latency phase after)', async () => {
    const count = () =>
      getText(tradesUrl('limit=50000')).then((r) => (JSON.parse(r.text) as { results: unknown[] }).results.length);
    const before = await count();
    standIn.setLatency({ ms: 200, route: 'trades', count: 1, phase: 'after' });
    const late = count();
    await new Promise((r) => setTimeout(r, 50));
    standIn.publish('TSLA', { trades: [trade(900, BASE_NS + 9_000_000n)] });
    expect(await late).toBe(before);
    expect(await count()).toBe(before + 1);
  });

  it('injects malformed rows into the next REST page only', async () => {
    standIn.injectMalformed({
      symbol: 'TSLA',
      kind: 'trades',
      via: 'rest',
      rows: [{ price: -1, sip_timestamp: 'not-a-number' }],
      position: 1,
    });
    const body = JSON.parse((await getText(tradesUrl('order=asc&limit=2'))).text) as { results: unknown[] };
    expect(body.results).toHaveLength(3);
    expect(body.results[1]).toEqual({ price: -1, sip_timestamp: 'not-a-number' });
    expect(seqs((await getText(tradesUrl('order=asc&limit=2'))).text)).toEqual([1, 2]);
  });
});

describe('Polygon stand-in market clock', () => {
  it('publishes nothing before advanceTo in manual mode, then exactly what is due', async () => {
    standIn = await startPolygonStandIn({ apiKey: KEY, clock: { mode: 'manual' } });
    standIn.loadScenario('TSLA', { trades: [1, 2, 3].map((i) => trade(i, BASE_NS + BigInt(i) * 1_000_000n)) });
    expect(seqs((await getText(tradesUrl('order=asc'))).text)).toEqual([]);
    expect(standIn.pendingCount()).toBe(3);
    expect(standIn.advanceTo(BASE_NS + 2_000_000n)).toBe(2);
    expect(seqs((await getText(tradesUrl('order=asc'))).text)).toEqual([1, 2]);
    expect(standIn.marketTime()).toBe(BASE_NS + 2_000_000n);
    expect(standIn.releaseAll()).toBe(1);
    expect(seqs((await getText(tradesUrl('order=asc'))).text)).toEqual([1, 2, 3]);
  });

  it('replays progressively at the configured speed', async () => {
    standIn = await startPolygonStandIn({ apiKey: KEY, clock: { mode: 'replay', speed: 1 } });
    // Two trades now, one 400 ms of market time later.
    standIn.loadScenario('TSLA', {
      trades: [trade(1, BASE_NS), trade(2, BASE_NS + 1_000_000n), trade(3, BASE_NS + 400_000_000n)],
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(standIn.publishedCount('TSLA', 'trades')).toBe(2);
    await new Promise((r) => setTimeout(r, 450));
    expect(standIn.publishedCount('TSLA', 'trades')).toBe(3);
  });

  it('loads scenarios as v3 response objects and as JSON Lines, keeping every digit', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stand-in-'));
    writeFileSync(
      path.join(dir, 'trades.json'),
      `{"results":[{"sequence_number":1,"sip_timestamp":1732200000123456789,"participant_timestamp":1732200000123456700,"price":231.45,"size":100,"exchange":4,"id":"a"}],"status":"OK"}`,
    );
    writeFileSync(
      path.join(dir, 'quotes.jsonl'),
      '{"sequence_number":7,"sip_timestamp":1732200000123456001,"bid_price":231.4,"ask_price":231.5,"bid_size":100,"ask_size":200}\n' +
        '\n{"sequence_number":8,"sip_timestamp":1732200000123456999,"bid_price":231.41,"ask_price":231.5,"bid_size":100,"ask_size":200}\n',
    );
    const scenario = readScenarioDir(dir);
    expect(scenario.trades).toHaveLength(1);
    expect(scenario.quotes).toHaveLength(2);
    expect(parseScenarioRecords('[{"a":1},{"a":2}]')).toHaveLength(2);
    expect(() => parseScenarioRecords('{"results": 5}')).toThrow('results must be an array');

    standIn = await startPolygonStandIn({ apiKey: KEY });
    standIn.loadScenarioDir('TSLA', dir);
    expect((await getText(tradesUrl(''))).text).toContain('"sip_timestamp":1732200000123456789');
    const quotes = await getText(`${standIn.restUrl}/v3/quotes/TSLA?apiKey=${KEY}&order=asc`);
    expect(quotes.text).toMatch(/"sip_timestamp":1732200000123456001.*"sip_timestamp":1732200000123456999/);
    expect(quotes.text).toContain('"bid_price":231.41');
  });
});

describe('Polygon stand-in WebSocket', () => {
  beforeEach(async () => {
    standIn = await startPolygonStandIn({ apiKey: KEY, clock: { mode: 'manual' } });
  });

  it("speaks Polygon's status protocol and streams T/Q arrays with ms timestamps", async () => {
    const probe = await openProbe(`${standIn.wsUrl}/stocks`);
    await probe.waitFor((e) => e.status === 'connected');
    expect(probe.frames[0]).toEqual([{ ev: 'status', status: 'connected', message: 'Connected Successfully' }]);
    probe.send({ action: 'subscribe', params: 'T.TSLA' });
    await probe.waitFor((e) => e.status === 'error');
    probe.send({ action: 'auth', params: KEY });
    await probe.waitFor((e) => e.status === 'auth_success');
    probe.send({ action: 'subscribe', params: 'T.TSLA,Q.TSLA' });
    await probe.waitFor((e) => e.message === 'subscribed to: Q.TSLA');
    expect(
      probe
        .elements()
        .filter((e) => e.status === 'success')
        .map((e) => e.message),
    ).toEqual(['subscribed to: T.TSLA', 'subscribed to: Q.TSLA']);

    standIn.loadScenario('TSLA', { trades: [trade(1, BASE_NS)], quotes: [quote(2, BASE_NS)] });
    standIn.loadScenario('AAPL', { trades: [trade(3, BASE_NS)] });
    standIn.advanceTo(BASE_NS);
    const t = await probe.waitFor((e) => e.ev === 'T');
    expect(t).toEqual({ ev: 'T', sym: 'TSLA', x: 4, i: '1', z: 3, p: 100.25, s: 100, c: [0], t: 1732200000123, q: 1 });
    const q = await probe.waitFor((e) => e.ev === 'Q');
    expect(q).toEqual({
      ev: 'Q',
      sym: 'TSLA',
      bx: 12,
      bp: 100.2,
      bs: 200,
      ax: 11,
      ap: 100.3,
      as: 300,
      c: 1,
      i: [604],
      t: 1732200000123,
      q: 2,
      z: 3,
    });
    // The quote in force goes out before the trade at the same instant; AAPL is not subscribed.
    const data = probe.elements().filter((e) => e.ev !== 'status');
    expect(data.map((e) => e.ev)).toEqual(['Q', 'T']);

    standIn.publish('TSLA', { trades: [trade(4, BASE_NS + 5_000_000n)] });
    await probe.waitFor((e) => e.q === 4);
    probe.ws.close();
  });

  it('answers a wrong key with auth_failed and hangs up', async () => {
    const probe = await openProbe(`${standIn.wsUrl}/stocks`);
    probe.send({ action: 'auth', params: 'wrong' });
    await probe.waitFor((e) => e.status === 'auth_failed');
    expect((await probe.closed).code).toBe(1008);
  });

  it('drops connections, refuses reconnects, and sends malformed rows on request', async () => {
    const probe = await openProbe(`${standIn.wsUrl}/stocks`);
    probe.send({ action: 'auth', params: KEY });
    probe.send({ action: 'subscribe', params: 'T.*' });
    await probe.waitFor((e) => e.message === 'subscribed to: T.*');
    standIn.injectMalformed({
      symbol: 'TSLA',
      kind: 'trades',
      via: 'ws',
      rows: [{ ev: 'T', sym: 'TSLA', p: 'x' }, 42],
    });
    await probe.waitFor((e) => e.p === 'x');
    expect(probe.frames.at(-1)).toEqual([{ ev: 'T', sym: 'TSLA', p: 'x' }, 42]);

    expect(standIn.connectionCount()).toBe(1);
    expect(standIn.dropConnections()).toBe(1);
    expect((await probe.closed).code).toBe(1006);

    standIn.refuseConnections(1);
    await expect(openProbe(`${standIn.wsUrl}/stocks`)).rejects.toThrow('503');
    const again = await openProbe(`${standIn.wsUrl}/stocks`);
    await again.waitFor((e) => e.status === 'connected');
    expect(standIn.connectionsAccepted()).toBe(2);
    expect(standIn.requests.filter((r) => r.route === 'ws').map((r) => r.status)).toEqual([101, 503, 101]);
    again.ws.close();
  });
});
