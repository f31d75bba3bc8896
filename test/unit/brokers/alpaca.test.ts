import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { AlpacaBroker } from '../../../src/brokers/alpaca/alpaca-broker';
import { alpacaConfigFromEnv } from '../../../src/brokers/alpaca/config';
import { type AlpacaTradeUpdateEvent, AlpacaTradeUpdatesStream } from '../../../src/brokers/alpaca/stream';
import { type LimitOrderToPlace } from '../../../src/brokers/broker';
import {
  BrokerBadResponse,
  BrokerError,
  BrokerRateLimited,
  BrokerTimeout,
  BrokerUnauthorized,
  BrokerUnavailable,
  InsufficientFunds,
  InvalidPrice,
  OrderNotFound,
  OrderRejected,
  RejectReason,
} from '../../../src/brokers/errors';
import { submitIdempotently } from '../../../src/brokers/submit-idempotently';
import { ALPACA_REFUSALS, AlpacaStandIn } from '../../support/alpaca-stand-in';
import { type BrokerRefusal } from '../../support/broker-faults';

const order = (over: Partial<LimitOrderToPlace> = {}): LimitOrderToPlace => ({
  clientOrderId: `fg-${Math.random().toString(36).slice(2)}`,
  symbol: 'TSLA',
  side: 'buy',
  quantity: 100,
  limitPrice: '249.93',
  timeInForce: 'day',
  ...over,
});

