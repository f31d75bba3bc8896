/**
 * A local stand-in for a notification destination (generic webhook, Slack, Discord or ntfy endpoint): a real
 * node:http server on 127.0.0.1 that records every request it accepts, with a fault switch. Used by the tests
 * (test/support re-exports it) and by `npm run demo`, which prints what arrived.
 *
 *   const hook = await WebhookReceiver.start();
 *   hook.failWith(503);              // every request answered 503 (recorded as refused) until...
 *   hook.recover();                  // ...this
 *   hook.accepted()                  // what it took: method, path, headers, raw body, parsed JSON
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly raw: string;
  readonly json: unknown;
  /** ms since the epoch at arrival. */
  readonly at: number;
  /** The status it was answered with. */
  readonly status: number;
}

export class WebhookReceiver {
  private readonly all: ReceivedRequest[] = [];
  private failure: { status: number; retryAfter?: string } | null = null;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    const holder: { receiver?: WebhookReceiver } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(raw);
        } catch {
          json = undefined;
        }
        const failing = holder.receiver!.failure;
        const status = failing ? failing.status : 200;
        holder.receiver!.all.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          raw,
          json,
          at: Date.now(),
          status,
        });
        res.writeHead(status, {
          'Content-Type': 'application/json',
          ...(failing?.retryAfter ? { 'Retry-After': failing.retryAfter } : {}),
        });
        res.end(status === 200 ? '{"ok":true}' : '{"ok":false}');
      });
    });
    const receiver = new WebhookReceiver(server);
    holder.receiver = receiver;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Answer every request with `status` until recover(). */
  failWith(status: number, retryAfter?: string): void {
    this.failure = { status, ...(retryAfter ? { retryAfter } : {}) };
  }

  recover(): void {
    this.failure = null;
  }

  /** Every request, refused ones too. */
  requests(): ReceivedRequest[] {
    return [...this.all];
  }

  /** Requests answered 200. */
  accepted(): ReceivedRequest[] {
    return this.all.filter((r) => r.status === 200);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** What a receiver of the generic webhook does: recompute HMAC-SHA256(secret, `<timestamp>.<raw body>`). */
export function verifySignature(req: ReceivedRequest, secret: string): boolean {
  const timestamp = req.headers['x-flowguard-timestamp'];
  const signature = req.headers['x-flowguard-signature'];
  if (typeof timestamp !== 'string' || typeof signature !== 'string') return false;
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${req.raw}`).digest('hex')}`;
  return expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
}
