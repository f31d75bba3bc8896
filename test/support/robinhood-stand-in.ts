/**
 * A local stand-in for the Robinhood endpoints robin_stocks uses, keeping orders in memory (newest first,
 * paged with absolute `next` URLs). Tests drive fills through the control API and inject faults:
 *
 *   const rh = await RobinhoodStandIn.start({ pageSize: 2 });
 *   rh.faults.next('POST /orders/', { kind: 'throttle', seconds: 27 });
 *   rh.fill(orderId, 10, '249.90');
 *
 * Routes (fault keys): 'GET /accounts/', 'GET /instruments/', 'GET /instruments/:id/', 'POST /orders/',
 * 'GET /orders/', 'GET /orders/:id/', 'POST /orders/:id/cancel/', 'GET /positions/'.
 *
 * Positions follow the fills (average cost) and can be set directly for shares bought outside flowguard:
 * `rh.setPosition('AAPL', '12', '190.10')`. GET /positions/ honours `nonzero=true` and `account_number`, pages
 * like /orders/, and carries `symbol` only with includeSymbol (robin_stocks resolves it from the instrument URL).
 */
import { createHash, randomUUID } from 'node:crypto';
import Decimal from 'decimal.js';
import {
  type BrokerRefusal,
  type Fault,
  type RecordedRequest,
  type RefusalAnswer,
  type StandInRequest,
  type FaultScript,
  StandInServer,
  dropReply,
  refusalAnswer,
  sendJson,
  unsupportedFault,
} from './broker-faults';

export interface RobinhoodStandInOptions {
  readonly token?: string;
  readonly accountNumber?: string;
  /** Orders per page of GET /orders/. Default 100. */
  readonly pageSize?: number;
  /** Buys whose quantity × price exceed this are refused for buying power. Default 1 000 000. */
  readonly buyingPower?: string;
  /** Whether order payloads carry `symbol` (newer payloads do; older ones only the instrument URL). */
  readonly includeSymbol?: boolean;
}

export interface RobinhoodStandInExecution {
  id: string;
  price: string;
  quantity: string;
  timestamp: string;
  settlement_date: string;
}

export interface RobinhoodStandInOrder {
  id: string;
  ref_id: string;
  url: string;
  account: string;
  position: string;
  cancel: string | null;
  instrument: string;
  instrument_id: string;
  symbol?: string;
  cumulative_quantity: string;
  average_price: string | null;
  fees: string;
  state: string;
  type: string;
  side: 'buy' | 'sell';
  time_in_force: string;
  trigger: string;
  price: string;
  stop_price: null;
  quantity: string;
  reject_reason: string | null;
  created_at: string;
  updated_at: string;
  last_transaction_at: string;
  executions: RobinhoodStandInExecution[];
  extended_hours: boolean;
  market_hours: string;
  order_form_version: number;
}

const TERMINAL = new Set(['filled', 'cancelled', 'rejected', 'failed']);

/**
 * Robinhood's answers to a refused order, as reported by robin_stocks users and others (the same sources as
 * src/brokers/robinhood/error-codes.ts). Robinhood's statuses are rarely quoted; 400 is the one reported
 * ("HTTP 400: Not enough shares to sell.") and used throughout. Rows marked "undocumented wording" have no
 * public body. Wash trade and account restrictions have no reported Robinhood answer at all and are
 * unsupported here; an untradable symbol is GET /instruments/ answering `tradeable: false` (fault
 * { kind: 'refusal', refusal: 'not_tradable' } on that route).
 */
export const ROBINHOOD_REFUSALS: Readonly<Partial<Record<BrokerRefusal, readonly RefusalAnswer[]>>> = {
  pattern_day_trading: [
    {
      status: 400,
      body: { detail: 'Sell may cause PDT designation.' },
      source: 'github.com/siropkin/robinhood-ai-trading-bot/issues/17 (status not quoted)',
    },
  ],
  insufficient_qty: [
    {
      status: 400,
      body: { detail: 'Not enough shares to sell.' },
      source:
        'github.com/siropkin/robinhood-ai-trading-bot/issues/19; github.com/kevin1chun/robinhood-for-agents/issues/26',
    },
  ],
  halted: [{ status: 400, body: { detail: 'Trading in {symbol} is halted.' }, source: 'undocumented wording' }],
  market_closed: [{ status: 400, body: { detail: 'The market is closed.' }, source: 'undocumented wording' }],
  short_sale: [{ status: 400, body: { detail: 'You cannot sell short {symbol}.' }, source: 'undocumented wording' }],
};

