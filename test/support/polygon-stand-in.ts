/**
 * A local stand-in for Polygon's stocks REST and WebSocket APIs, driven by scripted scenarios.
 *
 * It speaks the wire format @polygon.io/client-js expects (paths, `apiKey` query parameter, v3 response
 * objects with absolute `next_url` cursors, WebSocket status/T/Q arrays), keeps nanosecond timestamps exact
 * (bigint inside, unquoted digits on the wire), and lets tests and the demo control the market clock and
 * inject the faults a real feed produces. It is a test and demo tool: it never talks to the real Polygon.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { isLosslessNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { WebSocketServer, type WebSocket } from 'ws';

export type StandInRecord = Record<string, unknown>;
export type StandInKind = 'trades' | 'quotes';
export type StandInRoute =
  'trades' | 'quotes' | 'last-trade' | 'last-nbbo' | 'aggs' | 'market-upcoming' | 'market-now' | 'ws' | 'other';

/** One row of /v1/marketstatus/upcoming (openapi GetMarketHolidays: open/close ISO times on an early close). */
export interface StandInMarketHoliday {
  readonly date: string;
  readonly exchange: string;
  readonly name: string;
  readonly status: string;
  readonly open?: string;
  readonly close?: string;
}
export type StandInTimestamp = bigint | string | number;

export interface StandInScenario {
  readonly trades?: readonly StandInRecord[];
  readonly quotes?: readonly StandInRecord[];
}

export type StandInClock =
  /** Loaded scenarios are published at once. */
  | { readonly mode: 'all' }
  /** Loaded events wait for `advanceTo(ns)` / `releaseAll()`. */
  | { readonly mode: 'manual' }
  /** Loaded events are released as a market clock runs at `speed` × real time (2 = twice as fast). */
  | { readonly mode: 'replay'; readonly speed: number };

export interface PolygonStandInOptions {
  readonly host?: string;
  readonly port?: number;
  /** The one key the stand-in accepts (REST `apiKey` and WebSocket auth). */
  readonly apiKey?: string;
  readonly clock?: StandInClock;
  /** Most events per WebSocket array; Polygon batches events into arrays too. */
  readonly wsBatchSize?: number;
  /**
   * Authenticated WebSocket sessions allowed at once, as Polygon's per-key limit (one per asset class on most
   * plans): one more gets a `max_connections` status and is closed. Default: unlimited.
   */
  readonly maxConnections?: number;
}

export interface HttpFault {
  /** An HTTP status (401, 403, 429, 500, 502, 503, …) or 'reset' to destroy the socket without answering. */
  readonly status: number | 'reset';
  readonly route?: StandInRoute | 'any';
  /** How many matching requests fail; default 1. */
  readonly count?: number;
  /** Matching requests to let through first (e.g. 1 = fail the second page of a pagination run). */
  readonly skip?: number;
  /** Sent as the Retry-After header (seconds), typically with 429. */
  readonly retryAfterSeconds?: number;
  /** Raw body instead of Polygon's JSON error (e.g. a proxy's HTML page). */
  readonly body?: string;
}

export interface LatencyFault {
  readonly ms: number;
  readonly route?: StandInRoute | 'any';
  /** Only requests for this symbol; default: any. */
  readonly symbol?: string;
  /** How many matching requests are slowed; default: until cleared with `setLatency(undefined)`. */
  readonly count?: number;
  /**
   * 'before' (default): the request waits, then sees the data as it is then. 'after': the response is computed on
   * arrival and delivered late, so events published meanwhile are not in it (a slow network, not a slow server).
   */
  readonly phase?: 'before' | 'after';
}

export interface MalformedInjection {
  readonly symbol: string;
  readonly kind: StandInKind;
  /** Rows sent verbatim: REST rows use v3 field names, WebSocket rows are raw message objects. */
  readonly rows: readonly unknown[];
  /** 'rest': added to the next REST page of this symbol/kind; 'ws': sent now to subscribers of the symbol. */
  readonly via: 'rest' | 'ws';
  /** Index in the next REST page at which the rows are inserted; default: after the real rows. */
  readonly position?: number;
}

export interface RequestLogEntry {
  readonly route: StandInRoute;
  readonly method: string;
  /** Path and query with the apiKey value masked. */
  readonly path: string;
  readonly symbol: string | undefined;
  readonly status: number | 'reset';
  /** Wall-clock time the request arrived (ms since epoch). */
  readonly atMs: number;
}

