import { type LimitOrderToPlace } from '../../../src/brokers/broker';
import {
  BrokerBadResponse,
  BrokerError,
  BrokerRateLimited,
  BrokerTimeout,
  BrokerUnauthorized,
  BrokerUnavailable,
  DuplicateClientOrderId,
  InsufficientFunds,
  InvalidPrice,
  OrderNotFound,
  OrderRejected,
  RejectReason,
} from '../../../src/brokers/errors';
import { robinhoodRejectReason } from '../../../src/brokers/robinhood/error-codes';
import { robinhoodConfigFromEnv } from '../../../src/brokers/robinhood/config';
import { refIdForClientOrderId } from '../../../src/brokers/robinhood/ref-id';
import { RobinhoodBroker } from '../../../src/brokers/robinhood/robinhood-broker';
import { submitIdempotently } from '../../../src/brokers/submit-idempotently';
import { type BrokerRefusal } from '../../support/broker-faults';
import { ROBINHOOD_REFUSALS, RobinhoodStandIn } from '../../support/robinhood-stand-in';

let seq = 0;
const order = (over: Partial<LimitOrderToPlace> = {}): LimitOrderToPlace => ({
  clientOrderId: `fg-rh-${++seq}-${Date.now()}`,
  symbol: 'TSLA',
  side: 'buy',
  quantity: 10,
  limitPrice: '249.93',
  timeInForce: 'gtc',
  ...over,
});

async function caught(p: Promise<unknown>): Promise<BrokerError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BrokerError) return err;
    throw err;
  }
  throw new Error('expected a BrokerError');
}

let rh: RobinhoodStandIn;
let broker: RobinhoodBroker;

beforeEach(async () => {
  rh = await RobinhoodStandIn.start({ pageSize: 2 });
  broker = new RobinhoodBroker(rh.config(500));
});

afterEach(async () => {
  expect(rh.errors).toEqual([]);
  await rh.close();
});

