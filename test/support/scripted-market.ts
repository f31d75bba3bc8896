import { type MarketPriceSource, type PaperQuote, type PaperTrade } from '../../src/brokers/paper/market-price-source';

/** Market data for the paper broker that a test scripts by hand: one NBBO per symbol and a tape. */
export class ScriptedMarket implements MarketPriceSource {
  private readonly quotes = new Map<string, PaperQuote>();
  private readonly tape = new Map<string, PaperTrade[]>();
  private clockNs = 1_732_200_000_000_000_000n;

  nowNs(): bigint {
    return this.clockNs;
  }

  quote(symbol: string, bid: string, ask: string, bidSize = 100, askSize = 100): void {
    this.clockNs += 1_000_000n;
    this.quotes.set(symbol, { bid, ask, bidSize, askSize, timestampNs: this.clockNs.toString() });
  }

  print(symbol: string, price: string, size: number): void {
    this.clockNs += 1_000_000n;
    const trades = this.tape.get(symbol) ?? [];
    trades.push({ price, size, timestampNs: this.clockNs.toString() });
    this.tape.set(symbol, trades);
  }

  latestQuote(symbol: string): PaperQuote | null {
    return this.quotes.get(symbol) ?? null;
  }

  tradesSince(symbol: string, sinceNs: string): PaperTrade[] {
    return (this.tape.get(symbol) ?? []).filter((t) => BigInt(t.timestampNs) > BigInt(sinceNs));
  }
}
