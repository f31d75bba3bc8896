import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readScenarioDir, startPolygonStandIn } from '../../support/polygon-stand-in';
import { createPolygonRest, cursorFrom } from '../../../src/market-data/polygon-rest';
import { loadPolygonSdk } from '../../../src/market-data/polygon-sdk';
import { openPolygonStream } from '../../../src/market-data/polygon-stream';
import { TokenBucketRateLimiter } from '../../../src/market-data/rate-limiter';

const ROOT = path.resolve(__dirname, '..', '..', 'fixtures', 'scenarios');
const scenarios = existsSync(ROOT)
  ? readdirSync(ROOT).filter((name) => existsSync(path.join(ROOT, name, 'trades.json')))
  : [];

/** The sip_timestamp digits exactly as written in the fixture file. */
function fileTimestamps(file: string): string[] {
  if (!existsSync(file)) return [];
  return [...readFileSync(file, 'utf8').matchAll(/"sip_timestamp"\s*:\s*"?(\d+)"?/g)].map((m) => m[1]!);
}

const byValue = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

describe('shared scenario fixtures through the stand-in and both adapters', () => {
  it('finds the scenario fixtures', () => {
    expect(scenarios.length).toBeGreaterThan(0);
  });

  it.each(scenarios.map((s) => [s]))('%s: every record arrives once, digits intact', async (name) => {
    const dir = path.join(ROOT, name);
    const scenario = readScenarioDir(dir);
    const sdk = await loadPolygonSdk();
    const standIn = await startPolygonStandIn({ apiKey: 'k', clock: { mode: 'manual' } });
    const received: unknown[] = [];
    const stream = await openPolygonStream({
      apiKey: 'k',
      wsBaseUrl: standIn.wsUrl,
      symbols: ['TSLA'],
      sdk,
      onMessages: (messages) => received.push(...messages),
    });
    try {
      standIn.loadScenario('TSLA', scenario);
      standIn.releaseAll();
      const client = await createPolygonRest({
        apiKey: 'k',
        baseUrl: standIn.restUrl,
        sdk,
        pageLimit: 100,
        maxPages: 1000,
        rateLimiter: new TokenBucketRateLimiter({ ratePerSecond: 10_000, burst: 10_000 }),
      });
      for (const kind of ['trades', 'quotes'] as const) {
        const page =
          kind === 'trades'
            ? await client.fetchTradesSince('TSLA', cursorFrom(0n))
            : await client.fetchQuotesSince('TSLA', cursorFrom(0n));
        expect(page.truncated).toBe(false);
        expect(page.records).toHaveLength(scenario[kind].length);
        // Malformed fixture rows (null, wrong types) come through as they are; compare the digit timestamps.
        const got = page.records
          .map((r: unknown) =>
            r !== null && typeof r === 'object' ? (r as { sip_timestamp?: unknown }).sip_timestamp : r,
          )
          .filter((t): t is string => typeof t === 'string' && /^\d+$/.test(t));
        expect([...got].sort(byValue)).toEqual(fileTimestamps(path.join(dir, `${kind}.json`)).sort(byValue));
        expect(got).toEqual([...got].sort(byValue));
      }
      const total = scenario.trades.length + scenario.quotes.length;
      const deadline = Date.now() + 5000;
      while (received.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(received).toHaveLength(total);
    } finally {
      await stream.close();
      await standIn.close();
    }
  });
});
