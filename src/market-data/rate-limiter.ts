/**
 * Client-side token bucket for Polygon REST calls. Polygon answers 429 once a plan's rate is exceeded, and
 * every monitor of a worker shares that one allowance, so all of them must draw from one bucket.
 */
export interface RateLimiterOptions {
  /** Sustained requests per second; default 5 (Polygon's starter plan). */
  readonly ratePerSecond?: number;
  /**
   * Requests allowed back to back after idling; default 1, so any 1-second window holds at most
   * `ratePerSecond` requests (a larger burst trades that guarantee for latency).
   */
  readonly burst?: number;
  /** Injected clock (ms) and sleep for tests. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface RateLimiterStats {
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Permits granted. */
  readonly acquired: number;
  /** Permits that had to wait. */
  readonly waits: number;
  readonly totalWaitMs: number;
  readonly maxWaitMs: number;
}

export class TokenBucketRateLimiter {
  readonly ratePerSecond: number;
  readonly burst: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private tokens: number;
  private updatedAt: number;
  private acquired = 0;
  private waits = 0;
  private totalWaitMs = 0;
  private maxWaitMs = 0;

  constructor(options: RateLimiterOptions = {}) {
    this.ratePerSecond = options.ratePerSecond ?? 5;
    this.burst = options.burst ?? 1;
    if (!(this.ratePerSecond > 0) || !Number.isFinite(this.ratePerSecond)) {
      throw new RangeError('ratePerSecond must be a positive number');
    }
    if (!Number.isInteger(this.burst) || this.burst < 1) throw new RangeError('burst must be a positive integer');
    this.now = options.now ?? (() => performance.now());
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.tokens = this.burst;
    this.updatedAt = this.now();
  }

  /**
   * Waits for a permit. Each caller reserves its permit immediately (the balance may go negative), so waiters
   * are served in call order and the wait is computed once, with no polling loop.
   */
  async acquire(): Promise<void> {
    this.refill();
    this.tokens -= 1;
    this.acquired += 1;
    if (this.tokens >= 0) return;
    const waitMs = (-this.tokens * 1000) / this.ratePerSecond;
    this.waits += 1;
    this.totalWaitMs += waitMs;
    this.maxWaitMs = Math.max(this.maxWaitMs, waitMs);
    await this.sleep(waitMs);
  }

  /** Takes a permit only if one is free now. */
  tryAcquire(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    this.acquired += 1;
    return true;
  }

  stats(): RateLimiterStats {
    return {
      ratePerSecond: this.ratePerSecond,
      burst: this.burst,
      acquired: this.acquired,
      waits: this.waits,
      totalWaitMs: this.totalWaitMs,
      maxWaitMs: this.maxWaitMs,
    };
  }

  private refill(): void {
    const now = this.now();
    const elapsed = Math.max(0, now - this.updatedAt);
    this.updatedAt = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
  }
}

const registry = new Map<string, TokenBucketRateLimiter>();

/**
 * One limiter per name per process (a worker), created on first use; later callers get the same instance,
 * so options only matter the first time.
 */
export function sharedRateLimiter(name = 'polygon', options: RateLimiterOptions = {}): TokenBucketRateLimiter {
  let limiter = registry.get(name);
  if (!limiter) {
    limiter = new TokenBucketRateLimiter(options);
    registry.set(name, limiter);
  }
  return limiter;
}

/** Forgets shared limiters (tests). */
export function resetSharedRateLimiters(): void {
  registry.clear();
}
