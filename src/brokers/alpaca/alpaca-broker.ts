/**
 * Alpaca Trading API v2 over plain fetch (no SDK: its built-in retries would fight Temporal's). Every reply
 * is validated with zod; every failure is classified into the BrokerError hierarchy.
 */
import { type z } from 'zod';
import { maskSecrets, maskString } from '../../domain/masking';
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
  type BrokerErrorInit,
  BrokerBadResponse,
  BrokerErrorType,
  BrokerRateLimited,
  BrokerUnauthorized,
  BrokerUnavailable,
  OrderNotFound,
  OrderRejected,
  brokerErrorOf,
} from '../errors';
import { type HttpResponse, parseRetryAfter, sendHttp } from '../http';
import { isTerminalOrderState } from '../../domain/orders/order-state';
import { type AlpacaConfig, alpacaConfigFromEnv } from './config';
import { alpacaErrorClassFor } from './error-codes';
import { alpacaOrderToSnapshot } from './mapper';
import {
  type AlpacaOrder,
  type AlpacaOrderRequestBody,
  AlpacaAccountSchema,
  AlpacaErrorSchema,
  AlpacaOrderListSchema,
  AlpacaOrderSchema,
  AlpacaPositionListSchema,
} from './schemas';
import { canonicalDecimal } from '../../domain/orders/money';

const NAME = BrokerName.Alpaca;
const DEFAULT_TIMEOUT_MS = 10_000;
/** Alpaca's maximum page size for GET /v2/orders. */
const PAGE_LIMIT = 500;
const MAX_PAGES = 100;

export const ALPACA_INSUFFICIENT_BUYING_POWER_CODE = 40310000;
export const ALPACA_UNPROCESSABLE_CODE = 42210000;

export type AlpacaOp = 'submit' | 'lookup' | 'get' | 'list' | 'cancel' | 'ping' | 'positions';

export class AlpacaBroker implements Broker {
  readonly name = NAME;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly pageSize: number;

  constructor(private readonly config: AlpacaConfig) {
    this.baseUrl = config.baseUrl.replace(/\/$/, '');
    this.timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.pageSize = Math.min(PAGE_LIMIT, Math.max(1, config.listPageSize ?? PAGE_LIMIT));
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): AlpacaBroker {
    return new AlpacaBroker(alpacaConfigFromEnv(env));
  }

  async submitLimitOrder(input: LimitOrderToPlace): Promise<BrokerOrderSnapshot> {
    const req = parseLimitOrderToPlace(input);
    const body: AlpacaOrderRequestBody = {
      symbol: req.symbol,
      qty: String(req.quantity),
      side: req.side,
      type: 'limit',
      time_in_force: req.timeInForce,
      limit_price: canonicalDecimal(req.limitPrice),
      extended_hours: false,
      client_order_id: req.clientOrderId,
    };
    const res = await this.request('POST', '/v2/orders', JSON.stringify(body));
    if (res.status !== 200 && res.status !== 201) throw this.classify(res, 'submit');
    // A 2xx we cannot read still created an order: an unknown outcome, resolved by lookup.
    return alpacaOrderToSnapshot(this.parse(AlpacaOrderSchema, res, 'submit', true));
  }

  async getOrderByClientOrderId(clientOrderId: string): Promise<BrokerOrderSnapshot | null> {
    const path = `/v2/orders:by_client_order_id?client_order_id=${encodeURIComponent(clientOrderId)}`;
    const res = await this.request('GET', path);
    if (res.status === 404) return null;
    if (res.status !== 200) throw this.classify(res, 'lookup');
    return alpacaOrderToSnapshot(this.parse(AlpacaOrderSchema, res, 'lookup'));
  }

  async getOrder(brokerOrderId: string): Promise<BrokerOrderSnapshot> {
    return alpacaOrderToSnapshot(await this.fetchOrder(brokerOrderId));
  }

