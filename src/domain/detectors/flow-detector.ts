import { z } from 'zod';
import { parseOrThrow, ValidationError } from '../validation';
import { formatPriceE8 } from '../market-data/price';
import { Money } from '../orders/money';
import { type MarketRecord, type MarketStream, type QuoteEvent, type TradeEvent } from '../market-data/records';
import { REJECT_CODES, RejectCode } from '../market-data/reject-codes';
import { formatNs, parseNs } from '../market-data/timestamp';
import {
  AlertKind,
  AlertSource,
  ExitReason,
  LargeSellerTrigger,
  Severity,
  type ExitSignal,
  type FlowAlert,
  type FlowStats,
} from './alerts';
import { firstExcludedCondition as firstExcluded } from './conditions';
import { zonedTimeToUtc } from '../sessions';
import { decodeDeltas, decodeNums, encodeDeltas, encodeNums } from './state-codec';
import { SIZE_BINS, SizeSketch } from './size-sketch';
import { profileMinutes, profileScale, VolumeProfileSchema, type VolumeProfile } from './volume-profile';
import { DetectorConfigSchema, QuoteSizeUnit, type DetectorConfig, type DetectorConfigInput } from './config';

// Imported bindings used per event, copied to module constants: ES-module-to-CommonJS loaders (tsx) turn
// each use of an imported binding into a getter call.
const firstExcludedCondition = firstExcluded;
/** Keys of stats.dropped.conditions, made once (condition ids are < 256). */
const CONDITION_KEYS: readonly string[] = Array.from({ length: 256 }, (_, c) => String(c));

/** Seller prints at one price within this many microseconds of the first form one sweep. */
export const SWEEP_WINDOW_US = 50_000;
/** The trailing volume window of red_burst, in seconds. */
export const TRAILING_SECONDS = 60;
/** At most this many baseline buckets, so the serialized state stays small for any baselineMinutes. */
const MAX_BASELINE_BUCKETS = 300;
const RECENT_SEQ = 32;
/** Recent trade identities kept to recognise a print delivered twice (by REST overlap or a held stream). */
const RECENT_IDS = 32;
/** Of those, the newest this many are persisted (the state stays under 4 KB; a poll's own overlap is in memory). */
const RECENT_IDS_PERSISTED = 8;
const US_PER_SEC = 1_000_000;
const US_PER_DAY = 86_400 * US_PER_SEC;
const STATE_VERSION = 4;
/**
 * The adaptive large-seller rule (largeOrderPercentile) waits for at least this many prints in its window, and
 * for at least 1 / (1 − p) of them: a p99.9 of 250 prints is only their maximum, and on the real AMZN day such
 * "new highs of the last minutes" fired 73 large_seller alerts (19 exit clusters, bench:realdata, before this floor).
 */
export const PERCENTILE_MIN_PRINTS = 100;

/** Prints the percentile rule needs in its window before it claims a p-th percentile (0 < p < 100). */
export function percentileMinPrints(p: number): number {
  return Math.max(PERCENTILE_MIN_PRINTS, Math.ceil(100 / (100 - p) - 1e-9));
}
/** Recent NBBOs kept to find the quote in force before a print (the quote a print causes shares its timestamp). */
const QUOTE_HISTORY = 64;
/** Of those, the newest this many are persisted: enough for same-instant ties across a poll boundary. */
const QUOTE_HISTORY_PERSISTED = 4;

/**
 * Baseline buckets are `width` seconds wide; width is the smallest divisor of 60 that keeps the count at
 * or below MAX_BASELINE_BUCKETS (1 s up to baselineMinutes = 5, 12 s at 60). The baseline then spans
 * exactly baselineMinutes × 60 s of complete buckets.
 */
export function baselineGeometry(baselineMinutes: number): { width: number; buckets: number } {
  const seconds = baselineMinutes * 60;
  for (const width of [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60]) {
    if (seconds / width <= MAX_BASELINE_BUCKETS) return { width, buckets: seconds / width };
  }
  return { width: 60, buckets: baselineMinutes };
}

const alertSchema = z.looseObject({ kind: z.enum([AlertKind.LargeSeller, AlertKind.RedBurst]) });
const counts = z.record(z.string(), z.number().int().min(0));
const num = () => z.number();
const ring = (n: number) => z.array(z.number()).length(n, `must have ${n} entries`);

/** A number list in the compact text form of state-codec.ts, decoded; `length` exact or `max` entries. */
function numList(opts: { length?: number; max?: number; deltas?: boolean }) {
  return z.string('must be a compact number list (string)').transform((text, ctx) => {
    const values = opts.deltas ? decodeDeltas(text) : decodeNums(text);
    if (values === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be a compact number list' });
      return z.NEVER;
    }
    if (opts.length !== undefined && values.length !== opts.length) {
      ctx.addIssue({ code: 'custom', message: `must have ${opts.length} entries (has ${values.length})` });
      return z.NEVER;
    }
    if (opts.max !== undefined && values.length > opts.max) {
      ctx.addIssue({ code: 'custom', message: `must have at most ${opts.max} entries` });
      return z.NEVER;
    }
    return values;
  });
}

const exitSchema = z
  .object({
    timestampNs: z.string(),
    reason: z.enum([ExitReason.LargeSellerCluster, ExitReason.RedBurst]),
    rule: z.string(),
    late: z.literal(true).optional(),
  })
  .nullable();

const statsSchema = z.object({
  trades: num(),
  quotes: num(),
  eligibleTrades: num(),
  rejected: counts,
  dropped: z.object({ correction: num(), conditions: counts }),
  staleWarnings: num(),
  sides: counts,
  ignored: num(),
});

const common = {
  symbol: z.string().min(1),
  warm: z.boolean(),
  /** Trade stream: last sequence, time (µs, ns remainder), UTC day. */
  ts: z.tuple([num(), num(), num(), num()]),
  /** Recent trades' [id, exchange, TRF id], oldest first. */
  tIds: z.array(z.tuple([z.string(), num(), num()])).max(RECENT_IDS),
  qs: z.tuple([num(), num(), num(), num()]),
  /** NBBO: bid, bid size, ask, ask size (prices 1e-8 USD, sizes as received). */
  nbbo: z.tuple([num(), num(), num(), num()]),
  /** Tick test: last eligible price, direction of its last change (1 up, -1 down, 0 none). */
  tick: z.tuple([num(), num()]),
  /** Quote episode: armed (1/0), ask price of the last alerted episode. */
  qe: z.tuple([num(), num()]),
  /** Sweep cluster: price, first print µs, summed size, prints, alerted (1/0). */
  sw: z.tuple([num(), num(), num(), num(), num()]),
  /** Clock: first second seen, current second. */
  clk: z.tuple([num(), num()]),
  /** Trailing sums: volume, sell, buy. */
  sums: z.tuple([num(), num(), num()]),
  /** Baseline: filling bucket index, its volume, complete buckets seen (capped), sum of the ring. */
  bf: z.tuple([num(), num(), num(), num()]),
  /** Red burst episode: active (1/0), highest severity alerted (0 none, 1 warning, 2 critical). */
  rb: z.tuple([num(), num()]),
  exit: exitSchema,
  /** Zero reject counts may be left out. */
  stats: statsSchema,
  pending: z.array(alertSchema),
};