/** A port nothing listens on (a server opened and closed again). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function caught(p: Promise<unknown>): Promise<BrokerError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BrokerError) return err;
    throw err;
  }
  throw new Error('expected a BrokerError');
}

function waitFor(cond: () => boolean, timeoutMs = 3_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() - start > timeoutMs) return reject(new Error('waitFor timed out'));
      setTimeout(tick, 10);
    };
    tick();
  });
}

let alpaca: AlpacaStandIn;
let broker: AlpacaBroker;

beforeEach(async () => {
  alpaca = await AlpacaStandIn.start();
  broker = new AlpacaBroker(alpaca.config(500));
});

afterEach(async () => {
  expect(alpaca.errors).toEqual([]);
  await alpaca.close();
});

describe('AlpacaBroker happy path', () => {
  it('submits a limit order with client_order_id and auth headers, and maps the reply', async () => {
    const req = order({ limitPrice: '249.9300' });
    const snap = await broker.submitLimitOrder(req);
    expect(snap).toMatchObject({
      broker: 'alpaca',
      clientOrderId: req.clientOrderId,
      symbol: 'TSLA',
      side: 'buy',
      quantity: 100,
      limitPrice: '249.93',
      state: 'queued',
      brokerStatus: 'new',
      filledQuantity: 0,
      averageFillPrice: null,
      executions: [],
      executionsComplete: false,
    });
    const [sent] = alpaca.requestsFor('POST /v2/orders');
    expect(sent!.body).toEqual({
      symbol: 'TSLA',
      qty: '100',
      side: 'buy',
      type: 'limit',
      time_in_force: 'day',
      limit_price: '249.93',
      extended_hours: false,
      client_order_id: req.clientOrderId,
    });
    expect(sent!.headers['apca-api-key-id']).toBe(alpaca.keyId);
    expect(sent!.headers['apca-api-secret-key']).toBe(alpaca.secretKey);
  });

  it('looks orders up by client order id (null when none), by id, and lists open orders', async () => {
    const a = await broker.submitLimitOrder(order());
    const b = await broker.submitLimitOrder(order({ side: 'sell', limitPrice: '252.14' }));
    expect((await broker.getOrderByClientOrderId(a.clientOrderId!))?.brokerOrderId).toBe(a.brokerOrderId);
    expect(await broker.getOrderByClientOrderId('never-placed')).toBeNull();
    expect((await broker.getOrder(b.brokerOrderId)).side).toBe('sell');
    alpaca.fill(b.brokerOrderId, 100, '252.14');
    const open = await broker.listOpenOrders();
    expect(open.map((o) => o.brokerOrderId)).toEqual([a.brokerOrderId]);
    expect(alpaca.requestsFor('GET /v2/orders')[0]!.query).toMatchObject({ status: 'open' });
  });

  it('reports partial fills with the cumulative quantity and the broker average price', async () => {
    const snap = await broker.submitLimitOrder(order());
    alpaca.fill(snap.brokerOrderId, 30, '249.90');
    let now = await broker.getOrder(snap.brokerOrderId);
    expect(now).toMatchObject({ state: 'partially_filled', filledQuantity: 30, averageFillPrice: '249.9' });
    alpaca.fill(snap.brokerOrderId, 70, '249.93');
    now = await broker.getOrder(snap.brokerOrderId);
    // (30 × 249.90 + 70 × 249.93) / 100 = 249.921
    expect(now).toMatchObject({ state: 'filled', filledQuantity: 100, averageFillPrice: '249.921' });
  });

  it('cancels an open order (204) and reads it back', async () => {
    const snap = await broker.submitLimitOrder(order());
    const res = await broker.cancelOrder(snap.brokerOrderId);
    expect(res.outcome).toBe('cancel_requested');
    expect(res.order).toMatchObject({ state: 'cancelled', brokerStatus: 'canceled' });
    expect(alpaca.requestsFor('DELETE /v2/orders/:id')).toHaveLength(1);
  });

  it('answers not_cancellable for an order already filled (422)', async () => {
    const snap = await broker.submitLimitOrder(order());
    alpaca.fill(snap.brokerOrderId, 100, '249.93');
    const res = await broker.cancelOrder(snap.brokerOrderId);
    expect(res).toMatchObject({ outcome: 'not_cancellable', reason: 'already_filled', order: { state: 'filled' } });
  });

  it('throws OrderNotFound for an unknown order id', async () => {
    const err = await caught(broker.getOrder('00000000-0000-4000-8000-000000000000'));
    expect(err).toBeInstanceOf(OrderNotFound);
    expect(err.retryable).toBe(false);
  });

  it('maps done_for_day with a partial fill to partially_filled, and refuses undocumented statuses', async () => {
    const snap = await broker.submitLimitOrder(order());
    alpaca.fill(snap.brokerOrderId, 10, '249.93');
    alpaca.setStatus(snap.brokerOrderId, 'done_for_day');
    expect((await broker.getOrder(snap.brokerOrderId)).state).toBe('partially_filled');
    alpaca.setStatus(snap.brokerOrderId, 'mystery');
    const err = await caught(broker.getOrder(snap.brokerOrderId));
    expect(err).toBeInstanceOf(BrokerBadResponse);
  });

  it('pings the account endpoint', async () => {
    await expect(broker.ping()).resolves.toBeUndefined();
    const bad = new AlpacaBroker({ ...alpaca.config(), secretKey: 'wrong' });
    expect(await caught(bad.ping())).toBeInstanceOf(BrokerUnauthorized);
  });
});

describe('AlpacaBroker faults → error types', () => {
  it.each([
    [
      'insufficient buying power (403 40310000)',
      { kind: 'insufficient_buying_power' } as const,
      InsufficientFunds,
      false,
    ],
    ['sub-penny (422 42210000)', { kind: 'sub_penny' } as const, InvalidPrice, false],
    ['401', { kind: 'unauthorized' } as const, BrokerUnauthorized, false],
    ['503', { kind: 'status', status: 503 } as const, BrokerUnavailable, true],
    ['500', { kind: 'status', status: 500 } as const, BrokerUnavailable, true],
  ])('%s', async (_label, fault, type, retryable) => {
    alpaca.faults.next('POST /v2/orders', fault);
    const err = await caught(broker.submitLimitOrder(order()));
    expect(err).toBeInstanceOf(type);
    expect(err.retryable).toBe(retryable);
    expect(alpaca.ordersCreated).toBe(0);
  });

  it('refuses a real sub-penny price natively, and real buying power', async () => {
    expect(await caught(broker.submitLimitOrder(order({ limitPrice: '249.931' })))).toBeInstanceOf(InvalidPrice);
    expect(await caught(broker.submitLimitOrder(order({ quantity: 10_000, limitPrice: '250.00' })))).toMatchObject({
      type: 'InsufficientFunds',
      vendorCode: 40310000,
      httpStatus: 403,
    });
  });

  it('surfaces Retry-After on 429', async () => {
    alpaca.faults.next('GET /v2/orders/:id', { kind: 'rate_limit', retryAfterSeconds: 7 });
    const err = await caught(broker.getOrder('x'));
    expect(err).toBeInstanceOf(BrokerRateLimited);
    expect((err as BrokerRateLimited).retryAfterMs).toBe(7000);
    expect(err.retryable).toBe(true);
  });

  it('turns a hanging request into BrokerTimeout with an unknown outcome', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'hang' });
    const started = Date.now();
    const err = await caught(broker.submitLimitOrder(order()));
    expect(err).toBeInstanceOf(BrokerTimeout);
    expect(err).toMatchObject({ retryable: true, outcomeUnknown: true });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a refused connection is BrokerUnavailable with a known outcome (nothing was sent)', async () => {
    const dead = new AlpacaBroker({ ...alpaca.config(), baseUrl: `http://127.0.0.1:${await closedPort()}` });
    const err = await caught(dead.submitLimitOrder(order()));
    expect(err).toBeInstanceOf(BrokerUnavailable);
    expect(err.outcomeUnknown).toBe(false);
  });

  it('never puts the secret key into error messages or bodies', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'status', status: 500, body: { secret_key: alpaca.secretKey } });
    const err = await caught(broker.submitLimitOrder(order()));
    expect(JSON.stringify({ m: err.message, b: err.body, d: err.toDetails() })).not.toContain(alpaca.secretKey);
  });
});

/** The reason each documented refusal must carry. */
const EXPECTED_REASON: Record<BrokerRefusal, RejectReason> = {
  pattern_day_trading: RejectReason.PatternDayTrading,
  wash_trade: RejectReason.WashTrade,
  halted: RejectReason.Halted,
  market_closed: RejectReason.MarketClosed,
  short_sale: RejectReason.ShortSale,
  not_tradable: RejectReason.NotTradable,
  insufficient_qty: RejectReason.InsufficientQuantity,
  account_restricted: RejectReason.AccountRestricted,
};

