import { type RejectCode } from '../market-data/reject-codes';

export const AlertKind = { LargeSeller: 'large_seller', RedBurst: 'red_burst' } as const;
export type AlertKind = (typeof AlertKind)[keyof typeof AlertKind];

export const AlertSource = { Tape: 'tape', Quote: 'quote' } as const;
export type AlertSource = (typeof AlertSource)[keyof typeof AlertSource];

export const Severity = { Warning: 'warning', Critical: 'critical' } as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

export const ExitReason = { LargeSellerCluster: 'large_seller_cluster', RedBurst: 'red_burst' } as const;
export type ExitReason = (typeof ExitReason)[keyof typeof ExitReason];

export const TradeSide = { Buy: 'buy', Sell: 'sell', Unknown: 'unknown' } as const;
export type TradeSide = (typeof TradeSide)[keyof typeof TradeSide];

/**
 * Which threshold made a large seller: the share count (largeOrderSize), the dollar value (largeOrderNotional),
 * or the symbol's own print-size percentile over the recent window (largeOrderPercentile).
 */
export const LargeSellerTrigger = { Shares: 'shares', Notional: 'notional', Percentile: 'percentile' } as const;
export type LargeSellerTrigger = (typeof LargeSellerTrigger)[keyof typeof LargeSellerTrigger];

/** A seller-initiated print or sweep on the tape, or a large offer at the NBBO ask. */
export interface LargeSellerAlert {
  readonly kind: typeof AlertKind.LargeSeller;
  readonly source: AlertSource;
  readonly severity: Severity;
  readonly symbol: string;
  /** SIP timestamp of the print (or quote) that fired, exact nanoseconds as a decimal string. */
  readonly timestampNs: string;
  /** Decimal string. */
  readonly price: string;
  /** Shares: the print, the sweep's sum, or the ask size (round lots already converted). */
  readonly size: number;
  /** The rule that fired (absent on alerts raised before the notional rule existed: shares). */
  readonly trigger?: LargeSellerTrigger;
  readonly rule: string;
  /**
   * Raised on a record older than staleRejectSeconds that was accepted because it fills a gap on our side (a
   * lost worker, an outage; see staleness() in flow-detector.ts), so it comes later than a live alert would.
   * `timestampNs` stays its market time. Absent on live alerts.
   */
  readonly late?: true;
}

/** Trailing-60 s volume far above the baseline with sellers dominating. */
export interface RedBurstAlert {
  readonly kind: typeof AlertKind.RedBurst;
  readonly severity: Severity;
  readonly symbol: string;
  readonly timestampNs: string;
  /** Price of the print that fired, decimal string. */
  readonly price: string;
  /** Trailing-60 s volume ÷ mean 60 s volume of the baseline, rounded to 4 decimals. */
  readonly ratio: number;
  /** Sell share of the trailing-60 s classified volume, rounded to 4 decimals. */
  readonly sellShare: number;
  /** Eligible shares traded in the trailing 60 s. */
  readonly volume: number;
  /** Mean eligible shares per 60 s over the baseline (times profileScale when a volume profile is in use). */
  readonly baselineVolume: number;
  /** How much the intraday volume profile raised the baseline (≥ 1); present only when a profile is in use. */
  readonly profileScale?: number;
  readonly rule: string;
  /** Raised from a gap being filled (see LargeSellerAlert.late): later than its market time, not live. */
  readonly late?: true;
}

export type FlowAlert = LargeSellerAlert | RedBurstAlert;

export interface ExitSignal {
  readonly timestampNs: string;
  readonly reason: ExitReason;
  readonly rule: string;
  /** Decided on a late record (see LargeSellerAlert.late). */
  readonly late?: true;
}

export interface FlowStats {
  /** Trade records received (accepted or not). */
  trades: number;
  /** Quote records received (accepted or not). */
  quotes: number;
  /** Accepted trades that count toward volume and side. */
  eligibleTrades: number;
  rejected: Record<RejectCode, number>;
  /** Accepted but ineligible trades: non-zero correction, or the first excluded condition id. */
  dropped: { correction: number; conditions: Record<string, number> };
  /** Records older than staleWarnSeconds (but accepted). */
  staleWarnings: number;
  /** Eligible trades by Lee–Ready side. */
  sides: Record<TradeSide, number>;
  /** WebSocket messages that are not trades or quotes of this symbol (status, other symbols). */
  ignored: number;
}
