import { startPolygonStandIn, type PolygonStandIn } from '../../support/polygon-stand-in';
import { PolygonUnauthorized, PolygonUnavailable, type PolygonError } from '../../../src/market-data/polygon-errors';
import { loadPolygonSdk, type PolygonSdk } from '../../../src/market-data/polygon-sdk';
import { openPolygonStream } from '../../../src/market-data/polygon-stream';
import {
  createPolygonStreamHub,
  type PolygonStreamHub,
  type PolygonStreamHubOptions,
  type SymbolFeed,
} from '../../../src/market-data/polygon-stream-hub';
import { until } from '../../support/until';
import { BASE_NS, quote, trade } from '../polygon-stand-in/records';

const KEY = 'hub-key';
let sdk: PolygonSdk;
let standIn: PolygonStandIn;
let hub: PolygonStreamHub | undefined;

beforeAll(async () => {
  sdk = await loadPolygonSdk();
});

beforeEach(async () => {
  // Polygon's usual plan: one connection per key.
  standIn = await startPolygonStandIn({ apiKey: KEY, maxConnections: 1 });
});

afterEach(async () => {
  await hub?.close();
  hub = undefined;
  await standIn.close();
});

const settle = () => new Promise((r) => setTimeout(r, 60));

function newHub(overrides: Partial<PolygonStreamHubOptions> = {}): PolygonStreamHub {
  hub = createPolygonStreamHub({
    config: () => ({ apiKey: KEY, wsBaseUrl: standIn.wsUrl }),
    sdk,
    backoff: { initialMs: 20, maxMs: 100, jitter: 0 },
    connectTimeoutMs: 2000,
    idleCloseMs: 100,
    ...overrides,
  });
  return hub;
}

function feed() {
  const received: Record<string, unknown>[] = [];
  const reconnects: number[] = [];
  const fatal: PolygonError[] = [];
  const f: SymbolFeed = {
    onMessages: (messages) => received.push(...(messages as Record<string, unknown>[])),
    onReconnect: (info) => reconnects.push(info.reconnects),
    onFatal: (error) => fatal.push(error),
  };
  return { f, received, reconnects, fatal };
}