describe('Alpaca refusals classified by documented code (issue 11, item 4)', () => {
  it("PDT: 403 {code 40310100} is a pattern-day-trading rejection, not a credentials error, and keeps Alpaca's body", async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'refusal', refusal: 'pattern_day_trading' });
    const err = await caught(broker.submitLimitOrder(order({ side: 'sell' })));
    expect(err).not.toBeInstanceOf(BrokerUnauthorized);
    expect(err).toBeInstanceOf(OrderRejected);
    expect(err).toMatchObject({
      retryable: false,
      reason: 'pattern_day_trading',
      httpStatus: 403,
      vendorCode: 40310100,
    });
    const body = { code: 40310100, message: 'trade denied due to pattern day trading protection' };
    expect(err.body).toEqual(body);
    expect(err.toDetails()).toMatchObject({ type: 'OrderRejected', rejectReason: 'pattern_day_trading', body });
    expect(alpaca.ordersCreated).toBe(0);
  });

  const cases = Object.entries(ALPACA_REFUSALS).flatMap(([refusal, answers]) =>
    answers.map(
      (a, variant) => [`${refusal} #${variant} (${a.status} ${String(a.body.code)})`, refusal, variant] as const,
    ),
  );
  it.each(cases)('%s → OrderRejected with its reason, never retried', async (_label, refusal, variant) => {
    alpaca.faults.next('POST /v2/orders', { kind: 'refusal', refusal: refusal as BrokerRefusal, variant });
    const err = await caught(broker.submitLimitOrder(order()));
    expect(err).toBeInstanceOf(OrderRejected);
    expect(err.retryable).toBe(false);
    expect((err as OrderRejected).reason).toBe(EXPECTED_REASON[refusal as BrokerRefusal]);
    expect(err.toDetails().rejectReason).toBe(EXPECTED_REASON[refusal as BrokerRefusal]);
    expect(err.httpStatus).toBe(ALPACA_REFUSALS[refusal as BrokerRefusal][variant]!.status);
    expect(alpaca.ordersCreated).toBe(0);
  });

  it('a refusal is final: submitIdempotently does not look it up or submit again', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'refusal', refusal: 'wash_trade', variant: 1 });
    const err = await caught(submitIdempotently(broker, order()));
    expect((err as OrderRejected).reason).toBe('wash_trade');
    expect(alpaca.requestsFor('POST /v2/orders')).toHaveLength(1);
    expect(alpaca.requestsFor('GET /v2/orders:by_client_order_id')).toHaveLength(0);
  });

  it('an undocumented message under a documented refusal code is a rejection (other), not a credentials error', async () => {
    alpaca.faults.next('POST /v2/orders', {
      kind: 'status',
      status: 403,
      body: { code: 40310000, message: 'some new account restriction' },
    });
    const err = await caught(broker.submitLimitOrder(order()));
    expect(err).toBeInstanceOf(OrderRejected);
    expect((err as OrderRejected).reason).toBe('other');
  });

  it.each([
    [
      '422 with an unknown code → OrderRejected (other)',
      422,
      { code: 42299999, message: 'brand new refusal' },
      OrderRejected,
    ],
    ['403 with no code ("forbidden.") → BrokerUnauthorized', 403, { message: 'forbidden.' }, BrokerUnauthorized],
    [
      '403 with an unknown code → BrokerUnauthorized',
      403,
      { code: 40399999, message: 'key lacks scope' },
      BrokerUnauthorized,
    ],
    ['429 with an unknown code → BrokerRateLimited', 429, { code: 42999999, message: 'slow down' }, BrokerRateLimited],
    [
      '503 quoting a refusal → BrokerUnavailable, still retried',
      503,
      { code: 42210000, message: 'potential wash trade detected' },
      BrokerUnavailable,
    ],
  ] as const)('unknown codes fall back by HTTP status: %s', async (_label, status, body, type) => {
    alpaca.faults.next('POST /v2/orders', { kind: 'status', status, body });
    const err = await caught(broker.submitLimitOrder(order()));
    expect(err).toBeInstanceOf(type);
    expect(err.body).toEqual(body);
    if (err instanceof OrderRejected) expect(err.reason).toBe('other');
  });
});

