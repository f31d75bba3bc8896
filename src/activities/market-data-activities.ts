import { type DetectorConfig } from '../domain/detectors/config';
import { type ExitSignal, type FlowAlert, type FlowStats } from '../domain/detectors/alerts';
import { createFlowDetector, type FlowDetector } from '../domain/detectors/flow-detector';
import { cursorFrom, type PolygonCursor, type PolygonRest } from '../market-data/polygon-rest';
import { wireNumber, wireText } from '../market-data/wire';
import { type FlowguardMetrics } from '../observability/flowguard-metrics';
import { PolygonError } from '../market-data/polygon-errors';
import { ValidationError } from '../domain/validation';
import { createPolygonStreamHub, type PolygonStreamHub } from '../market-data/polygon-stream-hub';
import { toActivityFailure } from './failures';
import { HEARTBEAT_INTERVAL_MS, heartbeatWhileRunning } from './heartbeat';
import { createStreamActivity } from './market-stream-activity';
import { MARKET_UPDATE_SIGNAL } from '../shared/contracts';

/** The REST client of the worker (one rate limiter shared by every monitor it runs). */
export interface MarketDataDeps {
  /** Alert and market-data error counters. */
  readonly metrics?: Pick<
    FlowguardMetrics,
    'alerts' | 'marketDataErrors' | 'marketDataStalls' | 'detectorStateRebuilds' | 'trackStreamHub'
  >;
  readonly polygon: () => Promise<PolygonRest>;
  /** Key and WebSocket base for stream mode (POLYGON_API_KEY, POLYGON_WS_URL). */
  readonly polygonStream?: () => { readonly apiKey: string; readonly wsBaseUrl?: string };
  /** The worker's shared WebSocket; default: one built here from polygonStream, opened on first use. */
  readonly streamHub?: PolygonStreamHub;
  /** Silence after which the default hub drops and reconnects its WebSocket (marketData.streamLivenessSeconds). */
  readonly streamLivenessMs?: number;
  readonly clockMs?: () => number;
}

export interface MonitorCursors {
  readonly trades: PolygonCursor;
  readonly quotes: PolygonCursor;
}

export interface LastTrade {
  readonly price: string;
  readonly size: number;
  readonly timestampNs: string;
}

export interface LastQuote {
  readonly bid: string;
  readonly ask: string;
  readonly bidSize: number;
  readonly askSize: number;
  readonly timestampNs: string;
}

/** The last trade as the monitor shows it, from an accepted REST-shaped record. */
export function lastTradeOf(raw: Record<string, unknown>, ns: bigint): LastTrade {
  return { price: wireText(raw.price) ?? '0', size: wireNumber(raw.size), timestampNs: ns.toString() };
}

/** The NBBO as the monitor shows it, from an accepted REST-shaped quote record. */
export function lastQuoteOf(raw: Record<string, unknown>, ns: bigint): LastQuote {
  return {
    bid: wireText(raw.bid_price) ?? '0',
    ask: wireText(raw.ask_price) ?? '0',
    bidSize: wireNumber(raw.bid_size),
    askSize: wireNumber(raw.ask_size),
    timestampNs: ns.toString(),
  };
}

export type FeedFreshness = 'ok' | 'warn' | 'stale' | 'unknown';

/**
 * A poll heartbeats this often while it runs (the SDK sends at most one per 0.8 × the heartbeat timeout), so a
 * worker lost mid-poll is noticed within the monitor's heartbeat timeout of a few seconds. Polls shorter than
 * this (nearly all) send none: no extra server round trip per poll.
 */
export const POLL_HEARTBEAT_MS = HEARTBEAT_INTERVAL_MS;

export interface PollMarketDataInput {
  readonly positionId: string;
  readonly symbol: string;
  readonly config: DetectorConfig;
  /** The detector's snapshot from the previous poll (null on the first). */
  readonly detectorState: unknown;
  /** Null on the first poll: start at `backfillFromNs`. */
  readonly cursors: MonitorCursors | null;
  readonly backfillFromNs: string;
  /** Records before this instant only build the baseline (warm-up): the past raises no alerts. */
  readonly liveFromNs: string | null;
  /** Check data age against the wall clock (off when replaying a recorded session). */
  readonly staleCheck: boolean;
  /**
   * Wall-clock time (ns) the monitor last had caught up with the feed (its last poll that was not truncated).
   * Records that were within the stale bound then are the gap being filled (a lost poll, an outage): accepted
   * and their alerts marked late, not rejected as STALE. Absent (stream backfill, first poll): the time of
   * the cursor this poll starts from, as everything fetched from it is the gap.
   */
  readonly caughtUpAtNs?: string | null;
}

