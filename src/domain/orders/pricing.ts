import { ValidationError } from '../validation';
import { OffsetMode } from './config';
import { Money, type MoneyValue } from './money';

export const OrderSide = { Buy: 'buy', Sell: 'sell' } as const;
export type OrderSide = (typeof OrderSide)[keyof typeof OrderSide];
export const ORDER_SIDES: readonly OrderSide[] = Object.values(OrderSide);

/** Reg NMS Rule 612 minimum price increments. */
export const PENNY_TICK = new Money('0.01');
export const SUB_DOLLAR_TICK = new Money('0.0001');
const ONE_DOLLAR = new Money(1);
const BPS_PER_UNIT = new Money(10_000);

export type RoundingDirection = 'up' | 'down';

/** The tick that applies to a price quoted at `price`: $0.01 at or above $1.00, $0.0001 below. */
export function tickSizeFor(price: MoneyValue): Money {
  return new Money(price).gte(ONE_DOLLAR) ? PENNY_TICK : SUB_DOLLAR_TICK;
}

/** True when the price is a whole number of the tick that applies at that price. */
export function isOnTickGrid(price: MoneyValue): boolean {
  const p = new Money(price);
  return p.mod(tickSizeFor(p)).isZero();
}

function roundWithTick(price: Money, tick: Money, direction: RoundingDirection): Money {
  return price
    .div(tick)
    .toDecimalPlaces(0, direction === 'up' ? Money.ROUND_CEIL : Money.ROUND_FLOOR)
    .mul(tick);
}

/**
 * Rounds onto the Rule 612 grid. The tick is chosen from the *rounded* price: rounding 0.99995 up with
 * the sub-dollar tick lands on 1.0000, which must then also be valid on the penny grid. With a floor/ceil
 * that holds by construction (1.00 is on both grids), but the re-check keeps the rule explicit and safe.
 */
export function roundToTick(price: MoneyValue, direction: RoundingDirection): Money {
  const p = new Money(price);
  let rounded = roundWithTick(p, tickSizeFor(p), direction);
  const tickAtResult = tickSizeFor(rounded);
  if (!rounded.mod(tickAtResult).isZero()) rounded = roundWithTick(p, tickAtResult, direction);
  return rounded;
}

/** Text with the decimals of the price's tick: "249.93", "1.00", "0.9950". */
export function formatTickPrice(price: MoneyValue): string {
  const p = new Money(price);
  return p.toFixed(p.gte(ONE_DOLLAR) ? 2 : 4);
}

/** The unrounded limit: bps buy ref × (1 − bps/10⁴), sell ref × (1 + bps/10⁴); absolute buy ref − x, sell ref + x. */
export function rawLimitPrice(
  side: OrderSide,
  referencePrice: MoneyValue,
  mode: OffsetMode,
  offset: MoneyValue,
): Money {
  const ref = new Money(referencePrice);
  const off = new Money(offset);
  const sign = side === OrderSide.Buy ? -1 : 1;
  return mode === OffsetMode.Bps ? ref.mul(BPS_PER_UNIT.add(off.mul(sign)).div(BPS_PER_UNIT)) : ref.add(off.mul(sign));
}

export interface LimitPriceInput {
  readonly side: OrderSide;
  readonly referencePrice: string;
  readonly offsetMode: OffsetMode;
  readonly offset: string;
  readonly maxSlippagePct: string;
}

/**
 * Limit price on the tick grid, rounded toward the reference (buy up, sell down) so the applied offset
 * never exceeds the configured one, and never past the reference itself: a buy never pays more than the
 * reference, a sell never asks less. Only a reference that is itself off the grid (a sub-penny print) can
 * make the applied offset exceed the configured one, by less than one tick, because no grid price lies
 * between the raw limit and the reference; we then take the grid price on the safe side of the reference.
 * Throws a ValidationError (field `limitPrice`) for a non-positive limit or one beyond maxSlippagePct.
 */
export function computeLimitPrice(input: LimitPriceInput): string {
  const ref = new Money(input.referencePrice);
  const raw = rawLimitPrice(input.side, ref, input.offsetMode, input.offset);
  const unit = input.offsetMode === OffsetMode.Bps ? ' bps' : '';
  if (raw.lte(0)) {
    throw new ValidationError([
      {
        field: 'limitPrice',
        rule: `must be > 0 (reference ${input.referencePrice} with ${input.side} offset ${input.offset}${unit} gives ${raw.toFixed()})`,
      },
    ]);
  }
  const limit =
    input.side === OrderSide.Buy
      ? Money.min(roundToTick(raw, 'up'), roundToTick(ref, 'down'))
      : Money.max(roundToTick(raw, 'down'), roundToTick(ref, 'up'));
  if (limit.lte(0)) {
    throw new ValidationError([
      {
        field: 'limitPrice',
        rule: `must be > 0 (reference ${input.referencePrice} is below the smallest tick ${SUB_DOLLAR_TICK.toFixed()})`,
      },
    ]);
  }
  const slippagePct = limit.sub(ref).abs().div(ref).mul(100);
  if (slippagePct.gt(input.maxSlippagePct)) {
    throw new ValidationError([
      {
        field: 'limitPrice',
        rule:
          `must be within maxSlippagePct ${input.maxSlippagePct}% of referencePrice ${input.referencePrice} ` +
          `(${formatTickPrice(limit)} is ${slippagePct.toDecimalPlaces(4, Money.ROUND_UP).toFixed()}% away): ` +
          'reduce the offset or raise maxSlippagePct',
      },
    ]);
  }
  return formatTickPrice(limit);
}
