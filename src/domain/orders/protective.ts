/**
 * The protective exit's pricing, free of zod so the monitor workflow can import it (workflow bundle weight).
 */
import type { OrdersConfig, StrategyOverride } from './config';

/** The strategy a monitor's protective exit is priced with (README: Auto-exit). */
export const PROTECTIVE_STRATEGY = 'protective';

/**
 * What the protective strategy overrides when the file leaves it out: a sell offset of 0, so the exit's limit is
 * the reference itself (the bid), marketable at once. The general sell offset (+10 bps) is for a seller who can
 * wait; an exit placed above the bid rests while the price it protects against falls away from it.
 */
export const DEFAULT_PROTECTIVE_OVERRIDE: StrategyOverride = { sellOffset: '0' };

/**
 * The strategies with `protective` always present: the file's own protective fields win, the ones it leaves out
 * come from DEFAULT_PROTECTIVE_OVERRIDE (then the defaults, as for any strategy). Pure; returns a new object.
 */
export function withProtectiveStrategy<T extends { readonly strategies: OrdersConfig['strategies'] }>(pricing: T): T {
  const own = pricing.strategies[PROTECTIVE_STRATEGY] ?? {};
  // A file that switches the strategy's offsetMode states its own offsets (checked at start): a default 0 in the
  // other unit would mean the same price anyway, but its own values must not be overwritten.
  return {
    ...pricing,
    strategies: { ...pricing.strategies, [PROTECTIVE_STRATEGY]: { ...DEFAULT_PROTECTIVE_OVERRIDE, ...own } },
  };
}
