import { applyRecord, createFlowDetector, type FlowDetector } from '../../../src/domain/detectors/flow-detector';
import { readFileSync } from 'node:fs';
import { decodeRecorded, decodeRest, decodeWs, parsePolygonJson } from '../../../src/market-data/decode';
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
    return onTradeRecord(this.d, rec);
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
    return onQuoteRecord(this.d, rec);
  }
}

export function setup(config: DetectorConfigInput = {}) {
  const d = createFlowDetector({ symbol: 'TSLA', config });
  return { d, f: new Feed(d) };
}

/** A raw `/v3/trades` record through the edge decoder into the detector (what the poll activity does). */
export const onTradeRecord = (d: FlowDetector, raw: unknown) => applyRecord(d, decodeRest(raw, 'trade'));
/** A raw `/v3/quotes` record through the edge decoder into the detector. */
export const onQuoteRecord = (d: FlowDetector, raw: unknown) => applyRecord(d, decodeRest(raw, 'quote'));
/** A WebSocket message element through the edge decoder into the detector (what the stream activity does). */
export const onWsMessage = (d: FlowDetector, raw: unknown) => applyRecord(d, decodeWs(raw, d.symbol));
/** A recorded-file record of either stream, by shape (what replay does with a file of mixed records). */
export const onRecord = (d: FlowDetector, raw: unknown) => {
  const o = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const quote = 'bid_price' in o || 'ask_price' in o || 'bid_size' in o || 'ask_size' in o;
  return applyRecord(d, decodeRecorded(raw, quote ? 'quote' : 'trade', d.symbol));
};

/** The records of a recorded v3 response file (a scenario's trades.json or quotes.json), timestamps exact. */
export function readRecordFile(path: string): unknown[] {
  const whole = parsePolygonJson(readFileSync(path, 'utf8'));
  return Array.isArray(whole) ? whole : ((whole as { results?: unknown[] }).results ?? []);
}

/** Raw REST records of one stream decoded at the edge, as replaySession takes them. */
export const decodeAll = (raws: readonly unknown[], stream: 'trade' | 'quote') =>
  raws.map((r) => decodeRest(r, stream));