/**
 * The serialized detector state (JSON-safe, compact: the rings and sequence lists are number lists in the
 * text form of state-codec.ts — base 36, zero runs collapsed, sequences delta-encoded). Carried across
 * activity calls and continue-as-new, so it is kept under 4 KB per symbol.
 */
export function flowDetectorStateSchema(config: DetectorConfig) {
  const geo = baselineGeometry(config.baselineMinutes);
  return z
    .object({
      v: z.literal(STATE_VERSION),
      ...common,
      /** Recent trade sequence numbers, oldest first. */
      tSeqs: numList({ max: RECENT_SEQ, deltas: true }),
      qSeqs: numList({ max: RECENT_SEQ, deltas: true }),
      /** Per-second rings of the trailing window: volume, sell, buy. */
      vol: numList({ length: TRAILING_SECONDS }),
      sell: numList({ length: TRAILING_SECONDS }),
      buy: numList({ length: TRAILING_SECONDS }),
      base: numList({ length: geo.buckets }),
      /** Market times (µs) of the latest large_seller alerts, oldest first. */
      ls: numList({ max: config.exitAlertCount, deltas: true }),
      /** Red burst episode: active (1/0), highest severity alerted, µs since the ratio is below the re-arm level (-1). */
      rb: z.tuple([num(), num(), num()]),
      /** Per-second ring of eligible print counts of the trailing window. */
      cnt: numList({ length: TRAILING_SECONDS }),
      /** Newest NBBOs, oldest first: µs, ns remainder, bid, bid size, ask, ask size (the last is `nbbo`). */
      qh: z.array(z.tuple([num(), num(), num(), num(), num(), num()])).max(QUOTE_HISTORY_PERSISTED),
      /** Print-size sketch (size-sketch.ts): period index, then the current and previous histograms. */
      pc: numList({ length: 1 + 2 * SIZE_BINS }),
    })
    .strict();
}
/** The serialized form (what snapshot() returns and createFlowDetector({ state }) accepts). */
export type FlowDetectorState = z.input<ReturnType<typeof flowDetectorStateSchema>>;

/** Version 3 (no print-size sketch), still accepted on restore: the percentile rule starts from an empty window. */
function flowDetectorStateSchemaV3(config: DetectorConfig) {
  return flowDetectorStateSchema(config)
    .omit({ pc: true })
    .extend({ v: z.literal(3) });
}

/** Version 2 (no quote history), still accepted on restore: the NBBO in force becomes the history. */
function flowDetectorStateSchemaV2(config: DetectorConfig) {
  return flowDetectorStateSchema(config)
    .omit({ qh: true, cnt: true, pc: true })
    .extend({ v: z.literal(2), rb: common.rb });
}

/** Version 1 (plain number arrays), still accepted on restore. */
function flowDetectorStateSchemaV1(config: DetectorConfig) {
  const geo = baselineGeometry(config.baselineMinutes);
  return z
    .object({
      v: z.literal(1),
      ...common,
      tSeqs: z.array(num()).max(RECENT_SEQ),
      qSeqs: z.array(num()).max(RECENT_SEQ),
      vol: ring(TRAILING_SECONDS),
      sell: ring(TRAILING_SECONDS),
      buy: ring(TRAILING_SECONDS),
      base: ring(geo.buckets),
      ls: z.array(num()).max(config.exitAlertCount),
    })
    .strict();
}
type DecodedState = Omit<z.output<ReturnType<typeof flowDetectorStateSchemaV1>>, 'v' | 'rb'> & {
  rb: [number, number] | [number, number, number];
  cnt?: number[];
  qh?: [number, number, number, number, number, number][];
  pc?: number[];
};

export interface CreateFlowDetectorOptions {
  readonly symbol: string;
  /** Detector settings; validated with DetectorConfigSchema (defaults applied). */
  readonly config?: DetectorConfigInput | DetectorConfig;
  /** A snapshot() from an earlier detector of the same symbol and config. */
  readonly state?: unknown;
  /** Start in warm-up mode (builds baseline and episode state, emits no alerts). Ignored when state is given. */
  readonly warmUp?: boolean;
  /** The symbol's intraday volume curve (volume-profile.ts): red_burst's baseline follows it. Not persisted. */
  readonly volumeProfile?: VolumeProfile;
}

/** How the last trade was classified (what `replay --trades-out` writes, so a classification can be audited). */
export interface TradeVerdict {
  /** Accepted and counted (not rejected, not a correction, no excluded condition). */
  readonly eligible: boolean;
  readonly side: 'buy' | 'sell' | 'unknown';
  /** quote: against the NBBO; tick: midpoint or locked market, by the tick test; unknown: neither could. */
  readonly rule: 'quote' | 'tick' | 'unknown';
  /** The NBBO it was compared with, 1e-8 USD (0: absent side). */
  readonly bidE8: number;
  readonly askE8: number;
}

/** What happened to one record. */
export type RecordOutcome = 'accepted' | RejectCode | 'ignored';

/** How old a record is for the stale-data rules: 'late' is accepted (its alerts say so), 'stale' rejected. */
export type Staleness = 'fresh' | 'warn' | 'late' | 'stale';

/**
 * The stale-data rule for one record, ages in µs against the wall clock. Staleness is about the live edge of
 * the feed: a record past the reject bound is STALE when the feed delivered it late. It is only 'late' when we
 * fetched it late — it was still within the bound at `ageAtCaughtUpUs`, its age at the last time the consumer
 * had caught up with the feed, so it belongs to the gap being filled from the cursor (a lost worker, an
 * outage, a long catch-up), and dropping it would blind the monitor to exactly what happened meanwhile.
 * Without a caught-up time every record past the bound is STALE (live data).
 */
export function staleness(
  ageUs: number,
  ageAtCaughtUpUs: number | undefined,
  bounds: { readonly warnUs: number; readonly rejectUs: number },
): Staleness {
  if (ageUs <= bounds.warnUs) return 'fresh';
  if (ageUs <= bounds.rejectUs) return 'warn';
  return ageAtCaughtUpUs !== undefined && ageAtCaughtUpUs <= bounds.rejectUs ? 'late' : 'stale';
}

