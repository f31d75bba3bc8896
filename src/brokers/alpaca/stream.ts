/**
 * Alpaca `trade_updates` over WebSocket: authenticate, listen, deliver order events as neutral snapshots.
 * Alpaca does not replay events missed while disconnected, so after every reconnect `onReconnect` runs and
 * the caller must reconcile open orders by REST (getOrder / listOpenOrders).
 *
 * A link that stops delivering without a close frame (half-open TCP) would look open forever, so while listening
 * the client sends a protocol ping every quarter of `livenessTimeoutMs` and terminates the connection once nothing
 * at all (a frame or a pong) has arrived for that long. It then reconnects with backoff and `onReconnect` runs, as
 * after a clean disconnect. Detected within 1.25 × the bound; a quiet account is not a dead link (pongs answer).
 */
import WebSocket from 'ws';
import { type BrokerExecution, type BrokerOrderSnapshot, BrokerName } from '../broker';
import { BrokerBadResponse, BrokerUnauthorized, BrokerUnavailable, type BrokerError } from '../errors';
import { type AlpacaConfig, alpacaStreamUrl } from './config';
import { alpacaExecutionFromUpdate, alpacaOrderToSnapshot } from './mapper';
import { AlpacaStreamMessageSchema, AlpacaTradeUpdateSchema } from './schemas';

export interface AlpacaTradeUpdateEvent {
  /** new, fill, partial_fill, canceled, expired, rejected, pending_cancel, done_for_day, replaced, ... */
  readonly event: string;
  readonly order: BrokerOrderSnapshot;
  /** Present for fill / partial_fill: the execution this event reports. */
  readonly execution: BrokerExecution | null;
  readonly timestamp: string | null;
}

export interface AlpacaTradeUpdatesOptions {
  readonly config: AlpacaConfig;
  readonly onUpdate: (event: AlpacaTradeUpdateEvent) => void | Promise<void>;
  /** Runs after each re-established subscription (not the first): reconcile by REST here. */
  readonly onReconnect?: () => void | Promise<void>;
  /** Malformed messages, handler failures and connection losses; the stream keeps going. */
  readonly onError?: (err: Error) => void;
  readonly reconnect?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /** How long authenticate + listen may take. Default 10 000 ms. */
  readonly handshakeTimeoutMs?: number;
  /**
   * Silence (no frame, no pong to our ping) after which a listening connection is terminated and reconnected.
   * Default 10 000 ms (marketData.streamLivenessSeconds in the worker); 0 turns the check off.
   */
  readonly livenessTimeoutMs?: number;
  /** A connection dropped by the liveness check (a reconnect and onReconnect follow). */
  readonly onLivenessDrop?: (info: { readonly silentMs: number }) => void;
}

type Phase = 'idle' | 'connecting' | 'listening' | 'waiting' | 'closed';

export class AlpacaTradeUpdatesStream {
  private ws: WebSocket | null = null;
  private phase: Phase = 'idle';
  private everListened = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  /** Last time the current connection delivered anything (a frame or a pong). */
  private lastInboundMs = 0;
  private readonly url: string;
  /** Number of connections that reached `listening` after the first (i.e. reconnects). */
  reconnects = 0;
  /** Connections terminated because nothing arrived within livenessTimeoutMs. */
  livenessDrops = 0;

  constructor(private readonly options: AlpacaTradeUpdatesOptions) {
    this.url = alpacaStreamUrl(options.config);
  }

  get listening(): boolean {
    return this.phase === 'listening';
  }

  /** Resolves once subscribed; rejects (without retrying) when the first connection or authentication fails. */
  start(): Promise<void> {
    if (this.phase !== 'idle') return Promise.reject(new Error('alpaca stream: start() called twice'));
    return this.connect();
  }

