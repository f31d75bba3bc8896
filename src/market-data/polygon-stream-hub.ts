/**
 * One Polygon stocks WebSocket per worker, shared by every stream-mode monitor on it.
 *
 * Polygon allows one concurrent connection per asset class and key unless the plan says otherwise (a second one
 * gets `max_connections` and is closed), and each socket costs memory and a TCP session: so monitors do not
 * open their own. The hub opens the connection on the first subscription, adds and removes `T.`/`Q.` channels
 * as monitors come and go (reference-counted per symbol), hands each feed only its symbol's messages, tells
 * every feed about a reconnect (each backfills its own gap over REST) and closes the socket once nobody has
 * listened for `idleCloseMs`.
 */
import { type PolygonError, PolygonUnavailable } from './polygon-errors';
import {
  openPolygonStream,
  type PolygonBackoff,
  type PolygonReconnectInfo,
  type PolygonStream,
  type PolygonStreamStats,
} from './polygon-stream';
import { type PolygonSdk } from './polygon-sdk';

export interface SymbolFeed {
  /** This symbol's T/Q messages, raw, in arrival order. Must not throw. */
  onMessages(messages: readonly unknown[]): void;
  /** The shared socket came back after an outage: backfill from before `disconnectedAtMs` over REST. */
  onReconnect?(info: PolygonReconnectInfo): void;
  /** The shared socket gave up (key refused, reconnects exhausted); this feed receives nothing more. */
  onFatal?(error: PolygonError): void;
}

export interface FeedSubscription {
  readonly symbol: string;
  /** Leaves the feed; the symbol is unsubscribed when its last feed leaves. Idempotent. */
  close(): void;
}

export interface PolygonStreamHubStats {
  readonly connected: boolean;
  readonly symbols: number;
  readonly feeds: number;
  /** Connections opened over the hub's life (a reconnect of an open one does not count). */
  readonly opened: number;
  /** Sessions dropped over the hub's life because the link went silent (see PolygonStreamOptions.livenessTimeoutMs). */
  readonly livenessDrops: number;
  readonly stream: PolygonStreamStats | null;
}

export interface PolygonStreamHub {
  /** Resolves once Polygon confirmed the symbol's channels; rejects PolygonUnauthorized / PolygonUnavailable. */
  subscribe(symbol: string, feed: SymbolFeed): Promise<FeedSubscription>;
  stats(): PolygonStreamHubStats;
  close(): Promise<void>;
}

export interface PolygonStreamHubOptions {
  /** Read when a connection opens, so a key fixed in the environment is picked up by the next one. */
  readonly config: () => { readonly apiKey: string; readonly wsBaseUrl?: string };
  /** Default 5000 ms: long enough to ride out a monitor's continue-as-new without reconnecting. */
  readonly idleCloseMs?: number;
  readonly backoff?: PolygonBackoff;
  readonly connectTimeoutMs?: number;
  /** Silence after which a session is dropped and reconnected; default 10000 ms (marketData.streamLivenessSeconds). */
  readonly livenessTimeoutMs?: number;
  readonly sdk?: PolygonSdk;
}

export function createPolygonStreamHub(options: PolygonStreamHubOptions): PolygonStreamHub {
  return new Hub(options);
}

class Hub implements PolygonStreamHub {
  private readonly feeds = new Map<string, Set<SymbolFeed>>();
  private stream: PolygonStream | null = null;
  private opening: Promise<PolygonStream> | null = null;
  private idleTimer: NodeJS.Timeout | undefined;
  private opened = 0;
  private livenessDrops = 0;
  private closed = false;

  constructor(private readonly options: PolygonStreamHubOptions) {}

  async subscribe(symbol: string, feed: SymbolFeed): Promise<FeedSubscription> {
    if (this.closed) throw new PolygonUnavailable('the Polygon stream hub is closed');
    this.cancelIdleClose();
    let set = this.feeds.get(symbol);
    if (!set) this.feeds.set(symbol, (set = new Set()));
    set.add(feed);
    let left = false;
    const subscription: FeedSubscription = {
      symbol,
      close: () => {
        if (left) return;
        left = true;
        this.leave(symbol, feed);
      },
    };
    try {
      const stream = await this.connection();
      await stream.subscribe([symbol]);
    } catch (err) {
      subscription.close();
      throw err;
    }
    return subscription;
  }