export interface PollMarketDataResult {
  readonly alerts: FlowAlert[];
  readonly exitSignal: ExitSignal | null;
  readonly detectorState: unknown;
  readonly cursors: MonitorCursors;
  /** True once the warm-up boundary has been crossed. */
  readonly live: boolean;
  /** More data is waiting (page limit reached): poll again at once. */
  readonly truncated: boolean;
  readonly fetched: { readonly trades: number; readonly quotes: number; readonly requests: number };
  readonly lastTrade: LastTrade | null;
  readonly lastQuote: LastQuote | null;
  readonly stats: FlowStats;
  /** Age of the newest record against the wall clock, when staleCheck is on. */
  readonly freshness: FeedFreshness;
  readonly lagMs: number | null;
  /** Records accepted as late (older than the stale bound, part of the gap being filled). */
  readonly late: number;
  /**
   * A next_url chain that did not advance (polygon-rest.ts): not followed, its repeats dropped, `truncated` left
   * false so the monitor keeps its cadence. Absent when both sources advanced (and from older workers).
   */
  readonly stalled?: { readonly sources: readonly ('trades' | 'quotes')[]; readonly reason: string };
  /**
   * The detector state given did not fit the configuration (a baseline of another length, say): it was dropped
   * and the baseline rebuilt quietly from history, as after a config change. Says why; absent otherwise.
   */
  readonly rebuilt?: string;
}

interface Timed {
  readonly ns: bigint;
  readonly kind: 'trade' | 'quote';
  readonly raw: Record<string, unknown>;
}

function nsOf(raw: unknown): bigint | null {
  if (!raw || typeof raw !== 'object') return null;
  const v = (raw as Record<string, unknown>).sip_timestamp;
  if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  return null;
}

