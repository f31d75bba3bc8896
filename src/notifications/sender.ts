/**
 * Delivers notification events to destinations over HTTP, each destination behind its own rate limit. Never
 * retries by itself (Temporal retries the activity); says which failures a retry could fix.
 */
import { parseRetryAfter } from '../shared/retry-after';
import { meetsSeverity, type NotificationEvent } from '../domain/notifications/event';
import { TokenBucketRateLimiter } from '../market-data/rate-limiter';
import { registerSecretValues, secretUrlParts } from '../observability/logger';
import { maskDestinationUrl, type NotificationDestination } from './destinations';
import { formatRequest } from './formats';

/** A destination did not take a notification. The message is masked: never the URL's path or a secret. */
export class DeliveryFailure extends Error {
  override readonly name = 'DeliveryFailure';
  constructor(
    readonly destination: string,
    message: string,
    /** A retry may succeed (network, timeout, 5xx, 408, 429); false for a refusal such as 400/403/404. */
    readonly retryable: boolean,
    /** The destination's Retry-After, when it sent one. */
    readonly retryAfterMs: number | null,
  ) {
    super(message);
  }
}

export interface NotificationSenderOptions {
  readonly destinations: readonly NotificationDestination[];
  /** Per request; default 10 s. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Events remembered per destination as delivered, so one that reaches this process twice is sent once. */
const REMEMBERED = 10_000;

export class NotificationSender {
  readonly destinations: readonly NotificationDestination[];
  private readonly rateLimiters = new Map<string, TokenBucketRateLimiter>();
  private readonly delivered = new Map<string, true>();
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(options: NotificationSenderOptions) {
    this.destinations = options.destinations;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.now = options.now ?? (() => Date.now());
    // Destinations from the config file name their own variables, which the logger could not know were secret.
    registerSecretValues(
      this.destinations.flatMap((d) => [
        ...secretUrlParts(d.url),
        ...(d.secret ? [d.secret] : []),
        ...(d.token ? [d.token] : []),
      ]),
    );
    for (const d of this.destinations) {
      // Up to the whole minute's allowance back to back after a quiet spell, then one every 60/N seconds.
      this.rateLimiters.set(
        d.name,
        new TokenBucketRateLimiter({ ratePerSecond: d.rateLimitPerMinute / 60, burst: d.rateLimitPerMinute }),
      );
    }
  }

  /** Each destination's rate limiter, to report its waits (flowguard_rate_limit_*{limiter="notify:<name>"}). */
  limiters(): ReadonlyMap<string, TokenBucketRateLimiter> {
    return this.rateLimiters;
  }

  /** Destinations whose minimum severity the event meets. */
  targetsFor(event: NotificationEvent): NotificationDestination[] {
    return this.destinations.filter((d) => meetsSeverity(event.severity, d.minSeverity));
  }

  wasDelivered(destination: string, key: string): boolean {
    return this.delivered.has(`${destination}\u0000${key}`);
  }

  /**
   * Sends one event to one destination after its rate limit allows; resolves when the destination accepted it
   * (2xx), rejects with a DeliveryFailure otherwise. `waitForSlot` false skips the limiter (`notify test`).
   */
  async deliver(destination: NotificationDestination, event: NotificationEvent, waitForSlot = true): Promise<void> {
    if (waitForSlot) await this.rateLimiters.get(destination.name)?.acquire();
    let req: ReturnType<typeof formatRequest>;
    try {
      req = formatRequest(destination, event, this.now());
    } catch (err) {
      // Never the error's message: URL parsing errors quote the URL.
      throw failure(
        destination,
        `could not build the request (${err instanceof Error ? err.name : 'error'})`,
        false,
        null,
      );
    }
    let response: Response;
    try {
      response = await fetch(req.url, {
        method: 'POST',
        headers: req.headers,
        body: req.body,
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      });
      await response.arrayBuffer().catch(() => undefined);
    } catch (err) {
      throw failure(destination, `request failed: ${transportReason(err)}`, true, null);
    }
    if (response.status >= 200 && response.status < 300) {
      this.remember(destination.name, event.key);
      return;
    }
    const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
    throw failure(
      destination,
      `HTTP ${response.status}${retryable ? '' : ' (refused: check the destination)'}`,
      retryable,
      parseRetryAfter(response.headers.get('retry-after')),
    );
  }

  private remember(destination: string, key: string): void {
    this.delivered.set(`${destination}\u0000${key}`, true);
    if (this.delivered.size > REMEMBERED) this.delivered.delete(this.delivered.keys().next().value!);
  }
}

function failure(
  destination: NotificationDestination,
  message: string,
  retryable: boolean,
  retryAfterMs: number | null,
): DeliveryFailure {
  // Built from the URL by the one masking rule, not from `describe`, so no caller-made description can leak a path.
  return new DeliveryFailure(
    destination.name,
    `${destination.name} (${maskDestinationUrl(destination.url)}): ${message}`,
    retryable,
    retryAfterMs,
  );
}

export function isDeliveryFailure(err: unknown): err is DeliveryFailure {
  return err instanceof DeliveryFailure;
}

/** The transport error's code or name, never its message (undici messages can quote the URL). */
function transportReason(err: unknown): string {
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur !== null && typeof cur === 'object'; i++) {
    const { code, name } = cur as { code?: unknown; name?: unknown };
    if (typeof code === 'string') return code;
    if (name === 'TimeoutError' || name === 'AbortError') return 'timed out';
    cur = (cur as { cause?: unknown }).cause;
  }
  return 'network error';
}