describe('unknown outcome rule (Alpaca)', () => {
  it('reply dropped after the order was created → resolved by lookup, exactly one broker order', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'drop_reply' });
    const req = order();
    const res = await submitIdempotently(broker, req);
    expect(res.resolution).toBe('found_after_unknown_outcome');
    expect(res.order.clientOrderId).toBe(req.clientOrderId);
    expect(alpaca.ordersCreated).toBe(1);
    expect(alpaca.requestsFor('POST /v2/orders')).toHaveLength(1);
  });

  it("reply dropped and the lookup fails too → retryable error; the caller's retry finds the order, never submits again", async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'drop_reply' });
    alpaca.faults.next('GET /v2/orders:by_client_order_id', { kind: 'status', status: 503 });
    const req = order();
    const err = await caught(submitIdempotently(broker, req));
    expect(err).toMatchObject({ retryable: true, outcomeUnknown: true });
    const retry = await submitIdempotently(broker, req, { lookupFirst: true });
    expect(retry.resolution).toBe('found_before_submit');
    expect(alpaca.ordersCreated).toBe(1);
    expect(alpaca.requestsFor('POST /v2/orders')).toHaveLength(1);
  });

  it('a retry without lookupFirst hits the duplicate client_order_id and resolves to the existing order', async () => {
    const req = order();
    alpaca.faults.next('POST /v2/orders', { kind: 'drop_reply' });
    alpaca.faults.next('GET /v2/orders:by_client_order_id', { kind: 'status', status: 503 });
    await caught(submitIdempotently(broker, req));
    const retry = await submitIdempotently(broker, req);
    expect(retry.resolution).toBe('found_after_duplicate');
    expect(alpaca.ordersCreated).toBe(1);
  });

  it('a connection reset before the broker acted → lookup finds nothing → retryable; the retry creates exactly one order', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'reset' });
    const req = order();
    expect((await caught(submitIdempotently(broker, req))).retryable).toBe(true);
    expect(alpaca.ordersCreated).toBe(0);
    const retry = await submitIdempotently(broker, req, { lookupFirst: true });
    expect(retry.resolution).toBe('submitted');
    expect(alpaca.ordersCreated).toBe(1);
  });

  it('does not look anything up after a permanent refusal', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'insufficient_buying_power' });
    expect(await caught(submitIdempotently(broker, order()))).toBeInstanceOf(InsufficientFunds);
    expect(alpaca.requestsFor('GET /v2/orders:by_client_order_id')).toHaveLength(0);
  });
});