export interface PolygonStandIn {
  /** REST base URL for `restClient(key, restUrl)` / POLYGON_BASE_URL. */
  readonly restUrl: string;
  /** WebSocket base URL for `websocketClient(key, wsUrl)` / POLYGON_WS_URL (the client appends /stocks). */
  readonly wsUrl: string;
  readonly port: number;
  readonly apiKey: string;
  /** Queues (or, with clock 'all', publishes) scripted events for a symbol. */
  loadScenario(symbol: string, scenario: StandInScenario): void;
  /** Reads `trades.json` / `quotes.json` (v3 response objects, arrays, or JSON Lines) from a directory. */
  loadScenarioDir(symbol: string, dir: string): void;
  /** Publishes events now, whatever the clock: REST sees them and subscribers receive them. */
  publish(symbol: string, events: StandInScenario): { readonly trades: number; readonly quotes: number };
  /** Moves the market clock to `ns` and releases every queued event due by then; returns how many. */
  advanceTo(ns: StandInTimestamp): number;
  /** Releases every queued event. */
  releaseAll(): number;
  /** Starts (or re-times) progressive release at `speed` × real time. */
  startReplay(speed?: number): void;
  pauseReplay(): void;
  /** The market clock (ns), undefined before anything was released. */
  marketTime(): bigint | undefined;
  pendingCount(symbol?: string): number;
  publishedCount(symbol: string, kind: StandInKind): number;
  /** Replaces the accepted key; connected WebSocket sessions stay authenticated. */
  setApiKey(key: string): void;
  failNext(fault: HttpFault): void;
  setLatency(fault: LatencyFault | undefined): void;
  /** Closes every WebSocket connection: abruptly (no close frame) unless a close code is given. */
  dropConnections(options?: { readonly code?: number; readonly reason?: string }): number;
  /** Refuses the next `n` WebSocket connection attempts with HTTP 503. */
  refuseConnections(n: number): void;
  injectMalformed(injection: MalformedInjection): void;
  /**
   * A source that does not advance (polygon-io issue 289): every /v3/trades and /v3/quotes page for `symbol`
   * answers with the same first `records` records of its book (default 2) and a next_url pointing at itself,
   * whatever the query. Cleared by `clearFaults()`.
   */
  loopPages(symbol: string, records?: number): void;
  /**
   * Minute aggregates served by `/v2/aggs/ticker/{T}/range/1/minute/{from}/{to}` (wire form: t ms, v, o, h, l, c,
   * n, vw), in addition to the bars computed from the symbol's published trades. Earlier sessions' curves.
   */
  loadMinuteBars(symbol: string, bars: readonly StandInRecord[]): void;
  /**
   * What /v1/marketstatus/upcoming answers (default: no holidays), rows as Polygon sends them; raw values (a
   * malformed row, say) pass through unchecked.
   */
  setHolidays(rows: readonly (StandInMarketHoliday | Record<string, unknown>)[]): void;
  /** The `market` of /v1/marketstatus/now (default: `open`); serverTime is the real clock. */
  setMarketStatus(market: string): void;
  clearFaults(): void;
  readonly requests: readonly RequestLogEntry[];
  requestCount(route?: StandInRoute): number;
  clearRequests(): void;
  /** Currently open WebSocket connections. */
  connectionCount(): number;
  /** WebSocket connections accepted since start. */
  connectionsAccepted(): number;
  /** WebSocket sessions refused with `max_connections` since start. */
  connectionsOverLimit(): number;
  close(): Promise<void>;
}

const TIMESTAMP_FIELDS = ['sip_timestamp', 'participant_timestamp', 'trf_timestamp'] as const;
const MAX_LIMIT = 50_000;
const DEFAULT_LIMIT = 1000;
const NS_PER_MS = 1_000_000n;
const NS_PER_DAY = 86_400_000_000_000n;

interface StoredEvent {
  readonly ts: bigint;
  /** Global arrival counter: the tie-breaker that makes keyset pagination stable while events arrive. */
  readonly seq: number;
  readonly record: StandInRecord;
}

interface PendingEvent extends StoredEvent {
  readonly symbol: string;
  readonly kind: StandInKind;
  readonly releaseAt: bigint;
}

interface RangeFilter {
  readonly gte?: bigint;
  readonly gt?: bigint;
  readonly lte?: bigint;
  readonly lt?: bigint;
}

interface PageQuery {
  readonly symbol: string;
  readonly kind: StandInKind;
  readonly filter: RangeFilter;
  readonly order: 'asc' | 'desc';
  readonly limit: number;
  readonly after?: { readonly ts: bigint; readonly seq: number };
}

interface ClientState {
  authenticated: boolean;
  readonly subscriptions: Set<string>;
}

class BadRequest extends Error {}

export async function startPolygonStandIn(options: PolygonStandInOptions = {}): Promise<PolygonStandIn> {
  const standIn = new StandIn(options);
  await standIn.listen(options.host ?? '127.0.0.1', options.port ?? 0);
  return standIn;
}

class StandIn implements PolygonStandIn {
  restUrl = '';
  wsUrl = '';
  port = 0;
  apiKey: string;
  readonly requests: RequestLogEntry[] = [];

  private readonly clock: StandInClock;
  private readonly wsBatchSize: number;
  private readonly maxConnections: number | undefined;
  private rejectedForLimit = 0;
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  private readonly clients = new Map<WebSocket, ClientState>();
  private readonly books = new Map<string, Record<StandInKind, StoredEvent[]>>();
  private pending: PendingEvent[] = [];
  private seq = 0;
  private now: bigint | undefined;
  private replay: { speed: number; originNs: bigint; originWallMs: number; timer?: NodeJS.Timeout } | undefined;
  private httpFaults: { fault: HttpFault; remaining: number; skip: number }[] = [];
  private latency: { fault: LatencyFault; remaining: number } | undefined;
  private refuse = 0;
  private accepted = 0;
  private readonly restInjections = new Map<string, MalformedInjection[]>();
  /** Symbol → records per looping page (loopPages). */
  private readonly looping = new Map<string, number>();
  private readonly minuteBars = new Map<string, StandInRecord[]>();
  private holidays: unknown[] = [];
  private market = 'open';

