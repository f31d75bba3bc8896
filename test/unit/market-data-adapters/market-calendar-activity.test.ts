import { createMarketDataActivities } from '../../../src/activities/market-data-activities';
import { sessionStatus } from '../../../src/domain/sessions';
import { REGULAR_SESSION } from '../../../src/domain/config';
import { createPolygonRest } from '../../../src/market-data/polygon-rest';
import { createPolygonStreamHub } from '../../../src/market-data/polygon-stream-hub';
import { loadPolygonSdk } from '../../../src/market-data/polygon-sdk';
import { TokenBucketRateLimiter } from '../../../src/market-data/rate-limiter';
import { startPolygonStandIn, type PolygonStandIn } from '../../support/polygon-stand-in';

// Issue 13 item 4: the exchange calendar from /v1/marketstatus/upcoming and /now through @polygon.io/client-js.
const KEY = 'secret-key-123';
let standIn: PolygonStandIn;
afterEach(() => standIn.close());

const THANKSGIVING_2026 = [
  { date: '2026-11-26', exchange: 'NYSE', name: 'Thanksgiving', status: 'closed' },
  { date: '2026-11-26', exchange: 'NASDAQ', name: 'Thanksgiving', status: 'closed' },
  { date: '2026-11-26', exchange: 'OTC', name: 'Thanksgiving', status: 'closed' },
  {
    date: '2026-11-27',
    exchange: 'NYSE',
    name: 'Thanksgiving',
    status: 'early-close',
    open: '2026-11-27T14:30:00.000Z',
    close: '2026-11-27T18:00:00.000Z',
  },
  { date: '2026-12-25', exchange: 'NYSE', name: 'Christmas', status: 'closed' },
  { date: '2027-01-01', exchange: 'NYSE', name: 'New Year', status: 'closed' },
];

async function activities(options: { nowMs: () => number; configured?: boolean; limiter?: TokenBucketRateLimiter }) {
  const sdk = await loadPolygonSdk();
  const rateLimiter = options.limiter ?? new TokenBucketRateLimiter({ ratePerSecond: 1000, burst: 1000 });
  const rest = await createPolygonRest({ apiKey: KEY, baseUrl: standIn.restUrl, sdk, rateLimiter });
  return createMarketDataActivities({
    polygon: () => Promise.resolve(rest),
    polygonConfigured: () => options.configured ?? true,
    streamHub: createPolygonStreamHub({ config: () => ({ apiKey: 'unused' }) }),
    clockMs: options.nowMs,
  });
}

describe('marketCalendar', () => {
  it('holidays and early closes of the next two weeks, rate-limited, cached for the New York day', async () => {
    standIn = await startPolygonStandIn({ apiKey: KEY });
    standIn.setHolidays(THANKSGIVING_2026);
    let now = Date.parse('2026-11-23T15:00:00Z'); // Monday 10:00 EST
    const limiter = new TokenBucketRateLimiter({ ratePerSecond: 1000, burst: 1000 });
    const a = await activities({ nowMs: () => now, limiter });
    const calendar = await a.marketCalendar({});
    expect(calendar).toEqual({
      timeZone: 'America/New_York',
      closed: { '2026-11-26': 'Thanksgiving' },
      earlyCloses: { '2026-11-27': { close: '13:00', name: 'Thanksgiving' } },
    });
    expect(standIn.requestCount('market-upcoming')).toBe(1);
    expect(standIn.requestCount('market-now')).toBe(1);
    expect(limiter.stats().acquired).toBe(2);
    // Same New York day: the cache answers.
    now += 8 * 3_600_000;
    await a.marketCalendar({});
    expect(standIn.requestCount('market-upcoming')).toBe(1);
    // Next day: asked again.
    now += 6 * 3_600_000;
    await a.marketCalendar({});
    expect(standIn.requestCount('market-upcoming')).toBe(2);
    expect(sessionStatus(Date.parse('2026-11-26T15:00:00Z'), [REGULAR_SESSION], calendar)).toMatchObject({
      open: false,
      reason: 'holiday (Thanksgiving)',
    });
  });

  it('an unscheduled closure (market closed during regular hours on a weekday) closes today', async () => {
    standIn = await startPolygonStandIn({ apiKey: KEY });
    standIn.setMarketStatus('closed');
    const a = await activities({ nowMs: () => Date.parse('2026-11-24T16:00:00Z') });
    expect((await a.marketCalendar({}))!.closed).toEqual({ '2026-11-24': 'market closed (Polygon market status)' });
  });

  it('no Polygon key: null at once, no request', async () => {
    standIn = await startPolygonStandIn({ apiKey: KEY });
    const a = await activities({ nowMs: () => Date.now(), configured: false });
    expect(await a.marketCalendar({})).toBeNull();
    expect(standIn.requests).toHaveLength(0);
  });

  it('a malformed row is rejected with the field named; nothing is cached', async () => {
    standIn = await startPolygonStandIn({ apiKey: KEY });
    standIn.setHolidays([{ date: '2026-11-27', exchange: 'NYSE', name: 'Thanksgiving', status: 'early-close' }]);
    const a = await activities({ nowMs: () => Date.parse('2026-11-23T15:00:00Z') });
    await expect(a.marketCalendar({})).rejects.toThrow(
      'marketstatus/upcoming.0.close: must be set on an early-close row',
    );
    standIn.setHolidays([{ date: '27/11/2026', exchange: 'NYSE', name: 'x', status: 'closed' }]);
    await expect(a.marketCalendar({})).rejects.toThrow(/date.*YYYY-MM-DD/);
    standIn.setHolidays([]);
    expect(await a.marketCalendar({})).toMatchObject({ closed: {} });
  });

  it('a Polygon error fails the activity (401 with a wrong key)', async () => {
    standIn = await startPolygonStandIn({ apiKey: KEY });
    standIn.setApiKey('another');
    const a = await activities({ nowMs: () => Date.now() });
    await expect(a.marketCalendar({})).rejects.toThrow();
  });
});
