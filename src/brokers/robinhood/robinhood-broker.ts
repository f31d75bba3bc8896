/**
 * Robinhood through the unofficial HTTP API that robin_stocks uses. Differences from robin_stocks that
 * matter for money: ref_id is derived from the client order id (robin_stocks makes a fresh one per call,
 * which duplicates orders on retry), nothing is retried here, and throttling is surfaced with its delay.
 */
import { type z } from 'zod';
import { maskSecrets, maskString } from '../../domain/masking';
import { isTerminalOrderState } from '../../domain/orders/order-state';
import {
  type Broker,
  type BrokerOrderSnapshot,
  type BrokerPosition,
  type CancelResult,
  type LimitOrderToPlace,
  BrokerName,
  CancelOutcome,
  notCancellableReason,
  parseLimitOrderToPlace,
} from '../broker';
import {
  type BrokerError,
  BrokerBadResponse,
  BrokerRateLimited,
  BrokerUnauthorized,
  BrokerUnavailable,
  InvalidPrice,
  OrderNotFound,
  OrderRejected,
  RejectReason,
  brokerErrorOf,
} from '../errors';
import { type HttpResponse, parseRetryAfter, parseThrottleSeconds, sendHttp } from '../http';
import { type RobinhoodConfig, robinhoodConfigFromEnv } from './config';
import { robinhoodErrorClassFor } from './error-codes';
import { robinhoodOrderToSnapshot } from './mapper';
import { refIdForClientOrderId } from './ref-id';
import {
  type RobinhoodOrder,
  type RobinhoodOrderRequestBody,
  RobinhoodAccountPageSchema,
  RobinhoodInstrumentPageSchema,
  RobinhoodInstrumentSchema,
  RobinhoodOrderPageSchema,
  RobinhoodOrderSchema,
  RobinhoodPositionPageSchema,
} from './schemas';
import { canonicalDecimal } from '../../domain/orders/money';

const NAME = BrokerName.Robinhood;
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_REF_ID_LOOKUP_PAGES = 5;
/** A guard against a `next` loop, not a business limit: open orders are collected from every page. */
const MAX_ORDER_PAGES = 1_000;
/** The order form robin_stocks sends today. */
export const ROBINHOOD_ORDER_FORM_VERSION = 4;
const API_VERSION_HEADER = '1.431.4';

export type RobinhoodOp =
  'submit' | 'lookup' | 'get' | 'list' | 'cancel' | 'instrument' | 'account' | 'ping' | 'positions';

export class RobinhoodBroker implements Broker {
  readonly name = NAME;
  private readonly baseUrl: string;
  private readonly origin: string;
  private readonly timeoutMs: number;
  private accountUrl: string | null = null;
  private readonly instrumentBySymbol = new Map<string, string>();
  private readonly symbolByInstrumentId = new Map<string, string>();
  /** ref_id → client order id for orders this process placed or looked up (ref_ids are one-way hashes). */
  private readonly clientOrderIdByRefId = new Map<string, string>();

  constructor(private readonly config: RobinhoodConfig) {
    this.baseUrl = config.baseUrl.replace(/\/$/, '');
    this.origin = new URL(this.baseUrl).origin;
    this.timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): RobinhoodBroker {
    return new RobinhoodBroker(robinhoodConfigFromEnv(env));
  }

  /** The ref_id this adapter sends for a client order id (stable across processes and retries). */
  static refIdFor(clientOrderId: string): string {
    return refIdForClientOrderId(clientOrderId);
  }

  async submitLimitOrder(input: LimitOrderToPlace): Promise<BrokerOrderSnapshot> {
    const req = parseLimitOrderToPlace(input);
    const [account, instrument] = await Promise.all([this.resolveAccountUrl(), this.resolveInstrumentUrl(req.symbol)]);
    const refId = refIdForClientOrderId(req.clientOrderId);
    this.clientOrderIdByRefId.set(refId, req.clientOrderId);
    const body: RobinhoodOrderRequestBody = {
      account,
      instrument,
      symbol: req.symbol,
      price: canonicalDecimal(req.limitPrice),
      quantity: String(req.quantity),
      ref_id: refId,
      type: 'limit',
      time_in_force: req.timeInForce === 'day' ? 'gfd' : 'gtc',
      trigger: 'immediate',
      side: req.side,
      extended_hours: false,
      market_hours: 'regular_hours',
      order_form_version: ROBINHOOD_ORDER_FORM_VERSION,
    };
    const res = await this.request('POST', `${this.baseUrl}/orders/`, JSON.stringify(body));
    if (res.status !== 200 && res.status !== 201) throw classifyRobinhoodError(res, 'submit');
    const order = this.parse(RobinhoodOrderSchema, res, 'submit', true);
    return this.toSnapshot(order);
  }