  constructor(options: PolygonStandInOptions) {
    this.apiKey = options.apiKey ?? 'stand-in-key';
    this.clock = options.clock ?? { mode: 'all' };
    if (this.clock.mode === 'replay' && !(this.clock.speed > 0)) throw new Error('clock.speed must be positive');
    this.wsBatchSize = options.wsBatchSize ?? 500;
    this.maxConnections = options.maxConnections;
    this.server = http.createServer((req, res) => {
      this.handleHttp(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(stringify({ status: 'ERROR', request_id: requestId(), error: String(err) }));
      });
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket, head));
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('stand-in has no TCP address');
    this.port = address.port;
    this.restUrl = `http://${host}:${address.port}`;
    this.wsUrl = `ws://${host}:${address.port}`;
  }

  // ---- scenario and clock ----

  loadScenario(symbol: string, scenario: StandInScenario): void {
    const queued: PendingEvent[] = [];
    for (const kind of ['quotes', 'trades'] as const) {
      // Release in file order: an event that is early in time but late in the file is delivered after its
      // predecessors, so scenarios can script out-of-order delivery on the stream.
      let releaseAt: bigint | undefined;
      for (const raw of scenario[kind] ?? []) {
        const { record, ts } = normalizeRecord(raw);
        const effective = ts ?? releaseAt ?? 0n;
        releaseAt = releaseAt === undefined || effective > releaseAt ? effective : releaseAt;
        queued.push({ symbol, kind, record, ts: effective, seq: this.seq++, releaseAt });
      }
    }
    this.book(symbol);
    this.pending = mergePending(this.pending, queued);
    if (this.clock.mode === 'all') this.releaseAll();
    else if (this.clock.mode === 'replay') {
      if (this.replay) this.scheduleReplay();
      else this.startReplay(this.clock.speed);
    }
  }

  loadScenarioDir(symbol: string, dir: string): void {
    this.loadScenario(symbol, readScenarioDir(dir));
  }

  publish(symbol: string, events: StandInScenario): { trades: number; quotes: number } {
    const released: PendingEvent[] = [];
    for (const kind of ['quotes', 'trades'] as const) {
      for (const raw of events[kind] ?? []) {
        const { record, ts } = normalizeRecord(raw);
        const effective = ts ?? this.now ?? 0n;
        released.push({ symbol, kind, record, ts: effective, seq: this.seq++, releaseAt: effective });
      }
    }
    released.sort(comparePending);
    this.release(released);
    return { trades: events.trades?.length ?? 0, quotes: events.quotes?.length ?? 0 };
  }

  advanceTo(target: StandInTimestamp): number {
    const ns = toNs(target);
    if (ns === undefined) throw new Error(`advanceTo: ${String(target)} is not an integer nanosecond timestamp`);
    if (this.replay) {
      this.replay.originNs = ns;
      this.replay.originWallMs = Date.now();
    }
    const released = this.releaseUpTo(ns);
    if (this.replay) this.scheduleReplay();
    return released;
  }

  releaseAll(): number {
    const due = this.pending;
    this.pending = [];
    this.release(due);
    return due.length;
  }

  startReplay(speed = this.replay?.speed ?? (this.clock.mode === 'replay' ? this.clock.speed : 1)): void {
    if (!(speed > 0)) throw new Error('replay speed must be positive');
    const originNs = this.replayNow() ?? this.now ?? this.pending[0]?.releaseAt ?? 0n;
    if (this.replay?.timer) clearTimeout(this.replay.timer);
    this.replay = { speed, originNs, originWallMs: Date.now() };
    this.scheduleReplay();
  }

  pauseReplay(): void {
    if (this.replay?.timer) clearTimeout(this.replay.timer);
    if (this.replay) this.releaseUpTo(this.replayNow() ?? this.replay.originNs);
    this.replay = undefined;
  }

  marketTime(): bigint | undefined {
    return this.replayNow() ?? this.now;
  }

  pendingCount(symbol?: string): number {
    return symbol === undefined ? this.pending.length : this.pending.filter((e) => e.symbol === symbol).length;
  }

  publishedCount(symbol: string, kind: StandInKind): number {
    return this.books.get(symbol)?.[kind].length ?? 0;
  }

  private replayNow(): bigint | undefined {
    if (!this.replay) return undefined;
    const elapsedNs = Math.floor((Date.now() - this.replay.originWallMs) * this.replay.speed * 1e6);
    return this.replay.originNs + BigInt(elapsedNs);
  }

  private scheduleReplay(): void {
    const replay = this.replay;
    if (!replay) return;
    if (replay.timer) clearTimeout(replay.timer);
    replay.timer = undefined;
    const next = this.pending[0];
    if (!next) return;
    const dueWallMs = replay.originWallMs + Number(next.releaseAt - replay.originNs) / 1e6 / replay.speed;
    replay.timer = setTimeout(
      () => {
        this.releaseUpTo(this.replayNow() ?? next.releaseAt);
        this.scheduleReplay();
      },
      Math.max(0, Math.ceil(dueWallMs - Date.now())),
    );
  }

  private releaseUpTo(ns: bigint): number {
    let count = 0;
    while (count < this.pending.length && this.pending[count]!.releaseAt <= ns) count++;
    const due = this.pending.slice(0, count);
    this.pending = this.pending.slice(count);
    if (this.now === undefined || ns > this.now) this.now = ns;
    this.release(due);
    return count;
  }

  private release(events: readonly PendingEvent[]): void {
    if (events.length === 0) return;
    for (const event of events) {
      insertSorted(this.book(event.symbol)[event.kind], event);
      if (this.now === undefined || event.releaseAt > this.now) this.now = event.releaseAt;
    }
    const bySymbol = new Map<string, unknown[]>();
    for (const event of events) {
      const messages = bySymbol.get(event.symbol) ?? [];
      messages.push(event.kind === 'trades' ? toWsTrade(event) : toWsQuote(event));
      bySymbol.set(event.symbol, messages);
    }
    for (const messages of bySymbol.values()) this.broadcast(messages);
  }

  private book(symbol: string): Record<StandInKind, StoredEvent[]> {
    let book = this.books.get(symbol);
    if (!book) {
      book = { trades: [], quotes: [] };
      this.books.set(symbol, book);
    }
    return book;
  }

  // ---- faults and introspection ----

  setApiKey(key: string): void {
    this.apiKey = key;
  }

  failNext(fault: HttpFault): void {
    this.httpFaults.push({ fault, remaining: fault.count ?? 1, skip: fault.skip ?? 0 });
  }

  setLatency(fault: LatencyFault | undefined): void {
    this.latency = fault ? { fault, remaining: fault.count ?? Number.POSITIVE_INFINITY } : undefined;
  }

  dropConnections(options: { code?: number; reason?: string } = {}): number {
    const sockets = [...this.clients.keys()];
    for (const ws of sockets) {
      if (options.code === undefined) ws.terminate();
      else ws.close(options.code, options.reason);
    }
    return sockets.length;
  }

  refuseConnections(n: number): void {
    this.refuse = n;
  }

  injectMalformed(injection: MalformedInjection): void {
    if (injection.via === 'ws') {
      this.broadcast(
        injection.rows.map((row) => row),
        injection.kind === 'trades' ? 'T' : 'Q',
        injection.symbol,
      );
      return;
    }
    const key = `${injection.kind}:${injection.symbol}`;
    this.restInjections.set(key, [...(this.restInjections.get(key) ?? []), injection]);
  }

  setHolidays(rows: readonly (StandInMarketHoliday | Record<string, unknown>)[]): void {
    this.holidays = [...rows];
  }

  setMarketStatus(market: string): void {
    this.market = market;
  }

  loadMinuteBars(symbol: string, bars: readonly StandInRecord[]): void {
    this.minuteBars.set(symbol, [...(this.minuteBars.get(symbol) ?? []), ...bars]);
  }

  /**
   * The aggregates endpoint as Polygon answers it (openapi: /v2/aggs/ticker/{stocksTicker}/range/…): one-minute
   * bars only (anything else is a 400 here), `from`/`to` as YYYY-MM-DD (New York days, inclusive) or Unix ms,
   * `sort` asc (default) or desc, `limit` ≤ 50000 bars.
   */
  private aggregates(url: URL, symbol: string): string {
    const m = /^\/v2\/aggs\/ticker\/[^/]+\/range\/(\d+)\/([a-z]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname)!;
    if (m[1] !== '1' || m[2] !== 'minute') throw new BadRequest('the stand-in serves 1-minute aggregates only');
    const bound = (text: string, end: boolean): number => {
      if (/^\d+$/.test(text)) return Number(text);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) throw new BadRequest(`invalid date ${text}`);
      return end ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
    };
    const nyDate = (ms: number) =>
      new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York' }).format(new Date(ms));
    const [from, to] = [decodeURIComponent(m[3]!), decodeURIComponent(m[4]!)];
    const inWindow = (t: number) =>
      t >= bound(from, false) &&
      t <= bound(to, true) &&
      (!/-/.test(from) || nyDate(t) >= from) &&
      (!/-/.test(to) || nyDate(t) <= to);
    const byMinute = new Map<
      number,
      { o: number; h: number; l: number; c: number; v: number; n: number; pv: number }
    >();
    for (const e of this.books.get(symbol)?.trades ?? []) {
      const price = Number(e.record.price);
      const size = Number(e.record.size);
      if (!Number.isFinite(price) || !Number.isFinite(size)) continue;
      const t = Number(e.ts / NS_PER_MS / 60_000n) * 60_000;
      const bar = byMinute.get(t);
      if (bar === undefined)
        byMinute.set(t, { o: price, h: price, l: price, c: price, v: size, n: 1, pv: price * size });
      else {
        bar.h = Math.max(bar.h, price);
        bar.l = Math.min(bar.l, price);
        bar.c = price;
        bar.v += size;
        bar.n += 1;
        bar.pv += price * size;
      }
    }
    const computed: StandInRecord[] = [...byMinute].map(([t, b]) => ({
      v: b.v,
      vw: b.pv / b.v,
      o: b.o,
      c: b.c,
      h: b.h,
      l: b.l,
      t,
      n: b.n,
    }));
    let results = [...(this.minuteBars.get(symbol) ?? []), ...computed].filter((b) => inWindow(Number(b.t)));
    results.sort((a, b) => Number(a.t) - Number(b.t));
    if (url.searchParams.get('sort') === 'desc') results.reverse();
    const limit = Number(url.searchParams.get('limit') ?? 5000);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new BadRequest('invalid limit');
    results = results.slice(0, limit);
    return stringify({
      ticker: symbol,
      queryCount: results.length,
      resultsCount: results.length,
      adjusted: url.searchParams.get('adjusted') !== 'false',
      ...(results.length > 0 ? { results } : {}),
      status: 'OK',
      request_id: requestId(),
    });
  }

  loopPages(symbol: string, records = 2): void {
    this.looping.set(symbol, records);
  }

  clearFaults(): void {
    this.looping.clear();
    this.httpFaults = [];
    this.latency = undefined;
    this.refuse = 0;
    this.restInjections.clear();
  }

  requestCount(route?: StandInRoute): number {
    return route === undefined ? this.requests.length : this.requests.filter((r) => r.route === route).length;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  connectionCount(): number {
    return this.clients.size;
  }

  connectionsAccepted(): number {
    return this.accepted;
  }

  connectionsOverLimit(): number {
    return this.rejectedForLimit;
  }

  async close(): Promise<void> {
    if (this.replay?.timer) clearTimeout(this.replay.timer);
    this.replay = undefined;
    for (const ws of this.clients.keys()) ws.terminate();
    this.clients.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- HTTP ----

  private async handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.restUrl);
    if (url.pathname.startsWith('/_control/')) return this.handleControl(req, res, url);
    const { route, symbol } = matchRoute(url.pathname);
    const entry = { route, method: req.method ?? 'GET', path: maskKey(url), symbol, atMs: Date.now() };
    const latency = this.takeLatency(route, symbol);
    const respond = (status: number, body: string, headers: Record<string, string> = {}) => {
      this.requests.push({ ...entry, status });
      const send = () => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(body);
      };
      if (latency.phase === 'after' && latency.ms > 0) setTimeout(send, latency.ms);
      else send();
    };

    if (latency.phase === 'before' && latency.ms > 0) await new Promise((r) => setTimeout(r, latency.ms));

    const fault = this.takeFault(route);
    if (fault) {
      if (fault.status === 'reset') {
        this.requests.push({ ...entry, status: 'reset' });
        req.socket.destroy();
        return;
      }
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      if (fault.body !== undefined) headers['content-type'] = 'text/html';
      return respond(fault.status, fault.body ?? errorBody(fault.status), headers);
    }

    if (req.method !== 'GET') return respond(405, errorBody(405));
    const key = url.searchParams.get('apiKey') ?? bearer(req.headers.authorization);
    if (key !== this.apiKey) return respond(401, errorBody(401));
    // Shapes from openapi GetMarketHolidays / GetMarketStatus (a bare array; an object without `status`).
    if (route === 'market-upcoming') return respond(200, stringify(this.holidays));
    if (route === 'market-now') {
      const exchanges = { nasdaq: this.market, nyse: this.market, otc: this.market };
      const body = { market: this.market, serverTime: new Date().toISOString(), exchanges, earlyHours: false };
      return respond(200, stringify({ ...body, afterHours: false, currencies: { fx: 'open', crypto: 'open' } }));
    }
    if (route === 'other' || symbol === undefined) return respond(404, errorBody(404));

    try {
      if (route === 'trades' || route === 'quotes') {
        return respond(200, this.page(url, route, symbol));
      }
      if (route === 'aggs') return respond(200, this.aggregates(url, symbol));
      const last = this.last(symbol, route === 'last-trade' ? 'trades' : 'quotes');
      if (!last) return respond(404, errorBody(404));
      return respond(200, stringify({ status: 'OK', request_id: requestId(), results: last }));
    } catch (err) {
      if (err instanceof BadRequest) {
        return respond(400, stringify({ status: 'ERROR', request_id: requestId(), error: err.message }));
      }
      throw err;
    }
  }

  private page(url: URL, kind: StandInKind, symbol: string): string {
    const loop = this.looping.get(symbol);
    if (loop !== undefined) {
      const self = new URL(`/v3/${kind}/${encodeURIComponent(symbol)}`, this.restUrl);
      self.searchParams.set('cursor', 'loop');
      const results = (this.books.get(symbol)?.[kind] ?? []).slice(0, loop).map((e) => e.record);
      return stringify({ results, status: 'OK', request_id: requestId(), next_url: self.toString() });
    }
    const cursor = url.searchParams.get('cursor');
    const query = cursor === null ? parsePageQuery(url.searchParams, kind, symbol) : decodeCursor(cursor);
    if (query.kind !== kind || query.symbol !== symbol) throw new BadRequest('cursor does not belong to this endpoint');
    const events = this.books.get(symbol)?.[kind] ?? [];
    const matching = events.filter((e) => inRange(e.ts, query.filter));
    if (query.order === 'desc') matching.reverse();
    const start = query.after ? matching.findIndex((e) => isAfter(e, query.after!, query.order)) : 0;
    const from = start === -1 ? matching.length : start;
    const slice = matching.slice(from, from + query.limit);
    const results: unknown[] = slice.map((e) => e.record);

    const injections = this.restInjections.get(`${kind}:${symbol}`) ?? [];
    this.restInjections.delete(`${kind}:${symbol}`);
    for (const injection of injections) {
      results.splice(Math.min(injection.position ?? results.length, results.length), 0, ...injection.rows);
    }

    const body: Record<string, unknown> = { results, status: 'OK', request_id: requestId() };
    const last = slice[slice.length - 1];
    if (last && from + slice.length < matching.length) {
      const next = new URL(`/v3/${kind}/${encodeURIComponent(symbol)}`, this.restUrl);
      next.searchParams.set('cursor', encodeCursor({ ...query, after: { ts: last.ts, seq: last.seq } }));
      body.next_url = next.toString();
    }
    return stringify(body);
  }

  private last(symbol: string, kind: StandInKind): StandInRecord | undefined {
    const events = this.books.get(symbol)?.[kind] ?? [];
    const latest = events[events.length - 1];
    if (!latest) return undefined;
    const r = latest.record;
    if (kind === 'trades') {
      return compact({
        T: symbol,
        c: r.conditions,
        e: r.correction,
        f: r.trf_timestamp,
        i: r.id,
        p: r.price,
        q: r.sequence_number,
        r: r.trf_id,
        s: r.size,
        t: r.sip_timestamp,
        x: r.exchange,
        y: r.participant_timestamp,
        z: r.tape,
      });
    }
    return compact({
      P: r.ask_price,
      S: r.ask_size,
      T: symbol,
      X: r.ask_exchange,
      c: r.conditions,
      f: r.trf_timestamp,
      i: r.indicators,
      p: r.bid_price,
      q: r.sequence_number,
      s: r.bid_size,
      t: r.sip_timestamp,
      x: r.bid_exchange,
      y: r.participant_timestamp,
      z: r.tape,
    });
  }

  private takeFault(route: StandInRoute): HttpFault | undefined {
    const slot = this.httpFaults.find((f) => matches(f.fault.route, route) && f.remaining > 0);
    if (!slot) return undefined;
    if (slot.skip > 0) {
      slot.skip -= 1;
      return undefined;
    }
    slot.remaining -= 1;
    if (slot.remaining <= 0) this.httpFaults = this.httpFaults.filter((f) => f !== slot);
    return slot.fault;
  }

  private takeLatency(
    route: StandInRoute,
    symbol: string | undefined,
  ): { readonly ms: number; readonly phase: 'before' | 'after' } {
    const latency = this.latency;
    const forSymbol = latency?.fault.symbol === undefined || latency.fault.symbol === symbol;
    if (!latency || !matches(latency.fault.route, route) || !forSymbol) return { ms: 0, phase: 'before' };
    latency.remaining -= 1;
    if (latency.remaining <= 0) this.latency = undefined;
    return { ms: latency.fault.ms, phase: latency.fault.phase ?? 'before' };
  }

  /** A small JSON control surface so a stand-in started from the command line can be driven by curl. */
  private async handleControl(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(stringify(body));
    };
    try {
      const text = await readBody(req);
      const input = (text.trim() === '' ? {} : parseLossless(text)) as Record<string, unknown>;
      const symbol = typeof input.symbol === 'string' ? input.symbol : (url.searchParams.get('symbol') ?? '');
      switch (url.pathname) {
        case '/_control/publish':
          return send(200, this.publish(symbol, input));
        case '/_control/advance':
          return send(200, { released: this.advanceTo(controlTimestamp(input.to ?? url.searchParams.get('to'))) });
        case '/_control/release-all':
          return send(200, { released: this.releaseAll() });
        case '/_control/drop':
          return send(200, { dropped: this.dropConnections() });
        case '/_control/fail':
          this.failNext(input as unknown as HttpFault);
          return send(200, { ok: true });
        case '/_control/requests':
          return send(200, { requests: this.requests });
        case '/_control/state':
          return send(200, {
            marketTime: this.marketTime(),
            pending: this.pendingCount(),
            connections: this.connectionCount(),
          });
        default:
          return send(404, { error: 'unknown control path' });
      }
    } catch (err) {
      return send(400, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  // ---- WebSocket ----

  private handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', this.restUrl);
    const entry = { route: 'ws' as const, method: 'GET', path: maskKey(url), symbol: undefined, atMs: Date.now() };
    if (url.pathname !== '/stocks' || this.refuse > 0) {
      const status = url.pathname !== '/stocks' ? 404 : 503;
      if (status === 503) this.refuse -= 1;
      this.requests.push({ ...entry, status });
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.requests.push({ ...entry, status: 101 });
    this.wss.handleUpgrade(req, socket, head, (ws) => this.handleConnection(ws));
  }

  private handleConnection(ws: WebSocket): void {
    this.accepted += 1;
    const state: ClientState = { authenticated: false, subscriptions: new Set() };
    this.clients.set(ws, state);
    ws.on('close', () => this.clients.delete(ws));
    ws.on('error', () => this.clients.delete(ws));
    sendStatus(ws, [{ status: 'connected', message: 'Connected Successfully' }]);
    ws.on('message', (data) => {
      let message: { action?: unknown; params?: unknown };
      try {
        message = JSON.parse(rawText(data)) as { action?: unknown; params?: unknown };
      } catch {
        return sendStatus(ws, [{ status: 'error', message: 'invalid json' }]);
      }
      const params = typeof message.params === 'string' ? message.params : '';
      if (message.action === 'auth') {
        if (params === this.apiKey) {
          const sessions = [...this.clients.values()].filter((c) => c.authenticated).length;
          if (this.maxConnections !== undefined && sessions >= this.maxConnections) {
            sendStatus(ws, [
              {
                status: 'max_connections',
                message:
                  'Maximum number of websocket connections exceeded. You have reached the connection limit for your account.',
              },
            ]);
            this.rejectedForLimit += 1;
            setTimeout(() => ws.close(1008, 'max_connections'), 20).unref();
            return;
          }
          state.authenticated = true;
          return sendStatus(ws, [{ status: 'auth_success', message: 'authenticated' }]);
        }
        sendStatus(ws, [{ status: 'auth_failed', message: 'authentication failed' }]);
        // Polygon hangs up after a failed authentication.
        setTimeout(() => ws.close(1008, 'authentication failed'), 20).unref();
        return;
      }
      if (!state.authenticated) return sendStatus(ws, [{ status: 'error', message: 'not authorized' }]);
      const channels = params
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '');
      if (message.action === 'subscribe') {
        channels.forEach((c) => state.subscriptions.add(c));
        return sendStatus(
          ws,
          channels.map((c) => ({ status: 'success', message: `subscribed to: ${c}` })),
        );
      }
      if (message.action === 'unsubscribe') {
        channels.forEach((c) => state.subscriptions.delete(c));
        return sendStatus(
          ws,
          channels.map((c) => ({ status: 'success', message: `unsubscribed to: ${c}` })),
        );
      }
      return sendStatus(ws, [{ status: 'error', message: 'unknown action' }]);
    });
  }

  /** Sends each client the messages its subscriptions match, in arrays of at most wsBatchSize. */
  private broadcast(messages: readonly unknown[], forcedEv?: string, forcedSym?: string): void {
    for (const [ws, state] of this.clients) {
      if (!state.authenticated || ws.readyState !== ws.OPEN) continue;
      const wanted = messages.filter((m) => {
        const ev = forcedEv ?? (m as { ev?: unknown }).ev;
        const sym = forcedSym ?? (m as { sym?: unknown }).sym;
        return state.subscriptions.has(`${String(ev)}.${String(sym)}`) || state.subscriptions.has(`${String(ev)}.*`);
      });
      for (let i = 0; i < wanted.length; i += this.wsBatchSize) {
        ws.send(stringify(wanted.slice(i, i + this.wsBatchSize)));
      }
    }
  }
}

