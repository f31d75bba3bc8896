import { createFlowDetector, type FlowDetector } from '../../../src/domain/detectors/flow-detector';
import { type DetectorConfigInput } from '../../../src/domain/detectors/config';

/** 2025-12-01 15:00:00 UTC in ns. */
export const T0 = 1_764_601_200_000_000_000n;

export const ns = (ms: number, extraNs = 0) => (T0 + BigInt(ms) * 1_000_000n + BigInt(extraNs)).toString();

/** Builds REST v3 records with increasing sequence numbers and ids, times in ms after T0. */
export class Feed {
  tradeSeq = 100;
  quoteSeq = 100;
  id = 1;
  constructor(readonly d: FlowDetector) {}

  trade(ms: number, price: number, size: number, extra: Record<string, unknown> = {}) {
    const rec = {
      exchange: 11,
      id: String(this.id++),
      participant_timestamp: ns(ms),
      price,
      sequence_number: (this.tradeSeq += 2),
      sip_timestamp: ns(ms),
      size,
      tape: 3,
      ...extra,
    };
    return this.d.onTradeRecord(rec);
  }

  quote(ms: number, bid: number, ask: number, bidSize = 300, askSize = 300, extra: Record<string, unknown> = {}) {
    const rec = {
      ask_exchange: 11,
      ask_price: ask,
      ask_size: askSize,
      bid_exchange: 11,
      bid_price: bid,
      bid_size: bidSize,
      participant_timestamp: ns(ms),
      sequence_number: (this.quoteSeq += 2),
      sip_timestamp: ns(ms),
      tape: 3,
      ...extra,
    };
    return this.d.onQuoteRecord(rec);
  }
}

export function setup(config: DetectorConfigInput = {}) {
  const d = createFlowDetector({ symbol: 'TSLA', config });
  return { d, f: new Feed(d) };
}