  async listOpenOrders(): Promise<BrokerOrderSnapshot[]> {
    // Pages walk backwards in time with `until`; ids dedupe orders sharing the boundary timestamp.
    const seen = new Map<string, AlpacaOrder>();
    let until: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const qs = new URLSearchParams({
        status: 'open',
        limit: String(this.pageSize),
        direction: 'desc',
        nested: 'false',
      });
      if (until) qs.set('until', until);
      const res = await this.request('GET', `/v2/orders?${qs.toString()}`);
      if (res.status !== 200) throw this.classify(res, 'list');
      const orders = this.parse(AlpacaOrderListSchema, res, 'list');
      let fresh = 0;
      for (const o of orders) {
        if (!seen.has(o.id)) {
          seen.set(o.id, o);
          fresh++;
        }
      }
      const last = orders[orders.length - 1];
      if (orders.length < this.pageSize || fresh === 0 || last === undefined) break;
      until = last.submitted_at ?? last.created_at;
    }
    return [...seen.values()].map(alpacaOrderToSnapshot);
  }

  async cancelOrder(brokerOrderId: string): Promise<CancelResult> {
    const res = await this.request('DELETE', `/v2/orders/${encodeURIComponent(brokerOrderId)}`);
    if (res.status === 204 || res.status === 200) {
      return { outcome: CancelOutcome.CancelRequested, order: await this.getOrder(brokerOrderId) };
    }
    if (res.status === 422) {
      // "order is not cancelable": read it back to say why (a fill may have won the race).
      const order = await this.getOrder(brokerOrderId);
      if (isTerminalOrderState(order.state)) {
        return { outcome: CancelOutcome.NotCancellable, reason: notCancellableReason(order.state), order };
      }
      // Still open yet refused (e.g. already pending_cancel): the request is in effect either way.
      if (order.state === 'pending_cancel') return { outcome: CancelOutcome.CancelRequested, order };
    }
    throw this.classify(res, 'cancel');
  }

  async ping(): Promise<void> {
    const res = await this.request('GET', '/v2/account');
    if (res.status !== 200) throw this.classify(res, 'ping');
    this.parse(AlpacaAccountSchema, res, 'ping');
  }

  /** `GET /v2/positions`: every open position (one page; Alpaca does not paginate it), shorts with a negative qty. */
  async listPositions(): Promise<BrokerPosition[]> {
    const res = await this.request('GET', '/v2/positions');
    if (res.status !== 200) throw this.classify(res, 'positions');
    return this.parse(AlpacaPositionListSchema, res, 'positions').map((p) => {
      // Alpaca signs qty for shorts; the side is authoritative should a reply ever carry an unsigned qty.
      const magnitude = canonicalDecimal(p.qty.replace(/^-/, ''));
      return {
        symbol: p.symbol,
        quantity: p.side === 'short' && magnitude !== '0' ? `-${magnitude}` : magnitude,
        averageEntryPrice: p.avg_entry_price ? canonicalDecimal(p.avg_entry_price) : null,
      };
    });
  }

  private async fetchOrder(brokerOrderId: string): Promise<AlpacaOrder> {
    const res = await this.request('GET', `/v2/orders/${encodeURIComponent(brokerOrderId)}`);
    if (res.status !== 200) throw this.classify(res, 'get', brokerOrderId);
    return this.parse(AlpacaOrderSchema, res, 'get');
  }

  private request(method: 'GET' | 'POST' | 'DELETE', path: string, body?: string): Promise<HttpResponse> {
    return sendHttp(NAME, {
      method,
      url: `${this.baseUrl}${path}`,
      headers: {
        'APCA-API-KEY-ID': this.config.keyId,
        'APCA-API-SECRET-KEY': this.config.secretKey,
        Accept: 'application/json',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body }),
      timeoutMs: this.timeoutMs,
    });
  }

  private parse<S extends z.ZodType>(schema: S, res: HttpResponse, op: AlpacaOp, outcomeUnknown = false): z.output<S> {
    const parsed = schema.safeParse(res.json);
    if (parsed.success) return parsed.data;
    const first = parsed.error.issues[0];
    throw new BrokerBadResponse({
      broker: NAME,
      message: `alpaca: ${op} reply does not match the documented schema (${first ? `${first.path.join('.')}: ${first.message}` : 'not JSON'})`,
      httpStatus: res.status,
      body: maskSecrets(res.json ?? res.text.slice(0, 500)),
      outcomeUnknown,
    });
  }

  private classify(res: HttpResponse, op: AlpacaOp, orderId?: string): BrokerError {
    return classifyAlpacaError(res, op, orderId);
  }
}

