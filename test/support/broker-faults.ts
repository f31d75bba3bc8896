/**
 * Shared machinery of the broker stand-ins: a real node:http server on 127.0.0.1 (port 0), a request log,
 * and a fault script that injects failures per route and per call number.
 *
 *   standIn.faults.next('POST /v2/orders', { kind: 'drop_reply' });        // the next call
 *   standIn.faults.onCall('GET /orders/:id/', 2, { kind: 'status', status: 503 }); // the 2nd call
 *   standIn.faults.always('GET /v2/account', { kind: 'unauthorized' });
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, type Socket } from 'node:net';

/**
 * Order refusals a broker states, by kind. Each stand-in answers them with that broker's documented status
 * and body (ALPACA_REFUSALS / ROBINHOOD_REFUSALS, sources beside each row); a kind a broker has no
 * documented body for is an unsupported fault there.
 */
export const BrokerRefusal = {
  PatternDayTrading: 'pattern_day_trading',
  WashTrade: 'wash_trade',
  Halted: 'halted',
  MarketClosed: 'market_closed',
  ShortSale: 'short_sale',
  NotTradable: 'not_tradable',
  InsufficientQuantity: 'insufficient_qty',
  AccountRestricted: 'account_restricted',
} as const;
export type BrokerRefusal = (typeof BrokerRefusal)[keyof typeof BrokerRefusal];

/** One documented refusal answer: the exact status and body, and where it was seen. */
export interface RefusalAnswer {
  readonly status: number;
  /** `{symbol}` in a string value is replaced by the order's symbol. */
  readonly body: Readonly<Record<string, unknown>>;
  readonly source: string;
}

export type Fault =
  /**
   * The broker refuses the order as documented for `refusal`; `variant` picks one of several documented
   * answers for the same kind (default 0). Nothing is created.
   */
  | { readonly kind: 'refusal'; readonly refusal: BrokerRefusal; readonly variant?: number }
  /** Never answer (until the stand-in closes): the client's timeout fires. */
  | { readonly kind: 'hang' }
  /** Answer normally, but only after `ms`. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Any status with an optional JSON body (5xx for BrokerUnavailable). */
  | { readonly kind: 'status'; readonly status: number; readonly body?: unknown }
  /** 429 with a Retry-After header (seconds). */
  | { readonly kind: 'rate_limit'; readonly retryAfterSeconds?: number }
  /** Robinhood: "Request was throttled. Expected available in N seconds." as a 429 (default) or a 400. */
  | { readonly kind: 'throttle'; readonly seconds: number; readonly status?: 400 | 429 }
  | { readonly kind: 'unauthorized' }
  | { readonly kind: 'insufficient_buying_power' }
  | { readonly kind: 'sub_penny' }
  /** Robinhood: the order is created (as if by an earlier, lost attempt) and the reply says the ref_id exists. */
  | { readonly kind: 'ref_id_exists' }
  /** The request takes effect (order created / cancelled), then the socket is destroyed: the reply is lost. */
  | { readonly kind: 'drop_reply' }
  /** The socket is destroyed before anything happens. */
  | { readonly kind: 'reset' }
  /** Cancel route: a fill lands before the cancel is processed ('full' → not cancellable; a number → partial). */
  | { readonly kind: 'fill_during_cancel'; readonly fill: 'full' | number; readonly price: string }
  /** Cancel route: the cancel is accepted (pending), then the rest of the order fills. */
  | { readonly kind: 'fill_after_cancel'; readonly price: string };

export type FaultKind = Fault['kind'];

export interface RecordedRequest {
  readonly method: string;
  /** Normalised route, e.g. 'GET /v2/orders/:id'. */
  readonly route: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: unknown;
  /** Fault applied to this request, if any. */
  readonly fault: FaultKind | null;
}

export class FaultScript {
  private readonly queued = new Map<string, Fault[]>();
  private readonly byCall = new Map<string, Map<number, Fault>>();
  private readonly permanent = new Map<string, Fault>();
  private readonly counts = new Map<string, number>();

  /** Applies `fault` to the next `times` calls of `route`. */
  next(route: string, fault: Fault, times = 1): this {
    const list = this.queued.get(route) ?? [];
    for (let i = 0; i < times; i++) list.push(fault);
    this.queued.set(route, list);
    return this;
  }

  /** Applies `fault` to call number `callNumber` (1-based, counted since start or the last clear()). */
  onCall(route: string, callNumber: number, fault: Fault): this {
    const map = this.byCall.get(route) ?? new Map<number, Fault>();
    map.set(callNumber, fault);
    this.byCall.set(route, map);
    return this;
  }

