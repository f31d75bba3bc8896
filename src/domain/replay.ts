import { alertQualityReport, MidSeries, type AlertQualityReport } from './alert-quality';
import { type ExitSignal, type FlowAlert, type FlowStats } from './detectors/alerts';
import { type DetectorConfig, type DetectorConfigInput } from './detectors/config';
import {
  applyRecord,
  createFlowDetector,
  type FlowDetector,
  type RecordOutcome,
  type TradeVerdict,
} from './detectors/flow-detector';
import { mergeByTime } from './market-data/merge';
import { PRICE_SCALE } from './market-data/price';
import { type MarketRecord } from './market-data/records';
import { parseNs, type NsTime } from './market-data/timestamp';
import { type VolumeProfile } from './detectors/volume-profile';

export interface ReplayOptions {
  readonly symbol: string;
  readonly config?: DetectorConfigInput | DetectorConfig;
  /**
   * Records strictly before this SIP time (ns) only warm the detector up (baseline, episodes), without
   * alerts — what a monitor does with its backfill. Omit to alert from the first record.
   */
  readonly liveFromNs?: bigint | string;
  /**
   * Called once per record of the trades side, in the order fed, with how it was classified (the per-trade audit of
   * `replay --trades-out`). A record that was rejected or dropped is ineligible.
   */
  readonly onTrade?: (record: MarketRecord, verdict: TradeVerdict, outcome: RecordOutcome) => void;
  /** Build the alert-quality report (alert-quality.ts) from the mids of the accepted quotes; hours in `timeZone`. */
  readonly report?: { readonly timeZone?: string };
  /** The symbol's intraday volume curve (`replay --volume-profile`): red_burst's baseline follows it. */
  readonly volumeProfile?: VolumeProfile;
}

export interface ReplayInput extends ReplayOptions {
  /** Decoded trade records (src/market-data/decode.ts), in the order recorded. */
  readonly trades: readonly MarketRecord[];
  /** Decoded quote records, in the order recorded. */
  readonly quotes: readonly MarketRecord[];
  /** Called once per record with its side, its index in that side's input and the outcome. */
  readonly onOutcome?: (stream: 'trades' | 'quotes', index: number, outcome: RecordOutcome) => void;
}

export interface ReplayResult {
  readonly symbol: string;
  readonly alerts: FlowAlert[];
  readonly exitSignal: ExitSignal | null;
  readonly stats: FlowStats;
  /** When asked for with `report`. */
  readonly report?: AlertQualityReport;
}

const INELIGIBLE: TradeVerdict = { eligible: false, side: 'unknown', rule: 'unknown', bidE8: 0, askE8: 0 };

/**
 * One replay: records go in one at a time, already merged by time (market-data/merge.ts), and come out as alerts,
 * the exit signal and stats. Pushed rather than pulled, so the caller can stream files of any size through it.
 */
export class ReplaySession {
  private readonly detector: FlowDetector;
  private readonly live: NsTime | undefined;
  private readonly mids: MidSeries | undefined;
  private readonly alerts: FlowAlert[] = [];

  constructor(private readonly options: ReplayOptions) {
    this.detector = createFlowDetector({
      symbol: options.symbol,
      config: options.config,
      ...(options.volumeProfile !== undefined ? { volumeProfile: options.volumeProfile } : {}),
    });
    this.live = options.liveFromNs === undefined ? undefined : parseNs(options.liveFromNs);
    if (this.live !== undefined) this.detector.setWarmUp(true);
    this.mids = options.report === undefined ? undefined : new MidSeries();
  }

  /** Feeds one record; `fromTrades` when it came from the trades side (it then reaches `onTrade`). */
  feed(record: MarketRecord, fromTrades: boolean): RecordOutcome {
    const d = this.detector;
    const live = this.live;
    if (live !== undefined && d.warmUp && record.kind !== 'reject' && record.kind !== 'ignored') {
      const e = record.kind === 'trade' ? record.trade : record.quote;
      if (e.tsUs > live.us || (e.tsUs === live.us && e.tsRem >= live.rem)) d.setWarmUp(false);
    }
    const outcome = applyRecord(d, record);
    if (this.mids !== undefined && outcome === 'accepted' && record.kind === 'quote') {
      // Only an accepted quote moves the mid: a rejected (crossed, duplicate) one never was the market.
      const q = record.quote;
      this.mids.push(Math.floor(q.tsUs / 1000), q.bidE8 / PRICE_SCALE, q.askE8 / PRICE_SCALE);
    }
    if (fromTrades && this.options.onTrade !== undefined)
      this.options.onTrade(record, outcome === 'accepted' ? d.lastTrade : INELIGIBLE, outcome);
    const fresh = d.drainAlerts();
    for (let i = 0; i < fresh.length; i++) this.alerts.push(fresh[i]!);
    return outcome;
  }

  /** The verdict on the last trade fed (ineligible when it was rejected or dropped). */
  get lastTrade(): TradeVerdict {
    return this.detector.lastTrade;
  }

  result(): ReplayResult {
    const d = this.detector;
    const base = { symbol: this.options.symbol, alerts: this.alerts, exitSignal: d.exitSignal, stats: d.stats };
    return this.mids === undefined
      ? base
      : { ...base, report: alertQualityReport(this.alerts, this.mids, this.options.report?.timeZone) };
  }
}

/** Replays both sides held in memory through one detector in SIP-time order (the merge of market-data/merge.ts). */
export function replaySession(input: ReplayInput): ReplayResult {
  const session = new ReplaySession(input);
  mergeByTime(input.trades, input.quotes, (record, fromQuotes, index) => {
    const outcome = session.feed(record, !fromQuotes);
    input.onOutcome?.(fromQuotes ? 'quotes' : 'trades', index, outcome);
  });
  return session.result();
}
