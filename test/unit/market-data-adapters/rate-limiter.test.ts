import { startPolygonStandIn } from '../../support/polygon-stand-in';
import { createPolygonRest, cursorFrom } from '../../../src/market-data/polygon-rest';
import { loadPolygonSdk } from '../../../src/market-data/polygon-sdk';
import {
  resetSharedRateLimiters,
  sharedRateLimiter,
  TokenBucketRateLimiter,
} from '../../../src/market-data/rate-limiter';

/** A fake clock: sleeping advances time, so waits are observable without real delays. */
function fakeClock() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: (ms: number) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    advance: (ms: number) => {
      now += ms;
    },
    sleeps,
  };
}

describe('TokenBucketRateLimiter', () => {
  it('spaces permits 1/rate apart after the burst, in call order', async () => {
    const clock = fakeClock();
    const limiter = new TokenBucketRateLimiter({ ratePerSecond: 5, burst: 1, now: clock.now, sleep: clock.sleep });
    await Promise.all(Array.from({ length: 5 }, () => limiter.acquire()));
    expect(clock.sleeps).toEqual([200, 400, 600, 800]);
    expect(limiter.stats()).toMatchObject({ acquired: 5, waits: 4, totalWaitMs: 2000, maxWaitMs: 800 });
  });

  it('refills with time, never above the burst', async () => {
    const clock = fakeClock();
    const limiter = new TokenBucketRateLimiter({ ratePerSecond: 10, burst: 3, now: clock.now, sleep: clock.sleep });
    clock.advance(60_000);
    for (let i = 0; i < 3; i++) expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
    clock.advance(100);
    expect(limiter.tryAcquire()).toBe(true);
    await limiter.acquire();
    expect(clock.sleeps).toEqual([100]);
  });

  it('rejects nonsense settings', () => {
    expect(() => new TokenBucketRateLimiter({ ratePerSecond: 0 })).toThrow('ratePerSecond must be a positive number');
    expect(() => new TokenBucketRateLimiter({ burst: 0.5 })).toThrow('burst must be a positive integer');
  });

  it('shares one limiter per name', () => {
    resetSharedRateLimiters();
    const a = sharedRateLimiter('polygon', { ratePerSecond: 2 });
    expect(sharedRateLimiter('polygon')).toBe(a);
    expect(sharedRateLimiter('other')).not.toBe(a);
    expect(a.ratePerSecond).toBe(2);
    resetSharedRateLimiters();
  });

  it('bounds the requests the stand-in sees per second, next_url pages included', async () => {
    const standIn = await startPolygonStandIn({ apiKey: 'k' });
    try {
      standIn.loadScenario('TSLA', {
        trades: Array.from({ length: 4 }, (_, i) => ({ sequence_number: i, sip_timestamp: 10n + BigInt(i) })),
      });
      const sdk = await loadPolygonSdk();
      const limiter = new TokenBucketRateLimiter({ ratePerSecond: 10, burst: 1 });
      // Two monitors sharing a worker's limiter; each call pages through 4 one-record pages.
      const monitors = await Promise.all(
        [1, 2].map(() =>
          createPolygonRest({ apiKey: 'k', baseUrl: standIn.restUrl, sdk, rateLimiter: limiter, pageLimit: 1 }),
        ),
      );
      const started = Date.now();
      const pages = await Promise.all(
        monitors.flatMap((m) => [
          m.fetchTradesSince('TSLA', cursorFrom(0n)),
          m.fetchQuotesSince('TSLA', cursorFrom(0n)),
        ]),
      );
      const elapsed = Date.now() - started;
      const requests = standIn.requests.map((r) => r.atMs).sort((a, b) => a - b);
      expect(requests).toHaveLength(pages.reduce((n, p) => n + p.pages, 0));
      expect(requests).toHaveLength(10); // 2 × (4 trade pages + 1 quote page)
      // 10 requests at 10/s with burst 1: permits are exactly 100 ms apart, so the calls take at least 900 ms.
      // Arrival at the server adds scheduling jitter (2 shared cores), so the server-side checks allow 150-200 ms:
      // unlimited, all 10 requests arrive within a few ms.
      expect(elapsed).toBeGreaterThanOrEqual(880);
      expect(requests.at(-1)! - requests[0]!).toBeGreaterThanOrEqual(700);
      for (let i = 0; i + 5 < requests.length; i++) {
        expect(requests[i + 5]! - requests[i]!).toBeGreaterThanOrEqual(350);
      }
      expect(limiter.stats()).toMatchObject({ acquired: 10, waits: 9 });
    } finally {
      await standIn.close();
    }
  });
});
