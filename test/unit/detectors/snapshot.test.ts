import fc from 'fast-check';
import { join } from 'node:path';
import { createFlowDetector, type FlowDetector } from '../../../src/domain/detectors/flow-detector';
import { type DetectorConfigInput } from '../../../src/domain/detectors/config';
import { decodeDeltas, decodeNums } from '../../../src/domain/detectors/state-codec';
import { encodeNums } from '../../../src/domain/detectors/state-codec';
import { SIZE_BINS } from '../../../src/domain/detectors/size-sketch';
import { ns, onQuoteRecord, onTradeRecord, readRecordFile } from './helpers';

/** An empty print-size sketch as a snapshot writes it: no period yet, both histograms zero. */
const EMPTY_SKETCH = encodeNums([-1, ...new Array<number>(2 * SIZE_BINS).fill(0)]);

/** A compact event script: quotes around 250.00 and prints at, inside or beyond the NBBO, some large. */
type Step =
  | { k: 'q'; dtMs: number; bidC: number; spreadC: number; askSize: number }
  | { k: 't'; dtMs: number; offC: number; size: number; cond: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    k: fc.constant('q' as const),
    dtMs: fc.integer({ min: 0, max: 3000 }),
    bidC: fc.integer({ min: -5, max: 5 }),
    spreadC: fc.integer({ min: -1, max: 3 }),
    askSize: fc.constantFrom(100, 900, 1000, 2500),
  }),
  fc.record({
    k: fc.constant('t' as const),
    dtMs: fc.integer({ min: 0, max: 3000 }),
    offC: fc.integer({ min: -2, max: 4 }),
    size: fc.constantFrom(100, 300, 500, 700, 1000, 2000, 5000),
    cond: fc.constantFrom(0, 0, 0, 14, 12),
  }),
);

const CONFIG = {
  largeOrderSize: 1000,
  baselineMinutes: 1,
  volumeSpikeThreshold: 1.5,
  redBurstThreshold: 2,
  exitAlertCount: 3,
  // Small generated tapes: the real-tape floors would hide every burst (hysteresis stays on).
  redBurstMinVolume: 0,
  redBurstMinTrades: 0,
};

/** Applies steps to a detector, returning everything observable. */
function run(
  d: FlowDetector,
  steps: Step[],
  from: number,
  to: number,
  clock: { ms: number; seq: number; bid: number },
) {
  for (let i = from; i < to; i++) {
    const s = steps[i]!;
    clock.ms += s.dtMs;
    clock.seq += 2;
    const ts = ns(clock.ms, i);
    if (s.k === 'q') {
      clock.bid = 25_000 + s.bidC;
      onQuoteRecord(d, {
        ask_price: (clock.bid + s.spreadC) / 100,
        ask_size: s.askSize,
        bid_price: clock.bid / 100,
        bid_size: 200,
        participant_timestamp: ts,
        sequence_number: clock.seq,
        sip_timestamp: ts,
      });
    } else {
      onTradeRecord(d, {
        conditions: s.cond === 0 ? [] : [s.cond],
        exchange: 11,
        id: String(clock.seq),
        participant_timestamp: ts,
        price: (clock.bid + s.offC) / 100,
        sequence_number: clock.seq,
        sip_timestamp: ts,
        size: s.size,
      });
    }
  }
}