export interface FlowDetector {
  readonly symbol: string;
  readonly config: DetectorConfig;
  /** A validated trade (see market-data/records.ts). */
  onTrade(trade: TradeEvent): RecordOutcome;
  /** A validated NBBO quote. */
  onQuote(quote: QuoteEvent): RecordOutcome;
  /** A record the edge decoder rejected (src/market-data/decode.ts): counted under its stream and code. */
  onReject(code: RejectCode, stream: MarketStream): RejectCode;
  /** A message of no concern (a WebSocket status message, another symbol): counted in stats.ignored. */
  onIgnored(): 'ignored';
  /**
   * Wall-clock "now" in nanoseconds for the stale-data rules (the domain has no clock). Until set, or after
   * setNow(undefined), no staleness is checked (replay, backfill). `caughtUpAtNs`: the wall-clock time the
   * consumer last had caught up with the feed, when it is filling a gap from a cursor: records that were
   * within the reject bound then are accepted as late instead of STALE (see staleness()).
   */
  setNow(nowNs: bigint | string | number | undefined, caughtUpAtNs?: bigint | string | number): void;
  /**
   * The intraday volume curve that scales red_burst's baseline (volume-profile.ts), or undefined for none. Not
   * part of snapshot(): the caller passes it with every call (it is fetched once per monitor).
   */
  setVolumeProfile(profile: VolumeProfile | undefined): void;
  /** Warm-up: process history for baseline and episodes without emitting alerts or an exit. */
  setWarmUp(on: boolean): void;
  readonly warmUp: boolean;
  /** Alerts raised since the last drain, oldest first. */
  drainAlerts(): FlowAlert[];
  /** The verdict on the last trade that reached onTrade (ineligible when it was rejected or dropped). */
  readonly lastTrade: TradeVerdict;
  /**
   * Whether this record is one already taken: stamped before the last accepted record of its kind, or with that
   * record's identity (trade id + exchange + TRF; quote fields + timestamp). A feed that overlaps REST (WebSocket
   * messages held while a backfill ran) skips these instead of having them rejected as duplicates of good data.
   * Sequence numbers play no part: they restart every session and two distinct prints can share one.
   */
  alreadySeen(record: MarketRecord): boolean;
  /** Set once, the first time the exit rule fires; never cleared. */
  readonly exitSignal: ExitSignal | null;
  readonly stats: FlowStats;
  /** JSON-safe state (including undrained alerts); restore with createFlowDetector({ state }). */
  snapshot(): FlowDetectorState;
}

export function createFlowDetector(options: CreateFlowDetectorOptions): FlowDetector {
  const config = parseOrThrow(DetectorConfigSchema, options.config ?? {}, 'config');
  if (typeof options.symbol !== 'string' || options.symbol.length === 0) {
    throw new ValidationError([{ field: 'symbol', rule: 'must be a non-empty string' }]);
  }
  const d = new Detector(options.symbol, config);
  if (options.state !== undefined) {
    const v = typeof options.state === 'object' && options.state !== null ? (options.state as { v?: unknown }).v : 0;
    d.restore(
      v === 1
        ? parseOrThrow(flowDetectorStateSchemaV1(config), options.state, 'state')
        : v === 2
          ? parseOrThrow(flowDetectorStateSchemaV2(config), options.state, 'state')
          : v === 3
            ? parseOrThrow(flowDetectorStateSchemaV3(config), options.state, 'state')
            : parseOrThrow(flowDetectorStateSchema(config), options.state, 'state'),
    );
  } else if (options.warmUp) d.warm = true;
  if (options.volumeProfile !== undefined) d.setVolumeProfile(options.volumeProfile);
  return d;
}

/** Feeds one decoded record to the detector method for its kind. */
export function applyRecord(d: FlowDetector, r: MarketRecord): RecordOutcome {
  switch (r.kind) {
    case 'trade':
      return d.onTrade(r.trade);
    case 'quote':
      return d.onQuote(r.quote);
    case 'reject':
      return d.onReject(r.code, r.stream);
    default:
      return d.onIgnored();
  }
}

/** Counters of a detector that has seen nothing yet (every reject code at 0). */
export function emptyFlowStats(): FlowStats {
  const rejected = {} as Record<RejectCode, number>;
  for (const c of REJECT_CODES) rejected[c] = 0;
  return {
    trades: 0,
    quotes: 0,
    eligibleTrades: 0,
    rejected,
    dropped: { correction: 0, conditions: {} },
    staleWarnings: 0,
    sides: { buy: 0, sell: 0, unknown: 0 },
    ignored: 0,
  };
}