/**
 * Maps an Alpaca error reply onto the BrokerError hierarchy: the documented `code` (and, under Alpaca's
 * coarse codes, the documented message) first, from ALPACA_ERROR_CODES; HTTP status only for what the table
 * does not know. Exported for tests and the stream client.
 */
export function classifyAlpacaError(res: HttpResponse, op: AlpacaOp, orderId?: string): BrokerError {
  // Everything quoted from the reply is masked first: error messages end up in workflow history and logs.
  const body = maskSecrets(res.json ?? maskString(res.text.slice(0, 500)));
  const parsed = AlpacaErrorSchema.safeParse(body);
  const code = parsed.success ? parsed.data.code : undefined;
  const numericCode = code === undefined || !/^\d+$/.test(String(code)) ? undefined : Number(code);
  const vendorMessage =
    (parsed.success ? parsed.data.message : undefined) ??
    (typeof body === 'string' ? body.slice(0, 200) : JSON.stringify(body).slice(0, 200));
  const init = {
    broker: NAME,
    httpStatus: res.status,
    ...(code === undefined ? {} : { vendorCode: code }),
    // The raw (masked) answer stays with the error: it is what the order's status shows for a rejection.
    body,
    message: `alpaca: ${op} refused with HTTP ${res.status}${code === undefined ? '' : ` code ${code}`}: ${vendorMessage}`,
  };
  const status = res.status;
  const retryAfterMs = status === 429 ? alpacaRetryAfterMs(res) : null;

  const known = status >= 400 ? alpacaErrorClassFor(numericCode, vendorMessage) : null;
  // A 5xx is the broker failing, whatever its body says: never let a message turn it into a permanent refusal.
  if (known && status < 500) {
    if (known.type === BrokerErrorType.OrderNotFound) return notFound(init, orderId, vendorMessage);
    return brokerErrorOf(known, init, { retryAfterMs });
  }

  // Not in the table: fall back by HTTP status.
  if (status === 401 || status === 403) return new BrokerUnauthorized(init);
  if (status === 404) return notFound(init, orderId, vendorMessage);
  if (status === 429) return new BrokerRateLimited({ ...init, retryAfterMs });
  if (status >= 500) return new BrokerUnavailable({ ...init, outcomeUnknown: true });
  if (status === 400 || status === 409 || status === 422) return new OrderRejected(init);
  return new BrokerBadResponse(init);
}

function notFound(init: BrokerErrorInit, orderId: string | undefined, vendorMessage: string): OrderNotFound {
  return new OrderNotFound({ ...init, message: `alpaca: order ${orderId ?? ''} not found (${vendorMessage})` });
}

/** Retry-After when sent; otherwise Alpaca's X-RateLimit-Reset (epoch seconds). */
function alpacaRetryAfterMs(res: HttpResponse): number | null {
  const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
  if (retryAfter !== null) return retryAfter;
  const reset = res.headers.get('x-ratelimit-reset');
  if (reset && /^\d+$/.test(reset)) return Math.max(0, Number(reset) * 1000 - Date.now());
  return null;
}

export function createAlpacaBroker(config: AlpacaConfig): AlpacaBroker {
  return new AlpacaBroker(config);
}