// ---- helpers ----

function rawText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

function controlTimestamp(value: unknown): StandInTimestamp {
  if (typeof value === 'string' || typeof value === 'bigint' || typeof value === 'number') return value;
  if (isLosslessNumber(value)) return value.value;
  throw new Error('to must be a nanosecond timestamp');
}

function sendStatus(ws: WebSocket, statuses: readonly { status: string; message: string }[]): void {
  ws.send(JSON.stringify(statuses.map((s) => ({ ev: 'status', ...s }))));
}

function matchRoute(pathname: string): { route: StandInRoute; symbol: string | undefined } {
  const patterns: [RegExp, StandInRoute][] = [
    [/^\/v3\/trades\/([^/]+)$/, 'trades'],
    [/^\/v3\/quotes\/([^/]+)$/, 'quotes'],
    [/^\/v2\/last\/trade\/([^/]+)$/, 'last-trade'],
    [/^\/v2\/last\/nbbo\/([^/]+)$/, 'last-nbbo'],
    [/^\/v2\/aggs\/ticker\/([^/]+)\/range\/\d+\/[a-z]+\/[^/]+\/[^/]+$/, 'aggs'],
  ];
  if (pathname === '/v1/marketstatus/upcoming') return { route: 'market-upcoming', symbol: undefined };
  if (pathname === '/v1/marketstatus/now') return { route: 'market-now', symbol: undefined };
  for (const [pattern, route] of patterns) {
    const match = pattern.exec(pathname);
    if (match) return { route, symbol: decodeURIComponent(match[1]!) };
  }
  return { route: 'other', symbol: undefined };
}