  stats(): PolygonStreamHubStats {
    let feeds = 0;
    for (const set of this.feeds.values()) feeds += set.size;
    return {
      connected: this.stream?.state === 'open',
      symbols: this.feeds.size,
      feeds,
      opened: this.opened,
      livenessDrops: this.livenessDrops,
      stream: this.stream?.stats() ?? null,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelIdleClose();
    this.feeds.clear();
    await this.dropStream();
  }

  /** The open connection, opening it (with every symbol wanted so far) when there is none. */
  private connection(): Promise<PolygonStream> {
    if (this.stream && this.stream.state !== 'failed' && this.stream.state !== 'closed') {
      return Promise.resolve(this.stream);
    }
    if (this.opening) return this.opening;
    const { apiKey, wsBaseUrl } = this.options.config();
    const opening = openPolygonStream({
      apiKey,
      ...(wsBaseUrl ? { wsBaseUrl } : {}),
      symbols: [],
      onMessages: (messages) => this.dispatch(messages),
      onReconnect: (info) => this.forEachFeed((feed) => feed.onReconnect?.(info)),
      onFatal: (error) => {
        const fatal = this.stream;
        this.stream = null;
        this.forEachFeed((feed) => feed.onFatal?.(error));
        void fatal?.close();
      },
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
      ...(this.options.connectTimeoutMs ? { connectTimeoutMs: this.options.connectTimeoutMs } : {}),
      ...(this.options.livenessTimeoutMs !== undefined ? { livenessTimeoutMs: this.options.livenessTimeoutMs } : {}),
      onLivenessDrop: () => {
        this.livenessDrops += 1;
      },
      ...(this.options.sdk ? { sdk: this.options.sdk } : {}),
    });
    this.opening = opening;
    return opening.then(
      (stream) => {
        this.opening = null;
        this.opened += 1;
        if (this.closed) {
          void stream.close();
          throw new PolygonUnavailable('the Polygon stream hub is closed');
        }
        this.stream = stream;
        return stream;
      },
      (err: unknown) => {
        this.opening = null;
        throw err;
      },
    );
  }

  private dispatch(messages: readonly unknown[]): void {
    const bySymbol = new Map<string, unknown[]>();
    for (const m of messages) {
      const sym = m !== null && typeof m === 'object' ? (m as { sym?: unknown }).sym : undefined;
      if (typeof sym !== 'string') continue;
      const batch = bySymbol.get(sym);
      if (batch) batch.push(m);
      else bySymbol.set(sym, [m]);
    }
    for (const [sym, batch] of bySymbol) this.deliver(sym, batch);
  }

  private deliver(symbol: string, messages: readonly unknown[]): void {
    const set = this.feeds.get(symbol);
    if (!set) return;
    for (const feed of set) {
      try {
        feed.onMessages(messages);
      } catch {
        // one feed's bug must not starve the others
      }
    }
  }

  private forEachFeed(fn: (feed: SymbolFeed) => void): void {
    for (const set of this.feeds.values()) {
      for (const feed of set) {
        try {
          fn(feed);
        } catch {
          // as above
        }
      }
    }
  }

  private leave(symbol: string, feed: SymbolFeed): void {
    const set = this.feeds.get(symbol);
    if (!set?.delete(feed) || set.size > 0) return;
    this.feeds.delete(symbol);
    this.stream?.unsubscribe([symbol]);
    if (this.feeds.size === 0) this.scheduleIdleClose();
  }

  private scheduleIdleClose(): void {
    this.cancelIdleClose();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.feeds.size === 0) void this.dropStream();
    }, this.options.idleCloseMs ?? 5000);
    this.idleTimer.unref();
  }

  private cancelIdleClose(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private async dropStream(): Promise<void> {
    const stream = this.stream;
    this.stream = null;
    await stream?.close();
  }
}