describe('cancel races (Alpaca)', () => {
  it('a full fill arriving during the cancel → not_cancellable, already_filled', async () => {
    const snap = await broker.submitLimitOrder(order());
    alpaca.faults.next('DELETE /v2/orders/:id', { kind: 'fill_during_cancel', fill: 'full', price: '249.90' });
    const res = await broker.cancelOrder(snap.brokerOrderId);
    expect(res).toMatchObject({ outcome: 'not_cancellable', reason: 'already_filled' });
    expect(res.order).toMatchObject({ state: 'filled', filledQuantity: 100, averageFillPrice: '249.9' });
  });

  it('a partial fill during the cancel → cancelled with the partial fill kept', async () => {
    const snap = await broker.submitLimitOrder(order());
    alpaca.faults.next('DELETE /v2/orders/:id', { kind: 'fill_during_cancel', fill: 40, price: '249.91' });
    const res = await broker.cancelOrder(snap.brokerOrderId);
    expect(res.outcome).toBe('cancel_requested');
    expect(res.order).toMatchObject({ state: 'cancelled', filledQuantity: 40, averageFillPrice: '249.91' });
  });

  it('a fill after the cancel was accepted is visible in the read-back', async () => {
    const snap = await broker.submitLimitOrder(order());
    alpaca.faults.next('DELETE /v2/orders/:id', { kind: 'fill_after_cancel', price: '249.92' });
    const res = await broker.cancelOrder(snap.brokerOrderId);
    expect(res.outcome).toBe('cancel_requested');
    expect(res.order).toMatchObject({ state: 'filled', filledQuantity: 100 });
  });

  it('pending_cancel is reported as pending_cancel', async () => {
    await alpaca.close();
    alpaca = await AlpacaStandIn.start({ cancelMode: 'pending' });
    broker = new AlpacaBroker(alpaca.config(500));
    const snap = await broker.submitLimitOrder(order());
    const res = await broker.cancelOrder(snap.brokerOrderId);
    expect(res).toMatchObject({ outcome: 'cancel_requested', order: { state: 'pending_cancel' } });
    alpaca.completeCancel(snap.brokerOrderId);
    expect((await broker.getOrder(snap.brokerOrderId)).state).toBe('cancelled');
  });
});

