import {
  BrokerRateLimited,
  BrokerTimeout,
  BrokerUnavailable,
  InsufficientFunds,
  NON_RETRYABLE_BROKER_ERROR_TYPES,
  RETRYABLE_BROKER_ERROR_TYPES,
  BrokerErrorType,
  isRetryable,
  DuplicateClientOrderId,
  InvalidPrice,
  BrokerUnauthorized,
  OrderRejected,
  OrderNotFound,
  BrokerBadResponse,
  RejectReason,
  brokerErrorOf,
} from '../../../src/brokers/errors';
import { ValidationError } from '../../../src/domain/validation';
import { parseRetryAfter, parseThrottleSeconds } from '../../../src/brokers/http';
import { refIdForClientOrderId, uuidV5 } from '../../../src/brokers/robinhood/ref-id';
import { averagePrice, parseLimitOrderToPlace } from '../../../src/brokers/broker';
import { canonicalDecimal } from '../../../src/domain/orders/money';
import { isOnTickGrid } from '../../../src/domain/orders/pricing';

describe('BrokerError hierarchy', () => {
  const init = { broker: 'test', message: 'm' };
  const all = [
    new BrokerTimeout(init),
    new BrokerUnavailable(init),
    new BrokerRateLimited({ ...init, retryAfterMs: 5 }),
    new InsufficientFunds(init),
    new InvalidPrice(init),
    new BrokerUnauthorized(init),
    new OrderRejected(init),
    new OrderNotFound(init),
    new DuplicateClientOrderId(init),
    new BrokerBadResponse(init),
  ];

  it('gives every class a distinct stable type, listed as retryable or non-retryable exactly once', () => {
    const types = all.map((e) => e.type);
    expect(new Set(types).size).toBe(all.length);
    expect([...RETRYABLE_BROKER_ERROR_TYPES, ...NON_RETRYABLE_BROKER_ERROR_TYPES].sort()).toEqual(
      [...Object.values(BrokerErrorType)].sort(),
    );
    for (const e of all) {
      expect(e.retryable).toBe((RETRYABLE_BROKER_ERROR_TYPES as readonly string[]).includes(e.type));
      expect(isRetryable(e)).toBe(e.retryable);
      expect(e.name).toBe(e.type);
      expect(e).toBeInstanceOf(Error);
    }
  });

  it('classifies foreign errors: validation is permanent, the unexpected is left to retry', () => {
    expect(isRetryable(new ValidationError([{ field: 'x', rule: 'y' }]))).toBe(false);
    expect(isRetryable(new Error('boom'))).toBe(true);
  });

  it('exposes compact details including the rate-limit delay', () => {
    expect(new BrokerRateLimited({ ...init, retryAfterMs: 27_000, httpStatus: 429 }).toDetails()).toEqual({
      type: 'BrokerRateLimited',
      retryable: true,
      broker: 'test',
      message: 'm',
      httpStatus: 429,
      vendorCode: null,
      outcomeUnknown: false,
      retryAfterMs: 27_000,
      rejectReason: null,
      body: null,
    });
  });

  it('gives every rejection a stable reason (other by default) and carries the masked vendor body in details', () => {
    expect(new OrderRejected(init).reason).toBe(RejectReason.Other);
    const body = { code: 40310100, message: 'trade denied due to pattern day trading protection' };
    const err = new OrderRejected({ ...init, httpStatus: 403, body, reason: RejectReason.PatternDayTrading });
    expect(err.retryable).toBe(false);
    expect(err.toDetails()).toMatchObject({ type: 'OrderRejected', rejectReason: 'pattern_day_trading', body });
    expect(new InsufficientFunds(init).toDetails().rejectReason).toBeNull();
  });

  it('cuts a large vendor body in details, not on the error', () => {
    const body = { detail: 'x'.repeat(5_000) };
    const err = new OrderRejected({ ...init, body });
    expect(err.body).toBe(body);
    const cut = err.toDetails().body as string;
    expect(typeof cut).toBe('string');
    expect(cut.length).toBeLessThan(2_100);
  });

  it('builds the error a table names; a 5xx is always an unknown outcome', () => {
    const rejected = brokerErrorOf(
      { type: 'OrderRejected', reason: RejectReason.WashTrade },
      { ...init, httpStatus: 422 },
    );
    expect(rejected).toBeInstanceOf(OrderRejected);
    expect((rejected as OrderRejected).reason).toBe('wash_trade');
    const limited = brokerErrorOf({ type: 'BrokerRateLimited' }, { ...init, httpStatus: 429 }, { retryAfterMs: 5 });
    expect((limited as BrokerRateLimited).retryAfterMs).toBe(5);
    const down = brokerErrorOf({ type: 'BrokerUnavailable' }, { ...init, httpStatus: 503 });
    expect(down.outcomeUnknown).toBe(true);
    expect(brokerErrorOf({ type: 'OrderRejected' }, { ...init, httpStatus: 400 }).outcomeUnknown).toBe(false);
  });
});

