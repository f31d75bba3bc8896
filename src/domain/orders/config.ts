import { z } from 'zod';
import { Money, nonNegativeDecimal } from './money';
import { DEFAULT_ORDER_LIMITS } from './order-limits';
import { DEFAULT_MAX_BROKER_WAIT_SECONDS, DEFAULT_UNKNOWN_OUTCOME_WINDOW_SECONDS } from './submit-outcome';

/** How the offset between reference and limit price is expressed. */
export const OffsetMode = { Bps: 'bps', Absolute: 'absolute' } as const;
export type OffsetMode = (typeof OffsetMode)[keyof typeof OffsetMode];
export const OFFSET_MODES: readonly OffsetMode[] = Object.values(OffsetMode);

/** Largest slippage guard we accept: a typo of 50 for 0.5 should fail at start, not on the first order. */
export const MAX_SLIPPAGE_PCT_LIMIT = 10;
/** bps offsets cannot move a limit further than the slippage guard allows anyway (10 % = 1000 bps). */
export const MAX_BPS_OFFSET = 1000;

export const OffsetModeSchema = z.enum([OffsetMode.Bps, OffsetMode.Absolute], { message: 'must be bps or absolute' });

/** Offsets: bps may be fractional (7.5 bps); absolute offsets are dollars, at most 4 decimals (sub-dollar tick). */
export const OffsetSchema = nonNegativeDecimal(4);

export const MaxSlippagePctSchema = nonNegativeDecimal(4)
  .refine((v) => new Money(v).gt(0), 'must be > 0')
  .refine((v) => new Money(v).lte(MAX_SLIPPAGE_PCT_LIMIT), `must be ≤ ${MAX_SLIPPAGE_PCT_LIMIT}`);

/** The pricing fields a strategy may override; each missing field falls back to the defaults. */
export const StrategyOverrideSchema = z
  .object({
    offsetMode: OffsetModeSchema.optional(),
    buyOffset: OffsetSchema.optional(),
    sellOffset: OffsetSchema.optional(),
    maxSlippagePct: MaxSlippagePctSchema.optional(),
  })
  .strict();
export type StrategyOverride = z.output<typeof StrategyOverrideSchema>;

