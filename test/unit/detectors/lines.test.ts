import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFlowDetector, type FlowDetector } from '../../../src/domain/detectors/flow-detector';
import { parseJsonOrNull } from '../../../src/domain/market-data/line-records';
import { recordTime } from '../../../src/domain/replay';

const SCENARIOS = join(__dirname, '../../fixtures/scenarios');

function recordLines(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('{"results"') && !l.startsWith(']'))
    .map((l) => l.replace(/,$/, ''));
}

/** Everything a caller can observe of a detector. */
const observe = (d: FlowDetector) => ({
  alerts: d.drainAlerts(),
  exit: d.exitSignal,
  stats: d.stats,
  state: d.snapshot(),
});

describe('JSON text methods agree with the object methods', () => {
  const names = readdirSync(SCENARIOS).sort();
  it.each(names)('%s replayed as lines (onLine and onTradeLine/onQuoteLine) = as parsed objects', (name) => {
    const trades = recordLines(join(SCENARIOS, name, 'trades.json'));
    const quotes = recordLines(join(SCENARIOS, name, 'quotes.json'));
    const tObjs = trades.map(parseJsonOrNull);
    const qObjs = quotes.map(parseJsonOrNull);
    const objects = createFlowDetector({ symbol: 'TSLA' });
    const lines = createFlowDetector({ symbol: 'TSLA' });
    const typed = createFlowDetector({ symbol: 'TSLA' });
    // The merge of replaySession: SIP-time order, quotes first at the same instant, unreadable times in place.
    let i = 0;
    let j = 0;
    while (i < trades.length || j < quotes.length) {
      let quote: boolean;
      if (i >= trades.length) quote = true;
      else if (j >= quotes.length) quote = false;
      else {
        const tq = recordTime(qObjs[j]);
        const tt = recordTime(tObjs[i]);
        quote = tq === undefined || (tt !== undefined && (tq.us < tt.us || (tq.us === tt.us && tq.rem <= tt.rem)));
      }
      const [line, obj] = quote ? [quotes[j]!, qObjs[j++]] : [trades[i]!, tObjs[i++]];
      const expected = quote ? objects.onQuoteRecord(obj) : objects.onTradeRecord(obj);
      expect(quote ? typed.onQuoteLine(line) : typed.onTradeLine(line)).toBe(expected);
      // onLine dispatches by shape; a null element has none and counts as a trade, like onRecord(null).
      if (obj !== null || !quote) expect(lines.onLine(line)).toBe(expected);
      else expect(lines.onQuoteLine(line)).toBe(expected);
    }
    const want = observe(objects);
    const expected = JSON.parse(readFileSync(join(SCENARIOS, name, 'expected.json'), 'utf8')) as { alerts: unknown[] };
    expect(want.alerts).toHaveLength(expected.alerts.length);
    expect(want.stats.trades + want.stats.quotes).toBe(trades.length + quotes.length);
    expect(observe(typed)).toEqual(want);
    expect(observe(lines)).toEqual(want);
  });

  /** Lines of a short session: plausible REST and WebSocket records, some damaged or odd. */
  const T0_MS = 1_764_601_200_000;
  /** Exact 19-digit nanoseconds: ms after T0 plus a sub-millisecond part. */
  const ns = (ms: number, sub: number) => `${T0_MS + ms}${String(sub).padStart(6, '0')}`;
  const lineArb = fc.oneof(
    fc
      .record({
        dt: fc.integer({ min: 0, max: 2000 }),
        px: fc.integer({ min: 24_990, max: 25_010 }),
        size: fc.constantFrom(100, 300, 5000, 12_000, 0),
        cond: fc.constantFrom('', '"conditions":[14],', '"conditions":[12],', '"conditions":[37,12],'),
        id: fc.integer({ min: 1, max: 40 }),
      })
      .map(
        (r) => (ms: number, seq: number) =>
          `{${r.cond}"exchange":4,"id":"${r.id}","participant_timestamp":${ns(ms + r.dt, 1)},"price":${r.px / 100},"sequence_number":${seq},"sip_timestamp":${ns(ms + r.dt, r.id)},"size":${r.size}}`,
      ),
    fc
      .record({
        dt: fc.integer({ min: 0, max: 2000 }),
        bid: fc.integer({ min: 24_990, max: 25_010 }),
        spread: fc.integer({ min: -1, max: 3 }),
        askSize: fc.constantFrom(100, 12_000),
      })
      .map(
        (r) => (ms: number, seq: number) =>
          `{"ask_price":${(r.bid + r.spread) / 100},"ask_size":${r.askSize},"bid_price":${r.bid / 100},"bid_size":200,"participant_timestamp":${ns(ms + r.dt, 0)},"sequence_number":${seq},"sip_timestamp":"${ns(ms + r.dt, 0)}"}`,
      ),
    fc
      .record({
        ev: fc.constantFrom('T', 'Q', 'status'),
        sym: fc.constantFrom('TSLA', 'AAPL'),
        px: fc.integer({ min: 24_990, max: 25_010 }),
      })
      .map(
        (r) => (ms: number, seq: number) =>
          `{"ev":"${r.ev}","sym":"${r.sym}","x":4,"i":"w${seq}","p":${r.px / 100},"s":12000,"bp":${(r.px - 1) / 100},"bs":100,"ap":${(r.px + 1) / 100},"as":100,"t":${T0_MS + ms},"q":${seq}}`,
      ),
    fc.constantFrom(
      () => 'null',
      () => '{"price":}',
      () => '  ',
      () => '[1,2]',
      (ms: number, seq: number) => `{"ev":"T","sym":5,"t":${T0_MS + ms},"q":${seq}}`,
    ),
  );

  it('on generated sessions, line by line: same outcome, then the same alerts, stats and state', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.array(fc.tuple(lineArb, fc.integer({ min: 0, max: 3 })), { maxLength: 120 }), (steps) => {
        const outcomes = new Set<string>();
        const objects = createFlowDetector({ symbol: 'TSLA', config: { largeOrderSize: 1000 } });
        const lines = createFlowDetector({ symbol: 'TSLA', config: { largeOrderSize: 1000 } });
        let ms = 0;
        let seq = 0;
        for (const [make, back] of steps) {
          ms += 700;
          seq += 3 - back; // sometimes repeats or goes back: duplicates and out-of-order records
          const text = make(ms, seq);
          const outcome = objects.onRecord(parseJsonOrNull(text));
          outcomes.add(outcome);
          expect(lines.onLine(text)).toBe(outcome);
        }
        expect(observe(lines)).toEqual(observe(objects));
        for (const o of outcomes) seen.add(o);
      }),
      { numRuns: 200 },
    );
    // Not vacuous: accepted, ignored and the stream-level rejections all occur.
    expect([...seen].sort()).toEqual(
      expect.arrayContaining(['DUPLICATE', 'NON_POSITIVE_SIZE', 'OUT_OF_ORDER', 'SCHEMA', 'accepted', 'ignored']),
    );
  });
});