function matches(wanted: StandInRoute | 'any' | undefined, route: StandInRoute): boolean {
  return wanted === undefined || wanted === 'any' || wanted === route;
}

function bearer(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
  return match?.[1];
}

function maskKey(url: URL): string {
  const copy = new URL(url.toString());
  if (copy.searchParams.has('apiKey')) copy.searchParams.set('apiKey', '***');
  return copy.pathname + copy.search;
}

function requestId(): string {
  return randomUUID().replaceAll('-', '');
}

/** Polygon's error bodies, by status. */
function errorBody(status: number): string {
  const id = requestId();
  switch (status) {
    case 401:
      return stringify({ status: 'ERROR', request_id: id, error: 'Unknown API Key' });
    case 403:
      return stringify({
        status: 'NOT_AUTHORIZED',
        request_id: id,
        message: 'You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing',
      });
    case 404:
      return stringify({ status: 'NOT_FOUND', request_id: id, message: 'Data not found.' });
    case 429:
      return stringify({
        status: 'ERROR',
        request_id: id,
        error:
          "You've exceeded the maximum requests per minute, please wait or upgrade your subscription to continue. https://polygon.io/pricing",
      });
    default:
      return stringify({ status: 'ERROR', request_id: id, error: http.STATUS_CODES[status] ?? 'error' });
  }
}

