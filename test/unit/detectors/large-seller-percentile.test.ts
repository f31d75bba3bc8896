import fc from 'fast-check';
import { resolveConfig } from '../../../src/domain/config';
import { type LargeSellerAlert } from '../../../src/domain/detectors/alerts';
import { DetectorConfigSchema } from '../../../src/domain/detectors/config';
import { createFlowDetector, percentileMinPrints } from '../../../src/domain/detectors/flow-detector';
import {
  BINS_PER_OCTAVE,
  SIZE_BINS,
  SizeSketch,
  sizeAboveBin,
  sizeBin,
} from '../../../src/domain/detectors/size-sketch';
import { setup } from './helpers';

// Issue 16 item 4, the adaptive rule: a seller print above the symbol's own p-th percentile of print sizes over
// the last one to two baseline windows is a large seller (trigger 'percentile'), kept in a bounded histogram.

/** `n` buyer prints of `size` (at the ask), one per 100 ms from t = 1 s, after a 10.00 × 10.01 quote. */
function history(config: Record<string, unknown>, n: number, size = 100) {
  const { d, f } = setup(config);
  f.quote(0, 10.0, 10.01);
  for (let i = 0; i < n; i++) f.trade(1000 + i * 100, 10.01, size);
  return { d, f, next: 1000 + n * 100 };
}
const largeSellers = (d: ReturnType<typeof setup>['d']) =>
  d.drainAlerts().filter((a): a is LargeSellerAlert => a.kind === 'large_seller');

describe('large seller by percentile', () => {
  it('defaults to p99.9, which waits for 1,000 prints; null and 0 turn it off', () => {
    expect(DetectorConfigSchema.parse({}).largeOrderPercentile).toBe(99.9);
    expect(percentileMinPrints(99.9)).toBe(1000);
    expect(percentileMinPrints(99)).toBe(100);
    expect(percentileMinPrints(90)).toBe(100);
    for (const off of [null, 0]) {
      const { d, f, next } = history({ largeOrderPercentile: off }, 200);
      f.trade(next, 10.0, 5000);
      expect(largeSellers(d)).toEqual([]);
    }
  });

  it('p99 over 100 prints of 100 shares: a 200-share seller fires, saying which rule', () => {
    const { d, f, next } = history({ largeOrderPercentile: 99 }, 100);
    f.trade(next, 10.0, 200);
    const [a, ...rest] = largeSellers(d);
    expect(rest).toEqual([]);
    expect(a).toMatchObject({ source: 'tape', trigger: 'percentile', severity: 'warning', size: 200 });
    expect(a!.rule).toBe(
      'seller-initiated print 200 ≥ 128 shares, above the p99 of the last 100 prints (5–10 min) at 10.00',
    );
  });

  it('one print short of the minimum, or the same size as the window, is no alert; twice the bound is critical', () => {
    const short = history({ largeOrderPercentile: 99 }, 99);
    short.f.trade(short.next, 10.0, 5000);
    expect(largeSellers(short.d)).toEqual([]);
    const same = history({ largeOrderPercentile: 99 }, 100);
    same.f.trade(same.next, 10.0, 100);
    expect(largeSellers(same.d)).toEqual([]);
    const big = history({ largeOrderPercentile: 99 }, 100);
    big.f.trade(big.next, 10.0, 256);
    expect(largeSellers(big.d)[0]).toMatchObject({ trigger: 'percentile', severity: 'critical' });
  });

  it('buyers above the percentile never alert; the share rule still comes first', () => {
    const buy = history({ largeOrderPercentile: 99 }, 100);
    buy.f.trade(buy.next, 10.01, 5000);
    expect(largeSellers(buy.d)).toEqual([]);
    const shares = history({ largeOrderPercentile: 99 }, 100);
    shares.f.trade(shares.next, 10.0, 12_000);
    expect(largeSellers(shares.d)[0]).toMatchObject({ trigger: 'shares' });
  });

  it('forgets prints older than two baseline windows', () => {
    const { d, f, next } = history({ largeOrderPercentile: 99, baselineMinutes: 1 }, 100);
    // 2 minutes later both one-minute periods have rotated out: the window is empty again.
    f.trade(next + 120_000, 10.0, 5000);
    expect(largeSellers(d)).toEqual([]);
  });

  it('survives a snapshot; a version-3 snapshot restores with an empty window', () => {
    const { d, next } = history({ largeOrderPercentile: 99 }, 100);
    const snap = d.snapshot();
    expect(snap.v).toBe(4);
    const restored = createFlowDetector({ symbol: 'TSLA', config: { largeOrderPercentile: 99 }, state: snap });
    const f2 = setup().f; // only for its record builder
    Object.assign(f2, { d: restored, id: 1000, tradeSeq: 10_000 });
    f2.trade(next, 10.0, 200);
    expect(largeSellers(restored)[0]).toMatchObject({ trigger: 'percentile' });

    const { pc: _pc, ...v3 } = snap;
    const old = createFlowDetector({ symbol: 'TSLA', config: { largeOrderPercentile: 99 }, state: { ...v3, v: 3 } });
    Object.assign(f2, { d: old });
    f2.trade(next + 100, 10.0, 200);
    expect(largeSellers(old)).toEqual([]);
    expect(() => createFlowDetector({ symbol: 'TSLA', state: { ...snap, pc: '1,2' } })).toThrow(
      `state.pc: must have ${1 + 2 * SIZE_BINS} entries (has 2)`,
    );
  });

  it.each([
    [89, 'must be null or 0 (off), or a percentile from 90 to 99.99'],
    [99.999, 'must be null or 0 (off), or a percentile from 90 to 99.99'],
    [-1, 'must be null or 0 (off)'],
  ])('validated: %s → %s', (value, rule) => {
    const r = DetectorConfigSchema.safeParse({ largeOrderPercentile: value });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toContain(rule);
  });

  it('set through FLOWGUARD_DETECTOR_LARGE_ORDER_PERCENTILE, named when wrong', () => {
    expect(resolveConfig({ env: { FLOWGUARD_DETECTOR_LARGE_ORDER_PERCENTILE: '99.5' } }).detectors).toMatchObject({
      largeOrderPercentile: 99.5,
    });
    expect(resolveConfig({ env: { FLOWGUARD_DETECTOR_LARGE_ORDER_PERCENTILE: '0' } }).detectors).toMatchObject({
      largeOrderPercentile: 0,
    });
    expect(() => resolveConfig({ env: { FLOWGUARD_DETECTOR_LARGE_ORDER_PERCENTILE: '50' } })).toThrow(
      'FLOWGUARD_DETECTOR_LARGE_ORDER_PERCENTILE: must be null or 0 (off), or a percentile from 90 to 99.99',
    );
  });
});