export const STRATEGY_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Settings for order pricing, polling and retries with their defaults and ranges (README: Configuration). */
export const OrdersConfigSchema = z
  .object({
    offsetMode: OffsetModeSchema.default(OffsetMode.Bps),
    buyOffset: OffsetSchema.default('15'),
    sellOffset: OffsetSchema.default('10'),
    maxSlippagePct: MaxSlippagePctSchema.default('0.5'),
    strategies: z
      .record(z.string().regex(STRATEGY_NAME), StrategyOverrideSchema, {
        error: (issue) =>
          issue.code === 'invalid_key'
            ? 'strategy names must be 1–64 letters, digits, _ or -'
            : 'must be an object of strategy name → overrides',
      })
      .default({}),
    pollIntervalSeconds: z
      .number({ message: 'must be a number' })
      .int('must be an integer')
      .min(1, 'must be ≥ 1')
      .max(300, 'must be ≤ 300')
      .default(15),
    /**
     * The longest broker-advised wait (Retry-After, a throttle's "expected available in N seconds") honoured
     * before the next attempt; a longer one ends the attempts with BrokerWaitTooLong.
     */
    maxBrokerWaitSeconds: z
      .number({ message: 'must be a number' })
      .int('must be an integer')
      .min(1, 'must be ≥ 1')
      .max(3600, 'must be ≤ 3600')
      .default(DEFAULT_MAX_BROKER_WAIT_SECONDS),
    /**
     * How long after the last submit attempt that may have reached the broker flowguard keeps looking the
     * order up by client order id before concluding it was never created. Keep it above the adapters' HTTP
     * timeout (10 s) and the broker activity timeout (30 s): a request can still land that late.
     */
    unknownOutcomeWindowSeconds: z
      .number({ message: 'must be a number' })
      .int('must be an integer')
      .min(5, 'must be ≥ 5')
      .max(3600, 'must be ≤ 3600')
      .default(DEFAULT_UNKNOWN_OUTCOME_WINDOW_SECONDS),
    /** Largest order in shares (a fat-finger guard; src/domain/orders/order-limits.ts). */
    maxQuantity: z
      .number({ message: 'must be a number' })
      .int('must be an integer')
      .min(1, 'must be ≥ 1')
      .max(100_000_000, 'must be ≤ 100000000')
      .default(DEFAULT_ORDER_LIMITS.maxQuantity),
    /** Largest order in dollars, quantity × limit price. */
    maxNotional: nonNegativeDecimal(2)
      .refine((v) => new Money(v).gt(0), 'must be > 0')
      .default(DEFAULT_ORDER_LIMITS.maxNotional),
    /** Fills from the broker's update stream where it has one (Alpaca); polling remains the fallback. */
    brokerEvents: z.boolean({ message: 'must be true or false' }).default(true),
    retry: z
      .object({
        maximumAttempts: z
          .number({ message: 'must be a number' })
          .int('must be an integer')
          .min(1, 'must be ≥ 1')
          .max(20, 'must be ≤ 20')
          .default(3),
        initialIntervalMs: z
          .number({ message: 'must be a number' })
          .int('must be an integer')
          .min(100, 'must be ≥ 100')
          .max(60_000, 'must be ≤ 60000')
          .default(1000),
        backoffCoefficient: z
          .number({ message: 'must be a number' })
          .min(1, 'must be ≥ 1')
          .max(10, 'must be ≤ 10')
          .default(2),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    // A bps offset wider than the slippage guard would make every order of that side fail at submit
    // time; say so at start instead.
    const check = (path: (string | number)[], p: PricingDefaults, override?: StrategyOverride) => {
      if (p.offsetMode !== OffsetMode.Bps) return;
      for (const [key, value] of [
        ['buyOffset', p.buyOffset],
        ['sellOffset', p.sellOffset],
      ] as const) {
        // An inherited value that was already checked against the same limits is reported once, at the top.
        const inherited =
          override !== undefined &&
          override[key] === undefined &&
          override.maxSlippagePct === undefined &&
          override.offsetMode === undefined;
        if (inherited) continue;
        if (new Money(value).gt(MAX_BPS_OFFSET)) {
          ctx.addIssue({ code: 'custom', path: [...path, key], message: `must be ≤ ${MAX_BPS_OFFSET} bps` });
        } else if (new Money(value).div(100).gt(p.maxSlippagePct)) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, key],
            message: `${value} bps exceeds maxSlippagePct ${p.maxSlippagePct}% (at most ${new Money(p.maxSlippagePct).mul(100).toFixed()} bps)`,
          });
        }
      }
    };
    check([], c);
    for (const [name, override] of Object.entries(c.strategies)) {
      // Offsets are numbers in the unit of their mode: a strategy that switches mode must give its own
      // offsets, or "15" bps would silently become $15.
      if (override.offsetMode !== undefined && override.offsetMode !== c.offsetMode) {
        for (const key of ['buyOffset', 'sellOffset'] as const) {
          if (override[key] === undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['strategies', name, key],
              message: `is required when the strategy's offsetMode (${override.offsetMode}) differs from the default (${c.offsetMode}): the default ${offsetText(c.offsetMode, c[key])} would otherwise become ${offsetText(override.offsetMode, c[key])}`,
            });
          }
        }
      }
      check(['strategies', name], strategyPricing(c, name), override);
    }
  });

/** "15 bps" or "$15": how an offset reads in its mode, for messages about mixing modes. */
function offsetText(mode: OffsetMode, value: string): string {
  return mode === OffsetMode.Bps ? `${value} bps` : `$${value}`;
}

export type OrdersConfig = z.output<typeof OrdersConfigSchema>;
export type OrdersConfigInput = z.input<typeof OrdersConfigSchema>;

/** The pricing fields after strategy fallback. */
export interface PricingDefaults {
  readonly offsetMode: OffsetMode;
  readonly buyOffset: string;
  readonly sellOffset: string;
  readonly maxSlippagePct: string;
}

/** Field-by-field fallback from a strategy's overrides to the defaults; unknown names return the defaults. */
export function strategyPricing(orders: PricingDefaults & { strategies?: OrdersConfig['strategies'] }, name?: string) {
  const override: StrategyOverride = (name !== undefined ? orders.strategies?.[name] : undefined) ?? {};
  return {
    offsetMode: override.offsetMode ?? orders.offsetMode,
    buyOffset: override.buyOffset ?? orders.buyOffset,
    sellOffset: override.sellOffset ?? orders.sellOffset,
    maxSlippagePct: override.maxSlippagePct ?? orders.maxSlippagePct,
  } satisfies PricingDefaults;
}

export const DEFAULT_ORDERS_CONFIG: OrdersConfig = OrdersConfigSchema.parse({});