describe('http helpers', () => {
  it('parses Retry-After seconds and HTTP dates', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
    // The one parser serves the Polygon client (axios header values) and the notification sender too.
    expect(parseRetryAfter(undefined)).toBeNull();
    expect(parseRetryAfter('')).toBeNull();
    expect(parseRetryAfter(['3'])).toBeNull();
    expect(parseRetryAfter(' 1.5 ')).toBe(1500);
  });

  it("parses Robinhood's throttle sentence", () => {
    expect(parseThrottleSeconds('Request was throttled. Expected available in 27 seconds.')).toBe(27_000);
    expect(parseThrottleSeconds('Request was throttled. Expected available in 1 second.')).toBe(1000);
    expect(parseThrottleSeconds('Request was throttled.')).toBeNull();
  });
});

describe('ref_id derivation', () => {
  it('is RFC 4122 UUIDv5 (known vector)', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('is stable per client order id and differs between ids', () => {
    const a = refIdForClientOrderId('fg-TSLA-1');
    expect(refIdForClientOrderId('fg-TSLA-1')).toBe(a);
    expect(refIdForClientOrderId('fg-TSLA-2')).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('order request and money helpers', () => {
  it('checks an order to place with the field rules of the domain, named', () => {
    const ok = {
      clientOrderId: 'c1',
      symbol: 'BRK.B',
      side: 'buy',
      quantity: 5,
      limitPrice: '249.93',
      timeInForce: 'day',
    };
    expect(parseLimitOrderToPlace(ok)).toEqual(ok);
    // A prepared order is taken as it is; the fields the broker does not need are not passed on.
    expect(parseLimitOrderToPlace({ ...ok, referencePrice: '250.30', intentKey: 'BRK.B:buy:249.93:5' })).toEqual(ok);
    expect(() => parseLimitOrderToPlace({ ...ok, quantity: 1.5 })).toThrow(
      'order.quantity: must be a positive integer',
    );
    expect(() => parseLimitOrderToPlace({ ...ok, limitPrice: 249.93 })).toThrow('order.limitPrice');
    expect(() => parseLimitOrderToPlace({ ...ok, limitPrice: '0' })).toThrow('order.limitPrice: must be > 0');
    expect(() => parseLimitOrderToPlace({ ...ok, symbol: 'tsla' })).toThrow('order.symbol: must be uppercase (TSLA)');
    // The request's symbol rule, not a looser one of the broker layer: 1-5 letters, one class letter.
    expect(() => parseLimitOrderToPlace({ ...ok, symbol: 'ABCDEF' })).toThrow('order.symbol');
    expect(() => parseLimitOrderToPlace({ ...ok, symbol: 'BRK.AB' })).toThrow('order.symbol');
    expect(() => parseLimitOrderToPlace({ ...ok, clientOrderId: 'a b' })).toThrow('order.clientOrderId');
  });

  it('checks Rule 612 ticks, normalises decimals and averages without floats', () => {
    expect(isOnTickGrid('249.93')).toBe(true);
    expect(isOnTickGrid('249.931')).toBe(false);
    expect(isOnTickGrid('0.9999')).toBe(true);
    expect(isOnTickGrid('0.99999')).toBe(false);
    expect(canonicalDecimal('249.93000000')).toBe('249.93');
    expect(
      averagePrice([
        { quantity: 1, price: '0.1' },
        { quantity: 2, price: '0.2' },
      ]),
    ).toBe('0.166667');
    expect(
      averagePrice([
        { quantity: 3, price: '0.1' },
        { quantity: 3, price: '0.2' },
      ]),
    ).toBe('0.15');
    expect(averagePrice([])).toBeNull();
  });
});