describe('size sketch', () => {
  it('bins: below one share in bin 0, four per doubling, the last bin open-ended', () => {
    expect(sizeBin(0.5)).toBe(0);
    expect(sizeBin(1)).toBe(1);
    expect(sizeBin(2)).toBe(1 + BINS_PER_OCTAVE);
    expect(sizeBin(1e12)).toBe(SIZE_BINS - 1);
    expect(sizeAboveBin(SIZE_BINS - 1)).toBe(Number.POSITIVE_INFINITY);
  });

  it('empty or too few prints: no threshold', () => {
    const s = new SizeSketch(60);
    expect(s.threshold(99, 1)).toBeUndefined();
    s.advance(0);
    s.add(100);
    expect(s.threshold(99, 2)).toBeUndefined();
    expect(s.threshold(99, 1)).toBe(sizeAboveBin(sizeBin(100)));
  });

  it('property: the threshold lies above the true nearest-rank percentile, within one bin (≤ 41 %), and a print at it lies above that bin', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 2_000_000 }), { minLength: 1, maxLength: 400 }),
        fc.double({ min: 90, max: 99.99, noNaN: true }),
        (sizes, p) => {
          const s = new SizeSketch(60);
          s.advance(0);
          for (const x of sizes) s.add(x);
          const thr = s.threshold(p, 1)!;
          const sorted = [...sizes].sort((a, b) => a - b);
          const exact = sorted[Math.max(1, Math.ceil((p / 100) * sizes.length)) - 1]!;
          expect(thr).toBeGreaterThan(exact);
          expect(thr).toBeLessThanOrEqual(Math.ceil(exact * 2 ** (1 / BINS_PER_OCTAVE)) + 1);
          expect(sizeBin(thr)).toBeGreaterThan(sizeBin(exact));
          expect(sizeBin(thr - 1)).toBeLessThanOrEqual(sizeBin(exact));
        },
      ),
    );
  });

  it('property: state round-trips and the window never holds more than two periods', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 50_000 })), { maxLength: 200 }),
        (steps) => {
          const s = new SizeSketch(10);
          let sec = 0;
          const seen: [number, number][] = [];
          for (const [dt, size] of steps) {
            sec += dt;
            s.advance(sec);
            s.add(size);
            seen.push([sec, size]);
          }
          const k = Math.floor(sec / 10);
          expect(s.count).toBe(seen.filter(([t]) => Math.floor(t / 10) >= k - 1).length);
          const copy = new SizeSketch(10);
          copy.load(JSON.parse(JSON.stringify(s.toState())) as ReturnType<SizeSketch['toState']>);
          expect(copy.count).toBe(s.count);
          expect(copy.threshold(99, 1)).toBe(s.threshold(99, 1));
        },
      ),
    );
  });
});
