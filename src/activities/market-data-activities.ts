import { applyRecord, createFlowDetector, type FlowDetector } from '../domain/detectors/flow-detector';
import {
  buildVolumeProfile,
  minuteOfSession,
  MinuteBarSchema,
  type MinuteBar,
  type VolumeProfile,
} from '../domain/detectors/volume-profile';
import { mergeByTime } from '../domain/market-data/merge';
import { type MarketRecord } from '../domain/market-data/records';
import { nsToBigInt, parseNs } from '../domain/market-data/timestamp';
import { decodeRest } from '../market-data/decode';
import { cursorFrom, pageThrough, type PolygonCursor, type PolygonRest } from '../market-data/polygon-rest';
import { wireNumber, wireText } from '../market-data/wire';
import { type FlowguardMetrics } from '../observability/flowguard-metrics';
import { PolygonError } from '../market-data/polygon-errors';
import { ValidationError } from '../domain/validation';
import { createPolygonStreamHub, type PolygonStreamHub } from '../market-data/polygon-stream-hub';
import { toActivityFailure } from './failures';
import { HEARTBEAT_INTERVAL_MS, heartbeatWhileRunning } from './heartbeat';
import {
  lastQuoteOf,
  lastTradeOf,
  type FeedFreshness,
  type LastQuote,
  type LastTrade,
  type PollMarketDataInput,
  type PollMarketDataResult,
} from './market-data-types';
import { createStreamActivity } from './market-stream-activity';
import { createMarketCalendarActivity } from './market-calendar-activity';
import { MARKET_UPDATE_SIGNAL } from '../shared/contracts';

/** The REST client of the worker (one rate limiter shared by every monitor it runs). */
export interface MarketDataDeps {
  /** Alert and market-data error counters. */
  readonly metrics?: Pick<
    FlowguardMetrics,
    'alerts' | 'marketDataErrors' | 'marketDataStalls' | 'detectorStateRebuilds' | 'trackStreamHub'
  >;
  readonly polygon: () => Promise<PolygonRest>;
  /** False when no Polygon key is configured (marketCalendar answers null); default: configured. */
  readonly polygonConfigured?: () => boolean;
  /** Key and WebSocket base for stream mode (POLYGON_API_KEY, POLYGON_WS_URL). */
  readonly polygonStream?: () => { readonly apiKey: string; readonly wsBaseUrl?: string };
  /** The worker's shared WebSocket; default: one built here from polygonStream, opened on first use. */
  readonly streamHub?: PolygonStreamHub;
  /** Silence after which the default hub drops and reconnects its WebSocket (marketData.streamLivenessSeconds). */
  readonly streamLivenessMs?: number;
  readonly clockMs?: () => number;
}

/**
 * A poll heartbeats this often while it runs (the SDK sends at most one per 0.8 × the heartbeat timeout), so a
 * worker lost mid-poll is noticed within the monitor's heartbeat timeout of a few seconds. Polls shorter than
 * this (nearly all) send none: no extra server round trip per poll.
 */
export const POLL_HEARTBEAT_MS = HEARTBEAT_INTERVAL_MS;