export const DEFAULT_ROBINHOOD_TOKEN = 'rh-test-access-token-0001';
export const DEFAULT_ROBINHOOD_ACCOUNT = '5RZ07024';

export class RobinhoodStandIn {
  private readonly server: StandInServer;
  /** Newest first, like GET /orders/. */
  private readonly list: RobinhoodStandInOrder[] = [];
  private readonly instruments = new Map<string, { id: string; symbol: string }>();
  private readonly positionBook = new Map<string, { quantity: Decimal; average: Decimal; updatedAt: string }>();
  private clock = Date.parse('2025-06-02T14:30:00.000Z');
  ordersCreated = 0;
  readonly token: string;
  readonly accountNumber: string;

  private constructor(private readonly options: RobinhoodStandInOptions) {
    this.token = options.token ?? DEFAULT_ROBINHOOD_TOKEN;
    this.accountNumber = options.accountNumber ?? DEFAULT_ROBINHOOD_ACCOUNT;
    this.server = new StandInServer(
      [
        { method: 'GET', pattern: '/accounts/', handler: (c, _p, f) => this.accounts(c, f) },
        { method: 'GET', pattern: '/instruments/', handler: (c, _p, f) => this.instrumentSearch(c, f) },
        { method: 'GET', pattern: '/instruments/:id/', handler: (c, p, f) => this.instrumentById(c, p.id!, f) },
        { method: 'POST', pattern: '/orders/', handler: (c, _p, f) => this.submit(c, f) },
        { method: 'GET', pattern: '/orders/', handler: (c, _p, f) => this.page(c, f) },
        { method: 'GET', pattern: '/orders/:id/', handler: (c, p, f) => this.getOne(c, p.id!, f) },
        { method: 'POST', pattern: '/orders/:id/cancel/', handler: (c, p, f) => this.cancel(c, p.id!, f) },
        { method: 'GET', pattern: '/positions/', handler: (c, _p, f) => this.positions(c, f) },
      ],
      (ctx) => sendJson(ctx.res, 404, { detail: 'Not found.' }),
    );
  }

  static async start(options: RobinhoodStandInOptions = {}): Promise<RobinhoodStandIn> {
    const s = new RobinhoodStandIn(options);
    await s.server.listen();
    return s;
  }

  get baseUrl(): string {
    return this.server.baseUrl;
  }

  get faults(): FaultScript {
    return this.server.faults;
  }

  get requests(): readonly RecordedRequest[] {
    return this.server.requests;
  }

  get errors(): readonly Error[] {
    return this.server.errors;
  }

  requestsFor(route: string): RecordedRequest[] {
    return this.server.requestsFor(route);
  }

  /** Config for RobinhoodBroker pointed at this stand-in. */
  config(timeoutMs = 2_000, refIdLookupPages?: number) {
    return {
      token: this.token,
      accountNumber: this.accountNumber,
      baseUrl: this.baseUrl,
      timeoutMs,
      ...(refIdLookupPages === undefined ? {} : { refIdLookupPages }),
    };
  }

  close(): Promise<void> {
    return this.server.close();
  }

  // ── control API ────────────────────────────────────────────────────────────────────────────────────

  orders(): RobinhoodStandInOrder[] {
    return this.list.map((o) => structuredClone(o));
  }

  order(id: string): RobinhoodStandInOrder {
    return structuredClone(this.mustGet(id));
  }

  orderByRefId(refId: string): RobinhoodStandInOrder | undefined {
    const o = this.list.find((x) => x.ref_id === refId);
    return o ? structuredClone(o) : undefined;
  }

