/**
 * Polygon stocks WebSocket on @polygon.io/client-js (`websocketClient(key, base).stocks()`, a W3C-style socket
 * from the `websocket` package that sends the auth message itself on open). The library does not reconnect;
 * this adapter does, with exponential backoff, and reports every reconnect with the last market time seen per
 * symbol so the caller can backfill the gap over REST.
 *
 * Messages are handed over raw (T/Q objects with `t` in ms, as on the wire); the domain validates them.
 */
import { type PolygonError, PolygonUnauthorized, PolygonUnavailable } from './polygon-errors';
import { parsePolygonJson } from './decode';
import { loadPolygonSdk, type PolygonSdk } from './polygon-sdk';
import { errorMessage } from '../shared/error-message';

export type PolygonChannel = 'T' | 'Q';

/** One element of a WebSocket array other than a status message: T, Q, or whatever else arrived. */
export type PolygonStreamMessage = unknown;

export interface PolygonReconnectInfo {
  /** Attempts this outage took (1 = first try succeeded). */
  readonly attempts: number;
  /** Reconnects since open. */
  readonly reconnects: number;
  /** Largest `t` (ms) received per symbol before the drop; absent for a symbol with no message yet. */
  readonly lastSeenMs: Readonly<Record<string, number>>;
  readonly disconnectedAtMs: number;
  readonly reconnectedAtMs: number;
}

export interface PolygonDisconnectInfo {
  readonly code: number | undefined;
  readonly reason: string;
  readonly atMs: number;
}

export interface PolygonBackoff {
  /** Default 250 ms. */
  readonly initialMs?: number;
  /** Default 30000 ms. */
  readonly maxMs?: number;
  /** Default 2. */
  readonly factor?: number;
  /** Fraction of each delay randomised away (0–1); default 0.2, so many workers do not reconnect in step. */
  readonly jitter?: number;
}

export interface PolygonStreamOptions {
  readonly apiKey: string;
  /** Default wss://socket.polygon.io; the client appends /stocks. */
  readonly wsBaseUrl?: string;
  /** Subscribed on open; more can be added and removed later (`subscribe`, `unsubscribe`). May be empty. */
  readonly symbols: readonly string[];
  /** Default ['T', 'Q']. */
  readonly channels?: readonly PolygonChannel[];
  /** Each WebSocket array's non-status elements, in order. Must not throw (errors are counted and dropped). */
  readonly onMessages: (messages: readonly PolygonStreamMessage[]) => void;
  readonly onDisconnect?: (info: PolygonDisconnectInfo) => void;
  /** After a re-subscribed session: backfill from `lastSeenMs` over REST. */
  readonly onReconnect?: (info: PolygonReconnectInfo) => void;
  /** The stream gave up: PolygonUnauthorized (auth failed) or PolygonUnavailable (reconnect attempts exhausted). */
  readonly onFatal?: (error: PolygonError) => void;
  readonly backoff?: PolygonBackoff;
  /** From socket creation to subscribed; default 10000 ms. */
  readonly connectTimeoutMs?: number;
  /** Per outage; default unlimited. */
  readonly maxReconnectAttempts?: number;
  /**
   * A link that stops delivering without a close frame (half-open TCP) looks open forever. While a session is
   * up the client sends a protocol ping every quarter of this and drops the session, as if it had closed, once
   * nothing at all (a message or a pong) has arrived for this long; it then reconnects with backoff and reports
   * the reconnect so the gap is filled over REST. Pongs answer whatever the market does, so a quiet symbol is
   * not a dead link. Detected within 1.25 × this. Default 10000 ms; 0 turns the check off.
   */
  readonly livenessTimeoutMs?: number;
  /** A session dropped by the liveness check. */
  readonly onLivenessDrop?: (info: { readonly silentMs: number }) => void;
  readonly sdk?: PolygonSdk;
}

