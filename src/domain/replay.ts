import { alertQualityReport, MidSeries, type AlertQualityReport } from './alert-quality';
import { type ExitSignal, type FlowAlert, type FlowStats } from './detectors/alerts';
import { type DetectorConfig, type DetectorConfigInput } from './detectors/config';
import {
  createFlowDetector,
  type FlowDetector,
  type RecordOutcome,
  type TradeVerdict,
} from './detectors/flow-detector';
import { nsFromMillis, parseNs, type NsTime } from './market-data/timestamp';

export interface ReplayInput {
  readonly symbol: string;
  readonly config?: DetectorConfigInput | DetectorConfig;
  /** `/v3/trades` result objects (or WebSocket `T` messages), in ascending time order as recorded. */
  readonly trades: readonly unknown[];
  /** `/v3/quotes` result objects (or WebSocket `Q` messages), in ascending time order as recorded. */
  readonly quotes: readonly unknown[];
  /**
   * Records strictly before this SIP time (ns) only warm the detector up (baseline, episodes), without
   * alerts — what a monitor does with its backfill. Omit to alert from the first record.
   */
  readonly liveFromNs?: bigint | string;
  /**
   * Called once per trade record, in the order fed, with how it was classified (the per-trade audit of
   * `replay --trades-out`). A record that was rejected or dropped is ineligible.
   */
  readonly onTrade?: (raw: unknown, verdict: TradeVerdict, outcome: RecordOutcome) => void;
  /**
   * Called once per record with its stream, its index in that stream's input and the outcome: how the CLI finds
   * a file none of whose records was accepted, and the line of each rejection.
   */
  readonly onOutcome?: (stream: 'trades' | 'quotes', index: number, outcome: RecordOutcome) => void;
  /** Build the alert-quality report (alert-quality.ts) from the mids of the accepted quotes; hours in `timeZone`. */
  readonly report?: { readonly timeZone?: string };
}

const INELIGIBLE: TradeVerdict = { eligible: false, side: 'unknown', rule: 'unknown', bidE8: 0, askE8: 0 };

export interface ReplayResult {
  readonly symbol: string;
  readonly alerts: FlowAlert[];
  readonly exitSignal: ExitSignal | null;
  readonly stats: FlowStats;
  /** When asked for with `report`. */
  readonly report?: AlertQualityReport;
}

/** Bid and ask (dollars) of a REST quote or a WebSocket `Q` message; undefined for anything else. */
function quoteSides(raw: unknown): [number, number] | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  const bid = r.ev === 'Q' ? r.bp : r.ev === undefined ? r.bid_price : undefined;
  const ask = r.ev === 'Q' ? r.ap : r.ev === undefined ? r.ask_price : undefined;
  return typeof bid === 'number' && typeof ask === 'number' ? [bid, ask] : undefined;
}

/** SIP time of a raw record (REST `sip_timestamp`, WebSocket `t` in ms); undefined when unreadable. */
export function recordTime(raw: unknown): NsTime | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as { sip_timestamp?: unknown; ev?: unknown; t?: unknown };
  if (r.ev !== undefined)
    return typeof r.t === 'number' && Number.isSafeInteger(r.t) && r.t >= 0 ? nsFromMillis(r.t) : undefined;
  return parseNs(r.sip_timestamp);
}

function isWs(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { ev?: unknown }).ev !== undefined;
}

/**
 * Feeds both streams through one detector in SIP-time order: a two-way merge that keeps each file's own
 * order (so out-of-order and duplicate records still reach the validator), quotes first at the same instant.
 * That tie order does not decide a classification: the detector compares each print with the last quote
 * stamped strictly before it (see quoteBefore in flow-detector.ts). A record whose time cannot be read is
 * fed where it stands in its file and rejected there.
 */
export function replaySession(input: ReplayInput): ReplayResult {
  const detector = createFlowDetector({ symbol: input.symbol, config: input.config });
  const live = input.liveFromNs === undefined ? undefined : parseNs(input.liveFromNs);
  if (live !== undefined) detector.setWarmUp(true);
  const alerts: FlowAlert[] = [];
  const mids = input.report === undefined ? undefined : new MidSeries();
  const { trades, quotes } = input;
  let i = 0;
  let j = 0;
  while (i < trades.length || j < quotes.length) {
    let takeQuote: boolean;
    if (i >= trades.length) takeQuote = true;
    else if (j >= quotes.length) takeQuote = false;
    else {
      const tq = recordTime(quotes[j]);
      const tt = recordTime(trades[i]);
      if (tq === undefined) takeQuote = true;
      else if (tt === undefined) takeQuote = false;
      else takeQuote = tq.us < tt.us || (tq.us === tt.us && tq.rem <= tt.rem);
    }
    const index = takeQuote ? j : i;
    const raw = takeQuote ? quotes[j++] : trades[i++];
    if (live !== undefined && detector.warmUp) {
      const t = recordTime(raw);
      if (t !== undefined && (t.us > live.us || (t.us === live.us && t.rem >= live.rem))) detector.setWarmUp(false);
    }
    const outcome = feed(detector, raw, takeQuote);
    if (input.onOutcome !== undefined) input.onOutcome(takeQuote ? 'quotes' : 'trades', index, outcome);
    if (mids !== undefined && outcome === 'accepted' && (takeQuote || isWs(raw))) {
      // Only an accepted quote moves the mid: a rejected (crossed, duplicate) one never was the market.
      const sides = quoteSides(raw);
      const t = sides === undefined ? undefined : recordTime(raw);
      if (sides !== undefined && t !== undefined) mids.push(Math.floor(t.us / 1000), sides[0], sides[1]);
    }
    if (!takeQuote && input.onTrade !== undefined)
      input.onTrade(raw, outcome === 'accepted' ? detector.lastTrade : INELIGIBLE, outcome);
    for (const a of detector.drainAlerts()) alerts.push(a);
  }
  const base = { symbol: input.symbol, alerts, exitSignal: detector.exitSignal, stats: detector.stats };
  return mids === undefined ? base : { ...base, report: alertQualityReport(alerts, mids, input.report?.timeZone) };
}

function feed(detector: FlowDetector, raw: unknown, quote: boolean): RecordOutcome {
  if (isWs(raw)) return detector.onWsMessage(raw);
  return quote ? detector.onQuoteRecord(raw) : detector.onTradeRecord(raw);
}