  /** Adds an order placed outside flowguard (e.g. by hand in the app), newest first. */
  addForeignOrder(symbol: string, side: 'buy' | 'sell', quantity: string, price: string): RobinhoodStandInOrder {
    return this.create(
      {
        ref_id: randomUUID(),
        symbol,
        side,
        quantity,
        price,
        time_in_force: 'gtc',
        state: 'confirmed',
      },
      false,
    );
  }

  /** Executes `qty` at `price`; returns the execution id. Refuses overfills. */
  fill(id: string, qty: number, price: string): string {
    const o = this.mustGet(id);
    const cumulative = new Decimal(o.cumulative_quantity).plus(qty);
    if (cumulative.gt(o.quantity)) throw new Error(`robinhood stand-in: fill of ${qty} would overfill ${id}`);
    const now = this.tick();
    const execution: RobinhoodStandInExecution = {
      id: randomUUID(),
      price: new Decimal(price).toFixed(8),
      quantity: new Decimal(qty).toFixed(8),
      timestamp: now,
      settlement_date: now.slice(0, 10),
    };
    o.executions.push(execution);
    this.applyToPosition(o.symbol ?? '', o.side, new Decimal(qty), new Decimal(price), now);
    const notional = o.executions.reduce((s, e) => s.plus(new Decimal(e.price).times(e.quantity)), new Decimal(0));
    o.cumulative_quantity = cumulative.toFixed(8);
    o.average_price = notional.div(cumulative).toFixed(8);
    o.updated_at = now;
    o.last_transaction_at = now;
    if (cumulative.eq(o.quantity)) {
      o.state = 'filled';
      o.cancel = null;
    } else if (o.state !== 'cancelled') {
      o.state = 'partially_filled';
    }
    return execution.id;
  }

  /** Sets (or with '0' closes) a position directly, as shares bought by hand in the app would. */
  setPosition(symbol: string, quantity: string, averageBuyPrice: string): void {
    this.instrumentFor(symbol);
    this.positionBook.set(symbol, {
      quantity: new Decimal(quantity),
      average: new Decimal(averageBuyPrice),
      updatedAt: this.tick(),
    });
  }

  setState(id: string, state: string, rejectReason: string | null = null): void {
    const o = this.mustGet(id);
    o.state = state;
    o.reject_reason = rejectReason;
    o.updated_at = this.tick();
    if (TERMINAL.has(state)) o.cancel = null;
  }

  // ── handlers ───────────────────────────────────────────────────────────────────────────────────────

  private authorised(ctx: StandInRequest): boolean {
    const ok = ctx.req.headers.authorization === `Bearer ${this.token}`;
    if (!ok) sendJson(ctx.res, 401, { detail: 'Authentication credentials were not provided.' });
    return ok;
  }