describe('RobinhoodBroker happy path', () => {
  it("posts robin_stocks' order fields with a ref_id derived from the client order id", async () => {
    const req = order({ timeInForce: 'day' });
    const snap = await broker.submitLimitOrder(req);
    const [sent] = rh.requestsFor('POST /orders/');
    expect(sent!.body).toEqual({
      account: `${rh.baseUrl}/accounts/${rh.accountNumber}/`,
      instrument: expect.stringMatching(new RegExp(`^${rh.baseUrl}/instruments/[0-9a-f-]+/$`)),
      symbol: 'TSLA',
      price: '249.93',
      quantity: '10',
      ref_id: refIdForClientOrderId(req.clientOrderId),
      type: 'limit',
      time_in_force: 'gfd',
      trigger: 'immediate',
      side: 'buy',
      extended_hours: false,
      market_hours: 'regular_hours',
      order_form_version: 4,
    });
    expect(sent!.headers.authorization).toBe(`Bearer ${rh.token}`);
    expect(snap).toMatchObject({
      broker: 'robinhood',
      clientOrderId: req.clientOrderId,
      symbol: 'TSLA', // resolved through the instrument, the payload has no symbol
      side: 'buy',
      quantity: 10,
      limitPrice: '249.93',
      state: 'queued',
      brokerStatus: 'unconfirmed',
      filledQuantity: 0,
      averageFillPrice: null,
      executionsComplete: true,
    });
  });

  it('masks the account number in the raw payload', async () => {
    const snap = await broker.submitLimitOrder(order());
    const raw = JSON.stringify(snap.raw);
    expect(raw).not.toContain(rh.accountNumber);
    expect(raw).toContain(`/accounts/****${rh.accountNumber.slice(-4)}/`);
  });

  it('reports executions, cumulative quantity and average price; a cancelled order keeps its partial fill', async () => {
    const snap = await broker.submitLimitOrder(order());
    const e1 = rh.fill(snap.brokerOrderId, 4, '249.90');
    let now = await broker.getOrder(snap.brokerOrderId);
    expect(now).toMatchObject({ state: 'partially_filled', filledQuantity: 4, averageFillPrice: '249.9' });
    expect(now.executions).toEqual([{ id: e1, quantity: 4, price: '249.9', timestamp: expect.any(String) }]);
    const res = await broker.cancelOrder(snap.brokerOrderId);
    expect(res.outcome).toBe('cancel_requested');
    now = res.order;
    expect(now).toMatchObject({ state: 'cancelled', filledQuantity: 4, averageFillPrice: '249.9' });
    expect(now.executions).toHaveLength(1);
  });

  it('lists open orders across pages (open = non-null cancel), including foreign ones', async () => {
    const a = await broker.submitLimitOrder(order());
    const b = await broker.submitLimitOrder(order());
    const c = await broker.submitLimitOrder(order());
    const foreign = rh.addForeignOrder('AAPL', 'sell', '0.5', '190.00');
    rh.fill(b.brokerOrderId, 10, '249.93');
    await broker.cancelOrder(c.brokerOrderId);
    const open = await broker.listOpenOrders();
    expect(open.map((o) => o.brokerOrderId).sort()).toEqual([a.brokerOrderId, foreign.id].sort());
    const f = open.find((o) => o.brokerOrderId === foreign.id)!;
    expect(f).toMatchObject({ clientOrderId: null, symbol: 'AAPL', quantity: 0.5 });
    expect(rh.requestsFor('GET /orders/').length).toBeGreaterThanOrEqual(2); // 4 orders, pages of 2
  });

  it('looks an order up by client order id through its ref_id, across pages, and returns null when absent', async () => {
    const target = order();
    const placed = await broker.submitLimitOrder(target);
    for (let i = 0; i < 3; i++) await broker.submitLimitOrder(order()); // push it to page 2
    const fresh = new RobinhoodBroker(rh.config(500)); // another process: no memory of the ref_id
    const found = await fresh.getOrderByClientOrderId(target.clientOrderId);
    expect(found).toMatchObject({ brokerOrderId: placed.brokerOrderId, clientOrderId: target.clientOrderId });
    expect(await fresh.getOrderByClientOrderId('never-placed')).toBeNull();
  });

  it('gives up the ref_id scan after refIdLookupPages pages', async () => {
    const target = order();
    await broker.submitLimitOrder(target);
    for (let i = 0; i < 4; i++) await broker.submitLimitOrder(order()); // target is on page 3
    const shallow = new RobinhoodBroker(rh.config(500, 2));
    expect(await shallow.getOrderByClientOrderId(target.clientOrderId)).toBeNull();
  });

  it('answers not_cancellable for a filled order without posting a cancel', async () => {
    const snap = await broker.submitLimitOrder(order());
    rh.fill(snap.brokerOrderId, 10, '249.93');
    const res = await broker.cancelOrder(snap.brokerOrderId);
    expect(res).toMatchObject({ outcome: 'not_cancellable', reason: 'already_filled', order: { state: 'filled' } });
    expect(rh.requestsFor('POST /orders/:id/cancel/')).toHaveLength(0);
  });

  it('maps rejected / failed with the reject reason, and 404 to OrderNotFound', async () => {
    const snap = await broker.submitLimitOrder(order());
    rh.setState(snap.brokerOrderId, 'rejected', 'market closed');
    expect(await broker.getOrder(snap.brokerOrderId)).toMatchObject({
      state: 'rejected',
      rejectReason: 'market closed',
    });
    expect(await caught(broker.getOrder('missing'))).toBeInstanceOf(OrderNotFound);
  });

  it('pings through the accounts endpoint and refuses a token without the configured account', async () => {
    await expect(broker.ping()).resolves.toBeUndefined();
    const other = new RobinhoodBroker({ ...rh.config(), accountNumber: 'ZZZZ9999' });
    const err = await caught(other.ping());
    expect(err).toBeInstanceOf(BrokerUnauthorized);
    expect(err.message).not.toContain('ZZZZ9999');
  });
});

