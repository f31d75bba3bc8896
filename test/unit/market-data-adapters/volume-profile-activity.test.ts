import { createMarketDataActivities } from '../../../src/activities/market-data-activities';
import { profileMinutes } from '../../../src/domain/detectors/volume-profile';
import { resolveConfig } from '../../../src/domain/config';
import { createPolygonRest } from '../../../src/market-data/polygon-rest';
import { createPolygonStreamHub } from '../../../src/market-data/polygon-stream-hub';
import { loadPolygonSdk } from '../../../src/market-data/polygon-sdk';
import { TokenBucketRateLimiter } from '../../../src/market-data/rate-limiter';
import { startPolygonStandIn, type PolygonStandIn } from '../../support/polygon-stand-in';

// Issue 16 item 3, live: the intraday curve from Polygon's minute aggregates of the previous N sessions, fetched
// through @polygon.io/client-js and the worker's rate limiter from the stand-in's /v2/aggs endpoint.
const KEY = 'secret-key-123';
let standIn: PolygonStandIn;
afterEach(() => standIn.close());

/** 09:30 New York of a 2025 December day (EST, UTC−5), Unix ms. */
const openOf = (day: number) => Date.UTC(2025, 11, day, 14, 30);
/** Bars: `v(day)` shares in the first session minute of each day, 100 in its second, one pre-market bar. */
const barsOf = (days: number[], v: (day: number) => number) =>
  days.flatMap((d) => [
    { t: openOf(d) - 60_000, v: 1_000_000, o: 1, h: 1, l: 1, c: 1, n: 1 },
    { t: openOf(d), v: v(d), o: 1, h: 1, l: 1, c: 1, n: 1 },
    { t: openOf(d) + 60_000, v: 100, o: 1, h: 1, l: 1, c: 1, n: 1 },
  ]);

async function activities(limiter: TokenBucketRateLimiter, nowMs: number) {
  const sdk = await loadPolygonSdk();
  const rest = await createPolygonRest({ apiKey: KEY, baseUrl: standIn.restUrl, sdk, rateLimiter: limiter });
  return createMarketDataActivities({
    polygon: () => Promise.resolve(rest),
    streamHub: createPolygonStreamHub({ config: () => ({ apiKey: 'unused' }) }),
    clockMs: () => nowMs,
  });
}

describe('fetchVolumeProfile', () => {
  it('the previous N sessions only (not today, not older ones), pre-market ignored, one rate-limited request', async () => {
    standIn = await startPolygonStandIn({ apiKey: KEY });
    // Mon 1 … Fri 12 December 2025; today is Fri 12 at 10:00 New York.
    standIn.loadMinuteBars(
      'TSLA',
      barsOf([1, 2, 3, 4, 5, 8, 9, 10, 11, 12], (d) => d * 1000),
    );
    const limiter = new TokenBucketRateLimiter({ ratePerSecond: 1000, burst: 1000 });
    const a = await activities(limiter, openOf(12) + 30 * 60_000);
    const profile = (await a.fetchVolumeProfile({ symbol: 'TSLA', days: 3 }))!;
    // Sessions 9, 10 and 11: first minute (9000 + 10000 + 11000) / 3.
    expect(profile.days).toBe(3);
    expect(profileMinutes(profile, 0).slice(0, 3)).toEqual([10_000, 100, 0]);
    expect(standIn.requestCount('aggs')).toBe(1);
    expect(standIn.requests[0]!.path).toMatch(/^\/v2\/aggs\/ticker\/TSLA\/range\/1\/minute\/2025-11-30\/2025-12-11\?/);
    expect(limiter.stats().acquired).toBe(1);
  });

  it('days 0: no request, no profile; no bars: null', async () => {
    standIn = await startPolygonStandIn({ apiKey: KEY });
    const a = await activities(new TokenBucketRateLimiter({ ratePerSecond: 1000, burst: 1000 }), openOf(12));
    expect(await a.fetchVolumeProfile({ symbol: 'TSLA', days: 0 })).toBeNull();
    expect(standIn.requestCount('aggs')).toBe(0);
    expect(await a.fetchVolumeProfile({ symbol: 'TSLA', days: 5 })).toBeNull();
  });

  it('a throttled request fails the activity as rate limited (retried by its policy), a bad key as unauthorized', async () => {
    standIn = await startPolygonStandIn({ apiKey: KEY });
    standIn.loadMinuteBars(
      'TSLA',
      barsOf([11], () => 500),
    );
    const a = await activities(new TokenBucketRateLimiter({ ratePerSecond: 1000, burst: 1000 }), openOf(12));
    standIn.failNext({ status: 429, route: 'aggs', retryAfterSeconds: 2 });
    await expect(a.fetchVolumeProfile({ symbol: 'TSLA', days: 1 })).rejects.toMatchObject({
      type: 'PolygonRateLimited',
      nonRetryable: false,
    });
    expect((await a.fetchVolumeProfile({ symbol: 'TSLA', days: 1 }))?.days).toBe(1);
    standIn.setApiKey('another');
    await expect(a.fetchVolumeProfile({ symbol: 'TSLA', days: 1 })).rejects.toMatchObject({
      type: 'PolygonUnauthorized',
    });
  });

  it('volumeProfileDays is a validated setting (FLOWGUARD_DETECTOR_VOLUME_PROFILE_DAYS)', () => {
    expect(resolveConfig({ env: {} }).detectors.volumeProfileDays).toBe(10);
    expect(() => resolveConfig({ env: { FLOWGUARD_DETECTOR_VOLUME_PROFILE_DAYS: '31' } })).toThrow(
      'FLOWGUARD_DETECTOR_VOLUME_PROFILE_DAYS: must be ≤ 30',
    );
  });
});
