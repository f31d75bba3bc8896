/**
 * What the paper broker needs from market data. The market-data layer (Polygon REST/WebSocket, or a
 * recorded session) implements it; tests use a scripted one. Prices are decimal strings or numbers as
 * they come from the feed (converted with decimal.js, never summed as floats); timestamps are SIP
 * nanoseconds as decimal strings, because they exceed 2^53.
 */

export type PriceLike = string | number;

export interface PaperQuote {
  readonly bid: PriceLike;
  readonly ask: PriceLike;
  /** Shares displayed at the bid / ask. */
  readonly bidSize: number;
  readonly askSize: number;
  /** SIP timestamp in ns; distinguishes a fresh quote from one whose size was already used. */
  readonly timestampNs: string;
}

export interface PaperTrade {
  readonly price: PriceLike;
  readonly size: number;
  readonly timestampNs: string;
}

export interface MarketPriceSource {
  /** What the paper broker fills against, for the worker's start line and `flowguard health`. */
  readonly description?: string;
  /** The current NBBO, or null when there is none (no data, halted, stale beyond use). */
  latestQuote(symbol: string): Promise<PaperQuote | null> | PaperQuote | null;
  /** Eligible trades printed strictly after `sinceNs` (any order; the broker sorts). */
  tradesSince(symbol: string, sinceNs: string): Promise<readonly PaperTrade[]> | readonly PaperTrade[];
}

/** No market data at all: every order rests open until cancelled. */
export const NO_MARKET_DATA: MarketPriceSource = {
  description: 'nothing: no market data configured (orders rest until cancelled)',
  latestQuote: () => null,
  tradesSince: () => [],
};
