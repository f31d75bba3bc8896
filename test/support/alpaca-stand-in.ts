/**
 * A local stand-in for the Alpaca Trading API v2 (REST + the `/stream` trade_updates WebSocket), keeping
 * orders in memory. Tests drive fills through its control API and inject faults per route:
 *
 *   const alpaca = await AlpacaStandIn.start();
 *   alpaca.faults.next('POST /v2/orders', { kind: 'drop_reply' });
 *   alpaca.fill(orderId, 40, '249.90');
 *
 * Routes (fault keys): 'GET /v2/account', 'POST /v2/orders', 'GET /v2/orders:by_client_order_id',
 * 'GET /v2/orders', 'GET /v2/orders/:id', 'DELETE /v2/orders/:id', 'GET /v2/positions'.
 *
 * Positions follow the fills (average cost; a sale leaves the entry price) and can be set directly for a
 * position opened outside flowguard: `alpaca.setPosition('AAPL', '-20', '190.10')` (negative = short).
 */
import { createHash, randomUUID } from 'node:crypto';
import Decimal from 'decimal.js';
import { WebSocket, WebSocketServer } from 'ws';
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

export interface AlpacaStandInOptions {
  readonly keyId?: string;
  readonly secretKey?: string;
  /** Buys whose qty × limit exceed this get 403 40310000. Default 1 000 000. */
  readonly buyingPower?: string;
  /** Status of a freshly accepted order. Default 'new'. */
  readonly initialStatus?: string;
  /** 'immediate' (default): DELETE → canceled; 'pending': DELETE → pending_cancel until completeCancel(). */
  readonly cancelMode?: 'immediate' | 'pending';
}

export interface AlpacaStandInOrder {
  id: string;
  client_order_id: string;
  created_at: string;
  updated_at: string;
  submitted_at: string;
  filled_at: string | null;
  canceled_at: string | null;
  expired_at: string | null;
  failed_at: string | null;
  asset_class: 'us_equity';
  symbol: string;
  qty: string;
  notional: null;
  filled_qty: string;
  filled_avg_price: string | null;
  order_class: '';
  order_type: 'limit';
  type: 'limit';
  side: 'buy' | 'sell';
  time_in_force: string;
  limit_price: string;
  stop_price: null;
  status: string;
  extended_hours: boolean;
}

const OPEN_STATUSES = new Set([
  'new',
  'partially_filled',
  'accepted',
  'pending_new',
  'accepted_for_bidding',
  'pending_cancel',
  'pending_replace',
  'done_for_day',
  'stopped',
  'suspended',
  'calculated',
  'held',
]);
const CANCELLABLE = new Set(['new', 'partially_filled', 'accepted', 'pending_new', 'accepted_for_bidding', 'held']);

/**
 * Alpaca's answers to a refused order, as reported publicly (the same sources as src/brokers/alpaca/
 * error-codes.ts). Rows marked "undocumented wording" have no public body: their status and code are
 * Alpaca's usual ones for a refused order, their message the plain words.
 */
