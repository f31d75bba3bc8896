import { z } from 'zod';
import { Money, nonNegativeDecimal } from '../orders/money';

/** Quote sizes arrive in shares since Nov 2025; older recordings use round lots of 100. */
export const QuoteSizeUnit = { Shares: 'shares', RoundLots: 'round_lots' } as const;
export type QuoteSizeUnit = (typeof QuoteSizeUnit)[keyof typeof QuoteSizeUnit];

// red_burst defaults, measured on the real AMZN day (bench:realdata): see README "Detectors on real data".
const RB_MIN_VOLUME = 5000;
const RB_MIN_TRADES = 20;
const RB_REARM_RATIO = 2;
const RB_REARM_SECONDS = 600;
const RB_OPENING_GUARD_MINUTES = 15;
// largeOrderPercentile default, measured on the real AMZN day (bench:realdata; README "Detectors on real data"):
// p99 fired 157 large_seller alerts (first exit 09:35), p99.5 57, p99.7 20; p99.9 needs 1,000 prints in its
// window, which AMZN's 2012 tape (about 30 prints a minute) holds at baselineMinutes 5 only in the closing surge,
// where no seller print exceeded it: it adds nothing there and switches on for symbols that print enough for a
// 1-in-1,000 size to mean something (GOOG the same day: 4, all in the last 3 minutes). Live monitors give the
// same alerts as the offline replay with it on (test/unit/market-data/poll-chunking.test.ts, monitor.test.ts).
const LO_PERCENTILE: number | null = 99.9;
// Two weeks of sessions: enough for the U shape to show through single days' noise, one request.
const VOLUME_PROFILE_DAYS = 10;

/** Detector settings with their defaults and ranges (README: Configuration). */
export const DetectorConfigSchema = z
  .object({
    largeOrderSize: z
      .number()
      .int('must be an integer')
      .min(1000, 'must be ≥ 1000')
      .max(1_000_000, 'must be ≤ 1000000')
      .default(10_000),
    // Shares do not travel across symbols (10,000 is nothing for a $5 stock, rare on exchange for AMZN): a print
    // (or sweep, or NBBO ask) worth this many dollars is a large seller too. 0 turns the rule off (the default).
    largeOrderNotional: nonNegativeDecimal(2)
      .refine((v) => new Money(v).isZero() || new Money(v).gte(10_000), 'must be 0 (off) or ≥ 10000')
      .refine((v) => new Money(v).lte(1_000_000_000), 'must be ≤ 1000000000')
      .default('0'),
    // Adaptive: a seller print (or 50 ms sweep) above this percentile of the symbol's own print sizes over the
    // last one to two baseline windows is a large seller too. null or 0 turns it off.
    largeOrderPercentile: z
      .number()
      .nullable()
      .refine(
        (v) => v === null || v === 0 || (v >= 90 && v <= 99.99),
        'must be null or 0 (off), or a percentile from 90 to 99.99',
      )
      .default(LO_PERCENTILE),
    volumeSpikeThreshold: z.number().min(1.5, 'must be ≥ 1.5').max(10, 'must be ≤ 10').default(3.0),
    redBurstThreshold: z.number().max(100, 'must be ≤ 100').default(4.0),
    redBurstSellShare: z.number().min(0.5, 'must be ≥ 0.5').max(1, 'must be ≤ 1').default(0.6),
    alertWindowSeconds: z
      .number()
      .int('must be an integer')
      .min(30, 'must be ≥ 30')
      .max(300, 'must be ≤ 300')
      .default(120),
    exitAlertCount: z.number().int('must be an integer').min(2, 'must be ≥ 2').max(10, 'must be ≤ 10').default(3),
    baselineMinutes: z.number().int('must be an integer').min(1, 'must be ≥ 1').max(60, 'must be ≤ 60').default(5),
    staleWarnSeconds: z.number().positive('must be > 0').default(10),
    staleRejectSeconds: z.number().positive('must be > 0').default(30),
    quoteSizeUnit: z.enum([QuoteSizeUnit.Shares, QuoteSizeUnit.RoundLots]).default(QuoteSizeUnit.Shares),
    // A print is classified against the last quote stamped strictly before (print time − lag). 0 measured best
    // on the real AMZN day (exact venue timestamps); Lee & Ready used 5 s on 1988 data.
    quoteLagMs: z.number().min(0, 'must be ≥ 0').max(5000, 'must be ≤ 5000').default(0),
    // red_burst floors: a burst needs real volume and real prints, not a ratio over a quiet baseline.
    redBurstMinVolume: z
      .number()
      .int('must be an integer')
      .min(0, 'must be ≥ 0')
      .max(10_000_000, 'must be ≤ 10000000')
      .default(RB_MIN_VOLUME),
    redBurstMinTrades: z
      .number()
      .int('must be an integer')
      .min(0, 'must be ≥ 0')
      .max(100_000, 'must be ≤ 100000')
      .default(RB_MIN_TRADES),
    // Hysteresis: an episode ends (and may alert again) only after the ratio stayed below this level that long.
    redBurstRearmRatio: z.number().min(0.5, 'must be ≥ 0.5').max(10, 'must be ≤ 10').default(RB_REARM_RATIO),
    redBurstRearmSeconds: z
      .number()
      .int('must be an integer')
      .min(0, 'must be ≥ 0')
      .max(3600, 'must be ≤ 3600')
      .default(RB_REARM_SECONDS),
    // The intraday volume curve of red_burst's baseline comes from the minute aggregates of this many previous
    // sessions (one Polygon request at monitor start); 0: no curve.
    volumeProfileDays: z
      .number()
      .int('must be an integer')
      .min(0, 'must be ≥ 0')
      .max(30, 'must be ≤ 30')
      .default(VOLUME_PROFILE_DAYS),
    // The opening surge happens every day: no red_burst this many minutes after 09:30 New York time.
    redBurstOpeningGuardMinutes: z
      .number()
      .int('must be an integer')
      .min(0, 'must be ≥ 0')
      .max(120, 'must be ≤ 120')
      .default(RB_OPENING_GUARD_MINUTES),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.redBurstThreshold < c.volumeSpikeThreshold) {
      ctx.addIssue({
        code: 'custom',
        path: ['redBurstThreshold'],
        message: `must be ≥ volumeSpikeThreshold (${c.volumeSpikeThreshold})`,
      });
    }
    if (c.staleRejectSeconds < c.staleWarnSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['staleRejectSeconds'],
        message: `must be ≥ staleWarnSeconds (${c.staleWarnSeconds})`,
      });
    }
  });

export type DetectorConfig = z.output<typeof DetectorConfigSchema>;
export type DetectorConfigInput = z.input<typeof DetectorConfigSchema>;

export const DEFAULT_DETECTOR_CONFIG: DetectorConfig = DetectorConfigSchema.parse({});