describe('RobinhoodBroker faults → error types', () => {
  it.each([
    ['buying power', { kind: 'insufficient_buying_power' } as const, InsufficientFunds, false],
    ['price decimals', { kind: 'sub_penny' } as const, InvalidPrice, false],
    ['401', { kind: 'unauthorized' } as const, BrokerUnauthorized, false],
    ['502', { kind: 'status', status: 502 } as const, BrokerUnavailable, true],
  ])('%s', async (_label, fault, type, retryable) => {
    const req = order();
    await broker.submitLimitOrder(order()); // warm the account / instrument caches
    rh.faults.next('POST /orders/', fault);
    const err = await caught(broker.submitLimitOrder(req));
    expect(err).toBeInstanceOf(type);
    expect(err.retryable).toBe(retryable);
    expect(rh.orderByRefId(refIdForClientOrderId(req.clientOrderId))).toBeUndefined();
  });

  it.each([429, 400] as const)(
    'throttling as HTTP %s surfaces the "Expected available in N seconds" delay',
    async (status) => {
      rh.faults.next('POST /orders/', { kind: 'throttle', seconds: 27, status });
      const err = await caught(broker.submitLimitOrder(order()));
      expect(err).toBeInstanceOf(BrokerRateLimited);
      expect((err as BrokerRateLimited).retryAfterMs).toBe(27_000);
      expect(err.retryable).toBe(true);
    },
  );

  it('falls back to Retry-After on a bare 429', async () => {
    rh.faults.next('GET /orders/:id/', { kind: 'rate_limit', retryAfterSeconds: 3 });
    const err = await caught(broker.getOrder('x'));
    expect((err as BrokerRateLimited).retryAfterMs).toBe(3000);
  });

  it('a hanging submit is BrokerTimeout with an unknown outcome', async () => {
    await broker.ping();
    await broker.submitLimitOrder(order());
    rh.faults.next('POST /orders/', { kind: 'hang' });
    const err = await caught(broker.submitLimitOrder(order()));
    expect(err).toBeInstanceOf(BrokerTimeout);
    expect(err.outcomeUnknown).toBe(true);
  });

  it('never puts the token or account number into errors', async () => {
    rh.faults.next('GET /orders/:id/', {
      kind: 'status',
      status: 500,
      body: { detail: `Bearer ${rh.token}`, account_number: rh.accountNumber },
    });
    const err = await caught(broker.getOrder('x'));
    const text = JSON.stringify({ m: err.message, b: err.body, d: err.toDetails() });
    expect(text).not.toContain(rh.token);
    expect(text).not.toContain(rh.accountNumber);
  });

  it('refuses to follow a `next` page onto another origin (the token would leak)', async () => {
    const evil = new RobinhoodBroker(rh.config(500));
    rh.faults.next('GET /orders/', {
      kind: 'status',
      status: 200,
      body: { next: 'https://evil.example/orders/?cursor=2', previous: null, results: [] },
    });
    expect(await caught(evil.listOpenOrders())).toBeInstanceOf(BrokerBadResponse);
  });
});

const EXPECTED_REASON: Partial<Record<BrokerRefusal, RejectReason>> = {
  pattern_day_trading: RejectReason.PatternDayTrading,
  halted: RejectReason.Halted,
  market_closed: RejectReason.MarketClosed,
  short_sale: RejectReason.ShortSale,
  insufficient_qty: RejectReason.InsufficientQuantity,
};

