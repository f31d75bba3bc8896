import fc from 'fast-check';
import Decimal from 'decimal.js';
import {
  computeLimitPrice,
  formatTickPrice,
  isOnTickGrid,
  rawLimitPrice,
  roundToTick,
  tickSizeFor,
  type LimitPriceInput,
} from '../../../src/domain/orders/pricing';
import { ValidationError } from '../../../src/domain/validation';

const limit = (
  side: 'buy' | 'sell',
  referencePrice: string,
  offsetMode: 'bps' | 'absolute',
  offset: string,
  maxSlippagePct = '0.5',
) => computeLimitPrice({ side, referencePrice, offsetMode, offset, maxSlippagePct });

describe('computeLimitPrice: worked cases (arithmetic in the name)', () => {
  it.each([
    // The pricing rule's worked cases (as in README: order preview)
    ['BUY 250.30 @15bps: 250.30×0.9985=249.92455 → up 249.93', 'buy', '250.30', 'bps', '15', '249.93'],
    ['SELL 252.10 abs 0.04: 252.14 on grid', 'sell', '252.10', 'absolute', '0.04', '252.14'],
    // ordinary cases
    ['SELL 250.30 @10bps: 250.30×1.001=250.5503 → down 250.55', 'sell', '250.30', 'bps', '10', '250.55'],
    ['BUY 252.10 abs 0.04: 252.06', 'buy', '252.10', 'absolute', '0.04', '252.06'],
    ['BUY 100 @15bps: 100×0.9985=99.85 exactly', 'buy', '100', 'bps', '15', '99.85'],
    ['SELL 99.99 @10bps: 99.99×1.001=100.08999 → down 100.08', 'sell', '99.99', 'bps', '10', '100.08'],
    [
      'BUY 250.30 abs 0.005: 250.295 → up 250.30 (offset 0 applied, never more)',
      'buy',
      '250.30',
      'absolute',
      '0.005',
      '250.30',
    ],
    // $1.00 boundary
    ['BUY 1.0050 @100bps: 1.005×0.99=0.99495 → up (0.0001 tick) 0.9950', 'buy', '1.0050', 'bps', '100', '0.9950'],
    ['BUY 1.00 @10bps: 1×0.999=0.999 → 0.9990', 'buy', '1.00', 'bps', '10', '0.9990'],
    ['BUY 1.01 abs 0.01: 1.00 (penny grid, at the boundary)', 'buy', '1.01', 'absolute', '0.01', '1.00'],
    ['BUY 1.00 abs 0.00005: 0.99995 → up (0.0001) 1.0000 = 1.00', 'buy', '1.00', 'absolute', '0.00005', '1.00'],
    ['SELL 0.9990 @15bps: 0.999×1.0015=1.0004985 → down (penny) 1.00', 'sell', '0.9990', 'bps', '15', '1.00'],
    ['SELL 0.9995 abs 0.0004: 0.9999 (sub-dollar tick)', 'sell', '0.9995', 'absolute', '0.0004', '0.9999'],
    ['SELL 0.9995 abs 0.0006: 1.0001 → down (penny) 1.00', 'sell', '0.9995', 'absolute', '0.0006', '1.00'],
    ['SELL 0.9999 abs 0.0001: 1.0000 → 1.00', 'sell', '0.9999', 'absolute', '0.0001', '1.00'],
    // sub-dollar, 4 decimals
    ['BUY 0.5000 @50bps: 0.5×0.995=0.4975', 'buy', '0.5000', 'bps', '50', '0.4975'],
    ['SELL 0.1234 @100bps: 0.1234×1.01=0.124634 → down 0.1246', 'sell', '0.1234', 'bps', '100', '0.1246'],
    ['BUY 0.0150 @15bps: 0.015×0.9985=0.0149775 → up 0.0150 (= ref)', 'buy', '0.0150', 'bps', '15', '0.0150'],
    ['BUY 0.0001 @15bps: 0.00009985 → up 0.0001 (smallest tick)', 'buy', '0.0001', 'bps', '15', '0.0001'],
    // tiny and huge offsets
    ['BUY 250.30 @0.01bps: 250.2997497 → up 250.30', 'buy', '250.30', 'bps', '0.01', '250.30'],
    ['SELL 250.30 abs 0.0001: 250.3001 → down 250.30', 'sell', '250.30', 'absolute', '0.0001', '250.30'],
    ['BUY 250.30 @0bps: 250.30', 'buy', '250.30', 'bps', '0', '250.30'],
    ['BUY 250.30 @50bps: 250.30×0.995=249.0485 → up 249.05 (0.4994% ≤ 0.5%)', 'buy', '250.30', 'bps', '50', '249.05'],
    ['BUY 100 abs 0.50: 99.50, exactly 0.5% (allowed)', 'buy', '100', 'absolute', '0.50', '99.50'],
    ['SELL 999999.99 @10bps: ×1.001=1000999.98999 → down 1000999.98', 'sell', '999999.99', 'bps', '10', '1000999.98'],
    // reference off the grid (sub-penny print): never past the reference
    ['BUY 250.3051 @0bps: up 250.31 > ref → 250.30', 'buy', '250.3051', 'bps', '0', '250.30'],
    ['SELL 250.3051 @0bps: down 250.30 < ref → 250.31', 'sell', '250.3051', 'bps', '0', '250.31'],
    ['BUY 1.0016 @15bps: 1.00009976 → up 1.01 > ref → 1.00', 'buy', '1.0016', 'bps', '15', '1.00'],
  ] as const)('%s', (_name, side, ref, mode, offset, expected) => {
    // Slippage is tested separately below; 2 % lets the 100 bps cases through.
    expect(limit(side, ref, mode, offset, '2')).toBe(expected);
  });

  it('allows a wide offset when maxSlippagePct allows it: BUY 10 @1000bps, max 10% → 9.00', () => {
    expect(limit('buy', '10', 'bps', '1000', '10')).toBe('9.00');
  });
});

