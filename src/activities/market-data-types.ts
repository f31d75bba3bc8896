import { type VolumeProfile } from '../domain/detectors/volume-profile';
/**
 * What the poll and stream activities share: their inputs and results, and the monitor's view of the last trade and
 * NBBO. A module of its own so that neither activity file imports the other.
 */
import { type DetectorConfig } from '../domain/detectors/config';
import { type ExitSignal, type FlowAlert, type FlowStats } from '../domain/detectors/alerts';
import { formatPriceE8 } from '../domain/market-data/price';
import { type QuoteEvent, type TradeEvent } from '../domain/market-data/records';
import { formatNs } from '../domain/market-data/timestamp';
import { type PolygonCursor } from '../market-data/polygon-rest';

export interface MonitorCursors {
  readonly trades: PolygonCursor;
  readonly quotes: PolygonCursor;
}

// The monitor's own shapes: what an activity reports is what the monitor keeps.
export type { LastQuote, LastTrade } from '../domain/monitor/monitor-model';
import type { LastQuote, LastTrade } from '../domain/monitor/monitor-model';

/** A price in 1e-8 USD as the decimal text Polygon sent ("249.5", "10"). */
function priceText(e8: number): string {
  return formatPriceE8(e8).replace(/\.?0+$/, '');
}

/** The last trade as the monitor shows it, from an accepted trade event. */
export function lastTradeOf(t: TradeEvent): LastTrade {
  return { price: priceText(t.priceE8), size: t.size, timestampNs: formatNs(t.tsUs, t.tsRem) };
}

/** The NBBO as the monitor shows it, from an accepted quote event. */
export function lastQuoteOf(q: QuoteEvent): LastQuote {
  return {
    bid: priceText(q.bidE8),
    ask: priceText(q.askE8),
    bidSize: q.bidSize,
    askSize: q.askSize,
    timestampNs: formatNs(q.tsUs, q.tsRem),
  };
}

export type FeedFreshness = 'ok' | 'warn' | 'stale' | 'unknown';

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
  /**
   * The symbol's intraday volume curve (fetchVolumeProfile, once per monitor): red_burst's baseline follows it.
   * Absent or null: none (monitors started before it existed, a symbol without aggregates).
   */
  readonly volumeProfile?: VolumeProfile | null;
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