function stringify(value: unknown): string {
  return stringifyLossless(value) ?? 'null';
}

function compact(record: Record<string, unknown>): StandInRecord {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

/** Integer nanoseconds from bigint, digit strings, lossless numbers or safe JS integers; undefined otherwise. */
function toNs(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : undefined;
  const text = typeof value === 'string' ? value : isLosslessNumber(value) ? value.value : undefined;
  return text !== undefined && /^-?\d+$/.test(text) ? BigInt(text) : undefined;
}

/** Timestamp fields become bigint (written as unquoted digits); a record whose sip_timestamp is unusable is kept verbatim. */
function normalizeRecord(raw: unknown): { record: StandInRecord; ts: bigint | undefined } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { record: raw as StandInRecord, ts: undefined };
  }
  const record: StandInRecord = { ...(raw as StandInRecord) };
  for (const field of TIMESTAMP_FIELDS) {
    const ns = toNs(record[field]);
    if (ns !== undefined) record[field] = ns;
  }
  const ts = record.sip_timestamp;
  return { record, ts: typeof ts === 'bigint' ? ts : undefined };
}

function toMs(value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value / NS_PER_MS) : value;
}

function toWsTrade(event: PendingEvent): unknown {
  const r = event.record ?? {};
  return compact({
    ev: 'T',
    sym: event.symbol,
    x: r.exchange,
    i: r.id,
    z: r.tape,
    p: r.price,
    s: r.size,
    c: r.conditions,
    t: toMs(r.sip_timestamp),
    q: r.sequence_number,
    trfi: r.trf_id,
    trft: toMs(r.trf_timestamp),
  });
}

