import {
  type MarketPriceSource,
  type PaperQuote,
  type PaperTrade,
  NO_MARKET_DATA,
} from '../brokers/paper/market-price-source';
import { firstExcludedCondition } from '../domain/detectors/conditions';
import { ValidationError } from '../domain/validation';
import { readPolygonEnv } from './polygon-env';
import { cursorFrom, type PolygonRest } from './polygon-rest';
import { wireNumber, wireText } from './wire';

/**
 * Market data for the paper broker from Polygon: the NBBO from /v2/last/nbbo and the tape from /v3/trades.
 * Only prints that count toward volume can fill a paper order (corrections and excluded conditions cannot).
 */
export function polygonPriceSource(rest: () => Promise<PolygonRest>, description = 'Polygon REST'): MarketPriceSource {
  return {
    description,
    async latestQuote(symbol): Promise<PaperQuote | null> {
      const q = await (await rest()).lastQuote(symbol);
      const bid = q ? wireText(q.p) : null;
      const ask = q ? wireText(q.P) : null;
      if (!q || bid === null || ask === null) return null;
      return { bid, ask, bidSize: wireNumber(q.s), askSize: wireNumber(q.S), timestampNs: wireText(q.t) ?? '0' };
    },
    async tradesSince(symbol, sinceNs): Promise<PaperTrade[]> {
      const page = await (await rest()).fetchTradesSince(symbol, cursorFrom((BigInt(sinceNs) + 1n).toString()));
      const trades: PaperTrade[] = [];
      for (const r of page.records) {
        const conditions = Array.isArray(r.conditions) ? (r.conditions as number[]) : [];
        if ((typeof r.correction === 'number' && r.correction !== 0) || firstExcludedCondition(conditions) >= 0)
          continue;
        const price = wireText(r.price);
        const ts = wireText(r.sip_timestamp);
        if (typeof r.size !== 'number' || r.size <= 0 || price === null || ts === null) continue;
        trades.push({ price, size: r.size, timestampNs: ts });
      }
      return trades;
    },
  };
}

/** What the worker's paper broker fills against: a source (absent: none, orders rest) and how to say so. */
export interface PaperMarketChoice {
  readonly marketPrices?: MarketPriceSource;
  readonly fillsAgainst: string;
}

/**
 * Paper needs no keys: with POLYGON_API_KEY unset or empty it gets no market source and its orders rest until
 * cancelled, instead of every submit failing on a missing key. With a key it fills against Polygon REST at
 * POLYGON_BASE_URL (the real API, the local stand-in, or a recorded session served by it). A key with invalid
 * settings still selects Polygon, so the mistake shows in the start line, the logs and `flowguard health`
 * (every fill is deferred) rather than silently turning fills off.
 */
export function paperMarketFromEnv(env: NodeJS.ProcessEnv, rest: () => Promise<PolygonRest>): PaperMarketChoice {
  if ((env.POLYGON_API_KEY ?? '') === '') {
    return { fillsAgainst: NO_MARKET_DATA.description ?? 'nothing' };
  }
  let description: string;
  try {
    description = `Polygon REST at ${readPolygonEnv(env).POLYGON_BASE_URL}`;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const why = err.issues.map((i) => `${i.field}: ${i.rule}`).join('; ');
    description = `Polygon REST, but its settings are invalid (${why}): no fills until they are fixed`;
  }
  return { marketPrices: polygonPriceSource(rest, description), fillsAgainst: description };
}