  private commonFault(ctx: StandInRequest, route: string, fault: Fault | undefined): boolean {
    if (!fault) return false;
    switch (fault.kind) {
      case 'status':
        sendJson(ctx.res, fault.status, fault.body ?? { detail: 'Internal server error.' });
        return true;
      case 'rate_limit':
        sendJson(
          ctx.res,
          429,
          { detail: 'Request was throttled.' },
          fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) },
        );
        return true;
      case 'throttle':
        sendJson(ctx.res, fault.status ?? 429, {
          detail: `Request was throttled. Expected available in ${fault.seconds} seconds.`,
        });
        return true;
      case 'unauthorized':
        sendJson(ctx.res, 401, { detail: 'Incorrect authentication credentials.' });
        return true;
      case 'drop_reply':
        return false;
      default:
        if (
          route === 'POST /orders/' &&
          (fault.kind === 'insufficient_buying_power' ||
            fault.kind === 'sub_penny' ||
            fault.kind === 'ref_id_exists' ||
            fault.kind === 'refusal')
        ) {
          return false;
        }
        if (route === 'GET /instruments/' && fault.kind === 'refusal' && fault.refusal === 'not_tradable') return false;
        if (
          route === 'POST /orders/:id/cancel/' &&
          (fault.kind === 'fill_during_cancel' || fault.kind === 'fill_after_cancel')
        ) {
          return false;
        }
        return unsupportedFault('robinhood', route, fault);
    }
  }

  private accounts(ctx: StandInRequest, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'GET /accounts/', fault) || !this.authorised(ctx)) return;
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    sendJson(ctx.res, 200, {
      next: null,
      previous: null,
      results: [
        {
          url: `${this.baseUrl}/accounts/${this.accountNumber}/`,
          account_number: this.accountNumber,
          type: 'margin',
          buying_power: this.options.buyingPower ?? '1000000.0000',
        },
      ],
    });
  }

  private instrumentFor(symbol: string): { id: string; symbol: string } {
    let inst = this.instruments.get(symbol);
    if (!inst) {
      const h = createHash('sha1').update(symbol).digest('hex');
      inst = {
        id: `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`,
        symbol,
      };
      this.instruments.set(symbol, inst);
    }
    return inst;
  }

  private instrumentJson(inst: { id: string; symbol: string }): {
    id: string;
    url: string;
    symbol: string;
    tradeable: boolean;
  } {
    return { id: inst.id, url: `${this.baseUrl}/instruments/${inst.id}/`, symbol: inst.symbol, tradeable: true };
  }

  private instrumentSearch(ctx: StandInRequest, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'GET /instruments/', fault)) return;
    const symbol = ctx.query.get('symbol') ?? '';
    const results = /^[A-Z]{1,6}(\.[A-Z]{1,2})?$/.test(symbol) ? [this.instrumentJson(this.instrumentFor(symbol))] : [];
    // An instrument Robinhood lists but will not trade (halted for good, delisted, OTC): `tradeable: false`.
    if (fault?.kind === 'refusal') for (const r of results) r.tradeable = false;
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    sendJson(ctx.res, 200, { next: null, previous: null, results });
  }

  private instrumentById(ctx: StandInRequest, id: string, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'GET /instruments/:id/', fault)) return;
    const inst = [...this.instruments.values()].find((i) => i.id === id);
    if (!inst) return sendJson(ctx.res, 404, { detail: 'Not found.' });
    sendJson(ctx.res, 200, this.instrumentJson(inst));
  }

  private submit(ctx: StandInRequest, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'POST /orders/', fault) || !this.authorised(ctx)) return;
    const b = (ctx.body ?? {}) as Record<string, unknown>;
    const errors: Record<string, string[]> = {};
    for (const k of [
      'account',
      'instrument',
      'symbol',
      'price',
      'quantity',
      'ref_id',
      'type',
      'time_in_force',
      'trigger',
      'side',
    ]) {
      if (typeof b[k] !== 'string' || b[k] === '') errors[k] = ['This field is required.'];
    }
    if (Object.keys(errors).length > 0) return sendJson(ctx.res, 400, errors);
    if (b.account !== `${this.baseUrl}/accounts/${this.accountNumber}/`) {
      return sendJson(ctx.res, 400, { account: ['Invalid hyperlink - Object does not exist.'] });
    }
    const inst = this.instrumentFor(b.symbol as string);
    if (b.instrument !== this.instrumentJson(inst).url) {
      return sendJson(ctx.res, 400, { instrument: ['Invalid hyperlink - Object does not exist.'] });
    }
    if (!['gfd', 'gtc'].includes(b.time_in_force as string)) {
      return sendJson(ctx.res, 400, { time_in_force: [`"${String(b.time_in_force)}" is not a valid choice.`] });
    }
    const refId = b.ref_id as string;
    const side: 'buy' | 'sell' = b.side === 'sell' ? 'sell' : 'buy';
    const fields = {
      ref_id: refId,
      symbol: b.symbol as string,
      side,
      quantity: b.quantity as string,
      price: b.price as string,
      time_in_force: b.time_in_force as string,
      state: 'unconfirmed',
    };
    if (fault?.kind === 'ref_id_exists') {
      if (!this.list.some((o) => o.ref_id === refId)) this.create(fields);
      return this.refIdExists(ctx);
    }
    if (this.list.some((o) => o.ref_id === refId)) return this.refIdExists(ctx);
    if (fault?.kind === 'refusal') {
      const { status, body } = refusalAnswer('robinhood', 'POST /orders/', ROBINHOOD_REFUSALS, fault, fields.symbol);
      return sendJson(ctx.res, status, body);
    }
    if (fault?.kind === 'sub_penny') return this.subPenny(ctx);
    const price = new Decimal(b.price as string);
    if (price.decimalPlaces() > (price.gte(1) ? 2 : 4)) return this.subPenny(ctx);
    const cost = price.times(b.quantity as string);
    if (
      fault?.kind === 'insufficient_buying_power' ||
      (fields.side === 'buy' && cost.gt(this.options.buyingPower ?? '1000000'))
    ) {
      return sendJson(ctx.res, 400, { detail: 'You do not have enough buying power to place this order.' });
    }
    const order = this.create(fields);
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    sendJson(ctx.res, 201, this.view(order));
  }

  private refIdExists(ctx: StandInRequest): void {
    // The field-keyed shape robin_stocks users were answered with (robin_stocks pull 40).
    sendJson(ctx.res, 400, { ref_id: ['Order with this ref_id already exists.'] });
  }

  private subPenny(ctx: StandInRequest): void {
    sendJson(ctx.res, 400, { price: ['Ensure that there are no more than 2 decimal places.'] });
  }

  private page(ctx: StandInRequest, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'GET /orders/', fault) || !this.authorised(ctx)) return;
    const size = this.options.pageSize ?? 100;
    const cursor = Number(ctx.query.get('cursor') ?? '0');
    const slice = this.list.slice(cursor, cursor + size);
    const more = cursor + size < this.list.length;
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    sendJson(ctx.res, 200, {
      previous: cursor > 0 ? `${this.baseUrl}/orders/?cursor=${Math.max(0, cursor - size)}` : null,
      next: more ? `${this.baseUrl}/orders/?cursor=${cursor + size}` : null,
      results: slice.map((o) => this.view(o)),
    });
  }

  /**
   * GET /positions/ as robin_stocks reads it (get_open_stock_positions: `nonzero=true`, paginated); decimals with
   * Robinhood's 8 (quantity) and 4 (price) places. A closed position stays listed with quantity 0 unless nonzero.
   */
  private positions(ctx: StandInRequest, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'GET /positions/', fault) || !this.authorised(ctx)) return;
    const accountFilter = ctx.query.get('account_number');
    const nonzero = ctx.query.get('nonzero') === 'true';
    const all = accountFilter && accountFilter !== this.accountNumber ? [] : [...this.positionBook.entries()];
    const rows = all
      .filter(([, p]) => !nonzero || !p.quantity.isZero())
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([symbol, p]) => {
        const inst = this.instrumentFor(symbol);
        return {
          url: `${this.baseUrl}/positions/${this.accountNumber}/${inst.id}/`,
          instrument: this.instrumentJson(inst).url,
          instrument_id: inst.id,
          account: `${this.baseUrl}/accounts/${this.accountNumber}/`,
          account_number: this.accountNumber,
          average_buy_price: p.average.toFixed(4),
          pending_average_buy_price: p.average.toFixed(4),
          quantity: p.quantity.toFixed(8),
          intraday_average_buy_price: '0.0000',
          intraday_quantity: '0.00000000',
          shares_held_for_buys: '0.00000000',
          shares_held_for_sells: '0.00000000',
          shares_available_for_exercise: p.quantity.toFixed(8),
          created_at: p.updatedAt,
          updated_at: p.updatedAt,
          ...(this.options.includeSymbol ? { symbol } : {}),
        };
      });
    const size = this.options.pageSize ?? 100;
    const cursor = Number(ctx.query.get('cursor') ?? '0');
    const query = (c: number) =>
      `${this.baseUrl}/positions/?${new URLSearchParams({ ...Object.fromEntries(ctx.query), cursor: String(c) }).toString()}`;
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    sendJson(ctx.res, 200, {
      previous: cursor > 0 ? query(Math.max(0, cursor - size)) : null,
      next: cursor + size < rows.length ? query(cursor + size) : null,
      results: rows.slice(cursor, cursor + size),
    });
  }

  private applyToPosition(symbol: string, side: 'buy' | 'sell', qty: Decimal, price: Decimal, at: string): void {
    const held = this.positionBook.get(symbol) ?? { quantity: new Decimal(0), average: new Decimal(0), updatedAt: at };
    const next = side === 'buy' ? held.quantity.plus(qty) : held.quantity.minus(qty);
    const average =
      side === 'buy' && next.gt(0) ? held.average.times(held.quantity).plus(price.times(qty)).div(next) : held.average;
    this.positionBook.set(symbol, { quantity: next, average: next.isZero() ? new Decimal(0) : average, updatedAt: at });
  }

  private getOne(ctx: StandInRequest, id: string, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'GET /orders/:id/', fault) || !this.authorised(ctx)) return;
    const o = this.list.find((x) => x.id === id);
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    if (!o) return sendJson(ctx.res, 404, { detail: 'Not found.' });
    sendJson(ctx.res, 200, this.view(o));
  }

  private cancel(ctx: StandInRequest, id: string, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'POST /orders/:id/cancel/', fault) || !this.authorised(ctx)) return;
    const o = this.list.find((x) => x.id === id);
    if (!o) return sendJson(ctx.res, 404, { detail: 'Not found.' });
    if (fault?.kind === 'fill_during_cancel') {
      const left = new Decimal(o.quantity).minus(o.cumulative_quantity).toNumber();
      const qty = fault.fill === 'full' ? left : Math.min(left, fault.fill);
      if (qty > 0) this.fill(id, qty, fault.price);
    }
    if (o.cancel === null || TERMINAL.has(o.state)) {
      return sendJson(ctx.res, 400, { detail: 'Order cannot be cancelled.' });
    }
    if (fault?.kind === 'fill_after_cancel') {
      // Robinhood cancels asynchronously: the request is accepted, then the market fills the rest first.
      sendJson(ctx.res, 200, {});
      const left = new Decimal(o.quantity).minus(o.cumulative_quantity).toNumber();
      if (left > 0) this.fill(id, left, fault.price);
      return;
    }
    this.setState(id, 'cancelled');
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    sendJson(ctx.res, 200, {});
  }

  // ── helpers ────────────────────────────────────────────────────────────────────────────────────────

  private create(
    f: {
      ref_id: string;
      symbol: string;
      side: 'buy' | 'sell';
      quantity: string;
      price: string;
      time_in_force: string;
      state: string;
    },
    counted = true,
  ): RobinhoodStandInOrder {
    const id = randomUUID();
    const inst = this.instrumentFor(f.symbol);
    const now = this.tick();
    const order: RobinhoodStandInOrder = {
      id,
      ref_id: f.ref_id,
      url: `${this.baseUrl}/orders/${id}/`,
      account: `${this.baseUrl}/accounts/${this.accountNumber}/`,
      position: `${this.baseUrl}/positions/${this.accountNumber}/${inst.id}/`,
      cancel: `${this.baseUrl}/orders/${id}/cancel/`,
      instrument: `${this.baseUrl}/instruments/${inst.id}/`,
      instrument_id: inst.id,
      symbol: f.symbol,
      cumulative_quantity: '0.00000000',
      average_price: null,
      fees: '0.00',
      state: f.state,
      type: 'limit',
      side: f.side,
      time_in_force: f.time_in_force,
      trigger: 'immediate',
      price: new Decimal(f.price).toFixed(8),
      stop_price: null,
      quantity: new Decimal(f.quantity).toFixed(8),
      reject_reason: null,
      created_at: now,
      updated_at: now,
      last_transaction_at: now,
      executions: [],
      extended_hours: false,
      market_hours: 'regular_hours',
      order_form_version: 4,
    };
    this.list.unshift(order);
    if (counted) this.ordersCreated++;
    return order;
  }

  private view(o: RobinhoodStandInOrder): Omit<RobinhoodStandInOrder, 'symbol'> & { symbol?: string } {
    const copy = structuredClone(o);
    if (!this.options.includeSymbol) delete copy.symbol;
    return copy;
  }

  private mustGet(id: string): RobinhoodStandInOrder {
    const o = this.list.find((x) => x.id === id);
    if (!o) throw new Error(`robinhood stand-in: no order ${id}`);
    return o;
  }

  private tick(): string {
    this.clock += 1;
    return new Date(this.clock).toISOString();
  }
}