export const ALPACA_REFUSALS: Readonly<Record<BrokerRefusal, readonly RefusalAnswer[]>> = {
  pattern_day_trading: [
    {
      status: 403,
      body: { code: 40310100, message: 'trade denied due to pattern day trading protection' },
      source:
        'forum.alpaca.markets/t/trade-denied-due-to-pattern-day-trading-protection-not-sure-why-i-get-this-error/2318',
    },
  ],
  wash_trade: [
    {
      status: 403,
      body: { code: 40310000, message: 'potential wash trade detected. use complex orders' },
      source: 'forum.alpaca.markets/t/bogus-rule-potential-trade-wash-detected/13817',
    },
    {
      status: 422,
      body: { code: 42210000, message: 'potential wash trade detected. use complex orders' },
      source: 'github.com/Petersoj/alpaca-java/issues/145',
    },
  ],
  short_sale: [
    {
      status: 403,
      body: { code: 40310000, message: 'account is not allowed to short' },
      source: 'github.com/alpacahq/alpaca-trade-api-js/issues/57',
    },
  ],
  insufficient_qty: [
    {
      status: 403,
      body: { code: 40310000, message: 'insufficient qty available for order (requested: 100, available: 0)' },
      source: 'github.com/alpacahq/alpaca-trade-api-python/issues/74; bot logs quoting 40310000',
    },
  ],
  account_restricted: [
    {
      status: 403,
      body: { code: 40310000, message: 'new orders are rejected by user request' },
      source: 'github.com/Lumiwealth/lumibot/issues/373',
    },
    {
      status: 422,
      body: { code: 40010001, message: 'us_equity orders not allowed for account' },
      source: 'github.com/Petersoj/alpaca-java/issues/147',
    },
  ],
  not_tradable: [
    {
      status: 422,
      body: { code: 42210000, message: 'asset "{symbol}" is not tradable' },
      source: 'body quoted in a public bot test',
    },
  ],
  halted: [
    {
      status: 422,
      body: { code: 42210000, message: 'asset "{symbol}" is halted' },
      source: 'undocumented wording',
    },
  ],
  market_closed: [
    {
      status: 422,
      body: { code: 42210000, message: 'market is closed' },
      source: 'undocumented wording',
    },
  ],
};

export const DEFAULT_ALPACA_KEY_ID = 'PKTESTKEYID0001';
export const DEFAULT_ALPACA_SECRET = 'test-secret-key-0001';

export class AlpacaStandIn {
  private readonly server: StandInServer;
  private readonly wss: WebSocketServer;
  private readonly listeners = new Set<WebSocket>();
  private readonly byId = new Map<string, AlpacaStandInOrder>();
  private readonly fills = new Map<string, { qty: Decimal; price: Decimal }[]>();
  private readonly positionBook = new Map<string, { qty: Decimal; avg: Decimal }>();
  private clock = Date.parse('2025-06-02T14:30:00.000Z');
  /** Orders this stand-in created (whatever happened to the reply). */
  ordersCreated = 0;
  readonly keyId: string;
  readonly secretKey: string;

  private constructor(private readonly options: AlpacaStandInOptions) {
    this.keyId = options.keyId ?? DEFAULT_ALPACA_KEY_ID;
    this.secretKey = options.secretKey ?? DEFAULT_ALPACA_SECRET;
    this.server = new StandInServer(
      [
        { method: 'GET', pattern: '/v2/account', handler: (c, _p, f) => this.account(c, f) },
        { method: 'POST', pattern: '/v2/orders', handler: (c, _p, f) => this.submit(c, f) },
        { method: 'GET', pattern: '/v2/orders:by_client_order_id', handler: (c, _p, f) => this.byClientId(c, f) },
        { method: 'GET', pattern: '/v2/orders', handler: (c, _p, f) => this.list(c, f) },
        { method: 'GET', pattern: '/v2/orders/:id', handler: (c, p, f) => this.getOne(c, p.id!, f) },
        { method: 'DELETE', pattern: '/v2/orders/:id', handler: (c, p, f) => this.cancel(c, p.id!, f) },
        { method: 'GET', pattern: '/v2/positions', handler: (c, _p, f) => this.positions(c, f) },
      ],
      (ctx) => sendJson(ctx.res, 404, { code: 40410000, message: 'endpoint not found' }),
    );
    this.wss = new WebSocketServer({ server: this.server.httpServer, path: '/stream' });
    this.wss.on('connection', (ws) => this.onStreamConnection(ws));
  }

  static async start(options: AlpacaStandInOptions = {}): Promise<AlpacaStandIn> {
    const s = new AlpacaStandIn(options);
    await s.server.listen();
    return s;
  }

  get baseUrl(): string {
    return this.server.baseUrl;
  }