  async getOrderByClientOrderId(clientOrderId: string): Promise<BrokerOrderSnapshot | null> {
    const refId = refIdForClientOrderId(clientOrderId);
    this.clientOrderIdByRefId.set(refId, clientOrderId);
    // Robinhood has no lookup by ref_id: scan the most recent pages (newest first).
    const pages = this.config.refIdLookupPages ?? DEFAULT_REF_ID_LOOKUP_PAGES;
    let url: string | null = `${this.baseUrl}/orders/`;
    for (let page = 0; page < pages && url !== null; page++) {
      const { results, next } = await this.fetchOrderPage(url, 'lookup');
      const found = results.find((o) => o.ref_id === refId);
      if (found) return this.toSnapshot(found);
      url = next;
    }
    return null;
  }

  async getOrder(brokerOrderId: string): Promise<BrokerOrderSnapshot> {
    return this.toSnapshot(await this.fetchOrder(brokerOrderId));
  }

  async listOpenOrders(): Promise<BrokerOrderSnapshot[]> {
    const open: RobinhoodOrder[] = [];
    let url: string | null = `${this.baseUrl}/orders/`;
    for (let page = 0; url !== null; page++) {
      if (page >= MAX_ORDER_PAGES) {
        throw new BrokerBadResponse({ broker: NAME, message: `robinhood: more than ${MAX_ORDER_PAGES} order pages` });
      }
      const { results, next } = await this.fetchOrderPage(url, 'list');
      // robin_stocks' rule: an order is open while Robinhood offers a cancel URL for it.
      for (const o of results) if (o.cancel !== null) open.push(o);
      url = next;
    }
    const snapshots: BrokerOrderSnapshot[] = [];
    for (const o of open) snapshots.push(await this.toSnapshot(o));
    return snapshots;
  }

  async cancelOrder(brokerOrderId: string): Promise<CancelResult> {
    const before = await this.getOrder(brokerOrderId);
    if (isTerminalOrderState(before.state)) {
      return { outcome: CancelOutcome.NotCancellable, reason: notCancellableReason(before.state), order: before };
    }
    const res = await this.request('POST', `${this.baseUrl}/orders/${encodeURIComponent(brokerOrderId)}/cancel/`);
    if (res.status >= 200 && res.status < 300) {
      // Robinhood cancels asynchronously: the order read back may still be open (or filled, if a fill won).
      return { outcome: CancelOutcome.CancelRequested, order: await this.getOrder(brokerOrderId) };
    }
    if (res.status === 400 || res.status === 409) {
      const after = await this.getOrder(brokerOrderId);
      if (isTerminalOrderState(after.state)) {
        return { outcome: CancelOutcome.NotCancellable, reason: notCancellableReason(after.state), order: after };
      }
    }
    throw classifyRobinhoodError(res, 'cancel', brokerOrderId);
  }

  async ping(): Promise<void> {
    await this.resolveAccountUrl(true);
  }