describe('detector state snapshot/restore', () => {
  it('restoring at any point (through JSON) gives the same alerts, exit and stats as an uninterrupted run', () => {
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 400 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
        (steps, cutsRaw) => {
          const whole = createFlowDetector({ symbol: 'TSLA', config: CONFIG });
          run(whole, steps, 0, steps.length, { ms: 0, seq: 0, bid: 25_000 });
          const expected = { alerts: whole.drainAlerts(), exit: whole.exitSignal, stats: whole.stats };

          const cuts = [...new Set(cutsRaw.map((c) => c % (steps.length + 1)))].sort((a, b) => a - b);
          let d = createFlowDetector({ symbol: 'TSLA', config: CONFIG });
          const clock = { ms: 0, seq: 0, bid: 25_000 };
          const alerts = [];
          let at = 0;
          for (const cut of [...cuts, steps.length]) {
            run(d, steps, at, cut, clock);
            at = cut;
            // Drain some of the time, so undrained alerts travel inside the state too.
            if (cut % 2 === 0) alerts.push(...d.drainAlerts());
            d = createFlowDetector({ symbol: 'TSLA', config: CONFIG, state: JSON.parse(JSON.stringify(d.snapshot())) });
          }
          alerts.push(...d.drainAlerts());
          expect({ alerts, exit: d.exitSignal, stats: d.stats }).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('the generator reaches every alert kind (so the property above is not vacuous)', () => {
    const kinds = new Set<string>();
    fc.assert(
      fc.property(fc.array(step, { minLength: 200, maxLength: 400 }), (steps) => {
        const d = createFlowDetector({ symbol: 'TSLA', config: CONFIG });
        run(d, steps, 0, steps.length, { ms: 0, seq: 0, bid: 25_000 });
        for (const a of d.drainAlerts()) kinds.add(a.kind === 'large_seller' ? `${a.kind}/${a.source}` : a.kind);
        if (d.exitSignal) kinds.add(`exit/${d.exitSignal.reason}`);
      }),
      { numRuns: 60, seed: 7 },
    );
    expect([...kinds].sort()).toEqual(
      expect.arrayContaining(['large_seller/quote', 'large_seller/tape', 'red_burst', 'exit/large_seller_cluster']),
    );
  });

  it('the serialized state of a busy session stays under 4 KB with default settings', () => {
    const dir = join(__dirname, '../../fixtures/scenarios/sell-burst');
    const d = createFlowDetector({ symbol: 'TSLA' });
    const trades = readRecordFile(join(dir, 'trades.json'));
    const quotes = readRecordFile(join(dir, 'quotes.json'));
    for (const q of quotes) onQuoteRecord(d, q);
    for (const t of trades) onTradeRecord(d, t);
    d.drainAlerts();
    const size = JSON.stringify(d.snapshot()).length;
    expect(size).toBeLessThan(4096);
  });

  /**
   * A long realistic session: 100 minutes of market time, a print and a quote every ~50 ms with sizes of
   * 1..5000 shares (odd lots to block prints), the price wandering over hundreds of cents, several seller
   * bursts, and alerts drained as a monitor does. Baseline full, every ring busy.
   */
  function longSession(config: DetectorConfigInput) {
    const d = createFlowDetector({ symbol: 'TSLA', config });
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    let bid = 25_000;
    let seq = 1_000_000;
    let alerts = 0;
    let maxSize = 0;
    const minutes = 100;
    for (let ms = 0; ms < minutes * 60_000; ms += 50) {
      const burst = Math.floor(ms / 60_000) % 17 === 16;
      const ts = ns(ms, Math.floor(rnd() * 1_000_000));
      if (rnd() < 0.3) bid += rnd() < 0.5 ? -1 : 1;
      const ask = bid + 1 + Math.floor(rnd() * 3);
      onQuoteRecord(d, {
        ask_price: ask / 100,
        ask_size: 100 * (1 + Math.floor(rnd() * 40)),
        bid_price: bid / 100,
        bid_size: 100 * (1 + Math.floor(rnd() * 40)),
        participant_timestamp: ts,
        sequence_number: (seq += 1 + Math.floor(rnd() * 20)),
        sip_timestamp: ts,
      });
      const size = burst ? 500 + Math.floor(rnd() * 20_000) : 1 + Math.floor(rnd() * rnd() * 5000);
      onTradeRecord(d, {
        conditions: rnd() < 0.1 ? [37] : rnd() < 0.05 ? [12, 41] : [],
        exchange: 1 + Math.floor(rnd() * 20),
        id: String(52_983_525_034_825 + seq),
        participant_timestamp: ts,
        price: (burst ? bid : bid + Math.floor(rnd() * 4)) / 100,
        sequence_number: (seq += 1 + Math.floor(rnd() * 20)),
        sip_timestamp: ts,
        size,
        trf_id: rnd() < 0.3 ? 202 : undefined,
      });
      alerts += d.drainAlerts().length;
      if (ms % 1000 === 0) maxSize = Math.max(maxSize, JSON.stringify(d.snapshot()).length);
    }
    return { d, alerts, maxSize };
  }

  it.each<[string, DetectorConfigInput]>([
    ['default settings (5-min baseline in 1 s buckets)', {}],
    ['baselineMinutes 60 (12 s buckets of large volumes)', { baselineMinutes: 60 }],
    ['round lots, exitAlertCount 10', { quoteSizeUnit: 'round_lots', exitAlertCount: 10 }],
  ])('a long realistic session stays under 4 KB of serialized state (checked every second): %s', (_name, config) => {
    const { d, alerts, maxSize } = longSession(config);
    const snap = d.snapshot();
    // The session really is busy: full baseline, alerts raised, volume in every ring.
    expect(snap.bf[2]).toBe(decodeNums(snap.base)!.length);
    expect(decodeNums(snap.base)!.every((v) => v > 0)).toBe(true);
    expect(decodeNums(snap.vol)!.filter((v) => v > 0).length).toBeGreaterThan(50);
    expect(alerts).toBeGreaterThan(3);
    expect(d.stats.eligibleTrades).toBeGreaterThan(100_000);
    expect(maxSize).toBeLessThan(4096);
    // Restore is exact: the restored detector serializes to the same text.
    const restored = createFlowDetector({ symbol: 'TSLA', config, state: JSON.parse(JSON.stringify(snap)) });
    expect(JSON.stringify(restored.snapshot())).toBe(JSON.stringify(snap));
  });

  it('still restores a version-1 state (plain number arrays) from older workflow histories', () => {
    const { d } = longSessionPrefix();
    const snap = d.snapshot();
    // Version 1 had no quote history (added in version 3): the NBBO in force becomes its only entry.
    const { qh, cnt: _cnt, pc: _pc, ...withoutHistory } = snap;
    const v1 = {
      ...withoutHistory,
      rb: snap.rb.slice(0, 2),
      v: 1,
      tSeqs: decodeDeltas(snap.tSeqs),
      qSeqs: decodeDeltas(snap.qSeqs),
      vol: decodeNums(snap.vol),
      sell: decodeNums(snap.sell),
      buy: decodeNums(snap.buy),
      base: decodeNums(snap.base),
      ls: decodeDeltas(snap.ls),
    };
    expect(v1.base).toHaveLength(300);
    const restored = createFlowDetector({ symbol: 'TSLA', state: JSON.parse(JSON.stringify(v1)) });
    // Version 1 also had no print counts nor re-arm time (added in version 3).
    // Nor a print-size sketch (added in version 4): the percentile window starts empty.
    expect(restored.snapshot()).toEqual({
      ...snap,
      qh: qh.slice(-1),
      cnt: '~1o',
      rb: [...snap.rb.slice(0, 2), -1],
      pc: EMPTY_SKETCH,
    });
    expect(() => createFlowDetector({ symbol: 'TSLA', state: { ...v1, vol: snap.vol } })).toThrow('state.vol');
    expect(() => createFlowDetector({ symbol: 'TSLA', state: { ...snap, vol: '1,2' } })).toThrow(
      'state.vol: must have 60 entries (has 2)',
    );
    expect(() => createFlowDetector({ symbol: 'TSLA', state: { ...snap, base: 'x!,?' } })).toThrow(
      'state.base: must be a compact number list',
    );
  });

  /** The first three minutes of the sell-burst scenario: enough to fill rings and sequence lists. */
  function longSessionPrefix() {
    const dir = join(__dirname, '../../fixtures/scenarios/sell-burst');
    const d = createFlowDetector({ symbol: 'TSLA' });
    for (const q of readRecordFile(join(dir, 'quotes.json'))) onQuoteRecord(d, q);
    for (const t of readRecordFile(join(dir, 'trades.json'))) onTradeRecord(d, t);
    return { d };
  }

  it('with baselineMinutes 60 the baseline is kept in 12 s buckets (300 of them)', () => {
    const d = createFlowDetector({ symbol: 'TSLA', config: { baselineMinutes: 60 } });
    expect(decodeNums(d.snapshot().base)).toHaveLength(300);
  });
});
