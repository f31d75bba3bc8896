import { DEFAULT_ORDERS_CONFIG } from '../../../src/domain/orders/config';
import { prepareLimitOrder } from '../../../src/domain/orders/order-request';
import { PROTECTIVE_STRATEGY, withProtectiveStrategy } from '../../../src/domain/orders/protective';

const exit = { symbol: 'TSLA', side: 'sell', quantity: 500, referencePrice: '249.57', strategy: PROTECTIVE_STRATEGY };

describe('withProtectiveStrategy', () => {
  it('prices the exit at the reference by default, where the plain default sell rests 10 bps above it', () => {
    expect(prepareLimitOrder(exit, withProtectiveStrategy(DEFAULT_ORDERS_CONFIG)).limitPrice).toBe('249.57');
    const { strategy: _, ...plain } = exit;
    expect(prepareLimitOrder(plain, DEFAULT_ORDERS_CONFIG).limitPrice).toBe('249.81');
  });

  it("keeps the file's own protective fields and fills only the missing sell offset; other strategies untouched", () => {
    const scalp = { offsetMode: 'absolute', buyOffset: '0.02', sellOffset: '0.02' } as const;
    const pricing = withProtectiveStrategy({
      ...DEFAULT_ORDERS_CONFIG,
      strategies: { protective: { maxSlippagePct: '1' }, scalp },
    });
    expect(pricing.strategies).toEqual({ protective: { sellOffset: '0', maxSlippagePct: '1' }, scalp });
    const own = withProtectiveStrategy({ ...DEFAULT_ORDERS_CONFIG, strategies: { protective: { sellOffset: '5' } } });
    expect(prepareLimitOrder(exit, own).limitPrice).toBe('249.69');
  });

  it('returns a new object and leaves its input as it was (settings are carried in workflow state)', () => {
    const input = { ...DEFAULT_ORDERS_CONFIG, strategies: {} };
    const out = withProtectiveStrategy(input);
    expect(input.strategies).toEqual({});
    expect(out).not.toBe(input);
  });
});
