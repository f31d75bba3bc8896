/**
 * The paper broker's only door to market data. Every call is bounded in time and never throws: an order is
 * created, read, listed or cancelled whatever the feed does, and filling is deferred to a later call (an
 * order's trade watermark only moves over prints it was actually shown, so a deferred fill is not a lost one).
 * Failures are counted and reported (rate-limited by the caller's reporter) for the logs and `flowguard health`.
 */
import { type MarketPriceSource, NO_MARKET_DATA, type PaperQuote, type PaperTrade } from './market-price-source';

/** What one operation needs per symbol: trades after `sinceNs` (null: none needed) and the NBBO. */
export type MarketNeeds = ReadonlyMap<string, { readonly sinceNs: string | null }>;

/** What the feed answered in time. A symbol missing from a map means "unknown now": fill nothing from it. */
export interface MarketView {
  readonly trades: ReadonlyMap<string, readonly PaperTrade[]>;
  readonly quotes: ReadonlyMap<string, PaperQuote | null>;
}

export const EMPTY_MARKET_VIEW: MarketView = { trades: new Map(), quotes: new Map() };

export interface MarketDataFailure {
  readonly symbol: string;
  readonly call: 'latestQuote' | 'tradesSince' | 'apply';
  readonly error: string;
  readonly timedOut: boolean;
  /** Failures since the broker started, this one included. */
  readonly count: number;
}

export interface MarketDataStatus {
  /** False when the broker has no market source: orders rest until cancelled. */
  readonly configured: boolean;
  readonly fillsAgainst: string;
  /** Market-data failures (errors and timeouts) since the broker started; each one deferred some filling. */
  readonly failures: number;
  readonly lastFailure: string | null;
  readonly lastFailureAt: string | null;
  readonly lastSuccessAt: string | null;
}

export class MarketDataGuard {
  private failures = 0;
  private lastFailure: string | null = null;
  private lastFailureAt: string | null = null;
  private lastSuccessAt: string | null = null;
  readonly configured: boolean;

  constructor(
    private readonly source: MarketPriceSource,
    private readonly now: () => Date,
    private readonly onFailure: (failure: MarketDataFailure) => void = () => undefined,
  ) {
    this.configured = source !== NO_MARKET_DATA;
  }

  get fillsAgainst(): string {
    return this.source.description ?? 'a market price source (no description)';
  }

  /** Asks for everything `needs` lists in parallel; whatever has not answered within `timeoutMs` is left out. */
  async fetch(needs: MarketNeeds, timeoutMs: number): Promise<MarketView> {
    if (!this.configured || needs.size === 0) return EMPTY_MARKET_VIEW;
    const trades = new Map<string, readonly PaperTrade[]>();
    const quotes = new Map<string, PaperQuote | null>();
    const calls: Promise<void>[] = [];
    for (const [symbol, need] of needs) {
      const sinceNs = need.sinceNs;
      if (sinceNs !== null) {
        calls.push(
          this.bounded(symbol, 'tradesSince', () => this.source.tradesSince(symbol, sinceNs), timeoutMs).then((r) => {
            if (r.ok) trades.set(symbol, r.value);
          }),
        );
      }
      calls.push(
        this.bounded(symbol, 'latestQuote', () => this.source.latestQuote(symbol), timeoutMs).then((r) => {
          if (r.ok) quotes.set(symbol, r.value);
        }),
      );
    }
    await Promise.all(calls);
    return { trades, quotes };
  }

  /** A failure found while applying data (a malformed price, say): counted like a failed call. */
  reportApplyFailure(symbol: string, err: unknown): void {
    this.fail(symbol, 'apply', describe(err), false);
  }

  status(): MarketDataStatus {
    return {
      configured: this.configured,
      fillsAgainst: this.fillsAgainst,
      failures: this.failures,
      lastFailure: this.lastFailure,
      lastFailureAt: this.lastFailureAt,
      lastSuccessAt: this.lastSuccessAt,
    };
  }

  private async bounded<T>(
    symbol: string,
    call: 'latestQuote' | 'tradesSince',
    fn: () => Promise<T> | T,
    timeoutMs: number,
  ): Promise<{ ok: true; value: T } | { ok: false }> {
    let timer: NodeJS.Timeout | undefined;
    const attempt = Promise.resolve().then(fn);
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
      timer.unref?.();
    });
    try {
      const result = await Promise.race([attempt, deadline]);
      if (result === 'timeout') {
        // The call may still settle later; its outcome is of no use any more and must not surface as unhandled.
        attempt.catch(() => undefined);
        this.fail(symbol, call, `no answer within ${timeoutMs} ms`, true);
        return { ok: false };
      }
      this.lastSuccessAt = this.now().toISOString();
      return { ok: true, value: result };
    } catch (err) {
      this.fail(symbol, call, describe(err), false);
      return { ok: false };
    } finally {
      clearTimeout(timer);
    }
  }

  private fail(symbol: string, call: MarketDataFailure['call'], error: string, timedOut: boolean): void {
    this.failures += 1;
    this.lastFailure = `${call}(${symbol}): ${error}`;
    this.lastFailureAt = this.now().toISOString();
    try {
      this.onFailure({ symbol, call, error, timedOut, count: this.failures });
    } catch {
      /* a reporter's own failure must not turn a deferred fill into a failed broker call */
    }
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * A reporter for `onMarketDataFailure` that logs the first failure and then at most one line per `everyMs`
 * with the count: a feed that is down would otherwise log once per order per poll.
 */
export function throttledFailureLog(
  log: (fields: Record<string, unknown>, message: string) => void,
  everyMs = 60_000,
  nowMs: () => number = Date.now,
): (failure: MarketDataFailure) => void {
  let lastLoggedAt = -Infinity;
  let lastLoggedCount = 0;
  return (failure) => {
    const t = nowMs();
    if (t - lastLoggedAt < everyMs) return;
    const suppressed = failure.count - lastLoggedCount - 1;
    lastLoggedAt = t;
    lastLoggedCount = failure.count;
    log(
      { ...failure, suppressedSinceLastLine: suppressed },
      `paper broker: market data failed (${failure.call} ${failure.symbol}: ${failure.error}); fills are deferred, orders are unaffected`,
    );
  };
}