  always(route: string, fault: Fault): this {
    this.permanent.set(route, fault);
    return this;
  }

  clear(): this {
    this.queued.clear();
    this.byCall.clear();
    this.permanent.clear();
    this.counts.clear();
    return this;
  }

  calls(route: string): number {
    return this.counts.get(route) ?? 0;
  }

  /** Counts the call and returns the fault to apply, if any. */
  take(route: string): Fault | undefined {
    const n = (this.counts.get(route) ?? 0) + 1;
    this.counts.set(route, n);
    const specific = this.byCall.get(route)?.get(n);
    if (specific) return specific;
    const queue = this.queued.get(route);
    if (queue && queue.length > 0) return queue.shift();
    return this.permanent.get(route);
  }
}

export interface StandInRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly rawBody: string;
}

export type RouteHandler = (ctx: StandInRequest, params: Record<string, string>, fault: Fault | undefined) => void;

export interface RouteDef {
  readonly method: string;
  /** Pattern with :params, e.g. '/v2/orders/:id'; matched segment by segment. */
  readonly pattern: string;
  readonly handler: RouteHandler;
}

function matchPattern(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/');
  const s = path.split('/');
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]!;
    if (seg.startsWith(':')) {
      if (s[i] === '') return null;
      params[seg.slice(1)] = decodeURIComponent(s[i]!);
    } else if (seg !== s[i]) return null;
  }
  return params;
}

/** An HTTP server that routes, records and injects faults; stand-ins supply the routes. */
export class StandInServer {
  readonly requests: RecordedRequest[] = [];
  readonly faults = new FaultScript();
  /** Stand-in misuse seen while serving (e.g. a fault a route does not support). */
  readonly errors: Error[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();
  private port = 0;

  constructor(
    private readonly routes: readonly RouteDef[],
    private readonly notFound: (ctx: StandInRequest) => void,
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get httpServer(): Server {
    return this.server;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  requestsFor(route: string): RecordedRequest[] {
    return this.requests.filter((r) => r.route === route);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const method = req.method ?? 'GET';
    let body: unknown = undefined;
    if (rawBody !== '') {
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = Object.fromEntries(new URLSearchParams(rawBody));
      }
    }
    const ctx: StandInRequest = { req, res, method, path: url.pathname, query: url.searchParams, body, rawBody };
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const params = matchPattern(route.pattern, url.pathname);
      if (!params) continue;
      const key = `${method} ${route.pattern}`;
      const fault = this.faults.take(key);
      this.requests.push({
        method,
        route: key,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body,
        fault: fault?.kind ?? null,
      });
      if (fault?.kind === 'hang') {
        this.hanging.add(res);
        return;
      }
      if (fault?.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
      try {
        route.handler(ctx, params, fault?.kind === 'delay' ? undefined : fault);
      } catch (err) {
        // A stand-in misuse (unsupported fault) must be loud in the test, not a crashed server.
        this.errors.push(err instanceof Error ? err : new Error(String(err)));
        if (!res.headersSent) sendJson(res, 599, { message: String(err) });
      }
      return;
    }
    this.requests.push({
      method,
      route: `${method} ${url.pathname}`,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
      fault: null,
    });
    this.notFound(ctx);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { ...(text ? { 'Content-Type': 'application/json' } : {}), ...headers });
  res.end(text);
}

/** Lets the handler's side effects happen, then kills the connection so the client never sees a reply. */
export function dropReply(ctx: StandInRequest): void {
  ctx.req.socket.destroy();
}

/** The documented answer for a refusal fault, with `{symbol}` filled in; throws when the stand-in has none. */
export function refusalAnswer(
  standIn: string,
  route: string,
  table: Readonly<Partial<Record<BrokerRefusal, readonly RefusalAnswer[]>>>,
  fault: Extract<Fault, { kind: 'refusal' }>,
  symbol: string,
): { readonly status: number; readonly body: unknown } {
  const answer = table[fault.refusal]?.[fault.variant ?? 0];
  if (!answer) {
    throw new Error(`${standIn} stand-in: no documented answer for refusal '${fault.refusal}' (${route})`);
  }
  const body = JSON.parse(JSON.stringify(answer.body).replaceAll('{symbol}', symbol)) as unknown;
  return { status: answer.status, body };
}

export function unsupportedFault(standIn: string, route: string, fault: Fault): never {
  throw new Error(`${standIn} stand-in: fault '${fault.kind}' is not supported on ${route}`);
}