export function createMarketDataActivities(deps: MarketDataDeps) {
  const now = deps.clockMs ?? (() => Date.now());
  // One per activity set, that is one per worker: every stream-mode monitor of the worker shares its socket.
  const hub =
    deps.streamHub ??
    createPolygonStreamHub({
      config: () => {
        if (!deps.polygonStream) throw new Error('stream mode needs POLYGON_API_KEY and POLYGON_WS_URL');
        return deps.polygonStream();
      },
      ...(deps.streamLivenessMs !== undefined ? { livenessTimeoutMs: deps.streamLivenessMs } : {}),
    });
  deps.metrics?.trackStreamHub(hub);

  return {
    /**
     * One poll of a monitored symbol: fetch trades and quotes since the cursors, run them through the
     * detectors in SIP-time order, and return only compact results — raw ticks never enter workflow history.
     */
    async pollMarketData(input: PollMarketDataInput): Promise<PollMarketDataResult> {
      const stopHeartbeat = heartbeatWhileRunning();
      try {
        return await poll(input);
      } catch (err) {
        if (err instanceof PolygonError) deps.metrics?.marketDataErrors.inc({ code: err.name });
        throw toActivityFailure(err);
      } finally {
        stopHeartbeat();
      }
    },

    streamMarketData: createStreamActivity({
      hub,
      poll,
      signalName: MARKET_UPDATE_SIGNAL,
    }),

    /** The latest NBBO and last trade, for the protective exit's reference price. */
    async latestPrices({
      symbol,
    }: {
      readonly symbol: string;
    }): Promise<{ lastTrade: LastTrade | null; lastQuote: LastQuote | null }> {
      try {
        const rest = await deps.polygon();
        const [trade, quote] = await Promise.all([rest.lastTrade(symbol), rest.lastQuote(symbol)]);
        const tradePrice = trade ? wireText(trade.p) : null;
        const askPrice = quote ? wireText(quote.P) : null;
        return {
          lastTrade:
            trade && tradePrice
              ? { price: tradePrice, size: wireNumber(trade.s), timestampNs: wireText(trade.t) ?? '0' }
              : null,
          lastQuote:
            quote && askPrice
              ? {
                  bid: wireText(quote.p) ?? '0',
                  ask: askPrice,
                  bidSize: wireNumber(quote.s),
                  askSize: wireNumber(quote.S),
                  timestampNs: wireText(quote.t) ?? '0',
                }
              : null,
        };
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };

  async function poll(given: PollMarketDataInput): Promise<PollMarketDataResult> {
    const rest = await deps.polygon();
    const { input, rebuilt } = fitState(given);
    if (rebuilt) deps.metrics?.detectorStateRebuilds.inc({});
    const start = input.cursors ?? {
      trades: cursorFrom(input.backfillFromNs),
      quotes: cursorFrom(input.backfillFromNs),
    };
    const trades = await rest.fetchTradesSince(input.symbol, start.trades);
    // Quotes only up to the newest trade fetched: a trade must be classified against the NBBO in force just
    // before it, so quotes beyond it wait for the next poll (when trades catch up).
    const horizon = trades.records.reduce<bigint | null>((max, r) => {
      const ns = nsOf(r);
      return ns !== null && (max === null || ns > max) ? ns : max;
    }, null);
    const quotes = await rest.fetchQuotesSince(
      input.symbol,
      start.quotes,
      horizon !== null ? { untilNs: (horizon + 1n).toString() } : {},
    );

    const stalledSources = (
      [
        ['trades', trades.stalled],
        ['quotes', quotes.stalled],
      ] as const
    ).filter(([, s]) => s !== undefined);
    for (const [source] of stalledSources) deps.metrics?.marketDataStalls.inc({ source });

    const events: Timed[] = [];
    for (const raw of trades.records) events.push({ ns: nsOf(raw) ?? -1n, kind: 'trade', raw });
    for (const raw of quotes.records) events.push({ ns: nsOf(raw) ?? -1n, kind: 'quote', raw });
    // Quotes first at the same instant (the detector still classifies a print against the quote stamped strictly
    // before it); malformed timestamps (-1) go first and are rejected there.
    events.sort((a, b) =>
      a.ns === b.ns ? (a.kind === b.kind ? 0 : a.kind === 'quote' ? -1 : 1) : a.ns < b.ns ? -1 : 1,
    );

    const detector: FlowDetector = createFlowDetector(
      input.detectorState
        ? { symbol: input.symbol, config: input.config, state: input.detectorState }
        : { symbol: input.symbol, config: input.config, warmUp: input.liveFromNs !== null },
    );
    const rejectedBefore: Record<string, number> = { ...detector.stats.rejected };
    const liveFrom = input.liveFromNs !== null ? BigInt(input.liveFromNs) : null;
    const nowNs = BigInt(now()) * 1_000_000n;
    const caughtUpAtNs = input.caughtUpAtNs ?? start.trades.sipTimestamp;
    const lateAfterNs = nowNs - BigInt(Math.round(input.config.staleRejectSeconds * 1_000_000)) * 1000n;
    let late = 0;
    let lastTrade: LastTrade | null = null;
    let lastQuote: LastQuote | null = null;
    let newest: bigint | null = null;
    for (const e of events) {
      const warm = liveFrom !== null && e.ns < liveFrom;
      if (detector.warmUp !== warm) detector.setWarmUp(warm);
      // Stale-data rules apply to live data only: backfilled history is old by definition. Everything here
      // comes from the cursor on, so a record that was fresh when the monitor last caught up is the gap.
      detector.setNow(input.staleCheck && !warm ? nowNs : undefined, caughtUpAtNs);
      const outcome = e.kind === 'trade' ? detector.onTradeRecord(e.raw) : detector.onQuoteRecord(e.raw);
      if (outcome !== 'accepted') continue;
      if (input.staleCheck && !warm && e.ns < lateAfterNs) late += 1;
      if (newest === null || e.ns > newest) newest = e.ns;
      if (e.kind === 'trade') lastTrade = lastTradeOf(e.raw, e.ns);
      else lastQuote = lastQuoteOf(e.raw, e.ns);
    }
    const live =
      liveFrom === null || (newest !== null && newest >= liveFrom) || (!trades.truncated && !quotes.truncated);
    if (live && detector.warmUp) detector.setWarmUp(false);

    let freshness: FeedFreshness = 'unknown';
    let lagMs: number | null = null;
    if (newest !== null && input.staleCheck) {
      lagMs = Math.max(0, Number((nowNs - newest) / 1_000_000n));
      freshness =
        lagMs > input.config.staleRejectSeconds * 1000
          ? 'stale'
          : lagMs > input.config.staleWarnSeconds * 1000
            ? 'warn'
            : 'ok';
    }
    const alerts = detector.drainAlerts();
    for (const a of alerts) deps.metrics?.alerts.inc({ kind: a.kind, severity: a.severity });
    for (const [code, n] of Object.entries(detector.stats.rejected)) {
      const fresh = n - (rejectedBefore[code] ?? 0);
      if (fresh > 0) deps.metrics?.marketDataErrors.inc({ code }, fresh);
    }
    return {
      alerts,
      exitSignal: detector.exitSignal,
      detectorState: detector.snapshot(),
      cursors: {
        trades: trades.cursor,
        quotes: horizon !== null || quotes.records.length > 0 ? quotes.cursor : start.quotes,
      },
      live,
      truncated: trades.truncated || quotes.truncated,
      fetched: { trades: trades.records.length, quotes: quotes.records.length, requests: trades.pages + quotes.pages },
      lastTrade,
      lastQuote,
      stats: detector.stats,
      freshness,
      lagMs,
      late,
      ...(rebuilt ? { rebuilt } : {}),
      ...(stalledSources.length > 0
        ? {
            stalled: {
              sources: stalledSources.map(([source]) => source),
              reason: stalledSources.map(([source, st]) => `${source}: ${st!.reason}`).join('; '),
            },
          }
        : {}),
    };
  }

  /**
   * A state that does not fit the configuration (restored under another baselineMinutes, say) would fail every
   * attempt the same way, a permanent data_error: start over instead, backfilling the baseline quietly up to now.
   */
  function fitState(input: PollMarketDataInput): { input: PollMarketDataInput; rebuilt?: string } {
    if (!input.detectorState) return { input };
    try {
      createFlowDetector({ symbol: input.symbol, config: input.config, state: input.detectorState });
      return { input };
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const nowMs = now();
      const ns = (offsetMs: number) => (BigInt(nowMs + offsetMs) * 1_000_000n).toString();
      return {
        input: {
          ...input,
          detectorState: null,
          cursors: null,
          backfillFromNs: ns(-(input.config.baselineMinutes + 1) * 60_000),
          liveFromNs: ns(0),
          caughtUpAtNs: null,
        },
        rebuilt: err.message,
      };
    }
  }
}