function toWsQuote(event: PendingEvent): unknown {
  const r = event.record ?? {};
  const conditions = Array.isArray(r.conditions) ? (r.conditions as unknown[]) : undefined;
  return compact({
    ev: 'Q',
    sym: event.symbol,
    bx: r.bid_exchange,
    bp: r.bid_price,
    bs: r.bid_size,
    ax: r.ask_exchange,
    ap: r.ask_price,
    as: r.ask_size,
    c: conditions?.[0],
    i: r.indicators,
    t: toMs(r.sip_timestamp),
    q: r.sequence_number,
    z: r.tape,
  });
}

function comparePending(a: PendingEvent, b: PendingEvent): number {
  if (a.releaseAt !== b.releaseAt) return a.releaseAt < b.releaseAt ? -1 : 1;
  return a.seq - b.seq;
}

function mergePending(current: readonly PendingEvent[], added: readonly PendingEvent[]): PendingEvent[] {
  // Quotes of a load get lower seq than its trades, so at equal release time the NBBO goes out first.
  return [...current, ...added].sort(comparePending);
}

function compareStored(a: StoredEvent, b: StoredEvent): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  return a.seq - b.seq;
}

function insertSorted(list: StoredEvent[], event: StoredEvent): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareStored(list[mid]!, event) <= 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, event);
}

function isAfter(event: StoredEvent, key: { ts: bigint; seq: number }, order: 'asc' | 'desc'): boolean {
  const cmp = compareStored(event, { ts: key.ts, seq: key.seq, record: {} });
  return order === 'asc' ? cmp > 0 : cmp < 0;
}

function inRange(ts: bigint, f: RangeFilter): boolean {
  return (
    (f.gte === undefined || ts >= f.gte) &&
    (f.gt === undefined || ts > f.gt) &&
    (f.lte === undefined || ts <= f.lte) &&
    (f.lt === undefined || ts < f.lt)
  );
}

/** A nanosecond integer, or YYYY-MM-DD meaning that UTC day (the stand-in's simplification of Polygon's date form). */
function parseTimestampParam(name: string, value: string): { from: bigint; to: bigint } {
  if (/^\d+$/.test(value)) return { from: BigInt(value), to: BigInt(value) };
  const date = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (date) {
    const ms = Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]));
    if (!Number.isNaN(ms)) {
      const from = BigInt(ms) * NS_PER_MS;
      return { from, to: from + NS_PER_DAY - 1n };
    }
  }
  throw new BadRequest(`${name} must be a nanosecond timestamp or a YYYY-MM-DD date`);
}

