import { startPolygonStandIn, type PolygonStandIn } from '../../support/polygon-stand-in';
import { PolygonUnauthorized, PolygonUnavailable, type PolygonError } from '../../../src/market-data/polygon-errors';
import { loadPolygonSdk, type PolygonSdk } from '../../../src/market-data/polygon-sdk';
import {
  openPolygonStream,
  type PolygonReconnectInfo,
  type PolygonStream,
  type PolygonStreamOptions,
} from '../../../src/market-data/polygon-stream';
import { until } from '../../support/until';
import { BASE_NS, quote, trade } from '../polygon-stand-in/records';

const KEY = 'ws-key';
let sdk: PolygonSdk;
let standIn: PolygonStandIn;
let stream: PolygonStream | undefined;

beforeAll(async () => {
  sdk = await loadPolygonSdk();
});

beforeEach(async () => {
  standIn = await startPolygonStandIn({ apiKey: KEY });
});

afterEach(async () => {
  await stream?.close();
  stream = undefined;
  await standIn.close();
});

function collector(overrides: Partial<PolygonStreamOptions> = {}) {
  const received: Record<string, unknown>[] = [];
  const batches: number[] = [];
  const reconnects: PolygonReconnectInfo[] = [];
  const fatal: PolygonError[] = [];
  const disconnects: unknown[] = [];
  const options: PolygonStreamOptions = {
    apiKey: KEY,
    wsBaseUrl: standIn.wsUrl,
    symbols: ['TSLA'],
    sdk,
    backoff: { initialMs: 20, maxMs: 100, jitter: 0 },
    connectTimeoutMs: 2000,
    onMessages: (messages) => {
      batches.push(messages.length);
      received.push(...(messages as Record<string, unknown>[]));
    },
    onReconnect: (info) => reconnects.push(info),
    onFatal: (error) => fatal.push(error),
    onDisconnect: (info) => disconnects.push(info),
    ...overrides,
  };
  return { options, received, batches, reconnects, fatal, disconnects };
}

