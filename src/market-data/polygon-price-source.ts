import { type MarketPriceSource, type PaperQuote, type PaperTrade } from '../brokers/paper/market-price-source';
import { firstExcludedCondition } from '../domain/detectors/conditions';
import { cursorFrom, type PolygonRest } from './polygon-rest';
import { wireNumber, wireText } from './wire';

/**
 * Market data for the paper broker from Polygon: the NBBO from /v2/last/nbbo and the tape from /v3/trades.
 * Only prints that count toward volume can fill a paper order (corrections and excluded conditions cannot).
 */
export function polygonPriceSource(rest: () => Promise<PolygonRest>): MarketPriceSource {
  return {
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
