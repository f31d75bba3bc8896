import { MockActivityEnvironment } from '@temporalio/testing';
import {
  createMarketDataActivities,
  POLL_HEARTBEAT_MS,
  type PollMarketDataInput,
  type PollMarketDataResult,
} from '../../../src/activities/market-data-activities';
import { cursorFrom, type PolygonRest } from '../../../src/market-data/polygon-rest';
import { DEFAULT_DETECTOR_CONFIG } from '../../../src/domain/detectors/config';
import { createFlowguardMetrics, type FlowguardMetrics } from '../../../src/observability/flowguard-metrics';
import { createPolygonStreamHub } from '../../../src/market-data/polygon-stream-hub';

/** A Polygon client whose trades page takes `delayMs` and which has no data. */
function slowPolygon(delayMs: number): PolygonRest {
  const empty = { records: [], cursor: cursorFrom('0'), pages: 1, truncated: false };
  return {
    fetchTradesSince: () => new Promise((r) => setTimeout(() => r(empty), delayMs)),
    fetchQuotesSince: () => Promise.resolve(empty),
    lastTrade: () => Promise.resolve(undefined),
    lastQuote: () => Promise.resolve(undefined),
    validateKey: () => Promise.resolve(),
    minuteAggregates: () => Promise.resolve([]),
    marketHolidays: () => Promise.resolve([]),
    marketStatus: () => Promise.resolve({}),
  };
}

function activities(
  delayMs: number,
  polygon: PolygonRest = slowPolygon(delayMs),
  clockMs?: () => number,
  metrics?: FlowguardMetrics,
) {
  const streamHub = createPolygonStreamHub({ config: () => ({ apiKey: 'unused' }) });
  return createMarketDataActivities({
    polygon: () => Promise.resolve(polygon),
    streamHub,
    clockMs,
    ...(metrics ? { metrics } : {}),
  });
}

/** 2025-12-01 15:00:00 UTC. */
const T0_MS = 1_764_601_200_000;
const nsAt = (ms: number) => (BigInt(T0_MS + ms) * 1_000_000n).toString();

/** The NBBO at +100 ms, then 12,000, 15,000 and 25,000 shares at the bid at +200/+500/+800 ms. */
function clusterPolygon(): PolygonRest {
  const quotes = [
    {
      ask_exchange: 11,
      ask_price: 249.53,
      ask_size: 300,
      bid_exchange: 11,
      bid_price: 249.5,
      bid_size: 300,
      participant_timestamp: nsAt(100),
      sequence_number: 1,
      sip_timestamp: nsAt(100),
      tape: 3,
    },
  ];
  const trades = [12_000, 15_000, 25_000].map((size, i) => ({
    exchange: 11,
    id: `t${i}`,
    participant_timestamp: nsAt(200 + i * 300),
    price: 249.5,
    sequence_number: 10 + i,
    sip_timestamp: nsAt(200 + i * 300),
    size,
    tape: 3,
  }));
  const page = <T>(records: T[]) => ({ records, cursor: cursorFrom(nsAt(1000)), pages: 1, truncated: false });
  return { ...slowPolygon(0), fetchTradesSince: async () => page(trades), fetchQuotesSince: async () => page(quotes) };
}

const input = {
  positionId: 'p1',
  symbol: 'TSLA',
  config: DEFAULT_DETECTOR_CONFIG,
  detectorState: null,
  cursors: null,
  backfillFromNs: '0',
  liveFromNs: null,
  staleCheck: true,
};

describe('pollMarketData heartbeats while it runs (a lost worker is noticed within the heartbeat timeout)', () => {
  it('a poll slower than the heartbeat interval heartbeats, and stops once it returns', async () => {
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => (beats += 1));
    const acts = activities(POLL_HEARTBEAT_MS * 2.5);
    const result: PollMarketDataResult = await env.run((i: PollMarketDataInput) => acts.pollMarketData(i), input);
    expect(result.late).toBe(0);
    expect(beats).toBe(2);
    await new Promise((r) => setTimeout(r, POLL_HEARTBEAT_MS * 1.5));
    expect(beats).toBe(2);
  });

  it('a normal (fast) poll sends no heartbeat: no extra server round trip per poll', async () => {
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => (beats += 1));
    const acts = activities(5);
    await env.run((i: PollMarketDataInput) => acts.pollMarketData(i), input);
    expect(beats).toBe(0);
  });

  it('outside an activity (scripts, tests) it polls without heartbeating', async () => {
    await expect(activities(5).pollMarketData(input)).resolves.toMatchObject({ late: 0, truncated: false });
  });
});