  async close(): Promise<void> {
    this.phase = 'closed';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.stopPing();
    const ws = this.ws;
    this.ws = null;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close();
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1_000).unref();
    });
  }

  private connect(): Promise<void> {
    this.phase = 'connecting';
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(handshakeTimer);
        if (err) reject(err);
        else resolve();
      };
      const ws = new WebSocket(this.url);
      this.ws = ws;
      const handshakeTimer = setTimeout(() => {
        settle(new BrokerUnavailable({ broker: BrokerName.Alpaca, message: 'alpaca stream: handshake timed out' }));
        ws.terminate();
      }, this.options.handshakeTimeoutMs ?? 10_000);

      ws.on('open', () => {
        ws.send(
          JSON.stringify({
            action: 'authenticate',
            data: { key_id: this.options.config.keyId, secret_key: this.options.config.secretKey },
          }),
        );
      });
      ws.on('message', (data: WebSocket.RawData) => {
        if (this.ws === ws) this.lastInboundMs = Date.now();
        // The paper endpoint sends binary frames, the live one text: both are UTF-8 JSON.
        const text = Array.isArray(data)
          ? Buffer.concat(data).toString('utf8')
          : Buffer.from(data as ArrayBuffer).toString('utf8');
        const outcome = this.handleMessage(ws, text);
        if (outcome === 'unauthorized') {
          const err = new BrokerUnauthorized({
            broker: BrokerName.Alpaca,
            message: 'alpaca stream: authentication refused',
          });
          this.phase = 'closed';
          settle(err);
          ws.close();
          if (this.everListened) this.options.onError?.(err);
        } else if (outcome === 'listening') {
          settle();
        }
      });
      ws.on('error', (err) => {
        this.options.onError?.(err);
      });
      ws.on('close', () => {
        if (this.ws === ws) {
          this.stopPing();
          this.ws = null;
        }
        if (!settled) {
          settle(
            new BrokerUnavailable({
              broker: BrokerName.Alpaca,
              message: 'alpaca stream: connection closed before subscribing',
            }),
          );
          if (!this.everListened) {
            this.phase = 'closed';
            return;
          }
        }
        if (this.phase !== 'closed') this.scheduleReconnect();
      });
    });
  }

  private handleMessage(ws: WebSocket, text: string): 'unauthorized' | 'listening' | 'other' {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.reportError(new BrokerBadResponse({ broker: BrokerName.Alpaca, message: 'alpaca stream: non-JSON frame' }));
      return 'other';
    }
    const msg = AlpacaStreamMessageSchema.safeParse(json);
    if (!msg.success) return 'other';
    const data = msg.data.data as Record<string, unknown> | undefined;
    switch (msg.data.stream) {
      case 'authorization':
        if (data?.status === 'authorized') {
          ws.send(JSON.stringify({ action: 'listen', data: { streams: ['trade_updates'] } }));
          return 'other';
        }
        return 'unauthorized';
      case 'listening': {
        const streams = Array.isArray(data?.streams) ? (data.streams as unknown[]) : [];
        if (!streams.includes('trade_updates')) return 'other';
        this.onListening();
        return 'listening';
      }
      case 'trade_updates':
        this.deliver(data);
        return 'other';
      default:
        return 'other';
    }
  }

  private onListening(): void {
    this.phase = 'listening';
    this.attempt = 0;
    this.startPing();
    if (this.everListened) {
      this.reconnects++;
      // Events during the gap are gone for good: the caller reconciles by REST.
      void Promise.resolve()
        .then(() => this.options.onReconnect?.())
        .catch((err: unknown) => this.reportError(err));
    }
    this.everListened = true;
  }

  private deliver(data: unknown): void {
    const parsed = AlpacaTradeUpdateSchema.safeParse(data);
    if (!parsed.success) {
      this.reportError(
        new BrokerBadResponse({ broker: BrokerName.Alpaca, message: 'alpaca stream: malformed trade_updates event' }),
      );
      return;
    }
    let event: AlpacaTradeUpdateEvent;
    try {
      event = {
        event: parsed.data.event,
        order: alpacaOrderToSnapshot(parsed.data.order),
        execution: alpacaExecutionFromUpdate(parsed.data),
        timestamp: parsed.data.timestamp ?? null,
      };
    } catch (err) {
      this.reportError(err);
      return;
    }
    void Promise.resolve()
      .then(() => this.options.onUpdate(event))
      .catch((err: unknown) => this.reportError(err));
  }

  private scheduleReconnect(): void {
    this.phase = 'waiting';
    const initial = this.options.reconnect?.initialDelayMs ?? 500;
    const max = this.options.reconnect?.maxDelayMs ?? 30_000;
    const delay = Math.min(max, initial * 2 ** this.attempt);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.phase === 'closed') return;
      // A failed attempt schedules the next one from its own close handler; a refused authentication stops.
      this.connect().catch((err: unknown) => this.reportError(err));
    }, delay);
  }

  /** Pings the listening connection and terminates it once it has gone silent (see livenessTimeoutMs). */
  private startPing(): void {
    this.stopPing();
    const ws = this.ws;
    const timeoutMs = this.options.livenessTimeoutMs ?? 10_000;
    if (!ws || !(timeoutMs > 0)) return;
    this.lastInboundMs = Date.now();
    ws.on('pong', () => {
      if (this.ws === ws) this.lastInboundMs = Date.now();
    });
    const timer = setInterval(
      () => {
        if (this.ws !== ws || this.phase !== 'listening') {
          clearInterval(timer);
          return;
        }
        const silentMs = Date.now() - this.lastInboundMs;
        if (silentMs < timeoutMs) {
          try {
            ws.ping();
          } catch {
            // a socket that cannot send is caught by the silence that follows
          }
          return;
        }
        this.stopPing();
        this.livenessDrops++;
        try {
          this.options.onLivenessDrop?.({ silentMs });
        } catch (err) {
          this.reportError(err);
        }
        this.reportError(
          new BrokerUnavailable({
            broker: BrokerName.Alpaca,
            message: `alpaca stream: no message or pong for ${silentMs} ms (liveness timeout ${timeoutMs} ms); reconnecting`,
          }),
        );
        // No close handshake: it would wait on the same dead link. The close event schedules the reconnect.
        ws.terminate();
      },
      Math.max(50, Math.floor(timeoutMs / 4)),
    );
    timer.unref();
    this.pingTimer = timer;
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private reportError(err: unknown): void {
    const error: Error | BrokerError = err instanceof Error ? err : new Error(String(err));
    this.options.onError?.(error);
  }
}