  /**
   * Open positions of the configured account: GET /positions/?account_number=…&nonzero=true, every page (the
   * request robin_stocks' get_open_stock_positions makes). Robinhood accounts cannot be short, so quantities are
   * never negative; fractional shares are kept as the decimal Robinhood reports.
   */
  async listPositions(): Promise<BrokerPosition[]> {
    const qs = new URLSearchParams({ account_number: this.config.accountNumber, nonzero: 'true' });
    let url: string | null = `${this.baseUrl}/positions/?${qs.toString()}`;
    const out: BrokerPosition[] = [];
    for (let page = 0; url !== null; page++) {
      if (page >= MAX_ORDER_PAGES) {
        throw new BrokerBadResponse({
          broker: NAME,
          message: `robinhood: more than ${MAX_ORDER_PAGES} position pages`,
        });
      }
      const res = await this.request('GET', url);
      if (res.status !== 200) throw classifyRobinhoodError(res, 'positions');
      const body = this.parse(RobinhoodPositionPageSchema, res, 'positions');
      for (const p of body.results) {
        if (p.account_number !== undefined && p.account_number !== this.config.accountNumber) continue;
        const quantity = canonicalDecimal(p.quantity);
        if (quantity === '0') continue;
        out.push({
          symbol: p.symbol ?? (await this.symbolForInstrument(p.instrument, p.instrument_id)),
          quantity,
          averageEntryPrice: p.average_buy_price ? canonicalDecimal(p.average_buy_price) : null,
        });
      }
      url = this.sameOriginNext(body.next ?? null);
    }
    return out;
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────────────

  private async toSnapshot(order: RobinhoodOrder): Promise<BrokerOrderSnapshot> {
    const symbol = order.symbol ?? (await this.symbolForInstrument(order.instrument, order.instrument_id));
    const clientOrderId = order.ref_id ? (this.clientOrderIdByRefId.get(order.ref_id) ?? null) : null;
    return robinhoodOrderToSnapshot(order, symbol, clientOrderId);
  }

  private async fetchOrder(brokerOrderId: string): Promise<RobinhoodOrder> {
    const res = await this.request('GET', `${this.baseUrl}/orders/${encodeURIComponent(brokerOrderId)}/`);
    if (res.status !== 200) throw classifyRobinhoodError(res, 'get', brokerOrderId);
    return this.parse(RobinhoodOrderSchema, res, 'get');
  }

  private async fetchOrderPage(
    url: string,
    op: RobinhoodOp,
  ): Promise<{ results: RobinhoodOrder[]; next: string | null }> {
    const res = await this.request('GET', url);
    if (res.status !== 200) throw classifyRobinhoodError(res, op);
    const page = this.parse(RobinhoodOrderPageSchema, res, op);
    return { results: page.results, next: this.sameOriginNext(page.next ?? null) };
  }

  /** The bearer token must only ever travel to the configured API origin. */
  private sameOriginNext(next: string | null): string | null {
    if (next === null) return null;
    let origin: string;
    try {
      origin = new URL(next).origin;
    } catch {
      throw new BrokerBadResponse({ broker: NAME, message: 'robinhood: unparseable `next` page URL' });
    }
    if (origin !== this.origin) {
      throw new BrokerBadResponse({
        broker: NAME,
        message: `robinhood: refusing to follow a \`next\` page on another origin (${origin})`,
      });
    }
    return next;
  }

  private async resolveAccountUrl(force = false): Promise<string> {
    if (this.accountUrl !== null && !force) return this.accountUrl;
    const res = await this.request('GET', `${this.baseUrl}/accounts/`);
    if (res.status !== 200) throw classifyRobinhoodError(res, 'account');
    const page = this.parse(RobinhoodAccountPageSchema, res, 'account');
    const account = page.results.find((a) => a.account_number === this.config.accountNumber);
    if (!account) {
      throw new BrokerUnauthorized({
        broker: NAME,
        message: `robinhood: this token has no account ending in ${this.config.accountNumber.slice(-4)}`,
      });
    }
    this.accountUrl = account.url;
    return account.url;
  }

  private async resolveInstrumentUrl(symbol: string): Promise<string> {
    const cached = this.instrumentBySymbol.get(symbol);
    if (cached) return cached;
    const res = await this.request('GET', `${this.baseUrl}/instruments/?symbol=${encodeURIComponent(symbol)}`);
    if (res.status !== 200) throw classifyRobinhoodError(res, 'instrument');
    const page = this.parse(RobinhoodInstrumentPageSchema, res, 'instrument');
    const instrument = page.results.find((i) => i.symbol === symbol);
    if (!instrument) {
      throw new OrderRejected({
        broker: NAME,
        message: `robinhood: no instrument for symbol ${symbol}`,
        reason: RejectReason.NotTradable,
      });
    }
    if (instrument.tradeable === false) {
      throw new OrderRejected({
        broker: NAME,
        message: `robinhood: ${symbol} is not tradeable`,
        reason: RejectReason.NotTradable,
      });
    }
    this.instrumentBySymbol.set(symbol, instrument.url);
    this.symbolByInstrumentId.set(instrument.id, symbol);
    return instrument.url;
  }

  private async symbolForInstrument(instrumentUrl: string, instrumentId: string | undefined): Promise<string> {
    const id = instrumentId ?? /\/instruments\/([^/?#]+)/.exec(instrumentUrl)?.[1];
    if (!id) throw new BrokerBadResponse({ broker: NAME, message: 'robinhood: order without an instrument id' });
    const cached = this.symbolByInstrumentId.get(id);
    if (cached) return cached;
    // Built from our own base URL, never followed blindly, so the token stays on the API origin.
    const res = await this.request('GET', `${this.baseUrl}/instruments/${encodeURIComponent(id)}/`);
    if (res.status !== 200) throw classifyRobinhoodError(res, 'instrument');
    const instrument = this.parse(RobinhoodInstrumentSchema, res, 'instrument');
    this.symbolByInstrumentId.set(id, instrument.symbol);
    return instrument.symbol;
  }

  private request(method: 'GET' | 'POST', url: string, body?: string): Promise<HttpResponse> {
    return sendHttp(NAME, {
      method,
      url,
      headers: {
        Authorization: `Bearer ${this.config.token}`,
        Accept: 'application/json',
        'X-Robinhood-API-Version': API_VERSION_HEADER,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body }),
      timeoutMs: this.timeoutMs,
    });
  }

  private parse<S extends z.ZodType>(
    schema: S,
    res: HttpResponse,
    op: RobinhoodOp,
    outcomeUnknown = false,
  ): z.output<S> {
    const parsed = schema.safeParse(res.json);
    if (parsed.success) return parsed.data;
    const first = parsed.error.issues[0];
    throw new BrokerBadResponse({
      broker: NAME,
      message: `robinhood: ${op} reply does not match the expected schema (${first ? `${first.path.join('.')}: ${first.message}` : 'not JSON'})`,
      httpStatus: res.status,
      body: maskSecrets(res.json ?? res.text.slice(0, 500)),
      outcomeUnknown,
    });
  }
}

/** Every string inside a Robinhood error body ({"detail": ...}, {"non_field_errors": [...]}, {"price": [...]}). */
function errorTexts(json: unknown, fallback: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(json);
  return out.length > 0 ? out : [fallback];
}

/**
 * Maps a Robinhood error reply onto the BrokerError hierarchy: the documented texts first, from
 * ROBINHOOD_ERROR_TEXTS; HTTP status only for a text the table does not know.
 */
export function classifyRobinhoodError(res: HttpResponse, op: RobinhoodOp, orderId?: string): BrokerError {
  // Everything quoted from the reply is masked first: error messages end up in workflow history and logs.
  const body = maskSecrets(res.json ?? maskString(res.text.slice(0, 500)));
  const texts = errorTexts(body, typeof body === 'string' ? body.slice(0, 200) : '');
  const joined = texts.join(' | ');
  const fields = body !== null && typeof body === 'object' ? Object.keys(body) : [];
  const init = {
    broker: NAME,
    httpStatus: res.status,
    // The raw (masked) answer stays with the error: it is what the order's status shows for a rejection.
    body,
    message: `robinhood: ${op} refused with HTTP ${res.status}: ${joined}`,
  };
  const status = res.status;
  const retryAfterMs = () => parseThrottleSeconds(joined) ?? parseRetryAfter(res.headers.get('retry-after'));

  const known = status >= 400 ? robinhoodErrorClassFor(status, texts) : null;
  // A 5xx is Robinhood failing, whatever its body says: never let a sentence turn it into a permanent refusal.
  if (known && status < 500) return brokerErrorOf(known, init, { retryAfterMs: retryAfterMs() });

  // Not in the table: fall back by HTTP status.
  if (status === 429) return new BrokerRateLimited({ ...init, retryAfterMs: retryAfterMs() });
  if (status === 401 || status === 403) return new BrokerUnauthorized(init);
  if (status === 404) {
    return new OrderNotFound({ ...init, message: `robinhood: order ${orderId ?? ''} not found (${joined})` });
  }
  if (status >= 500) return new BrokerUnavailable({ ...init, outcomeUnknown: true });
  if (status >= 400) {
    // A field error under `price` is the price being refused, whatever the sentence.
    if (fields.includes('price')) return new InvalidPrice(init);
    return new OrderRejected(init);
  }
  return new BrokerBadResponse({ ...init, message: `robinhood: unexpected HTTP ${status} for ${op}` });
}

export function createRobinhoodBroker(config: RobinhoodConfig): RobinhoodBroker {
  return new RobinhoodBroker(config);
}