function parsePageQuery(params: URLSearchParams, kind: StandInKind, symbol: string): PageQuery {
  const filter: { gte?: bigint; gt?: bigint; lte?: bigint; lt?: bigint } = {};
  const exact = params.get('timestamp');
  if (exact !== null) {
    const { from, to } = parseTimestampParam('timestamp', exact);
    filter.gte = from;
    filter.lte = to;
  }
  const gte = params.get('timestamp.gte');
  if (gte !== null) filter.gte = maxOf(filter.gte, parseTimestampParam('timestamp.gte', gte).from);
  const gt = params.get('timestamp.gt');
  if (gt !== null) filter.gt = parseTimestampParam('timestamp.gt', gt).to;
  const lte = params.get('timestamp.lte');
  if (lte !== null) filter.lte = minOf(filter.lte, parseTimestampParam('timestamp.lte', lte).to);
  const lt = params.get('timestamp.lt');
  if (lt !== null) filter.lt = parseTimestampParam('timestamp.lt', lt).from;

  const order = params.get('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw new BadRequest("order must be 'asc' or 'desc'");
  const sort = params.get('sort') ?? 'timestamp';
  if (sort !== 'timestamp') throw new BadRequest("sort must be 'timestamp'");
  const limitText = params.get('limit');
  const limit = limitText === null ? DEFAULT_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new BadRequest(`limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  return { symbol, kind, filter, order, limit };
}

function maxOf(a: bigint | undefined, b: bigint): bigint {
  return a === undefined || b > a ? b : a;
}

function minOf(a: bigint | undefined, b: bigint): bigint {
  return a === undefined || b < a ? b : a;
}

function encodeCursor(query: PageQuery): string {
  const f = query.filter;
  const plain = {
    s: query.symbol,
    k: query.kind,
    o: query.order,
    l: query.limit,
    f: [f.gte, f.gt, f.lte, f.lt].map((v) => (v === undefined ? null : v.toString())),
    a: query.after ? [query.after.ts.toString(), query.after.seq] : null,
  };
  return Buffer.from(JSON.stringify(plain)).toString('base64url');
}

function decodeCursor(cursor: string): PageQuery {
  try {
    const plain = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      s: string;
      k: StandInKind;
      o: 'asc' | 'desc';
      l: number;
      f: (string | null)[];
      a: [string, number] | null;
    };
    const big = (v: string | null | undefined) => (v === null || v === undefined ? undefined : BigInt(v));
    const [gte, gt, lte, lt] = plain.f;
    return {
      symbol: plain.s,
      kind: plain.k,
      order: plain.o,
      limit: plain.l,
      filter: compact({ gte: big(gte), gt: big(gt), lte: big(lte), lt: big(lt) }),
      ...(plain.a ? { after: { ts: BigInt(plain.a[0]), seq: plain.a[1] } } : {}),
    };
  } catch {
    throw new BadRequest('invalid cursor');
  }
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// ---- scenario files ----

/** Parses a v3 response object (`{"results":[…]}`), a bare array, or JSON Lines (one record or response per line). */
export function parseScenarioRecords(text: string, source = 'scenario'): StandInRecord[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const expand = (value: unknown, where: string): StandInRecord[] => {
    if (Array.isArray(value)) return value as StandInRecord[];
    if (value !== null && typeof value === 'object') {
      const results = (value as { results?: unknown }).results;
      if (Array.isArray(results)) return results as StandInRecord[];
      if ('results' in value) throw new Error(`${where}: results must be an array`);
      return [value as StandInRecord];
    }
    throw new Error(`${where}: expected a JSON object or array`);
  };
  try {
    return expand(parseLossless(trimmed), source);
  } catch (wholeFileError) {
    // Not one JSON document: read it as JSON Lines.
    const lines = trimmed.split(/\r?\n/);
    if (lines.length < 2) throw wholeFileError;
    return lines.flatMap((line, i) => {
      if (line.trim() === '') return [];
      try {
        return expand(parseLossless(line), `${source}:${i + 1}`);
      } catch (err) {
        throw new Error(`${source}:${i + 1}: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
  }
}

/** Reads trades/quotes from `trades.json|jsonl` and `quotes.json|jsonl` in a scenario directory. */
export function readScenarioDir(dir: string): Required<StandInScenario> {
  const read = (name: StandInKind): StandInRecord[] => {
    for (const ext of ['json', 'jsonl', 'ndjson']) {
      const file = path.join(dir, `${name}.${ext}`);
      if (existsSync(file)) return parseScenarioRecords(readFileSync(file, 'utf8'), file);
    }
    return [];
  };
  const scenario = { trades: read('trades'), quotes: read('quotes') };
  if (scenario.trades.length === 0 && scenario.quotes.length === 0) {
    throw new Error(`${dir}: no trades.json or quotes.json with records`);
  }
  return scenario;
}

// ---- command line ----

function parseArgs(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (inline !== undefined) out[name] = inline;
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) out[name] = argv[++i]!;
    else out[name] = 'true';
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(
      'usage: tsx test/support/polygon-stand-in.ts [--scenario DIR] [--symbol TSLA] [--port 0] [--host 127.0.0.1]\n' +
        '         [--key stand-in-key] [--speed N (replay at N x real time) | --manual]\n',
    );
    return;
  }
  const port = Number(args.port ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be an integer 0-65535');
  const speed = args.speed === undefined ? undefined : Number(args.speed);
  if (speed !== undefined && !(speed > 0)) throw new Error('--speed must be a positive number');
  const clock: StandInClock =
    speed !== undefined ? { mode: 'replay', speed } : args.manual ? { mode: 'manual' } : { mode: 'all' };
  const standIn = await startPolygonStandIn({
    port,
    clock,
    ...(args.host ? { host: args.host } : {}),
    ...(args.key ? { apiKey: args.key } : {}),
  });
  const symbol = args.symbol ?? 'TSLA';
  if (args.scenario) standIn.loadScenarioDir(symbol, path.resolve(args.scenario));
  process.stdout.write(
    [
      `polygon stand-in listening (clock: ${clock.mode}${speed ? ` x${speed}` : ''}, symbol ${symbol})`,
      `  REST       ${standIn.restUrl}/v3/trades/${symbol}?order=asc&apiKey=${standIn.apiKey}`,
      `  WebSocket  ${standIn.wsUrl}/stocks`,
      `  control    POST ${standIn.restUrl}/_control/{publish,advance,release-all,drop,fail}, GET /_control/requests`,
      `  export POLYGON_BASE_URL=${standIn.restUrl} POLYGON_WS_URL=${standIn.wsUrl} POLYGON_API_KEY=${standIn.apiKey}`,
      '',
    ].join('\n'),
  );
  const stop = () => void standIn.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`polygon stand-in: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
