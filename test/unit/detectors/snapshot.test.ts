import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFlowDetector, type FlowDetector } from '../../../src/domain/detectors/flow-detector';
import { parseRecordFile } from '../../../src/domain/market-data/record-file';
import { ns } from './helpers';

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
      d.onQuoteRecord({
        ask_price: (clock.bid + s.spreadC) / 100,
        ask_size: s.askSize,
        bid_price: clock.bid / 100,
        bid_size: 200,
        participant_timestamp: ts,
        sequence_number: clock.seq,
        sip_timestamp: ts,
      });
    } else {
      d.onTradeRecord({
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
    const trades = parseRecordFile(readFileSync(join(dir, 'trades.json'), 'utf8'));
    const quotes = parseRecordFile(readFileSync(join(dir, 'quotes.json'), 'utf8'));
    for (const q of quotes) d.onQuoteRecord(q);
    for (const t of trades) d.onTradeRecord(t);
    d.drainAlerts();
    const size = JSON.stringify(d.snapshot()).length;
    expect(size).toBeLessThan(4096);
  });

  it('with baselineMinutes 60 the baseline is kept in 12 s buckets (300 of them)', () => {
    const d = createFlowDetector({ symbol: 'TSLA', config: { baselineMinutes: 60 } });
    expect(d.snapshot().base).toHaveLength(300);
  });
});