export type {
  FeedFreshness,
  LastQuote,
  LastTrade,
  MonitorCursors,
  PollMarketDataInput,
  PollMarketDataResult,
} from './market-data-types';
export { lastQuoteOf, lastTradeOf } from './market-data-types';

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

    /** Holidays and early closes of the next two weeks (see market-calendar-activity.ts); null without a key. */
    marketCalendar: createMarketCalendarActivity({
      polygon: deps.polygon,
      ...(deps.polygonConfigured ? { polygonConfigured: deps.polygonConfigured } : {}),
      clockMs: now,
      onPolygonError: (code) => deps.metrics?.marketDataErrors.inc({ code }),
    }),

    streamMarketData: createStreamActivity({
      hub,
      poll,
      signalName: MARKET_UPDATE_SIGNAL,
    }),

    /**
     * The intraday volume curve of `symbol` from the one-minute aggregates of its previous `days` sessions (one
     * request through the worker's rate limiter), for red_burst's baseline. Null when `days` is 0 or Polygon has
     * no bars in a regular session for them; malformed bars are skipped (counted in `skipped` of the log line).
     * Polygon errors fail the activity like any market-data call (retried by its policy).
     */
    async fetchVolumeProfile({
      symbol,
      days,
    }: {
      readonly symbol: string;
      readonly days: number;
    }): Promise<VolumeProfile | null> {
      if (!(days > 0)) return null;
      try {
        const rest = await deps.polygon();
        const today = newYorkDate(now());
        // Calendar days that hold `days` sessions: weekends (7/5) and up to a week of holidays.
        const from = addDays(today, -(Math.ceil((days * 7) / 5) + 7));
        const rows = await rest.minuteAggregates(symbol, from, addDays(today, -1));
        const bars: MinuteBar[] = [];
        for (const row of rows) {
          const r = MinuteBarSchema.safeParse(row);
          if (r.success && minuteOfSession(r.data.t) >= 0) bars.push(r.data);
        }
        // Only the latest `days` sessions: the range may hold more when there were fewer holidays.
        const sessions = [...new Set(bars.map((b) => newYorkDate(b.t)))].sort().slice(-days);
        const keep = new Set(sessions);
        return buildVolumeProfile(bars.filter((b) => keep.has(newYorkDate(b.t)))) ?? null;
      } catch (err) {
        if (err instanceof PolygonError) deps.metrics?.marketDataErrors.inc({ code: err.name });
        throw toActivityFailure(err);
      }
    },

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
    const fetchedTrades = await rest.fetchTradesSince(input.symbol, start.trades);
    // Quotes only up to the newest trade fetched: a trade must be classified against the NBBO in force just
    // before it, so quotes beyond it wait for the next poll (when trades catch up).
    const horizon = fetchedTrades.records.reduce<bigint | null>((max, r) => {
      // Malformed rows (null, no time) are passed on for the detector to reject and count; they set no horizon.
      const t = typeof r === 'object' && r !== null ? parseNs(r.sip_timestamp) : undefined;
      const ns = t === undefined ? null : nsToBigInt(t);
      return ns !== null && (max === null || ns > max) ? ns : max;
    }, null);
    // Trades cut short by their pages may have more prints at the horizon's instant: the quotes stamped at it
    // (those prints caused them) wait too, or the next poll would find the quote before those prints pushed out
    // of the few the detector state keeps. Pages holding no new trade at all (a run of prints at one instant
    // longer than the pages) leave the quotes where the trades' cursor is.
    const quotesUntil = fetchedTrades.truncated
      ? (horizon ?? BigInt(start.trades.sipTimestamp))
      : horizon === null
        ? null
        : horizon + 1n;
    const quotes = await rest.fetchQuotesSince(
      input.symbol,
      start.quotes,
      quotesUntil !== null ? { untilNs: quotesUntil.toString() } : {},
    );
    // Quotes that stopped short of the horizon (truncated: more pages waiting) hold every NBBO up to their cursor
    // only: the trades after it wait for the next poll, when the quotes before them have arrived. Classified now,
    // they would meet the last quote fetched, minutes old on a busy day (the real AMZN day's backfill classified
    // its last 20 minutes that way, and raised a large_seller the replay of the same files did not).
    // Moving on includes a chain still inside a run of quotes at the cursor's instant (same time, more seen); a
    // quote source truncated without moving at all cuts nothing: the poll must not wait on it forever.
    const trades =
      quotes.truncated && horizon !== null && !sameCursor(quotes.cursor, start.quotes)
        ? pageThrough(fetchedTrades, start.trades, BigInt(quotes.cursor.sipTimestamp))
        : fetchedTrades;

    const stalledSources = (
      [
        ['trades', trades.stalled],
        ['quotes', quotes.stalled],
      ] as const
    ).filter(([, s]) => s !== undefined);
    for (const [source] of stalledSources) deps.metrics?.marketDataStalls.inc({ source });

    // Decoded once, here; merged by time with the tie rule of market-data/merge.ts.
    const tradeRecords = trades.records.map((r) => decodeRest(r, 'trade'));
    const quoteRecords = quotes.records.map((r) => decodeRest(r, 'quote'));

    const detector: FlowDetector = createFlowDetector(
      input.detectorState
        ? { symbol: input.symbol, config: input.config, state: input.detectorState }
        : { symbol: input.symbol, config: input.config, warmUp: input.liveFromNs !== null },
    );
    if (input.volumeProfile) detector.setVolumeProfile(input.volumeProfile);
    const rejectedBefore: Record<string, number> = { ...detector.stats.rejected };
    const liveFrom = input.liveFromNs !== null ? BigInt(input.liveFromNs) : null;
    const nowNs = BigInt(now()) * 1_000_000n;
    const caughtUpAtNs = input.caughtUpAtNs ?? start.trades.sipTimestamp;
    const lateAfterNs = nowNs - BigInt(Math.round(input.config.staleRejectSeconds * 1_000_000)) * 1000n;
    let late = 0;
    let lastTrade: LastTrade | null = null;
    let lastQuote: LastQuote | null = null;
    const liveUs = liveFrom === null ? null : parseNs(liveFrom.toString())!;
    const lateAfter = parseNs((lateAfterNs < 0n ? 0n : lateAfterNs).toString())!;
    let newestUs = -1;
    let newestRem = 0;
    mergeByTime(tradeRecords, quoteRecords, (record: MarketRecord) => {
      const e = record.kind === 'trade' ? record.trade : record.kind === 'quote' ? record.quote : undefined;
      // A record without a usable time (a reject) counts as history, as it always sorted first.
      const warm = liveUs !== null && (e === undefined || earlier(e.tsUs, e.tsRem, liveUs.us, liveUs.rem));
      if (detector.warmUp !== warm) detector.setWarmUp(warm);
      // Stale-data rules apply to live data only: backfilled history is old by definition. Everything here
      // comes from the cursor on, so a record that was fresh when the monitor last caught up is the gap.
      detector.setNow(input.staleCheck && !warm ? nowNs : undefined, caughtUpAtNs);
      const outcome = applyRecord(detector, record);
      if (outcome !== 'accepted' || e === undefined) return;
      if (input.staleCheck && !warm && earlier(e.tsUs, e.tsRem, lateAfter.us, lateAfter.rem)) late += 1;
      if (!earlier(e.tsUs, e.tsRem, newestUs, newestRem)) {
        newestUs = e.tsUs;
        newestRem = e.tsRem;
      }
      if (record.kind === 'trade') lastTrade = lastTradeOf(record.trade);
      else if (record.kind === 'quote') lastQuote = lastQuoteOf(record.quote);
    });
    const newest = newestUs < 0 ? null : BigInt(newestUs) * 1000n + BigInt(newestRem);
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
        // Even with no quote returned: a chain through a run of quotes already seen at the cursor's instant has
        // moved on (its next_url), and keeping the old cursor would read the same run again every poll.
        quotes: quotes.cursor,
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

const NY_DATE = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York' });

/** The New York calendar date (YYYY-MM-DD) of a Unix-ms time. */
function newYorkDate(ms: number): string {
  return NY_DATE.format(new Date(ms));
}

/** A YYYY-MM-DD date moved by `n` calendar days. */
function addDays(date: string, n: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/** Whether a fetch left its cursor exactly where it started (time, identities seen at it, resume point). */
function sameCursor(a: PolygonCursor, b: PolygonCursor): boolean {
  return (
    a.sipTimestamp === b.sipTimestamp &&
    a.resumePath === b.resumePath &&
    a.seenAtTimestamp.length === b.seenAtTimestamp.length &&
    a.seenAtTimestamp.every((k, i) => k === b.seenAtTimestamp[i])
  );
}

/** Time a strictly before time b (µs, ns remainder). */
function earlier(aUs: number, aRem: number, bUs: number, bRem: number): boolean {
  return aUs < bUs || (aUs === bUs && aRem < bRem);
}