export interface PolygonStreamStats {
  readonly connects: number;
  readonly reconnects: number;
  readonly batches: number;
  readonly messages: number;
  readonly unparseableFrames: number;
  readonly callbackErrors: number;
  /** Sessions dropped because nothing arrived within livenessTimeoutMs. */
  readonly livenessDrops: number;
  readonly lastSeenMs: Readonly<Record<string, number>>;
}

export interface PolygonStream {
  readonly state: 'connecting' | 'open' | 'reconnecting' | 'closed' | 'failed';
  stats(): PolygonStreamStats;
  /**
   * Adds symbols to this connection; resolves once Polygon confirms every new channel (`subscribed to: T.X`),
   * on this session or, during an outage, on the reconnected one. Rejects PolygonUnavailable after the connect
   * timeout. Symbols already subscribed resolve at once.
   */
  subscribe(symbols: readonly string[]): Promise<void>;
  /** Drops symbols from this connection (their messages stop being delivered at once). */
  unsubscribe(symbols: readonly string[]): void;
  close(): Promise<void>;
}

/**
 * The part of the `websocket` package's W3CWebSocket this adapter uses. Declared here because the package
 * ships no types (the client's declaration of it does not resolve).
 */
interface Socket {
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code?: number; reason?: string }) => void) | null;
  onerror: (() => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

interface Session {
  readonly socket: Socket;
  ready: boolean;
  authFailed: boolean;
  timer: NodeJS.Timeout | undefined;
  /** Last time anything (a frame or a pong) arrived. */
  lastInboundMs: number;
  liveness: NodeJS.Timeout | undefined;
  /** The close was handled (by the socket's close event or by the liveness check, whichever came first). */
  ended: boolean;
}

/**
 * The `websocket` package's connection under the W3C wrapper: the only way to send a protocol ping and see its
 * pong (the W3C API has neither). Absent on other socket implementations: then only messages count as life.
 */
interface RawConnection {
  ping?(data: Buffer): void;
  on?(event: 'pong', listener: () => void): void;
  socket?: { destroy?(): void };
}

/** Connects, authenticates and subscribes; resolves once subscribed. Rejects PolygonUnauthorized / PolygonUnavailable. */
export async function openPolygonStream(options: PolygonStreamOptions): Promise<PolygonStream> {
  if (!options.apiKey) throw new PolygonUnauthorized('no Polygon API key configured');
  const sdk = options.sdk ?? (await loadPolygonSdk());
  const stream = new Stream(sdk, options);
  await stream.start();
  return stream;
}

class Stream implements PolygonStream {
  state: PolygonStream['state'] = 'connecting';
  private session: Session | undefined;
  private readonly lastSeen: Record<string, number> = {};
  private readonly counters = {
    connects: 0,
    reconnects: 0,
    batches: 0,
    messages: 0,
    unparseableFrames: 0,
    callbackErrors: 0,
    livenessDrops: 0,
  };
  private retryTimer: NodeJS.Timeout | undefined;
  private outage: { since: number; attempts: number } | undefined;
  private closedWaiters: (() => void)[] = [];
  private readonly subscribed: Set<string>;
  /** Channel (`T.X`) → callers waiting for Polygon to confirm it. */
  private readonly confirmWaiters = new Map<string, (() => void)[]>();

  constructor(
    private readonly sdk: PolygonSdk,
    private readonly options: PolygonStreamOptions,
  ) {
    this.subscribed = new Set(options.symbols);
  }

  subscribe(symbols: readonly string[]): Promise<void> {
    if (this.state === 'closed' || this.state === 'failed') {
      return Promise.reject(new PolygonUnavailable(`Polygon stream is ${this.state}`));
    }
    const fresh = [...new Set(symbols)].filter((s) => !this.subscribed.has(s));
    if (fresh.length === 0) return Promise.resolve();
    fresh.forEach((s) => this.subscribed.add(s));
    const channels = this.channelsOf(fresh);
    const confirmed = Promise.all(
      channels.map(
        (channel) =>
          new Promise<void>((resolve) => {
            const list = this.confirmWaiters.get(channel) ?? [];
            list.push(resolve);
            this.confirmWaiters.set(channel, list);
          }),
      ),
    );
    // On a session that is not ready yet (connecting, reconnecting) the subscribe after auth carries them.
    if (this.session?.ready) this.send(this.session, 'subscribe', channels);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        for (const channel of channels) this.confirmWaiters.delete(channel);
        reject(
          new PolygonUnavailable(`Polygon did not confirm ${channels.join(',')} within ${this.connectTimeout()} ms`),
        );
      }, this.connectTimeout());
      timer.unref();
    });
    return Promise.race([confirmed.then(() => undefined), timeout]).finally(() => clearTimeout(timer));
  }

  unsubscribe(symbols: readonly string[]): void {
    const gone = [...new Set(symbols)].filter((s) => this.subscribed.delete(s));
    if (gone.length === 0) return;
    const channels = this.channelsOf(gone);
    for (const channel of channels) this.confirmWaiters.delete(channel);
    if (this.session?.ready) this.send(this.session, 'unsubscribe', channels);
  }

  private send(session: Session, action: 'subscribe' | 'unsubscribe', channels: readonly string[]): void {
    if (channels.length === 0) return;
    try {
      session.socket.send(JSON.stringify({ action, params: channels.join(',') }));
    } catch {
      // the close event handles a socket that went away; the reconnect subscribes the current set
    }
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.connect({
        onReady: () => resolve(),
        onFail: (error) => {
          this.state = 'failed';
          reject(error);
        },
      });
    });
  }

  stats(): PolygonStreamStats {
    return { ...this.counters, lastSeenMs: { ...this.lastSeen } };
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const session = this.session;
    if (!session) return;
    if (session.timer) clearTimeout(session.timer);
    if (session.liveness) clearInterval(session.liveness);
    const closed = new Promise<void>((resolve) => this.closedWaiters.push(resolve));
    try {
      session.socket.close(1000, 'client closing');
    } catch {
      // already closed
    }
    // The close handshake normally takes a round trip; do not hang forever on a dead peer.
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000).unref())]);
    this.session = undefined;
  }

  /**
   * One session: socket → `connected` status (the client has already sent auth on open) → `auth_success` →
   * subscribe → first `subscribed to` status (or first data) = ready. `handlers` decide what failure means:
   * rejecting the initial open, or another reconnect attempt.
   */
  private connect(handlers: { onReady: () => void; onFail: (error: PolygonError) => void }): void {
    let socket: Socket;
    try {
      const client: { stocks(): unknown } = this.sdk.websocketClient(this.options.apiKey, this.options.wsBaseUrl);
      socket = client.stocks() as Socket;
    } catch (err) {
      handlers.onFail(new PolygonUnavailable(`cannot open Polygon stream: ${errorMessage(err)}`));
      return;
    }
    this.counters.connects += 1;
    const session: Session = {
      socket,
      ready: false,
      authFailed: false,
      timer: undefined,
      lastInboundMs: Date.now(),
      liveness: undefined,
      ended: false,
    };
    this.session = session;
    let settled = false;
    const fail = (error: PolygonError) => {
      if (settled) return;
      settled = true;
      if (session.timer) clearTimeout(session.timer);
      handlers.onFail(error);
    };

    session.timer = setTimeout(() => {
      fail(new PolygonUnavailable(`Polygon stream not subscribed within ${this.connectTimeout()} ms`));
      safeClose(socket);
    }, this.connectTimeout());

    const markReady = () => {
      if (session.ready) return;
      session.ready = true;
      if (session.timer) clearTimeout(session.timer);
      settled = true;
      this.state = 'open';
      this.watchLiveness(session, onClosed);
      handlers.onReady();
    };

    socket.onmessage = (event: { data: unknown }) => {
      if (this.session !== session) return;
      session.lastInboundMs = Date.now();
      let parsed: unknown;
      try {
        parsed = parsePolygonJson(
          typeof event.data === 'string' ? event.data : Buffer.from(event.data as ArrayBuffer).toString('utf8'),
        );
      } catch {
        this.counters.unparseableFrames += 1;
        return;
      }
      const elements = Array.isArray(parsed) ? parsed : [parsed];
      const data: unknown[] = [];
      for (const element of elements) {
        if (isStatus(element)) this.onStatus(session, element, markReady, fail);
        else data.push(element);
      }
      if (data.length > 0) {
        markReady();
        this.deliver(data);
      }
    };

    const onClosed = (event: { code?: number; reason?: string }) => {
      if (session.ended) return;
      session.ended = true;
      if (session.timer) clearTimeout(session.timer);
      if (session.liveness) clearInterval(session.liveness);
      if (this.session === session) this.session = undefined;
      const info = { code: event.code, reason: event.reason ?? '', atMs: Date.now() };
      if (this.state === 'closed') {
        this.closedWaiters.splice(0).forEach((resolve) => resolve());
        return;
      }
      if (session.authFailed) return; // already reported as fatal
      if (!session.ready) {
        fail(
          new PolygonUnavailable(
            `Polygon stream closed before subscribing (code ${event.code ?? 'none'}) ${info.reason}`.trim(),
          ),
        );
        return;
      }
      this.state = 'reconnecting';
      this.outage = { since: info.atMs, attempts: 0 };
      safeCall(() => this.options.onDisconnect?.(info));
      this.scheduleReconnect();
    };
    socket.onclose = onClosed;

    // Errors are always followed by a close event, which does the work.
    socket.onerror = () => undefined;
  }

  /** Pings the peer and drops a session that has gone silent (see livenessTimeoutMs). */
  private watchLiveness(session: Session, onClosed: (event: { code?: number; reason?: string }) => void): void {
    const timeoutMs = this.options.livenessTimeoutMs ?? 10_000;
    if (!(timeoutMs > 0)) return;
    const raw = (session.socket as unknown as { _connection?: RawConnection })._connection;
    raw?.on?.('pong', () => {
      session.lastInboundMs = Date.now();
    });
    session.lastInboundMs = Date.now();
    session.liveness = setInterval(
      () => {
        if (session.ended || this.state === 'closed') {
          clearInterval(session.liveness);
          return;
        }
        const silentMs = Date.now() - session.lastInboundMs;
        if (silentMs < timeoutMs) {
          try {
            raw?.ping?.(Buffer.alloc(0));
          } catch {
            // a socket that cannot send is caught by the silence that follows
          }
          return;
        }
        this.counters.livenessDrops += 1;
        safeCall(() => this.options.onLivenessDrop?.({ silentMs }));
        // Handled as a close now: a close handshake would wait on the same dead link.
        onClosed({ code: 4000, reason: `no message or pong for ${silentMs} ms (liveness timeout ${timeoutMs} ms)` });
        try {
          raw?.socket?.destroy?.();
        } catch {
          // already gone
        }
        safeClose(session.socket);
      },
      Math.max(50, Math.floor(timeoutMs / 4)),
    );
    session.liveness.unref();
  }

  private onStatus(
    session: Session,
    status: { status?: unknown; message?: unknown },
    markReady: () => void,
    fail: (error: PolygonError) => void,
  ): void {
    switch (status.status) {
      case 'auth_success':
        if (this.subscribed.size === 0) markReady();
        else this.send(session, 'subscribe', this.channelsOf([...this.subscribed]));
        return;
      case 'auth_failed': {
        session.authFailed = true;
        const error = new PolygonUnauthorized(
          `Polygon stream authentication failed: ${typeof status.message === 'string' ? status.message : 'auth_failed'}`,
        );
        safeClose(session.socket);
        if (session.ready) this.giveUp(error);
        else fail(error);
        return;
      }
      case 'success': {
        const message = typeof status.message === 'string' ? status.message : '';
        if (!message.startsWith('subscribed to')) return;
        markReady();
        // Polygon confirms each channel: "subscribed to: T.TSLA".
        const channel = message.slice(message.indexOf(':') + 1).trim();
        const waiters = this.confirmWaiters.get(channel);
        if (waiters) {
          this.confirmWaiters.delete(channel);
          waiters.forEach((resolve) => resolve());
        }
        return;
      }
      case 'max_connections': {
        // Polygon closes the socket next; say why, or the caller only sees "closed before subscribing".
        const error = new PolygonUnavailable(
          `Polygon refused the stream: the key's connection limit is reached (max_connections); another process is streaming with it`,
        );
        safeClose(session.socket);
        if (session.ready) this.giveUp(error);
        else fail(error);
        return;
      }
      default:
        return; // connected, error: the close (or timeout) that follows decides
    }
  }

  private deliver(data: unknown[]): void {
    this.counters.batches += 1;
    this.counters.messages += data.length;
    for (const message of data) {
      if (message === null || typeof message !== 'object') continue;
      const { ev, sym, t } = message as { ev?: unknown; sym?: unknown; t?: unknown };
      if ((ev === 'T' || ev === 'Q') && typeof sym === 'string' && typeof t === 'number' && Number.isFinite(t)) {
        if (!(t <= (this.lastSeen[sym] ?? Number.NEGATIVE_INFINITY))) this.lastSeen[sym] = t;
      }
    }
    try {
      this.options.onMessages(data);
    } catch {
      this.counters.callbackErrors += 1;
    }
  }

  private scheduleReconnect(): void {
    const outage = this.outage;
    if (!outage || this.state !== 'reconnecting') return;
    const max = this.options.maxReconnectAttempts ?? Number.POSITIVE_INFINITY;
    if (outage.attempts >= max) {
      this.giveUp(new PolygonUnavailable(`Polygon stream did not reconnect after ${outage.attempts} attempts`));
      return;
    }
    const delay = this.backoffDelay(outage.attempts);
    outage.attempts += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state !== 'reconnecting') return;
      const lastSeenMs = { ...this.lastSeen };
      this.connect({
        onReady: () => {
          this.counters.reconnects += 1;
          this.outage = undefined;
          const info: PolygonReconnectInfo = {
            attempts: outage.attempts,
            reconnects: this.counters.reconnects,
            lastSeenMs,
            disconnectedAtMs: outage.since,
            reconnectedAtMs: Date.now(),
          };
          safeCall(() => this.options.onReconnect?.(info));
        },
        onFail: (error) => {
          if (error instanceof PolygonUnauthorized) this.giveUp(error);
          else this.scheduleReconnect();
        },
      });
    }, delay);
  }

  private giveUp(error: PolygonError): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    this.state = 'failed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    safeCall(() => this.options.onFatal?.(error));
  }

  private backoffDelay(attempt: number): number {
    const b = this.options.backoff ?? {};
    const initial = b.initialMs ?? 250;
    const capped = Math.min(b.maxMs ?? 30_000, initial * (b.factor ?? 2) ** attempt);
    const jitter = Math.min(1, Math.max(0, b.jitter ?? 0.2));
    return Math.round(capped * (1 - jitter * Math.random()));
  }

  private connectTimeout(): number {
    return this.options.connectTimeoutMs ?? 10_000;
  }

  private channelsOf(symbols: readonly string[]): string[] {
    const channels = this.options.channels ?? ['T', 'Q'];
    return symbols.flatMap((symbol) => channels.map((c) => `${c}.${symbol}`));
  }
}

function isStatus(element: unknown): element is { ev: 'status'; status?: unknown; message?: unknown } {
  return element !== null && typeof element === 'object' && (element as { ev?: unknown }).ev === 'status';
}

function safeClose(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // already closing
  }
}

function safeCall(fn: () => void): void {
  try {
    fn();
  } catch {
    // a caller's callback must not break the reconnect loop
  }
}