describe('openPolygonStream', () => {
  it('connects, authenticates, subscribes to T and Q, and delivers raw batches', async () => {
    const c = collector();
    stream = await openPolygonStream(c.options);
    expect(stream.state).toBe('open');
    standIn.publish('TSLA', { quotes: [quote(1, BASE_NS)], trades: [trade(2, BASE_NS + 1_000_000n)] });
    standIn.publish('AAPL', { trades: [trade(3, BASE_NS)] });
    await until(() => c.received.length >= 2);
    expect(c.received).toEqual([
      expect.objectContaining({ ev: 'Q', sym: 'TSLA', q: 1, t: 1732200000123 }),
      expect.objectContaining({ ev: 'T', sym: 'TSLA', q: 2, t: 1732200000124, p: 100.25 }),
    ]);
    expect(c.batches).toEqual([2]);
    expect(stream.stats()).toMatchObject({
      connects: 1,
      reconnects: 0,
      messages: 2,
      lastSeenMs: { TSLA: 1732200000124 },
    });
  });

  it('subscribes only the requested channels', async () => {
    const c = collector({ channels: ['T'], symbols: ['TSLA', 'AAPL'] });
    stream = await openPolygonStream(c.options);
    standIn.publish('TSLA', { quotes: [quote(1, BASE_NS)], trades: [trade(2, BASE_NS)] });
    standIn.publish('AAPL', { trades: [trade(3, BASE_NS)] });
    await until(() => c.received.length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.received.map((m) => [m.ev, m.sym])).toEqual([
      ['T', 'TSLA'],
      ['T', 'AAPL'],
    ]);
  });

  it('rejects with PolygonUnauthorized when authentication fails, without retrying', async () => {
    const c = collector({ apiKey: 'wrong' });
    await expect(openPolygonStream(c.options)).rejects.toBeInstanceOf(PolygonUnauthorized);
    await new Promise((r) => setTimeout(r, 150));
    expect(standIn.connectionsAccepted()).toBe(1);
  });

  it('rejects with PolygonUnavailable when the server cannot be reached', async () => {
    standIn.refuseConnections(1);
    await expect(openPolygonStream(collector().options)).rejects.toBeInstanceOf(PolygonUnavailable);
  });

  it('reconnects with backoff after a dropped socket and reports the last seen time for backfill', async () => {
    const c = collector();
    stream = await openPolygonStream(c.options);
    standIn.publish('TSLA', { trades: [trade(1, BASE_NS), trade(2, BASE_NS + 7_000_000n)] });
    await until(() => c.received.length === 2);

    standIn.refuseConnections(2); // the first two reconnect attempts fail
    standIn.dropConnections();
    await until(() => c.reconnects.length === 1);
    expect(c.disconnects).toHaveLength(1);
    expect(c.reconnects[0]).toMatchObject({ attempts: 3, reconnects: 1, lastSeenMs: { TSLA: 1732200000130 } });
    expect(c.reconnects[0]!.reconnectedAtMs).toBeGreaterThanOrEqual(c.reconnects[0]!.disconnectedAtMs);
    expect(stream.state).toBe('open');

    // Subscribed again: live data flows on the new connection.
    standIn.publish('TSLA', { trades: [trade(3, BASE_NS + 9_000_000n)] });
    await until(() => c.received.length === 3);
    expect(standIn.connectionCount()).toBe(1);
    expect(stream.stats()).toMatchObject({ reconnects: 1, connects: 4 });

    // A clean close from the server is a drop too.
    standIn.dropConnections({ code: 1001, reason: 'going away' });
    await until(() => c.reconnects.length === 2);
    expect(c.reconnects[1]).toMatchObject({ attempts: 1, lastSeenMs: { TSLA: 1732200000132 } });
  });

  it('gives up with onFatal after maxReconnectAttempts', async () => {
    const c = collector({ maxReconnectAttempts: 2 });
    stream = await openPolygonStream(c.options);
    standIn.refuseConnections(10);
    standIn.dropConnections();
    await until(() => c.fatal.length === 1);
    expect(c.fatal[0]).toBeInstanceOf(PolygonUnavailable);
    expect(stream.state).toBe('failed');
    expect(standIn.requests.filter((r) => r.route === 'ws').map((r) => r.status)).toEqual([101, 503, 503]);
  });

  it('stops reconnecting when the key is no longer accepted', async () => {
    const c = collector();
    stream = await openPolygonStream(c.options);
    standIn.setApiKey('rotated');
    standIn.dropConnections();
    await until(() => c.fatal.length === 1);
    expect(c.fatal[0]).toBeInstanceOf(PolygonUnauthorized);
    await new Promise((r) => setTimeout(r, 150));
    expect(standIn.connectionsAccepted()).toBe(2);
    expect(c.reconnects).toHaveLength(0);
  });

  it('passes malformed rows through and survives unparseable frames and throwing callbacks', async () => {
    let calls = 0;
    const c = collector();
    stream = await openPolygonStream({
      ...c.options,
      onMessages: (messages) => {
        calls += 1;
        c.received.push(...(messages as Record<string, unknown>[]));
        if (calls === 1) throw new Error('callback bug');
      },
    });
    standIn.injectMalformed({
      symbol: 'TSLA',
      kind: 'trades',
      via: 'ws',
      rows: [{ ev: 'T', sym: 'TSLA', p: -1 }, 'x', null],
    });
    await until(() => c.received.length === 3);
    expect(c.received).toEqual([{ ev: 'T', sym: 'TSLA', p: -1 }, 'x', null]);
    standIn.publish('TSLA', { trades: [trade(5, BASE_NS)] });
    await until(() => c.received.length === 4);
    expect(stream.stats()).toMatchObject({ callbackErrors: 1, reconnects: 0 });
  });

  it('closes cleanly and does not reconnect afterwards', async () => {
    const c = collector();
    stream = await openPolygonStream(c.options);
    await stream.close();
    expect(stream.state).toBe('closed');
    await until(() => standIn.connectionCount() === 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(standIn.connectionsAccepted()).toBe(1);
    expect(c.disconnects).toHaveLength(0);
  });
  it('a quiet but healthy link is kept: pongs count as life, so no message for 4 × the liveness bound drops nothing', async () => {
    const drops: number[] = [];
    const c = collector({ livenessTimeoutMs: 300, onLivenessDrop: ({ silentMs }) => drops.push(silentMs) });
    stream = await openPolygonStream(c.options);
    // No market message at all for 1.2 s: a dead-link check that only counted messages would drop it 3 times.
    await new Promise((r) => setTimeout(r, 1200));
    expect(drops).toEqual([]);
    expect(stream.stats()).toMatchObject({ livenessDrops: 0, reconnects: 0 });
    expect(stream.state).toBe('open');
    // And it still delivers afterwards.
    standIn.publish('TSLA', { trades: [trade(9, BASE_NS)] });
    await until(() => c.received.length > 0);
  });
});
