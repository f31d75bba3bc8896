import { resolveConfig } from '../../../src/domain/config';
import {
  assertWithinOrderLimits,
  DEFAULT_ORDER_LIMITS,
  orderLimitIssues,
} from '../../../src/domain/orders/order-limits';
import { ValidationError } from '../../../src/domain/validation';

describe('order size limits (orders.maxQuantity, orders.maxNotional)', () => {
  it('passes an order at the limits and refuses one share or one cent more, naming the setting', () => {
    const limits = { maxQuantity: 1000, maxNotional: '250000' };
    expect(orderLimitIssues({ quantity: 1000, limitPrice: '250' }, limits)).toEqual([]);
    expect(orderLimitIssues({ quantity: 1001, limitPrice: '1' }, limits)).toEqual([
      {
        field: 'quantity',
        rule: '1001 shares is more than the largest order allowed, 1000 shares (orders.maxQuantity, FLOWGUARD_ORDER_MAX_QUANTITY)',
      },
    ]);
    expect(orderLimitIssues({ quantity: 1000, limitPrice: '250.01' }, limits)).toEqual([
      {
        field: 'notional',
        rule: '1000 × 250.01 = $250,010 is more than the largest order allowed, $250,000 (orders.maxNotional, FLOWGUARD_ORDER_MAX_NOTIONAL)',
      },
    ]);
  });

  it('computes the notional in decimal: 3 × 0.1 is not over a 0.3 limit', () => {
    expect(orderLimitIssues({ quantity: 3, limitPrice: '0.1' }, { maxQuantity: 10, maxNotional: '0.3' })).toEqual([]);
  });

  it('the issue 12 order (1,000,000,000 shares) breaks both default limits', () => {
    expect(() => assertWithinOrderLimits({ quantity: 1_000_000_000, limitPrice: '250' }, DEFAULT_ORDER_LIMITS)).toThrow(
      ValidationError,
    );
    expect(
      orderLimitIssues({ quantity: 1_000_000_000, limitPrice: '250' }, DEFAULT_ORDER_LIMITS).map((i) => i.field),
    ).toEqual(['quantity', 'notional']);
  });

  it('is configured from the environment and validated like every setting', () => {
    const config = resolveConfig({
      env: { FLOWGUARD_ORDER_MAX_QUANTITY: '500', FLOWGUARD_ORDER_MAX_NOTIONAL: '100000.50' },
    });
    expect(config.orders).toMatchObject({ maxQuantity: 500, maxNotional: '100000.5' });
    expect(resolveConfig({ env: {} }).orders).toMatchObject(DEFAULT_ORDER_LIMITS);
    expect(() => resolveConfig({ env: { FLOWGUARD_ORDER_MAX_QUANTITY: 'lots' } })).toThrow(
      /FLOWGUARD_ORDER_MAX_QUANTITY/,
    );
    expect(() => resolveConfig({ env: { FLOWGUARD_ORDER_MAX_NOTIONAL: '0' } })).toThrow(
      /FLOWGUARD_ORDER_MAX_NOTIONAL: must be > 0/,
    );
  });
});
