import { replaySession } from '../../../src/domain/replay';
import { createFlowDetector } from '../../../src/domain/detectors/flow-detector';
import { decodeAll, ns, onQuoteRecord, onTradeRecord, setup, T0 } from './helpers';

// Issue 16, cause 1: the quote a print causes carries the print's own timestamp. The quote in force for a print
// is the last one stamped strictly before it, whichever of the two arrives first.
const quote = (ms: number, bid: number, ask: number, askSize: number, seq: number, extraNs = 0) => ({
  ask_exchange: 12,
  ask_price: ask,
  ask_size: askSize,
  bid_exchange: 12,
  bid_price: bid,
  bid_size: 500,
  participant_timestamp: ns(ms, extraNs),
  sequence_number: seq,
  sip_timestamp: ns(ms, extraNs),
  tape: 3,
});
const trade = (ms: number, price: number, size: number, seq: number, extra: Record<string, unknown> = {}) => ({
  exchange: 12,
  id: `t${seq}`,
  participant_timestamp: ns(ms, 7),
  price,
  sequence_number: seq,
  sip_timestamp: ns(ms, 7),
  size,
  tape: 3,
  ...extra,
});

describe('the quote in force is the last one stamped strictly before the print', () => {
  const before = quote(0, 10.0, 10.01, 12_000, 1);
  // The print lifts the whole offer; the venue's new quote carries the print's nanosecond.
  const print = trade(1000, 10.01, 12_000, 2);
  const after = quote(1000, 10.0, 10.04, 300, 3, 7);

  it('replay: a 12,000-share print lifting the offer, then a same-ns quote 10.00 × 10.04, is buyer-initiated', () => {
    const verdicts: string[] = [];
    const r = replaySession({
      symbol: 'TSLA',
      trades: decodeAll([print], 'trade'),
      quotes: decodeAll([before, after], 'quote'),
      onTrade: (_raw, v) => verdicts.push(`${v.side}/${v.rule}/${v.bidE8}x${v.askE8}`),
    });
    expect(verdicts).toEqual(['buy/quote/1000000000x1001000000']);
    expect(r.stats.sides).toEqual({ buy: 1, sell: 0, unknown: 0 });
    expect(r.alerts.filter((a) => a.kind === 'large_seller' && a.source === 'tape')).toEqual([]);
  });

  it('a live feed that delivers the same-ns quote first classifies the same', () => {
    const d = createFlowDetector({ symbol: 'TSLA' });
    onQuoteRecord(d, before);
    onQuoteRecord(d, after);
    expect(onTradeRecord(d, print)).toBe('accepted');
    expect(d.lastTrade).toMatchObject({ side: 'buy', rule: 'quote', bidE8: 1_000_000_000, askE8: 1_001_000_000 });
  });

  it('across a poll boundary (snapshot and restore) the earlier quote is still known', () => {
    const d = createFlowDetector({ symbol: 'TSLA' });
    onQuoteRecord(d, before);
    onQuoteRecord(d, after);
    const next = createFlowDetector({ symbol: 'TSLA', state: JSON.parse(JSON.stringify(d.snapshot())) });
    onTradeRecord(next, print);
    expect(next.lastTrade.side).toBe('buy');
  });

  it('quoteLagMs skips quotes stamped within the lag before the print', () => {
    const { d, f } = setup({ quoteLagMs: 5 });
    f.quote(0, 10.0, 10.01);
    f.quote(998, 10.02, 10.05); // stamped 2 ms before the print: within the lag, so not in force yet
    f.trade(1000, 10.01, 100);
    expect(d.lastTrade).toMatchObject({ side: 'buy', bidE8: 1_000_000_000, askE8: 1_001_000_000 });
  });

  it('a TRF print is placed at its participant timestamp', () => {
    const { d, f } = setup();
    f.quote(0, 10.0, 10.01);
    f.quote(2000, 10.05, 10.08); // after the execution, before the TRF report reached the SIP
    f.trade(3000, 10.01, 100, { trf_id: 201, exchange: 4, participant_timestamp: ns(1000) });
    expect(d.lastTrade).toMatchObject({ side: 'buy', askE8: 1_001_000_000 });
  });

  it('a version-2 state (latest NBBO only) still restores', () => {
    const d = createFlowDetector({ symbol: 'TSLA' });
    onQuoteRecord(d, before);
    const { qh: _qh, cnt: _cnt, pc: _pc, ...v3 } = d.snapshot();
    const next = createFlowDetector({ symbol: 'TSLA', state: { ...v3, rb: v3.rb.slice(0, 2), v: 2 } });
    onTradeRecord(next, trade(2000, 10.01, 100, 9));
    expect(next.lastTrade).toMatchObject({ side: 'buy', askE8: 1_001_000_000 });
    expect(T0).toBeGreaterThan(0n);
  });

  it('quoteLagMs is validated', () => {
    expect(() => createFlowDetector({ symbol: 'TSLA', config: { quoteLagMs: -1 } })).toThrow(/quoteLagMs/);
    expect(() => createFlowDetector({ symbol: 'TSLA', config: { quoteLagMs: 6000 } })).toThrow(/≤ 5000/);
  });
});