/** Time (µs, ns remainder) a strictly before time b. */
function before(aUs: number, aRem: number, bUs: number, bRem: number): boolean {
  return aUs < bUs || (aUs === bUs && aRem < bRem);
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

const SIDE_BUY = 1;
const SIDE_SELL = -1;
const SIDE_UNKNOWN = 0;

class Detector implements FlowDetector {
  readonly large: number;
  /** largeOrderNotional in 1e-8 dollars (0: off), approximate and exact: see overNotional. */
  private readonly notionalE8: number;
  private readonly notionalE8Exact: Money;
  readonly spike: number;
  readonly red: number;
  readonly sellShareMin: number;
  readonly windowUs: number;
  readonly exitCount: number;
  readonly baselineMinutes: number;
  readonly quoteUnit: number;
  readonly warnUs: number;
  readonly rejectUs: number;
  readonly width: number;
  readonly nBase: number;
  /** Catch-up longer than this zeroes everything anyway, so longer gaps are cut short. */
  readonly maxGapSec: number;
  readonly lagUs: number;
  /** largeOrderPercentile (0: off). */
  readonly pctl: number;
  readonly pctlMin: number;
  /** Sizes of eligible prints over the last one to two baseline windows (the percentile rule). */
  sizes: SizeSketch;
  /** Shares above the percentile for the print being processed (undefined: rule off or too few prints). */
  pctThr: number | undefined = undefined;

  warm = false;
  nowUs = -1;
  caughtUpUs = -1;
  /** The record being processed was accepted as late: alerts and the exit it raises carry `late: true`. */
  late = false;

  // Trade stream validation.
  tSeq = -1;
  tUs = -1;
  tRem = 0;
  tDay = -1;
  tSeqs = new Ring<number>(RECENT_SEQ, -1);
  tIds = new Ring<string>(RECENT_IDS, '');
  tIdEx = new Ring<number>(RECENT_IDS, -1);
  tIdTrf = new Ring<number>(RECENT_IDS, -1);
  // Quote stream validation.
  qSeq = -1;
  qUs = -1;
  qRem = 0;
  qDay = -1;
  qSeqs = new Ring<number>(RECENT_SEQ, -1);
  // Latest NBBO.
  bid = 0;
  bidSize = 0;
  ask = 0;
  askSize = 0;
  // Recent NBBOs (ring, newest at qhPos − 1): time µs, ns remainder, bid, ask.
  qhUs = new Array<number>(QUOTE_HISTORY).fill(0);
  qhRem = new Array<number>(QUOTE_HISTORY).fill(0);
  qhBid = new Array<number>(QUOTE_HISTORY).fill(0);
  qhBidSize = new Array<number>(QUOTE_HISTORY).fill(0);
  qhAsk = new Array<number>(QUOTE_HISTORY).fill(0);
  qhAskSize = new Array<number>(QUOTE_HISTORY).fill(0);
  qhPos = 0;
  qhLen = 0;
  // Tick test.
  lastPx = 0;
  tickDir = 0;
  // Quote-source episode.
  qArmed = 1;
  qEpisodeAsk = 0;
  // Sweep cluster.
  swPx = 0;
  swStart = 0;
  swSum = 0;
  swCount = 0;
  swAlerted = 0;
  // Time buckets.
  firstSec = -1;
  curSec = -1;
  vol: number[];
  sell: number[];
  buy: number[];
  volSum = 0;
  sellSum = 0;
  buySum = 0;
  base: number[];
  fillK = -1;
  fill = 0;
  complete = 0;
  baseSum = 0;
  // Red burst episode.
  rbActive = 0;
  rbLevel = 0;
  rbBelowUs = -1;
  // Eligible prints per second of the trailing window (the red_burst trade-count floor).
  cnt: number[];
  cntSum = 0;
  // 09:30 New York of the UTC day `openDay` (µs), for the opening guard; computed once a day.
  openDay = -1;
  openUs = 0;
  // Intraday volume curve (not persisted): expected volume per session minute, and the scale cached per minute.
  profile: number[] | undefined = undefined;
  scaleMin = -1;
  scale = 1;
  // Exit.
  lsTimes: number[] = [];
  exit: ExitSignal | null = null;
  st: FlowStats = emptyFlowStats();
  pending: FlowAlert[] = [];
  // Verdict on the last trade (not persisted: it only describes the record just processed).
  vEligible = false;
  vSide = SIDE_UNKNOWN;
  vRule: TradeVerdict['rule'] = 'unknown';
  vBid = 0;
  vAsk = 0;

  constructor(
    readonly symbol: string,
    readonly config: DetectorConfig,
  ) {
    this.large = config.largeOrderSize;
    this.notionalE8Exact = new Money(config.largeOrderNotional).mul(1e8);
    this.notionalE8 = this.notionalE8Exact.toNumber();
    this.spike = config.volumeSpikeThreshold;
    this.red = config.redBurstThreshold;
    this.sellShareMin = config.redBurstSellShare;
    this.windowUs = config.alertWindowSeconds * US_PER_SEC;
    this.exitCount = config.exitAlertCount;
    this.baselineMinutes = config.baselineMinutes;
    this.quoteUnit = config.quoteSizeUnit === QuoteSizeUnit.RoundLots ? 100 : 1;
    this.warnUs = config.staleWarnSeconds * US_PER_SEC;
    this.rejectUs = config.staleRejectSeconds * US_PER_SEC;
    this.lagUs = Math.round(config.quoteLagMs * 1000);
    this.pctl = config.largeOrderPercentile ?? 0;
    this.pctlMin = this.pctl > 0 ? percentileMinPrints(this.pctl) : 0;
    this.sizes = new SizeSketch(config.baselineMinutes * 60);
    const geo = baselineGeometry(config.baselineMinutes);
    this.width = geo.width;
    this.nBase = geo.buckets;
    this.maxGapSec = TRAILING_SECONDS + (geo.buckets + 1) * geo.width;
    this.vol = new Array<number>(TRAILING_SECONDS).fill(0);
    this.cnt = new Array<number>(TRAILING_SECONDS).fill(0);
    this.sell = new Array<number>(TRAILING_SECONDS).fill(0);
    this.buy = new Array<number>(TRAILING_SECONDS).fill(0);
    this.base = new Array<number>(geo.buckets).fill(0);
  }

  get warmUp(): boolean {
    return this.warm;
  }
  get lastTrade(): TradeVerdict {
    return {
      eligible: this.vEligible,
      side: this.vSide === SIDE_BUY ? 'buy' : this.vSide === SIDE_SELL ? 'sell' : 'unknown',
      rule: this.vRule,
      bidE8: this.vBid,
      askE8: this.vAsk,
    };
  }
  get exitSignal(): ExitSignal | null {
    return this.exit;
  }
  get stats(): FlowStats {
    return structuredCloneStats(this.st);
  }

  setVolumeProfile(profile: VolumeProfile | undefined): void {
    this.profile =
      profile === undefined ? undefined : profileMinutes(parseOrThrow(VolumeProfileSchema, profile, 'volumeProfile'));
    this.scaleMin = -1;
    this.scale = 1;
  }

  setWarmUp(on: boolean): void {
    this.warm = on;
  }

  setNow(nowNs: bigint | string | number | undefined, caughtUpAtNs?: bigint | string | number): void {
    this.caughtUpUs = -1;
    if (nowNs === undefined) {
      this.nowUs = -1;
      return;
    }
    const t = parseNs(nowNs);
    if (t === undefined)
      throw new ValidationError([{ field: 'nowNs', rule: 'must be a non-negative integer of nanoseconds' }]);
    this.nowUs = t.us;
    if (caughtUpAtNs === undefined) return;
    const c = parseNs(caughtUpAtNs);
    if (c === undefined)
      throw new ValidationError([{ field: 'caughtUpAtNs', rule: 'must be a non-negative integer of nanoseconds' }]);
    this.caughtUpUs = c.us;
  }

  alreadySeen(record: MarketRecord): boolean {
    if (record.kind === 'trade') {
      const t = record.trade;
      return this.tUs >= 0 && (before(t.tsUs, t.tsRem, this.tUs, this.tRem) || this.knownTrade(t));
    }
    if (record.kind === 'quote') {
      const q = record.quote;
      return this.qUs >= 0 && (before(q.tsUs, q.tsRem, this.qUs, this.qRem) || this.knownQuote(q));
    }
    return false;
  }

  /** A print with this identity (trade id, exchange, TRF) among the recent ones. Corrections reuse the id. */
  private knownTrade(t: TradeEvent): boolean {
    if (t.correction !== 0) return false;
    const ids = this.tIds.items;
    for (let i = 0; i < RECENT_IDS; i++) {
      if (ids[i] === t.id && this.tIdEx.items[i] === t.exchange && this.tIdTrf.items[i] === t.trfId) return true;
    }
    return false;
  }

  /** A quote with the same timestamp and the same prices and sizes among the recent ones. */
  private knownQuote(q: QuoteEvent): boolean {
    for (let i = 1; i <= this.qhLen; i++) {
      const k = (this.qhPos - i + QUOTE_HISTORY) % QUOTE_HISTORY;
      const us = this.qhUs[k]!;
      if (us < q.tsUs || (us === q.tsUs && this.qhRem[k]! < q.tsRem)) return false;
      if (
        us === q.tsUs &&
        this.qhRem[k] === q.tsRem &&
        this.qhBid[k] === q.bidE8 &&
        this.qhAsk[k] === q.askE8 &&
        this.qhBidSize[k] === q.bidSize &&
        this.qhAskSize[k] === q.askSize
      ) {
        return true;
      }
    }
    return false;
  }

  drainAlerts(): FlowAlert[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  // ---- decoded records

  onReject(code: RejectCode, stream: MarketStream): RejectCode {
    if (stream === 'trade') this.st.trades++;
    else this.st.quotes++;
    return this.reject(code);
  }

  onIgnored(): 'ignored' {
    this.st.ignored++;
    return 'ignored';
  }

  private reject(code: RejectCode): RejectCode {
    this.st.rejected[code]++;
    return code;
  }

  /** Stale check shared by both streams; returns a reject code or undefined (and sets `late`). */
  private stale(tsUs: number): RejectCode | undefined {
    this.late = false;
    if (this.nowUs < 0) return undefined;
    const verdict = staleness(this.nowUs - tsUs, this.caughtUpUs < 0 ? undefined : this.caughtUpUs - tsUs, this);
    if (verdict === 'fresh') return undefined;
    if (verdict === 'stale') return RejectCode.Stale;
    this.st.staleWarnings++;
    this.late = verdict === 'late';
    return undefined;
  }

  // ---- trades

  onTrade(t: TradeEvent): RecordOutcome {
    this.st.trades++;
    this.vEligible = false;
    this.vSide = SIDE_UNKNOWN;
    this.vRule = 'unknown';
    this.vBid = 0;
    this.vAsk = 0;
    const staleCode = this.stale(t.tsUs);
    if (staleCode !== undefined) return this.reject(staleCode);
    const day = Math.floor(t.tsUs / US_PER_DAY);
    if (this.tDay >= 0 && day > this.tDay) {
      // Sequence numbers restart every session (kept for the record only: identity and time decide).
      this.tSeq = -1;
      this.tSeqs.clear();
    }
    // A record's identity, not its sequence number, makes a duplicate; time alone orders the tape.
    if (this.knownTrade(t)) return this.reject(RejectCode.Duplicate);
    if (before(t.tsUs, t.tsRem, this.tUs, this.tRem)) return this.reject(RejectCode.OutOfOrder);
    if (t.correction === 0) {
      this.tIds.push(t.id);
      this.tIdEx.push(t.exchange);
      this.tIdTrf.push(t.trfId);
    }
    this.tSeq = t.sequence;
    this.tSeqs.push(t.sequence);
    this.tUs = t.tsUs;
    this.tRem = t.tsRem;
    this.tDay = day;

    const sec = Math.floor(t.tsUs / US_PER_SEC);
    this.advance(sec);

    if (t.correction !== 0) {
      this.st.dropped.correction++;
      return 'accepted';
    }
    const excluded = firstExcludedCondition(t.conditions);
    if (excluded >= 0) {
      const key = CONDITION_KEYS[excluded]!;
      this.st.dropped.conditions[key] = (this.st.dropped.conditions[key] ?? 0) + 1;
      return 'accepted';
    }
    this.st.eligibleTrades++;

    const px = t.priceE8;
    this.quoteBefore(t.execUs, t.execRem);
    const side = this.classify(px);
    this.vEligible = true;
    this.vSide = side;
    if (this.lastPx !== 0 && px !== this.lastPx) this.tickDir = px > this.lastPx ? 1 : -1;
    this.lastPx = px;

    // The percentile rule compares a print with the prints before it, never with itself.
    this.sizes.advance(sec);
    this.pctThr = this.pctl > 0 ? this.sizes.threshold(this.pctl, this.pctlMin) : undefined;
    const slot = Math.max(sec, this.curSec) % TRAILING_SECONDS;
    this.vol[slot]! += t.size;
    this.volSum += t.size;
    this.cnt[slot]! += 1;
    this.cntSum += 1;
    if (side === SIDE_SELL) {
      this.st.sides.sell++;
      this.sell[slot]! += t.size;
      this.sellSum += t.size;
      this.tapeSeller(t);
    } else if (side === SIDE_BUY) {
      this.st.sides.buy++;
      this.buy[slot]! += t.size;
      this.buySum += t.size;
    } else {
      this.st.sides.unknown++;
    }
    this.sizes.add(t.size);
    this.redBurst(t);
    return 'accepted';
  }

  /**
   * Sets vBid/vAsk to the NBBO in force for a print executed at (us, rem): the last quote stamped strictly
   * before that time minus the quote lag. The quote a print causes carries the print's own timestamp (or, on
   * consolidated feeds, a slightly earlier one), so it must not classify that print, whichever arrived first.
   * When the history does not reach back that far, its oldest quote is the best estimate left.
   */
  private quoteBefore(us: number, rem: number): void {
    let tUs = us - Math.floor(this.lagUs);
    const tRem = rem;
    if (tUs < 0) tUs = 0;
    const n = this.qhLen;
    let k = -1;
    for (let i = 1; i <= n; i++) {
      k = (this.qhPos - i + QUOTE_HISTORY) % QUOTE_HISTORY;
      const qUs = this.qhUs[k]!;
      if (qUs < tUs || (qUs === tUs && this.qhRem[k]! < tRem)) break;
    }
    if (k < 0) {
      this.vBid = this.bid;
      this.vAsk = this.ask;
      return;
    }
    this.vBid = this.qhBid[k]!;
    this.vAsk = this.qhAsk[k]!;
  }

  private pushQuote(us: number, rem: number, bid: number, bidSize: number, ask: number, askSize: number): void {
    const k = this.qhPos;
    this.qhUs[k] = us;
    this.qhRem[k] = rem;
    this.qhBid[k] = bid;
    this.qhBidSize[k] = bidSize;
    this.qhAsk[k] = ask;
    this.qhAskSize[k] = askSize;
    this.qhPos = (k + 1) % QUOTE_HISTORY;
    if (this.qhLen < QUOTE_HISTORY) this.qhLen++;
  }

  /**
   * Lee–Ready against the NBBO in force before the print (quoteBefore): at/below bid sell, at/above ask buy,
   * inside the spread the nearer side, exactly at the midpoint (or a locked market) the tick test. One-sided or
   * absent quotes classify nothing.
   */
  private classify(px: number): number {
    const bid = this.vBid;
    const ask = this.vAsk;
    if (bid <= 0 || ask <= 0) return SIDE_UNKNOWN;
    this.vRule = 'quote';
    if (bid < ask) {
      if (px <= bid) return SIDE_SELL;
      if (px >= ask) return SIDE_BUY;
      const twice = px * 2;
      const mid2 = bid + ask;
      if (twice < mid2) return SIDE_SELL;
      if (twice > mid2) return SIDE_BUY;
    }
    // Midpoint (or locked): tick test against the previous different price.
    this.vRule = 'tick';
    if (this.lastPx === 0) {
      this.vRule = 'unknown';
      return SIDE_UNKNOWN;
    }
    if (px > this.lastPx) return SIDE_BUY;
    if (px < this.lastPx) return SIDE_SELL;
    if (this.tickDir === 0) this.vRule = 'unknown';
    return this.tickDir > 0 ? SIDE_BUY : this.tickDir < 0 ? SIDE_SELL : SIDE_UNKNOWN;
  }

  /**
   * shares × price ≥ largeOrderNotional, decided in decimal (money). A double of shares × priceE8 is within a
   * part in 10^15 of it, so only a value that close to the threshold needs decimal.js: every quote's ask comes
   * through here and a Decimal per quote would cost more than the rest of the quote path.
   */
  private overNotional(shares: number, priceE8: number, times = 1): boolean {
    if (this.notionalE8 <= 0) return false;
    const approx = shares * priceE8;
    const bound = this.notionalE8 * times;
    if (approx < bound * (1 - 1e-9)) return false;
    if (approx > bound * (1 + 1e-9)) return true;
    return new Money(shares).mul(priceE8).gte(this.notionalE8Exact.mul(times));
  }

  /**
   * Which rule makes `shares` at `priceE8` a large seller (shares first: the spec's rule; then notional; then,
   * for prints and sweeps on the tape only, the symbol's own size percentile), and how severe (twice the bound).
   * NBBO ask sizes are not prints: the percentile of print sizes says nothing about them.
   */
  private largeRule(
    shares: number,
    priceE8: number,
    tape = false,
  ): { trigger: LargeSellerTrigger; critical: boolean } | undefined {
    if (shares >= this.large) return { trigger: LargeSellerTrigger.Shares, critical: shares >= 2 * this.large };
    if (this.overNotional(shares, priceE8))
      return { trigger: LargeSellerTrigger.Notional, critical: this.overNotional(shares, priceE8, 2) };
    const p = this.pctThr;
    if (tape && p !== undefined && shares >= p)
      return { trigger: LargeSellerTrigger.Percentile, critical: shares >= 2 * p };
    return undefined;
  }

  /** "≥ 10000 shares", "= $660000.00 ≥ $500000 notional" or "≥ 1682 shares, above the p99.5 of 412 prints in 5–10 min". */
  private threshold(trigger: LargeSellerTrigger, shares: number, priceE8: number): string {
    if (trigger === LargeSellerTrigger.Shares) return `≥ ${this.large} shares`;
    if (trigger === LargeSellerTrigger.Percentile) {
      const m = this.baselineMinutes;
      return `≥ ${this.pctThr} shares, above the p${this.pctl} of the last ${this.sizes.count} prints (${m}–${2 * m} min)`;
    }
    const value = new Money(shares).mul(formatPriceE8(priceE8)).toFixed(2);
    return `shares = $${value} ≥ $${this.config.largeOrderNotional} notional`;
  }

  private tapeSeller(t: TradeEvent): void {
    const hit = this.largeRule(t.size, t.priceE8, true);
    if (hit !== undefined) {
      this.swPx = t.priceE8;
      this.swStart = t.tsUs;
      this.swSum = t.size;
      this.swCount = 1;
      this.swAlerted = 1;
      const price = formatPriceE8(t.priceE8);
      this.largeSeller(
        AlertSource.Tape,
        t.tsUs,
        t.tsRem,
        price,
        t.size,
        hit,
        `seller-initiated print ${t.size} ${this.threshold(hit.trigger, t.size, t.priceE8)} at ${price}`,
      );
      return;
    }
    if (this.swCount > 0 && this.swPx === t.priceE8 && t.tsUs - this.swStart <= SWEEP_WINDOW_US) {
      this.swSum += t.size;
      this.swCount++;
      const sweep = this.swAlerted === 0 ? this.largeRule(this.swSum, t.priceE8, true) : undefined;
      if (sweep !== undefined) {
        this.swAlerted = 1;
        const price = formatPriceE8(t.priceE8);
        this.largeSeller(
          AlertSource.Tape,
          t.tsUs,
          t.tsRem,
          price,
          this.swSum,
          sweep,
          `seller-initiated sweep ${this.swSum} ${this.threshold(sweep.trigger, this.swSum, t.priceE8)} at ${price} within 50 ms (${this.swCount} prints)`,
        );
      }
      return;
    }
    this.swPx = t.priceE8;
    this.swStart = t.tsUs;
    this.swSum = t.size;
    this.swCount = 1;
    this.swAlerted = 0;
  }

  private largeSeller(
    source: AlertSource,
    us: number,
    rem: number,
    price: string,
    size: number,
    hit: { trigger: LargeSellerTrigger; critical: boolean },
    rule: string,
  ): void {
    if (this.warm) return;
    this.pending.push({
      kind: AlertKind.LargeSeller,
      source,
      severity: hit.critical ? Severity.Critical : Severity.Warning,
      symbol: this.symbol,
      timestampNs: formatNs(us, rem),
      price,
      size,
      trigger: hit.trigger,
      rule,
      ...(this.late ? { late: true as const } : {}),
    });
    const times = this.lsTimes;
    times.push(us);
    if (times.length > this.exitCount) times.shift();
    if (this.exit === null && times.length >= this.exitCount && us - times[0]! <= this.windowUs) {
      this.exit = {
        timestampNs: formatNs(us, rem),
        reason: ExitReason.LargeSellerCluster,
        rule: `${this.exitCount} large_seller alerts within ${Math.round((us - times[0]!) / 1000) / 1000} s (≤ ${this.config.alertWindowSeconds} s)`,
        ...(this.late ? { late: true as const } : {}),
      };
    }
  }

  private redBurst(t: TradeEvent): void {
    if (this.complete < this.nBase) return;
    // The intraday curve raises the baseline where the day's volume always rises (the close): see profileScale.
    const scale = this.profileScaleAt(t.tsUs);
    const mean = (this.baseSum / this.baselineMinutes) * scale;
    // An empty baseline has no meaningful ratio; never divide by a made-up one.
    if (mean <= 0) return;
    const ratio = this.volSum / mean;
    const cfg = this.config;
    // Hysteresis: an episode ends only after the ratio stayed below the re-arm level for redBurstRearmSeconds,
    // so one burst that hovers around the threshold alerts once, not every few seconds.
    // A re-arm level above the start threshold would never let an episode end: it is capped there.
    if (ratio < Math.min(cfg.redBurstRearmRatio, this.spike)) {
      if (this.rbBelowUs < 0) this.rbBelowUs = t.tsUs;
      if (t.tsUs - this.rbBelowUs >= cfg.redBurstRearmSeconds * US_PER_SEC) {
        this.rbActive = 0;
        this.rbLevel = 0;
      }
    } else {
      this.rbBelowUs = -1;
    }
    if (ratio <= this.spike) return;
    // Floors: a high ratio over a quiet baseline (1,234 shares against 308 a minute) is not a burst.
    if (this.volSum < cfg.redBurstMinVolume || this.cntSum < cfg.redBurstMinTrades) return;
    if (this.openingGuard(t.tsUs)) return;
    this.rbActive = 1;
    const classified = this.sellSum + this.buySum;
    const sellShare = classified > 0 ? this.sellSum / classified : 0;
    if (sellShare < this.sellShareMin) return;
    let severity: Severity;
    if (ratio > this.red) {
      if (this.rbLevel >= 2) return;
      this.rbLevel = 2;
      severity = Severity.Critical;
    } else {
      if (this.rbLevel >= 1) return;
      this.rbLevel = 1;
      severity = Severity.Warning;
    }
    if (this.warm) return;
    const price = formatPriceE8(t.priceE8);
    const bound = severity === Severity.Critical ? `> ${this.red}` : `> ${this.spike}`;
    const scaled = scale === 1 ? '' : ` (× ${round4(scale)} intraday profile)`;
    const rule =
      `60 s volume ${this.volSum} is ${round4(ratio)}× the ${this.baselineMinutes}-min mean ${round4(mean)} per 60 s${scaled} (${bound})` +
      ` with sell share ${round4(sellShare)} ≥ ${this.sellShareMin}`;
    const timestampNs = formatNs(t.tsUs, t.tsRem);
    this.pending.push({
      kind: AlertKind.RedBurst,
      severity,
      symbol: this.symbol,
      timestampNs,
      price,
      ratio: round4(ratio),
      sellShare: round4(sellShare),
      volume: this.volSum,
      baselineVolume: round4(mean),
      ...(this.profile !== undefined ? { profileScale: round4(scale) } : {}),
      rule,
      ...(this.late ? { late: true as const } : {}),
    });
    if (severity === Severity.Critical && this.exit === null) {
      this.exit = {
        timestampNs,
        reason: ExitReason.RedBurst,
        rule: `critical red_burst: ${rule}`,
        ...(this.late ? { late: true as const } : {}),
      };
    }
  }

  /** Within redBurstOpeningGuardMinutes after 09:30 New York time (the opening surge happens every day). */
  private openingGuard(us: number): boolean {
    const guardUs = this.config.redBurstOpeningGuardMinutes * 60 * US_PER_SEC;
    if (guardUs === 0) return false;
    const open = this.sessionOpenUs(us);
    return us >= open && us < open + guardUs;
  }

  /** 09:30 New York of the UTC day of `us` (µs), computed once a day. */
  private sessionOpenUs(us: number): number {
    const day = Math.floor(us / US_PER_DAY);
    if (day !== this.openDay) {
      const d = new Date(day * 86_400_000);
      this.openDay = day;
      this.openUs =
        zonedTimeToUtc(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), '09:30', 'America/New_York') * 1000;
    }
    return this.openUs;
  }

  /** profileScale() for the session minute of `us` (1 without a profile), cached per minute. */
  private profileScaleAt(us: number): number {
    if (this.profile === undefined) return 1;
    const minute = Math.floor(us / (60 * US_PER_SEC));
    if (minute !== this.scaleMin) {
      this.scaleMin = minute;
      const m = Math.floor((us - this.sessionOpenUs(us)) / (60 * US_PER_SEC));
      this.scale = profileScale(this.profile, m, this.baselineMinutes);
    }
    return this.scale;
  }

  // ---- quotes

  onQuote(q: QuoteEvent): RecordOutcome {
    this.st.quotes++;
    const staleCode = this.stale(q.tsUs);
    if (staleCode !== undefined) return this.reject(staleCode);
    const day = Math.floor(q.tsUs / US_PER_DAY);
    if (this.qDay >= 0 && day > this.qDay) {
      this.qSeq = -1;
      this.qSeqs.clear();
    }
    if (this.knownQuote(q)) return this.reject(RejectCode.Duplicate);
    if (before(q.tsUs, q.tsRem, this.qUs, this.qRem)) return this.reject(RejectCode.OutOfOrder);
    this.qSeq = q.sequence;
    this.qSeqs.push(q.sequence);
    this.qUs = q.tsUs;
    this.qRem = q.tsRem;
    this.qDay = day;
    this.advance(Math.floor(q.tsUs / US_PER_SEC));

    this.bid = q.bidE8;
    this.bidSize = q.bidSize;
    this.ask = q.askE8;
    this.askSize = q.askSize;
    this.pushQuote(q.tsUs, q.tsRem, q.bidE8, q.bidSize, q.askE8, q.askSize);

    // Large offer at the inside: one alert per episode; a new episode needs the size to drop below the
    // threshold or the ask price to change. Large bids are buyers and never alert.
    const askShares = q.askSize * this.quoteUnit;
    const hit = q.askE8 <= 0 ? undefined : this.largeRule(askShares, q.askE8);
    if (hit === undefined) {
      this.qArmed = 1;
      return 'accepted';
    }
    if (q.askE8 !== this.qEpisodeAsk) this.qArmed = 1;
    if (this.qArmed === 1) {
      this.qArmed = 0;
      this.qEpisodeAsk = q.askE8;
      const price = formatPriceE8(q.askE8);
      this.largeSeller(
        AlertSource.Quote,
        q.tsUs,
        q.tsRem,
        price,
        askShares,
        hit,
        `NBBO ask size ${askShares} ${this.threshold(hit.trigger, askShares, q.askE8)} at ${price}`,
      );
    }
    return 'accepted';
  }

  // ---- time buckets

  /** Moves market time to `sec`, retiring seconds that leave the trailing window into the baseline. */
  private advance(sec: number): void {
    if (this.curSec < 0) {
      this.firstSec = sec;
      this.curSec = sec;
      return;
    }
    if (sec <= this.curSec) return;
    let from = this.curSec + 1;
    if (sec - this.curSec > this.maxGapSec) {
      // Nothing traded in a gap this long: every bucket ends up zero; replay only the last stretch of it.
      this.vol.fill(0);
      this.cnt.fill(0);
      this.sell.fill(0);
      this.buy.fill(0);
      from = sec - this.maxGapSec + 1;
    }
    for (let s = from; s <= sec; s++) {
      const slot = s % TRAILING_SECONDS;
      const leaving = s - TRAILING_SECONDS;
      if (leaving >= this.firstSec) this.retire(leaving, this.vol[slot]!);
      this.vol[slot] = 0;
      this.cnt[slot] = 0;
      this.sell[slot] = 0;
      this.buy[slot] = 0;
    }
    this.curSec = sec;
    // Recomputed rather than decremented so fractional sizes never accumulate rounding drift.
    let v = 0;
    let sl = 0;
    let b = 0;
    let c = 0;
    for (let i = 0; i < TRAILING_SECONDS; i++) {
      c += this.cnt[i]!;
      v += this.vol[i]!;
      sl += this.sell[i]!;
      b += this.buy[i]!;
    }
    this.volSum = v;
    this.cntSum = c;
    this.sellSum = sl;
    this.buySum = b;
  }

  /** Adds one whole second of volume to the baseline (seconds arrive strictly in order). */
  private retire(second: number, volume: number): void {
    const k = Math.floor(second / this.width);
    if (k !== this.fillK) {
      this.fillK = k;
      this.fill = 0;
    }
    this.fill += volume;
    if (second % this.width !== this.width - 1) return;
    this.base[k % this.nBase] = this.fill;
    // A bucket that began before the first observed second is partial: it does not count toward a full baseline.
    if (k * this.width >= this.firstSec && this.complete < this.nBase) this.complete++;
    let sum = 0;
    for (let i = 0; i < this.nBase; i++) sum += this.base[i]!;
    this.baseSum = sum;
  }

  // ---- state

  snapshot(): FlowDetectorState {
    const idEx = this.tIdEx.toArray();
    const idTrf = this.tIdTrf.toArray();
    const stats = structuredCloneStats(this.st);
    for (const c of REJECT_CODES) if (stats.rejected[c] === 0) delete stats.rejected[c];
    return {
      v: STATE_VERSION,
      symbol: this.symbol,
      warm: this.warm,
      ts: [this.tSeq, this.tUs, this.tRem, this.tDay],
      tSeqs: encodeDeltas(this.tSeqs.toArray()),
      tIds: this.tIds
        .toArray()
        .map((id, i): [string, number, number] => [id, idEx[i]!, idTrf[i]!])
        .slice(-RECENT_IDS_PERSISTED),
      qs: [this.qSeq, this.qUs, this.qRem, this.qDay],
      qSeqs: encodeDeltas(this.qSeqs.toArray()),
      nbbo: [this.bid, this.bidSize, this.ask, this.askSize],
      tick: [this.lastPx, this.tickDir],
      qe: [this.qArmed, this.qEpisodeAsk],
      sw: [this.swPx, this.swStart, this.swSum, this.swCount, this.swAlerted],
      clk: [this.firstSec, this.curSec],
      vol: encodeNums(this.vol),
      sell: encodeNums(this.sell),
      buy: encodeNums(this.buy),
      sums: [this.volSum, this.sellSum, this.buySum],
      base: encodeNums(this.base),
      bf: [this.fillK, this.fill, this.complete, this.baseSum],
      rb: [this.rbActive, this.rbLevel, this.rbBelowUs],
      cnt: encodeNums(this.cnt),
      ls: encodeDeltas(this.lsTimes),
      qh: this.quoteHistory(QUOTE_HISTORY_PERSISTED),
      pc: encodeNums(this.sketchNums()),
      exit: this.exit === null ? null : { ...this.exit },
      stats,
      pending: this.pending.map((a) => ({ ...a })),
    };
  }

  private sketchNums(): number[] {
    const s = this.sizes.toState();
    return [s.k, ...s.cur, ...s.prev];
  }

  /** The newest `max` NBBOs, oldest first. */
  private quoteHistory(max: number): [number, number, number, number, number, number][] {
    const out: [number, number, number, number, number, number][] = [];
    for (let i = Math.min(max, this.qhLen); i >= 1; i--) {
      const k = (this.qhPos - i + QUOTE_HISTORY) % QUOTE_HISTORY;
      out.push([this.qhUs[k]!, this.qhRem[k]!, this.qhBid[k]!, this.qhBidSize[k]!, this.qhAsk[k]!, this.qhAskSize[k]!]);
    }
    return out;
  }

  restore(s: DecodedState): void {
    if (s.symbol !== this.symbol) {
      throw new ValidationError([{ field: 'state.symbol', rule: `must be ${this.symbol} (got ${s.symbol})` }]);
    }
    this.warm = s.warm;
    [this.tSeq, this.tUs, this.tRem, this.tDay] = s.ts;
    this.tSeqs.load(s.tSeqs);
    this.tIds.load(s.tIds.map((k) => k[0]));
    this.tIdEx.load(s.tIds.map((k) => k[1]));
    this.tIdTrf.load(s.tIds.map((k) => k[2]));
    [this.qSeq, this.qUs, this.qRem, this.qDay] = s.qs;
    this.qSeqs.load(s.qSeqs);
    [this.bid, this.bidSize, this.ask, this.askSize] = s.nbbo;
    // Older states kept only the latest NBBO: it becomes the history, stamped with the last quote's time.
    const history = s.qh ?? (s.qs[1] >= 0 ? [[s.qs[1], s.qs[2], ...s.nbbo] as const] : []);
    for (const h of history) this.pushQuote(h[0], h[1], h[2], h[3], h[4], h[5]);
    [this.lastPx, this.tickDir] = s.tick;
    [this.qArmed, this.qEpisodeAsk] = s.qe;
    [this.swPx, this.swStart, this.swSum, this.swCount, this.swAlerted] = s.sw;
    [this.firstSec, this.curSec] = s.clk;
    this.vol = [...s.vol];
    this.sell = [...s.sell];
    this.buy = [...s.buy];
    [this.volSum, this.sellSum, this.buySum] = s.sums;
    this.base = [...s.base];
    [this.fillK, this.fill, this.complete, this.baseSum] = s.bf;
    [this.rbActive, this.rbLevel] = s.rb;
    this.rbBelowUs = s.rb[2] ?? -1;
    // Older states counted no prints: the trade-count floor starts from zero.
    this.cnt = s.cnt === undefined ? new Array<number>(TRAILING_SECONDS).fill(0) : [...s.cnt];
    this.cntSum = this.cnt.reduce((a, b) => a + b, 0);
    this.lsTimes = [...s.ls];
    // Older states had no sketch: the percentile rule waits for PERCENTILE_MIN_PRINTS new prints.
    const pc = s.pc;
    if (pc === undefined) this.sizes.load({ k: -1, cur: [], prev: [] });
    else this.sizes.load({ k: pc[0]!, cur: pc.slice(1, 1 + SIZE_BINS), prev: pc.slice(1 + SIZE_BINS) });
    this.exit = s.exit === null ? null : { ...s.exit };
    const st = emptyFlowStats();
    st.trades = s.stats.trades;
    st.quotes = s.stats.quotes;
    st.eligibleTrades = s.stats.eligibleTrades;
    for (const c of REJECT_CODES) st.rejected[c] = s.stats.rejected[c] ?? 0;
    st.dropped = { correction: s.stats.dropped.correction, conditions: { ...s.stats.dropped.conditions } };
    st.staleWarnings = s.stats.staleWarnings;
    st.sides = { buy: s.stats.sides.buy ?? 0, sell: s.stats.sides.sell ?? 0, unknown: s.stats.sides.unknown ?? 0 };
    st.ignored = s.stats.ignored;
    this.st = st;
    this.pending = s.pending.map((a) => ({ ...a }) as unknown as FlowAlert);
  }
}

function structuredCloneStats(s: FlowStats): FlowStats {
  return {
    trades: s.trades,
    quotes: s.quotes,
    eligibleTrades: s.eligibleTrades,
    rejected: { ...s.rejected },
    dropped: { correction: s.dropped.correction, conditions: { ...s.dropped.conditions } },
    staleWarnings: s.staleWarnings,
    sides: { ...s.sides },
    ignored: s.ignored,
  };
}

/** Fixed-size ring of the most recent values; serialized oldest first, only the filled part. */
class Ring<T> {
  readonly items: T[];
  private pos = 0;
  private filled = 0;
  constructor(
    private readonly size: number,
    private readonly empty: T,
  ) {
    this.items = new Array<T>(size).fill(empty);
  }
  push(v: T): void {
    this.items[this.pos] = v;
    this.pos = (this.pos + 1) % this.size;
    if (this.filled < this.size) this.filled++;
  }
  includes(v: T): boolean {
    for (let i = 0; i < this.filled; i++) if (this.items[(this.pos - 1 - i + this.size) % this.size] === v) return true;
    return false;
  }
  clear(): void {
    this.items.fill(this.empty);
    this.pos = 0;
    this.filled = 0;
  }
  toArray(): T[] {
    const out: T[] = [];
    for (let i = this.filled; i > 0; i--) out.push(this.items[(this.pos - i + this.size) % this.size]!);
    return out;
  }
  load(values: readonly T[]): void {
    this.clear();
    for (const v of values.slice(-this.size)) this.push(v);
  }
}
