/** Builders for Polygon v3 trade/quote records used by the stand-in and adapter tests. */
export const BASE_NS = 1732200000123456789n;

export function trade(seq: number, ts: bigint, price = 100.25, size = 100): Record<string, unknown> {
  return {
    conditions: [0],
    exchange: 4,
    id: String(seq),
    participant_timestamp: ts - 1000n,
    price,
    sequence_number: seq,
    sip_timestamp: ts,
    size,
    tape: 3,
  };
}

export function quote(seq: number, ts: bigint, bid = 100.2, ask = 100.3, bidSize = 200, askSize = 300) {
  return {
    ask_exchange: 11,
    ask_price: ask,
    ask_size: askSize,
    bid_exchange: 12,
    bid_price: bid,
    bid_size: bidSize,
    conditions: [1],
    indicators: [604],
    participant_timestamp: ts - 500n,
    sequence_number: seq,
    sip_timestamp: ts,
    tape: 3,
  };
}