  get streamUrl(): string {
    return `${this.server.baseUrl.replace(/^http/, 'ws')}/stream`;
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

  /** Config for AlpacaBroker / AlpacaTradeUpdatesStream pointed at this stand-in. */
  config(timeoutMs = 2_000) {
    return {
      keyId: this.keyId,
      secretKey: this.secretKey,
      baseUrl: this.baseUrl,
      timeoutMs,
      streamUrl: this.streamUrl,
    };
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await this.server.close();
  }

  // ── control API ────────────────────────────────────────────────────────────────────────────────────

  orders(): AlpacaStandInOrder[] {
    return [...this.byId.values()].map((o) => ({ ...o }));
  }

  order(id: string): AlpacaStandInOrder {
    const o = this.byId.get(id);
    if (!o) throw new Error(`alpaca stand-in: no order ${id}`);
    return { ...o };
  }

  orderByClientId(clientOrderId: string): AlpacaStandInOrder | undefined {
    const o = [...this.byId.values()].find((x) => x.client_order_id === clientOrderId);
    return o ? { ...o } : undefined;
  }

  /** Executes `qty` at `price`; returns the execution id. Refuses overfills (that is the broker's job). */
  fill(id: string, qty: number, price: string): string {
    const o = this.mustGet(id);
    const filled = new Decimal(o.filled_qty);
    const total = new Decimal(o.qty);
    if (filled.plus(qty).gt(total)) throw new Error(`alpaca stand-in: fill of ${qty} would overfill ${id}`);
    const list = this.fills.get(id) ?? [];
    list.push({ qty: new Decimal(qty), price: new Decimal(price) });
    this.fills.set(id, list);
    const newFilled = filled.plus(qty);
    const notional = list.reduce((sum, f) => sum.plus(f.qty.times(f.price)), new Decimal(0));
    const now = this.tick();
    o.filled_qty = newFilled.toFixed();
    o.filled_avg_price = notional.div(newFilled).toFixed();
    o.updated_at = now;
    const full = newFilled.eq(total);
    // A fill that lands while a cancel is pending still executes; only a full fill changes the status then.
    if (full) {
      o.status = 'filled';
      o.filled_at = now;
    } else if (o.status !== 'pending_cancel' && o.status !== 'canceled') {
      o.status = 'partially_filled';
    }
    this.applyToPosition(o.symbol, o.side, new Decimal(qty), new Decimal(price));
    const executionId = randomUUID();
    this.emit({
      event: full ? 'fill' : 'partial_fill',
      execution_id: executionId,
      order: { ...o },
      timestamp: now,
      price: new Decimal(price).toFixed(),
      qty: String(qty),
      position_qty: String(qty),
    });
    return executionId;
  }

  /** Sets (or with qty '0' closes) a position directly, as a trade made outside flowguard would. */
  setPosition(symbol: string, qty: string, avgEntryPrice: string): void {
    const q = new Decimal(qty);
    if (q.isZero()) this.positionBook.delete(symbol);
    else this.positionBook.set(symbol, { qty: q, avg: new Decimal(avgEntryPrice) });
  }

  /** The stand-in's open positions (symbol → signed quantity). */
  positionQuantities(): Record<string, string> {
    return Object.fromEntries([...this.positionBook].map(([symbol, p]) => [symbol, p.qty.toFixed()]));
  }

  /** Sets any status (expired, done_for_day, rejected, ...) and emits the matching trade_updates event. */
  setStatus(id: string, status: string): void {
    const o = this.mustGet(id);
    o.status = status;
    o.updated_at = this.tick();
    if (status === 'canceled') o.canceled_at = o.updated_at;
    if (status === 'expired') o.expired_at = o.updated_at;
    this.emit({ event: status, order: { ...o }, timestamp: o.updated_at });
  }

  /** Finishes a pending cancel (cancelMode 'pending'). */
  completeCancel(id: string): void {
    const o = this.mustGet(id);
    if (o.status === 'pending_cancel') this.setStatus(id, 'canceled');
  }

  /** Terminates every stream connection (clients must reconnect and reconcile). */
  dropStreamConnections(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.listeners.clear();
  }

  get streamListeners(): number {
    return this.listeners.size;
  }

  // ── REST handlers ──────────────────────────────────────────────────────────────────────────────────

  private authorised(ctx: StandInRequest): boolean {
    const ok =
      ctx.req.headers['apca-api-key-id'] === this.keyId && ctx.req.headers['apca-api-secret-key'] === this.secretKey;
    if (!ok) sendJson(ctx.res, 401, { code: 40110000, message: 'request is not authorized' });
    return ok;
  }

  /** Faults every route understands; returns true when the reply was already sent. */
  private commonFault(ctx: StandInRequest, route: string, fault: Fault | undefined): boolean {
    if (!fault) return false;
    switch (fault.kind) {
      case 'status':
        sendJson(ctx.res, fault.status, fault.body ?? { code: 50010000, message: 'internal server error' });
        return true;
      case 'rate_limit':
        sendJson(
          ctx.res,
          429,
          { code: 42910000, message: 'rate limit exceeded' },
          fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) },
        );
        return true;
      case 'unauthorized':
        sendJson(ctx.res, 401, { code: 40110000, message: 'request is not authorized' });
        return true;
      case 'drop_reply':
        return false; // handled after the side effect
      default:
        if (
          route === 'POST /v2/orders' &&
          (fault.kind === 'insufficient_buying_power' || fault.kind === 'sub_penny' || fault.kind === 'refusal')
        ) {
          return false;
        }
        if (
          route === 'DELETE /v2/orders/:id' &&
          (fault.kind === 'fill_during_cancel' || fault.kind === 'fill_after_cancel')
        ) {
          return false;
        }
        return unsupportedFault('alpaca', route, fault);
    }
  }

  private account(ctx: StandInRequest, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'GET /v2/account', fault) || !this.authorised(ctx)) return;
    const reply = {
      id: '8f2a2e2b-0000-4000-8000-000000000001',
      account_number: 'PA3ABCDEF123',
      status: 'ACTIVE',
      buying_power: this.options.buyingPower ?? '1000000',
    };
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    sendJson(ctx.res, 200, reply);
  }

  private submit(ctx: StandInRequest, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'POST /v2/orders', fault) || !this.authorised(ctx)) return;
    if (fault?.kind === 'insufficient_buying_power') {
      return sendJson(ctx.res, 403, { code: 40310000, message: 'insufficient buying power' });
    }
    const b = (ctx.body ?? {}) as Record<string, unknown>;
    if (fault?.kind === 'refusal') {
      const { status, body } = refusalAnswer('alpaca', 'POST /v2/orders', ALPACA_REFUSALS, fault, String(b.symbol));
      return sendJson(ctx.res, status, body);
    }
    if (fault?.kind === 'sub_penny') return this.subPenny(ctx, String(b.limit_price));
    const missing = ['symbol', 'qty', 'side', 'type', 'time_in_force', 'limit_price', 'client_order_id'].filter(
      (k) => typeof b[k] !== 'string',
    );
    if (missing.length > 0) {
      return sendJson(ctx.res, 422, { code: 40010001, message: `missing or invalid: ${missing.join(', ')}` });
    }
    const clientOrderId = b.client_order_id as string;
    if (clientOrderId.length > 128) {
      return sendJson(ctx.res, 422, { code: 40010001, message: 'client_order_id must be no more than 128 characters' });
    }
    if ([...this.byId.values()].some((o) => o.client_order_id === clientOrderId)) {
      return sendJson(ctx.res, 422, { code: 40010001, message: 'client_order_id must be unique' });
    }
    const limit = new Decimal(b.limit_price as string);
    if (limit.decimalPlaces() > (limit.gte(1) ? 2 : 4)) return this.subPenny(ctx, b.limit_price as string);
    const qty = new Decimal(b.qty as string);
    if (b.side === 'buy' && qty.times(limit).gt(this.options.buyingPower ?? '1000000')) {
      return sendJson(ctx.res, 403, { code: 40310000, message: 'insufficient buying power' });
    }
    const now = this.tick();
    const order: AlpacaStandInOrder = {
      id: randomUUID(),
      client_order_id: clientOrderId,
      created_at: now,
      updated_at: now,
      submitted_at: now,
      filled_at: null,
      canceled_at: null,
      expired_at: null,
      failed_at: null,
      asset_class: 'us_equity',
      symbol: b.symbol as string,
      qty: qty.toFixed(),
      notional: null,
      filled_qty: '0',
      filled_avg_price: null,
      order_class: '',
      order_type: 'limit',
      type: 'limit',
      side: b.side === 'sell' ? 'sell' : 'buy',
      time_in_force: b.time_in_force as string,
      limit_price: limit.toFixed(),
      stop_price: null,
      status: this.options.initialStatus ?? 'new',
      extended_hours: b.extended_hours === true,
    };
    this.byId.set(order.id, order);
    this.ordersCreated++;
    this.emit({ event: 'new', order: { ...order }, timestamp: now });
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    sendJson(ctx.res, 200, order);
  }

  private subPenny(ctx: StandInRequest, price: string): void {
    sendJson(ctx.res, 422, {
      code: 42210000,
      message: `invalid limit_price ${price}. sub-penny increment does not fulfill minimum pricing criteria`,
    });
  }

  private byClientId(ctx: StandInRequest, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'GET /v2/orders:by_client_order_id', fault) || !this.authorised(ctx)) return;
    const id = ctx.query.get('client_order_id') ?? '';
    const o = [...this.byId.values()].find((x) => x.client_order_id === id);
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    if (!o) return sendJson(ctx.res, 404, { code: 40410000, message: 'order not found' });
    sendJson(ctx.res, 200, o);
  }

  private list(ctx: StandInRequest, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'GET /v2/orders', fault) || !this.authorised(ctx)) return;
    const status = ctx.query.get('status') ?? 'open';
    const limit = Math.min(500, Number(ctx.query.get('limit') ?? '50'));
    const until = ctx.query.get('until');
    const asc = ctx.query.get('direction') === 'asc';
    let orders = [...this.byId.values()].filter((o) =>
      status === 'all' ? true : status === 'open' ? OPEN_STATUSES.has(o.status) : !OPEN_STATUSES.has(o.status),
    );
    if (until) orders = orders.filter((o) => o.submitted_at <= until);
    orders.sort((a, b) =>
      asc ? a.submitted_at.localeCompare(b.submitted_at) : b.submitted_at.localeCompare(a.submitted_at),
    );
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    sendJson(ctx.res, 200, orders.slice(0, limit));
  }

  private getOne(ctx: StandInRequest, id: string, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'GET /v2/orders/:id', fault) || !this.authorised(ctx)) return;
    const o = this.byId.get(id);
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    if (!o) return sendJson(ctx.res, 404, { code: 40410000, message: 'order not found' });
    sendJson(ctx.res, 200, o);
  }

  private cancel(ctx: StandInRequest, id: string, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'DELETE /v2/orders/:id', fault) || !this.authorised(ctx)) return;
    const o = this.byId.get(id);
    if (!o) return sendJson(ctx.res, 404, { code: 40410000, message: 'order not found' });
    if (fault?.kind === 'fill_during_cancel') {
      const left = new Decimal(o.qty).minus(o.filled_qty).toNumber();
      const qty = fault.fill === 'full' ? left : Math.min(left, fault.fill);
      if (qty > 0) this.fill(id, qty, fault.price);
    }
    if (!CANCELLABLE.has(o.status)) {
      return sendJson(ctx.res, 422, { code: 42210000, message: `order is not cancelable (status ${o.status})` });
    }
    const pending = this.options.cancelMode === 'pending' || fault?.kind === 'fill_after_cancel';
    this.setStatus(id, pending ? 'pending_cancel' : 'canceled');
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    sendJson(ctx.res, 204, undefined);
    if (fault?.kind === 'fill_after_cancel') {
      const left = new Decimal(o.qty).minus(o.filled_qty).toNumber();
      if (left > 0) this.fill(id, left, fault.price);
    }
  }

  /**
   * The documented `GET /v2/positions` entry (docs.alpaca.markets/reference/getallopenpositions): decimals as
   * strings, qty signed (negative for a short) with `side`.
   */
  private positions(ctx: StandInRequest, fault: Fault | undefined): void {
    if (this.commonFault(ctx, 'GET /v2/positions', fault) || !this.authorised(ctx)) return;
    const body = [...this.positionBook.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([symbol, p]) => {
        const costBasis = p.qty.abs().times(p.avg);
        return {
          asset_id: createHash('sha1').update(symbol).digest('hex').slice(0, 32),
          symbol,
          exchange: 'NASDAQ',
          asset_class: 'us_equity',
          asset_marginable: true,
          avg_entry_price: p.avg.toFixed(),
          qty: p.qty.toFixed(),
          qty_available: p.qty.toFixed(),
          side: p.qty.isNeg() ? 'short' : 'long',
          market_value: costBasis.toFixed(),
          cost_basis: costBasis.toFixed(),
          unrealized_pl: '0',
          unrealized_plpc: '0',
          unrealized_intraday_pl: '0',
          unrealized_intraday_plpc: '0',
          current_price: p.avg.toFixed(),
          lastday_price: p.avg.toFixed(),
          change_today: '0',
        };
      });
    if (fault?.kind === 'drop_reply') return dropReply(ctx);
    sendJson(ctx.res, 200, body);
  }

  private applyToPosition(symbol: string, side: 'buy' | 'sell', qty: Decimal, price: Decimal): void {
    const held = this.positionBook.get(symbol) ?? { qty: new Decimal(0), avg: new Decimal(0) };
    const delta = side === 'buy' ? qty : qty.neg();
    const next = held.qty.plus(delta);
    if (next.isZero()) return void this.positionBook.delete(symbol);
    let avg = held.avg;
    if (held.qty.isZero() || held.qty.isNeg() !== next.isNeg()) avg = price;
    else if (next.abs().gt(held.qty.abs())) avg = held.avg.times(held.qty.abs()).plus(price.times(qty)).div(next.abs());
    this.positionBook.set(symbol, { qty: next, avg });
  }

  // ── stream ─────────────────────────────────────────────────────────────────────────────────────────

  private onStreamConnection(ws: WebSocket): void {
    let authed = false;
    ws.on('close', () => this.listeners.delete(ws));
    ws.on('message', (data: Buffer) => {
      let msg: { action?: string; data?: { key_id?: string; secret_key?: string; streams?: string[] } };
      try {
        msg = JSON.parse(data.toString('utf8')) as typeof msg;
      } catch {
        return;
      }
      if (msg.action === 'authenticate') {
        authed = msg.data?.key_id === this.keyId && msg.data?.secret_key === this.secretKey;
        this.sendFrame(ws, {
          stream: 'authorization',
          data: { status: authed ? 'authorized' : 'unauthorized', action: 'authenticate' },
        });
        if (!authed) ws.close();
      } else if (msg.action === 'listen' && authed) {
        const streams = (msg.data?.streams ?? []).filter((s) => s === 'trade_updates');
        if (streams.length > 0) this.listeners.add(ws);
        else this.listeners.delete(ws);
        this.sendFrame(ws, { stream: 'listening', data: { streams } });
      }
    });
  }

  /** Binary frames, like the paper endpoint. */
  private sendFrame(ws: WebSocket, payload: unknown): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.from(JSON.stringify(payload), 'utf8'));
  }

  private emit(data: Record<string, unknown>): void {
    for (const ws of this.listeners) this.sendFrame(ws, { stream: 'trade_updates', data });
  }

  private mustGet(id: string): AlpacaStandInOrder {
    const o = this.byId.get(id);
    if (!o) throw new Error(`alpaca stand-in: no order ${id}`);
    return o;
  }

  /** Strictly increasing timestamps (1 ms apart) so ordering and `until` paging are deterministic. */
  private tick(): string {
    this.clock += 1;
    return new Date(this.clock).toISOString();
  }
}
