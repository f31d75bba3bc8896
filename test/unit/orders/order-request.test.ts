import { DEFAULT_ORDERS_CONFIG, OrdersConfigSchema } from '../../../src/domain/orders/config';
import {
  checkPreparedOrder,
  normalizedIntentKey,
  prepareLimitOrder,
  type OrderRequestInput,
} from '../../../src/domain/orders/order-request';
import { ValidationError, type ValidationIssue } from '../../../src/domain/validation';

const base: OrderRequestInput = { symbol: 'TSLA', side: 'buy', quantity: 10, referencePrice: '250.30' };

function issuesOf(fn: () => unknown): ValidationIssue[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return [...err.issues];
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('prepareLimitOrder', () => {
  it('prices the worked cases with the default configuration', () => {
    expect(prepareLimitOrder(base, DEFAULT_ORDERS_CONFIG)).toEqual({
      symbol: 'TSLA',
      side: 'buy',
      quantity: 10,
      type: 'limit',
      referencePrice: '250.30',
      limitPrice: '249.93',
      offsetMode: 'bps',
      offset: '15',
      maxSlippagePct: '0.5',
      timeInForce: 'day',
      broker: 'paper',
      intentKey: 'TSLA:buy:249.93:10',
    });
    const sell = prepareLimitOrder(
      { ...base, side: 'sell', referencePrice: '252.10', offsetMode: 'absolute', offset: '0.04' },
      DEFAULT_ORDERS_CONFIG,
    );
    expect(sell).toMatchObject({ limitPrice: '252.14', offsetMode: 'absolute', offset: '0.04' });
  });

  it('uses the sell default of 10 bps: 250.30 × 1.001 = 250.5503 → 250.55', () => {
    expect(prepareLimitOrder({ ...base, side: 'sell' }, DEFAULT_ORDERS_CONFIG)).toMatchObject({
      limitPrice: '250.55',
      offset: '10',
    });
  });

  it('accepts the quantity as text (CLI) and keeps optional fields', () => {
    const order = prepareLimitOrder(
      { ...base, quantity: '25', clientOrderId: 'fg-TSLA:1.a_b', timeInForce: 'gtc', broker: 'alpaca' },
      DEFAULT_ORDERS_CONFIG,
    );
    expect(order).toMatchObject({ quantity: 25, clientOrderId: 'fg-TSLA:1.a_b', timeInForce: 'gtc', broker: 'alpaca' });
  });

  describe('strategies fall back field by field', () => {
    const orders = OrdersConfigSchema.parse({
      maxSlippagePct: 1,
      strategies: {
        scalp: { buyOffset: 5 }, // sell offset, mode and slippage from the defaults
        wide: { offsetMode: 'absolute', buyOffset: '0.50', sellOffset: '0.25', maxSlippagePct: 0.3 },
      },
    });

    it.each([
      ['scalp buy: 5 bps → 250.30×0.9995=250.17485 → 250.18', 'scalp', 'buy', '250.18', 'bps', '5', '1'],
      ['scalp sell: default 10 bps → 250.55', 'scalp', 'sell', '250.55', 'bps', '10', '1'],
      ['no strategy buy: default 15 bps → 249.93', undefined, 'buy', '249.93', 'bps', '15', '1'],
    ] as const)('%s', (_name, strategy, side, limitPrice, offsetMode, offset, maxSlippagePct) => {
      const order = prepareLimitOrder({ ...base, side, ...(strategy ? { strategy } : {}) }, orders);
      expect(order).toMatchObject({ limitPrice, offsetMode, offset, maxSlippagePct });
      if (strategy) expect(order.strategy).toBe(strategy);
    });

    it('wide buy: absolute 0.50 → 249.80 (0.1998 % ≤ 0.3 %)', () => {
      expect(prepareLimitOrder({ ...base, strategy: 'wide' }, orders)).toMatchObject({
        limitPrice: '249.80',
        offsetMode: 'absolute',
      });
    });

    it('the request overrides the strategy', () => {
      expect(prepareLimitOrder({ ...base, strategy: 'scalp', offset: '20' }, orders).limitPrice).toBe('249.80'); // 250.30×0.998=249.7994 → 249.80
    });

    it('refuses an unknown strategy, naming the configured ones', () => {
      expect(issuesOf(() => prepareLimitOrder({ ...base, strategy: 'nope' }, orders))).toEqual([
        { field: 'strategy', rule: 'unknown strategy "nope" (configured: scalp, wide)' },
      ]);
    });

    it('refuses a mode switch without an offset: 15 bps must not become $15', () => {
      expect(issuesOf(() => prepareLimitOrder({ ...base, offsetMode: 'absolute' }, orders))).toEqual([
        { field: 'offset', rule: 'is required when offsetMode (absolute) differs from the configured mode (bps)' },
      ]);
    });
  });

  it.each([
    ['TSLA', true],
    ['A', true],
    ['GOOGL', true],
    ['BRK.B', true],
    ['tsla', false],
    ['Tsla', false],
    ['TSLA1', false],
    ['GOOGLE', false],
    ['BRK.BB', false],
    ['BRK.', false],
    ['.B', false],
    ['', false],
    [' TSLA', false],
    ['TSLA250117C00250000', false],
  ])('symbol %j valid=%s', (symbol, valid) => {
    if (valid) expect(prepareLimitOrder({ ...base, symbol }, DEFAULT_ORDERS_CONFIG).symbol).toBe(symbol);
    else
      expect(issuesOf(() => prepareLimitOrder({ ...base, symbol }, DEFAULT_ORDERS_CONFIG)).map((i) => i.field)).toEqual(
        ['symbol'],
      );
  });

  it('explains option symbols and lowercase', () => {
    expect(
      issuesOf(() => prepareLimitOrder({ ...base, symbol: 'TSLA250117C00250000' }, DEFAULT_ORDERS_CONFIG))[0]!.rule,
    ).toMatch(/options are not supported/);
    expect(issuesOf(() => prepareLimitOrder({ ...base, symbol: 'brk.b' }, DEFAULT_ORDERS_CONFIG))[0]!.rule).toBe(
      'must be uppercase (BRK.B)',
    );
  });

  it.each([0, -1, 1.5, '1.5', '', 'ten', '-3', Number.NaN, 2 ** 60])('refuses quantity %j', (quantity) => {
    expect(issuesOf(() => prepareLimitOrder({ ...base, quantity }, DEFAULT_ORDERS_CONFIG))).toEqual([
      { field: 'quantity', rule: 'must be a positive integer' },
    ]);
  });

  it.each([
    ['0', 'must be > 0'],
    ['0.000', 'must be > 0'],
    ['-250.30', 'must be a positive decimal string such as "250.30"'],
    ['1e3', 'must be a positive decimal string such as "250.30"'],
    ['250,30', 'must be a positive decimal string such as "250.30"'],
    ['250.3000001', 'must have at most 6 decimal places'],
    ['10000000', 'must be below 10000000'],
    [250.3, 'must be a decimal string such as "250.30"'],
  ])('refuses referencePrice %j: %s', (referencePrice, rule) => {
    expect(issuesOf(() => prepareLimitOrder({ ...base, referencePrice }, DEFAULT_ORDERS_CONFIG))).toEqual([
      { field: 'referencePrice', rule },
    ]);
  });

  it.each(['market', 'stop', 'stop_limit'])('answers %s orders with "not supported, use a limit order"', (type) => {
    expect(issuesOf(() => prepareLimitOrder({ ...base, type }, DEFAULT_ORDERS_CONFIG))).toEqual([
      { field: 'type', rule: `${type} orders are not supported: use a limit order` },
    ]);
  });

  it('refuses an unknown order type and unknown fields', () => {
    expect(issuesOf(() => prepareLimitOrder({ ...base, type: 'iceberg' }, DEFAULT_ORDERS_CONFIG))[0]!.field).toBe(
      'type',
    );
    expect(issuesOf(() => prepareLimitOrder({ ...base, limitPrice: '1' }, DEFAULT_ORDERS_CONFIG))[0]!.rule).toMatch(
      /limitPrice/,
    );
  });

  it.each([
    ['clientOrderId', 'x'.repeat(129), 'must be at most 128 characters'],
    ['clientOrderId', 'a b', 'must contain only letters, digits, _ - : .'],
    ['side', 'short', 'must be buy or sell'],
    ['timeInForce', 'ioc', 'must be day or gtc'],
    ['broker', 'ibkr', 'must be paper, alpaca or robinhood'],
    ['offsetMode', 'percent', 'must be bps or absolute'],
    ['offset', '-1', 'must be a non-negative decimal number such as 15 or 0.04'],
    ['maxSlippagePct', '0', 'must be > 0'],
  ])('refuses %s %j', (field, value, rule) => {
    expect(issuesOf(() => prepareLimitOrder({ ...base, [field]: value }, DEFAULT_ORDERS_CONFIG))).toEqual([
      { field, rule },
    ]);
  });

  it('reports every broken field at once', () => {
    const fields = issuesOf(() =>
      prepareLimitOrder({ symbol: 'tsla', side: 'hold', quantity: 0, referencePrice: 'x' }, DEFAULT_ORDERS_CONFIG),
    ).map((i) => i.field);
    expect(fields.sort()).toEqual(['quantity', 'referencePrice', 'side', 'symbol']);
  });

  it('refuses a limit beyond maxSlippagePct: 60 bps > 0.5 %', () => {
    expect(issuesOf(() => prepareLimitOrder({ ...base, offset: '60' }, DEFAULT_ORDERS_CONFIG))[0]!.field).toBe(
      'limitPrice',
    );
  });
});

describe('normalizedIntentKey', () => {
  it('treats 250.1 and 250.10 as the same intent', () => {
    expect(normalizedIntentKey('TSLA', 'buy', '250.1', 10)).toBe(normalizedIntentKey('TSLA', 'buy', '250.10', 10));
    expect(normalizedIntentKey('TSLA', 'buy', '250.10', 10)).toBe('TSLA:buy:250.1:10');
  });

  it('distinguishes symbol, side, price and quantity', () => {
    const keys = new Set([
      normalizedIntentKey('TSLA', 'buy', '250.10', 10),
      normalizedIntentKey('TSLA', 'sell', '250.10', 10),
      normalizedIntentKey('TSL', 'buy', '250.10', 10),
      normalizedIntentKey('TSLA', 'buy', '250.11', 10),
      normalizedIntentKey('BRK.B', 'buy', '250.10', 10),
      // Issue 11 item 6: a 500-share order at the same symbol, side and limit is a different intent.
      normalizedIntentKey('TSLA', 'buy', '250.10', 500),
    ]);
    expect(keys.size).toBe(6);
  });

  it('prepareLimitOrder keys the intent by quantity too', () => {
    const ten = prepareLimitOrder(base, DEFAULT_ORDERS_CONFIG);
    const fiveHundred = prepareLimitOrder({ ...base, quantity: 500 }, DEFAULT_ORDERS_CONFIG);
    expect(ten.limitPrice).toBe(fiveHundred.limitPrice);
    expect(ten.intentKey).not.toBe(fiveHundred.intentKey);
    expect(prepareLimitOrder({ ...base, quantity: '10' }, DEFAULT_ORDERS_CONFIG).intentKey).toBe(ten.intentKey);
  });

  it('keeps the pre-quantity key as its first three parts (the desk replays old histories with it)', () => {
    expect(normalizedIntentKey('BRK.B', 'sell', '410.40', 3).split(':').slice(0, 3).join(':')).toBe('BRK.B:sell:410.4');
  });

  it('validates its inputs', () => {
    expect(() => normalizedIntentKey('tsla', 'buy', '1', 1)).toThrow('symbol: must be uppercase (TSLA)');
    expect(() => normalizedIntentKey('TSLA', 'buy', '1e2', 1)).toThrow(ValidationError);
    expect(() => normalizedIntentKey('TSLA', 'buy', '1', 0)).toThrow('quantity: must be a positive integer');
    expect(() => normalizedIntentKey('TSLA', 'buy', '1', 1.5)).toThrow(ValidationError);
  });
});

describe('checkPreparedOrder (the desk, on an order its caller priced)', () => {
  const prepared = { ...prepareLimitOrder(base, DEFAULT_ORDERS_CONFIG), clientOrderId: 'c-1' };

  it('takes a prepared order as it is, priced by any configuration, without pricing it again', () => {
    expect(checkPreparedOrder(prepared, 'paper')).toEqual(prepared);
    // 40 bps instead of the defaults' 15: the desk does not know or redo the caller's pricing, it checks the result.
    const wider = prepareLimitOrder(base, OrdersConfigSchema.parse({ buyOffset: '40' }));
    expect(checkPreparedOrder({ ...wider, clientOrderId: 'c-2' }, 'paper').limitPrice).toBe('249.30');
  });

  it('refuses what pricing never gives, naming the field and the rule', () => {
    expect(issuesOf(() => checkPreparedOrder({ ...prepared, limitPrice: '249.935' }, 'paper'))).toEqual([
      expect.objectContaining({ field: 'prepared.limitPrice', rule: expect.stringMatching(/tick grid/) }),
      expect.objectContaining({ field: 'prepared.intentKey', rule: expect.stringMatching(/TSLA:buy:249.935:10/) }),
    ]);
    expect(issuesOf(() => checkPreparedOrder({ ...prepared, limitPrice: '250.31' }, 'paper'))).toContainEqual(
      expect.objectContaining({
        field: 'prepared.limitPrice',
        rule: expect.stringMatching(/buy limit must not be above/),
      }),
    );
    expect(issuesOf(() => checkPreparedOrder({ ...prepared, limitPrice: '240.00' }, 'paper'))).toContainEqual(
      expect.objectContaining({ field: 'prepared.limitPrice', rule: expect.stringMatching(/maxSlippagePct 0.5%/) }),
    );
    expect(issuesOf(() => checkPreparedOrder({ ...prepared, quantity: 11 }, 'paper'))).toEqual([
      { field: 'prepared.intentKey', rule: "must be TSLA:buy:249.93:11, this order's (was TSLA:buy:249.93:10)" },
    ]);
    expect(issuesOf(() => checkPreparedOrder(prepared, 'alpaca'))).toEqual([
      { field: 'prepared.broker', rule: "must be alpaca, the desk's broker (was paper)" },
    ]);
  });

  it('holds the fields to the request rules and takes nothing else', () => {
    expect(issuesOf(() => checkPreparedOrder({ ...prepared, symbol: 'tsla' }, 'paper'))).toContainEqual({
      field: 'prepared.symbol',
      rule: 'must be uppercase (TSLA)',
    });
    expect(issuesOf(() => checkPreparedOrder({ ...prepared, offset: 15 }, 'paper'))).toEqual([
      { field: 'prepared.offset', rule: 'must be a decimal string' },
    ]);
    expect(issuesOf(() => checkPreparedOrder({ ...prepared, pricing: {} }, 'paper'))[0]?.field).toBe('prepared');
    const { clientOrderId: _id, ...withoutId } = prepared;
    expect(issuesOf(() => checkPreparedOrder(withoutId, 'paper'))[0]?.field).toBe('prepared.clientOrderId');
  });
});