describe('pollMarketData: a gap fetched late is processed, a feed that is behind is not', () => {
  // Polled 2 minutes after the prints (the lost poll's retry); staleRejectSeconds is 30.
  const now = () => T0_MS + 120_000;
  const gapInput = { ...input, cursors: { trades: cursorFrom(nsAt(0)), quotes: cursorFrom(nsAt(0)) } };

  it('caught up just before the prints: all four records are late, the alerts and the exit say so', async () => {
    const r = await activities(0, clusterPolygon(), now).pollMarketData({ ...gapInput, caughtUpAtNs: nsAt(-1000) });
    expect(r.late).toBe(4);
    expect(r.alerts.map((a) => [a.kind, a.late, a.timestampNs])).toEqual([
      ['large_seller', true, nsAt(200)],
      ['large_seller', true, nsAt(500)],
      ['large_seller', true, nsAt(800)],
    ]);
    expect(r.exitSignal).toMatchObject({ reason: 'large_seller_cluster', late: true, timestampNs: nsAt(800) });
    expect(r.stats.rejected.STALE).toBe(0);
    // The live edge is still judged on its own: the newest data is 2 minutes old.
    expect(r.freshness).toBe('stale');
  });

  it('caught up 1 s ago yet the records are 2 minutes old: the feed is behind, they stay STALE', async () => {
    const r = await activities(0, clusterPolygon(), now).pollMarketData({ ...gapInput, caughtUpAtNs: nsAt(119_000) });
    expect(r.alerts).toEqual([]);
    expect(r.exitSignal).toBeNull();
    expect(r.stats.rejected.STALE).toBe(4);
    expect(r.late).toBe(0);
  });

  it('without a caught-up time (a stream backfill) the gap runs from the cursor', async () => {
    const r = await activities(0, clusterPolygon(), now).pollMarketData(gapInput);
    expect(r.alerts).toHaveLength(3);
    expect(r.late).toBe(4);
  });
});

describe('pollMarketData: a detector state that does not fit the configuration (issue 17 item 3)', () => {
  it('a 5-minute state under a 6-minute config is rebuilt quietly from history, not a permanent ValidationError', async () => {
    const env = new MockActivityEnvironment();
    const fetched: string[] = [];
    const base = clusterPolygon();
    const polygon: PolygonRest = {
      ...base,
      fetchTradesSince: (symbol, cursor, options) => {
        fetched.push(cursor.sipTimestamp);
        return base.fetchTradesSince(symbol, cursor, options);
      },
    };
    const metrics = createFlowguardMetrics();
    const acts = activities(0, polygon, () => T0_MS + 2000, metrics);
    const first: PollMarketDataResult = await env.run((i: PollMarketDataInput) => acts.pollMarketData(i), {
      ...input,
      staleCheck: false,
    });
    const sixMinutes = { ...DEFAULT_DETECTOR_CONFIG, baselineMinutes: 6 };
    const result: PollMarketDataResult = await env.run((i: PollMarketDataInput) => acts.pollMarketData(i), {
      ...input,
      staleCheck: false,
      config: sixMinutes,
      detectorState: first.detectorState,
      cursors: first.cursors,
    });
    expect(result.rebuilt).toMatch(/state\.base/);
    expect(metrics.detectorStateRebuilds.get({})).toBe(1);
    // From 7 minutes before now, not from the old cursor, and quietly: the history raises no alerts.
    expect(fetched[1]).toBe(nsAt(2000 - 7 * 60_000));
    expect(result.alerts).toEqual([]);
    expect(result.live).toBe(true);
  });
});