describe('Robinhood refusals classified by documented text (issue 11, item 4)', () => {
  const cases = Object.entries(ROBINHOOD_REFUSALS).flatMap(([refusal, answers]) =>
    (answers ?? []).map(
      (a, variant) => [`${refusal} (${a.status} ${JSON.stringify(a.body)})`, refusal, variant] as const,
    ),
  );
  it.each(cases)('%s → OrderRejected with its reason, never retried', async (_label, refusal, variant) => {
    const req = order({ side: 'sell' });
    rh.faults.next('POST /orders/', { kind: 'refusal', refusal: refusal as BrokerRefusal, variant });
    const err = await caught(broker.submitLimitOrder(req));
    expect(err).toBeInstanceOf(OrderRejected);
    expect(err.retryable).toBe(false);
    expect((err as OrderRejected).reason).toBe(EXPECTED_REASON[refusal as BrokerRefusal]);
    expect(err.toDetails()).toMatchObject({ rejectReason: EXPECTED_REASON[refusal as BrokerRefusal] });
    // Robinhood's own words stay with the error (masked), for the order's status.
    const documented = ROBINHOOD_REFUSALS[refusal as BrokerRefusal]![variant]!;
    expect(err.httpStatus).toBe(documented.status);
    expect(err.body).toEqual(JSON.parse(JSON.stringify(documented.body).replaceAll('{symbol}', req.symbol)));
    expect(rh.orderByRefId(refIdForClientOrderId(req.clientOrderId))).toBeUndefined();
  });

  it('"Sell may cause PDT designation." is a PDT rejection even as a 403, not a credentials error', async () => {
    rh.faults.next('POST /orders/', {
      kind: 'status',
      status: 403,
      body: { detail: 'Sell may cause PDT designation.' },
    });
    const err = await caught(broker.submitLimitOrder(order({ side: 'sell' })));
    expect(err).not.toBeInstanceOf(BrokerUnauthorized);
    expect((err as OrderRejected).reason).toBe('pattern_day_trading');
  });

  it('an instrument Robinhood will not trade is a not_tradable rejection before any order is posted', async () => {
    rh.faults.next('GET /instruments/', { kind: 'refusal', refusal: 'not_tradable' });
    const err = await caught(broker.submitLimitOrder(order()));
    expect(err).toMatchObject({ type: 'OrderRejected', reason: 'not_tradable', retryable: false });
    expect(rh.requestsFor('POST /orders/')).toHaveLength(0);
  });

  it.each([
    [
      '"Price does not satisfy the min tick value."',
      { detail: 'Price does not satisfy the min tick value.' },
      InvalidPrice,
    ],
    [
      '"You can only purchase 3 shares of TSLA."',
      { detail: 'You can only purchase 3 shares of TSLA.' },
      InsufficientFunds,
    ],
    [
      '{"ref_id": ["Order with this ref_id already exists."]}',
      { ref_id: ['Order with this ref_id already exists.'] },
      DuplicateClientOrderId,
    ],
  ] as const)('documented text %s keeps its type', async (_label, body, type) => {
    rh.faults.next('POST /orders/', { kind: 'status', status: 400, body });
    expect(await caught(broker.submitLimitOrder(order()))).toBeInstanceOf(type);
  });

  it.each([
    [
      '400 with an unknown sentence → OrderRejected (other)',
      400,
      { detail: 'Something new went wrong.' },
      OrderRejected,
    ],
    [
      '403 with an unknown sentence → BrokerUnauthorized',
      403,
      { detail: 'You do not have permission.' },
      BrokerUnauthorized,
    ],
    [
      '400 with an unknown field error under price → InvalidPrice',
      400,
      { price: ['A valid number is required.'] },
      InvalidPrice,
    ],
    [
      '502 quoting a refusal → BrokerUnavailable, still retried',
      502,
      { detail: 'Not enough shares to sell.' },
      BrokerUnavailable,
    ],
  ] as const)('unknown texts fall back by HTTP status: %s', async (_label, status, body, type) => {
    rh.faults.next('POST /orders/', { kind: 'status', status, body });
    const err = await caught(broker.submitLimitOrder(order()));
    expect(err).toBeInstanceOf(type);
    expect(err.body).toEqual(body);
    if (err instanceof OrderRejected) expect(err.reason).toBe('other');
  });

  it("maps an accepted-then-rejected order's reject_reason text to a stable reason", () => {
    expect(robinhoodRejectReason('Sell may cause PDT designation.')).toBe('pattern_day_trading');
    expect(robinhoodRejectReason('Not enough shares to sell.')).toBe('insufficient_quantity');
    expect(robinhoodRejectReason('market closed for the day')).toBe('other');
    expect(robinhoodRejectReason(null)).toBe('other');
  });
});