describe('Polygon stream hub', () => {
  it('a second connection on the same key is refused with max_connections, which is why the hub exists', async () => {
    const first = await openPolygonStream({
      apiKey: KEY,
      wsBaseUrl: standIn.wsUrl,
      symbols: ['A'],
      sdk,
      onMessages: () => undefined,
    });
    try {
      await expect(
        openPolygonStream({ apiKey: KEY, wsBaseUrl: standIn.wsUrl, symbols: ['B'], sdk, onMessages: () => undefined }),
      ).rejects.toThrow(/connection limit .*max_connections/);
      expect(standIn.connectionsOverLimit()).toBe(1);
    } finally {
      await first.close();
    }
  });

  it('serves many symbols over one connection, each feed getting only its own symbol', async () => {
    const h = newHub();
    const tsla = feed();
    const aapl = feed();
    await Promise.all([h.subscribe('TSLA', tsla.f), h.subscribe('AAPL', aapl.f)]);
    const msft = feed();
    await h.subscribe('MSFT', msft.f); // added to the open connection
    expect(standIn.connectionsAccepted()).toBe(1);
    expect(standIn.connectionsOverLimit()).toBe(0);

    standIn.publish('TSLA', { quotes: [quote(1, BASE_NS)], trades: [trade(2, BASE_NS + 1_000_000n)] });
    standIn.publish('AAPL', { trades: [trade(3, BASE_NS)] });
    standIn.publish('MSFT', { trades: [trade(4, BASE_NS)] });
    standIn.publish('NVDA', { trades: [trade(5, BASE_NS)] });
    await until(() => tsla.received.length >= 2 && aapl.received.length >= 1 && msft.received.length >= 1);
    await settle();
    expect(tsla.received.map((m) => [m.ev, m.sym, m.q])).toEqual([
      ['Q', 'TSLA', 1],
      ['T', 'TSLA', 2],
    ]);
    expect(aapl.received.map((m) => m.q)).toEqual([3]);
    expect(msft.received.map((m) => m.q)).toEqual([4]);
    expect(h.stats()).toMatchObject({ connected: true, symbols: 3, feeds: 3, opened: 1 });
  });

  it('keeps a symbol while any feed wants it, unsubscribes it after the last, and closes the idle socket', async () => {
    const h = newHub();
    const one = feed();
    const two = feed();
    const sub1 = await h.subscribe('TSLA', one.f);
    const sub2 = await h.subscribe('TSLA', two.f);
    standIn.publish('TSLA', { trades: [trade(1, BASE_NS)] });
    await until(() => one.received.length === 1 && two.received.length === 1);

    sub1.close();
    sub1.close(); // idempotent
    standIn.publish('TSLA', { trades: [trade(2, BASE_NS + 1_000_000n)] });
    await until(() => two.received.length === 2);
    expect(one.received).toHaveLength(1);

    sub2.close();
    await settle();
    standIn.publish('TSLA', { trades: [trade(3, BASE_NS + 2_000_000n)] });
    await settle();
    expect(two.received).toHaveLength(2);
    await until(() => standIn.connectionCount() === 0);
    expect(h.stats()).toMatchObject({ connected: false, symbols: 0, feeds: 0 });

    // The next subscription opens a fresh connection.
    const three = feed();
    await h.subscribe('AAPL', three.f);
    standIn.publish('AAPL', { trades: [trade(4, BASE_NS)] });
    await until(() => three.received.length === 1);
    expect(h.stats().opened).toBe(2);
  });

  it('tells every feed about a reconnect and resubscribes every symbol', async () => {
    const h = newHub();
    const tsla = feed();
    const aapl = feed();
    await h.subscribe('TSLA', tsla.f);
    await h.subscribe('AAPL', aapl.f);
    standIn.refuseConnections(2);
    standIn.dropConnections();
    await until(() => tsla.reconnects.length === 1 && aapl.reconnects.length === 1);
    standIn.publish('TSLA', { trades: [trade(1, BASE_NS)] });
    standIn.publish('AAPL', { trades: [trade(2, BASE_NS)] });
    await until(() => tsla.received.length === 1 && aapl.received.length === 1);
    expect(standIn.connectionCount()).toBe(1);
  });

  it('subscribes a symbol asked for during an outage once the socket is back', async () => {
    const h = newHub({ backoff: { initialMs: 150, maxMs: 150, jitter: 0 } });
    const tsla = feed();
    await h.subscribe('TSLA', tsla.f);
    standIn.dropConnections();
    const aapl = feed();
    await h.subscribe('AAPL', aapl.f); // resolves after the reconnect confirms it
    standIn.publish('AAPL', { trades: [trade(1, BASE_NS)] });
    await until(() => aapl.received.length === 1);
    expect(tsla.reconnects).toEqual([1]);
  });

  it('rejects with PolygonUnauthorized for a refused key, and reads the key again for the next connection', async () => {
    let key = 'wrong';
    const h = newHub({ config: () => ({ apiKey: key, wsBaseUrl: standIn.wsUrl }) });
    await expect(h.subscribe('TSLA', feed().f)).rejects.toBeInstanceOf(PolygonUnauthorized);
    expect(h.stats()).toMatchObject({ symbols: 0, feeds: 0 });
    key = KEY;
    const tsla = feed();
    await h.subscribe('TSLA', tsla.f);
    standIn.publish('TSLA', { trades: [trade(1, BASE_NS)] });
    await until(() => tsla.received.length === 1);
  });

  it('reports a socket that gives up to every feed', async () => {
    const h = newHub({ backoff: { initialMs: 10, maxMs: 10, jitter: 0 } });
    const tsla = feed();
    await h.subscribe('TSLA', tsla.f);
    standIn.setApiKey('rotated'); // the reconnect authenticates with the old key
    standIn.dropConnections();
    await until(() => tsla.fatal.length === 1);
    expect(tsla.fatal[0]).toBeInstanceOf(PolygonUnauthorized);
  });

  it('refuses subscriptions once closed', async () => {
    const h = newHub();
    await h.close();
    await expect(h.subscribe('TSLA', feed().f)).rejects.toBeInstanceOf(PolygonUnavailable);
  });
});