describe('listOpenOrders paging', () => {
  it('walks pages backwards with `until` and dedupes the order on each page boundary', async () => {
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await broker.submitLimitOrder(order())).brokerOrderId);
    const filled = made[2]!;
    alpaca.fill(filled, 100, '249.93');
    const paged = new AlpacaBroker({ ...alpaca.config(500), listPageSize: 2 });
    const open = await paged.listOpenOrders();
    expect(open.map((o) => o.brokerOrderId).sort()).toEqual(made.filter((id) => id !== filled).sort());
    const calls = alpaca.requestsFor('GET /v2/orders');
    expect(calls.length).toBeGreaterThan(2);
    expect(calls[0]!.query).toMatchObject({ status: 'open', limit: '2', direction: 'desc' });
    expect(calls[1]!.query.until).toBeDefined();
  });
});

describe('alpacaConfigFromEnv', () => {
  it('reads the key pair, defaults to the paper endpoint and names a missing variable', () => {
    expect(alpacaConfigFromEnv({ ALPACA_KEY_ID: 'k', ALPACA_SECRET_KEY: 's' })).toEqual({
      keyId: 'k',
      secretKey: 's',
      baseUrl: 'https://paper-api.alpaca.markets',
    });
    expect(() => alpacaConfigFromEnv({ ALPACA_KEY_ID: 'k' })).toThrow('ALPACA_SECRET_KEY: must be set');
    expect(() =>
      alpacaConfigFromEnv({ ALPACA_KEY_ID: 'k', ALPACA_SECRET_KEY: 's', ALPACA_BASE_URL: 'ftp://x' }),
    ).toThrow('ALPACA_BASE_URL');
  });
});

describe('AlpacaTradeUpdatesStream', () => {
  let stream: AlpacaTradeUpdatesStream | undefined;
  afterEach(async () => {
    await stream?.close();
    stream = undefined;
  });

  it('authenticates, listens and delivers fills with execution ids (binary frames)', async () => {
    const events: AlpacaTradeUpdateEvent[] = [];
    stream = new AlpacaTradeUpdatesStream({ config: alpaca.config(), onUpdate: (e) => void events.push(e) });
    await stream.start();
    expect(stream.listening).toBe(true);
    const snap = await broker.submitLimitOrder(order());
    const execId = alpaca.fill(snap.brokerOrderId, 25, '249.90');
    alpaca.fill(snap.brokerOrderId, 75, '249.93');
    await waitFor(() => events.length >= 3);
    expect(events.map((e) => e.event)).toEqual(['new', 'partial_fill', 'fill']);
    expect(events[1]!.execution).toMatchObject({ id: execId, quantity: 25, price: '249.9' });
    // (25 × 249.90 + 75 × 249.93) / 100
    expect(events[2]!.order).toMatchObject({ state: 'filled', filledQuantity: 100, averageFillPrice: '249.9225' });
  });

  it('rejects start() on refused credentials without reconnecting', async () => {
    stream = new AlpacaTradeUpdatesStream({
      config: { ...alpaca.config(), secretKey: 'wrong' },
      onUpdate: () => undefined,
    });
    await expect(stream.start()).rejects.toBeInstanceOf(BrokerUnauthorized);
  });

  it('reconnects after a dropped connection and calls onReconnect so the caller reconciles by REST', async () => {
    const events: AlpacaTradeUpdateEvent[] = [];
    let reconciled = 0;
    stream = new AlpacaTradeUpdatesStream({
      config: alpaca.config(),
      onUpdate: (e) => void events.push(e),
      onReconnect: () => {
        reconciled++;
      },
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    await stream.start();
    const snap = await broker.submitLimitOrder(order());
    alpaca.dropStreamConnections();
    // A fill while disconnected is never replayed: only REST reconciliation sees it.
    alpaca.fill(snap.brokerOrderId, 10, '249.90');
    await waitFor(() => reconciled === 1 && alpaca.streamListeners === 1);
    expect(stream.reconnects).toBe(1);
    expect(events.some((e) => e.event === 'partial_fill')).toBe(false);
    expect((await broker.getOrder(snap.brokerOrderId)).filledQuantity).toBe(10);
    alpaca.fill(snap.brokerOrderId, 90, '249.93');
    await waitFor(() => events.some((e) => e.event === 'fill'));
  });
});