describe('unknown outcome rule (Robinhood)', () => {
  it('reply dropped → the lookup by ref_id finds the order; one broker order', async () => {
    const req = order();
    rh.faults.next('POST /orders/', { kind: 'drop_reply' });
    const res = await submitIdempotently(broker, req);
    expect(res.resolution).toBe('found_after_unknown_outcome');
    expect(res.order.clientOrderId).toBe(req.clientOrderId);
    expect(rh.ordersCreated).toBe(1);
  });

  it('"Order with this ref_id already exists" → resolves to the existing order', async () => {
    const req = order();
    rh.faults.next('POST /orders/', { kind: 'ref_id_exists' });
    const err = await caught(broker.submitLimitOrder(req));
    expect(err).toBeInstanceOf(DuplicateClientOrderId);
    expect(err.retryable).toBe(false);
    rh.faults.next('POST /orders/', { kind: 'ref_id_exists' });
    const res = await submitIdempotently(broker, req);
    expect(res.resolution).toBe('found_after_duplicate');
    expect(res.order.brokerOrderId).toBe(rh.orderByRefId(refIdForClientOrderId(req.clientOrderId))!.id);
    expect(rh.ordersCreated).toBe(1);
  });

  it("reply dropped, lookup throttled → retryable; the caller's retry resolves without a second order", async () => {
    const req = order();
    rh.faults.next('POST /orders/', { kind: 'drop_reply' });
    rh.faults.next('GET /orders/', { kind: 'throttle', seconds: 1 });
    const err = await caught(submitIdempotently(broker, req));
    expect(err.retryable).toBe(true);
    const again = await submitIdempotently(broker, req); // even without lookupFirst: the ref_id is reused
    expect(again.resolution).toBe('found_after_duplicate');
    expect(rh.ordersCreated).toBe(1);
    expect(new Set(rh.requestsFor('POST /orders/').map((r) => (r.body as { ref_id: string }).ref_id)).size).toBe(1);
  });

  it('a duplicate whose order cannot be found is retryable, not a second submit', async () => {
    const req = order();
    rh.faults.next('POST /orders/', { kind: 'ref_id_exists' });
    await caught(broker.submitLimitOrder(req)); // the order exists; the reply only says so
    for (let i = 0; i < 2; i++) rh.addForeignOrder('AAPL', 'buy', '1', '1.00'); // push it off page 1
    const shallow = new RobinhoodBroker(rh.config(500, 1));
    const err = await caught(submitIdempotently(shallow, req));
    expect(err).toBeInstanceOf(BrokerUnavailable);
    expect(err.retryable).toBe(true);
    expect(rh.ordersCreated).toBe(1);
  });
});

describe('cancel races (Robinhood)', () => {
  it('a full fill during the cancel → not_cancellable, already_filled', async () => {
    const snap = await broker.submitLimitOrder(order());
    rh.faults.next('POST /orders/:id/cancel/', { kind: 'fill_during_cancel', fill: 'full', price: '249.88' });
    const res = await broker.cancelOrder(snap.brokerOrderId);
    expect(res).toMatchObject({ outcome: 'not_cancellable', reason: 'already_filled' });
    expect(res.order).toMatchObject({ filledQuantity: 10, averageFillPrice: '249.88' });
  });

  it('a fill after the cancel was accepted → the read-back shows it filled', async () => {
    const snap = await broker.submitLimitOrder(order());
    rh.fill(snap.brokerOrderId, 3, '249.90');
    rh.faults.next('POST /orders/:id/cancel/', { kind: 'fill_after_cancel', price: '249.93' });
    const res = await broker.cancelOrder(snap.brokerOrderId);
    expect(res.outcome).toBe('cancel_requested');
    // (3 × 249.90 + 7 × 249.93) / 10 = 249.921
    expect(res.order).toMatchObject({ state: 'filled', filledQuantity: 10, averageFillPrice: '249.921' });
    expect(res.order.executions).toHaveLength(2);
  });
});

describe('robinhoodConfigFromEnv', () => {
  it('reads token and account number, defaults the base URL, and never echoes the token', () => {
    expect(robinhoodConfigFromEnv({ ROBINHOOD_TOKEN: 't0k', ROBINHOOD_ACCOUNT_NUMBER: '5RZ07024' })).toEqual({
      token: 't0k',
      accountNumber: '5RZ07024',
      baseUrl: 'https://api.robinhood.com',
    });
    expect(() => robinhoodConfigFromEnv({ ROBINHOOD_ACCOUNT_NUMBER: '5RZ07024' })).toThrow(
      'ROBINHOOD_TOKEN: must be set',
    );
    expect(() => robinhoodConfigFromEnv({ ROBINHOOD_TOKEN: 'secret-xyz', ROBINHOOD_ACCOUNT_NUMBER: 'a b' })).toThrow(
      /^ROBINHOOD_ACCOUNT_NUMBER: must be the account number/,
    );
    let message = '';
    try {
      robinhoodConfigFromEnv({ ROBINHOOD_TOKEN: 'secret-xyz', ROBINHOOD_ACCOUNT_NUMBER: '!' });
    } catch (err) {
      message = String(err);
    }
    expect(message).toContain('ROBINHOOD_ACCOUNT_NUMBER');
    expect(message).not.toContain('secret-xyz');
  });
});