describe('computeLimitPrice: refusals name limitPrice and the rule', () => {
  it.each([
    ['BUY 1.00 abs 1.00: 1.00−1.00=0 is not > 0', 'buy', '1.00', 'absolute', '1.00', '100', /must be > 0/],
    ['BUY 0.50 abs 0.60: −0.10', 'buy', '0.50', 'absolute', '0.60', '100', /must be > 0/],
    ['BUY 0.00005 @0bps: no tick ≤ ref above 0', 'buy', '0.00005', 'bps', '0', '10', /must be > 0/],
    [
      'BUY 250.30 abs 1.26: 1.26/250.30=0.5034% > 0.5%',
      'buy',
      '250.30',
      'absolute',
      '1.26',
      '0.5',
      /within maxSlippagePct 0\.5%/,
    ],
    ['BUY 100 abs 0.51: 0.51% > 0.5%', 'buy', '100', 'absolute', '0.51', '0.5', /0\.51% away/],
    ['SELL 100 @60bps: 100.60 is 0.6% away', 'sell', '100', 'bps', '60', '0.5', /100\.60 is 0\.6% away/],
  ] as const)('%s', (_name, side, ref, mode, offset, maxSlippage, rule) => {
    let caught: unknown;
    try {
      limit(side, ref, mode, offset, maxSlippage);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    const issues = (caught as ValidationError).issues;
    expect(issues).toHaveLength(1);
    expect(issues[0]!.field).toBe('limitPrice');
    expect(issues[0]!.rule).toMatch(rule);
  });
});

describe('tick helpers', () => {
  it.each([
    ['1.00', '0.01'],
    ['0.9999', '0.0001'],
    ['1', '0.01'],
    ['250.3', '0.01'],
  ])('tickSizeFor(%s) = %s', (price, tick) => expect(tickSizeFor(price).toFixed()).toBe(tick));

  it.each([
    ['0.99995', 'up', '1.00'],
    ['0.99995', 'down', '0.9999'],
    ['1.00001', 'down', '1.00'],
    ['1.00001', 'up', '1.01'],
    ['249.92455', 'up', '249.93'],
    ['249.92455', 'down', '249.92'],
    ['249.93', 'up', '249.93'],
  ] as const)('roundToTick(%s, %s) = %s', (price, dir, expected) => {
    expect(formatTickPrice(roundToTick(price, dir))).toBe(expected);
  });

  it('knows the grid', () => {
    expect(isOnTickGrid('1.00')).toBe(true);
    expect(isOnTickGrid('1.001')).toBe(false);
    expect(isOnTickGrid('0.9999')).toBe(true);
    expect(isOnTickGrid('0.99995')).toBe(false);
  });
});

describe('computeLimitPrice: properties', () => {
  /** Reference prices on the Rule 612 grid: whole cents from $1, or ten-thousandths below $1. */
  const onGridRef = fc.oneof(
    fc.integer({ min: 100, max: 100_000_000 }).map((c) => new Decimal(c).div(100).toFixed(2)),
    fc.integer({ min: 1, max: 9_999 }).map((t) => new Decimal(t).div(10_000).toFixed(4)),
  );
  const offsetSpec = fc.oneof(
    fc
      .integer({ min: 0, max: 100_000 })
      .map((h) => ({ mode: 'bps' as const, offset: new Decimal(h).div(100).toFixed() })),
    fc
      .integer({ min: 0, max: 5_000_000 })
      .map((t) => ({ mode: 'absolute' as const, offset: new Decimal(t).div(10_000).toFixed() })),
  );
  const side = fc.constantFrom('buy' as const, 'sell' as const);

  function nextGridBelow(p: Decimal): Decimal {
    return p.gt(1) ? p.sub('0.01') : p.sub('0.0001');
  }
  function nextGridAbove(p: Decimal): Decimal {
    return p.gte(1) ? p.add('0.01') : p.add('0.0001');
  }
  function configuredDollars(input: LimitPriceInput): Decimal {
    return input.offsetMode === 'bps'
      ? new Decimal(input.referencePrice).mul(input.offset).div(10_000)
      : new Decimal(input.offset);
  }

  it('is on the tick grid, on the right side of the reference, never beyond the offset, and the closest such tick', () => {
    fc.assert(
      fc.property(side, onGridRef, offsetSpec, (s, referencePrice, o) => {
        const input: LimitPriceInput = {
          side: s,
          referencePrice,
          offsetMode: o.mode,
          offset: o.offset,
          maxSlippagePct: '10',
        };
        const raw = rawLimitPrice(s, referencePrice, o.mode, o.offset);
        let text: string;
        try {
          text = computeLimitPrice(input);
        } catch (err) {
          // A refusal must be justified: non-positive limit, or slippage above 10 %.
          expect(err).toBeInstanceOf(ValidationError);
          const ref = new Decimal(referencePrice);
          const justified =
            raw.lte(0) || raw.sub(ref).abs().div(ref).gt('0.1') || roundToTick(raw, s === 'buy' ? 'up' : 'down').lte(0);
          expect(justified).toBe(true);
          return;
        }
        const lim = new Decimal(text);
        const ref = new Decimal(referencePrice);
        expect(isOnTickGrid(lim)).toBe(true);
        expect(lim.gt(0)).toBe(true);
        if (s === 'buy') {
          expect(lim.lte(ref)).toBe(true);
          expect(lim.gte(raw)).toBe(true);
          expect(nextGridBelow(lim).lt(raw)).toBe(true);
        } else {
          expect(lim.gte(ref)).toBe(true);
          expect(lim.lte(raw)).toBe(true);
          expect(nextGridAbove(lim).gt(raw)).toBe(true);
        }
        expect(lim.sub(ref).abs().lte(configuredDollars(input))).toBe(true);
        expect(lim.sub(ref).abs().div(ref).lte('0.1')).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('with a sub-penny reference still never crosses the reference and stays within one tick of the offset', () => {
    const offGridRef = fc.integer({ min: 1, max: 10_000_000_000 }).map((u) => new Decimal(u).div(1_000_000).toFixed());
    fc.assert(
      fc.property(side, offGridRef, offsetSpec, (s, referencePrice, o) => {
        const input: LimitPriceInput = {
          side: s,
          referencePrice,
          offsetMode: o.mode,
          offset: o.offset,
          maxSlippagePct: '10',
        };
        let text: string;
        try {
          text = computeLimitPrice(input);
        } catch (err) {
          expect(err).toBeInstanceOf(ValidationError);
          return;
        }
        const lim = new Decimal(text);
        const ref = new Decimal(referencePrice);
        expect(isOnTickGrid(lim)).toBe(true);
        if (s === 'buy') expect(lim.lte(ref)).toBe(true);
        else expect(lim.gte(ref)).toBe(true);
        // Only the gap between the reference and its own grid can add to the offset: less than one tick.
        expect(
          lim
            .sub(ref)
            .abs()
            .lt(configuredDollars(input).add(tickSizeFor(ref))),
        ).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
