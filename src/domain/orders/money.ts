import Decimal from 'decimal.js';
import { z } from 'zod';

/**
 * decimal.js with enough significant digits that no order arithmetic rounds implicitly: a notional of
 * 1e9 shares × a price with 8 decimals needs 25 digits, above the library default of 20. Rounding only
 * happens where the code asks for it (tick rounding, displayed averages).
 */
export const Money = Decimal.clone({ precision: 50, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -30, toExpPos: 30 });
export type Money = Decimal;
export type MoneyValue = Decimal.Value;

/** Plain decimal notation only: no sign, exponent, thousands separator or surrounding space. */
const UNSIGNED_DECIMAL = /^\d+(\.\d+)?$/;

/** At most this many digits after the point in any price or offset we accept (Polygon prints go to 4). */
export const MAX_PRICE_DECIMALS = 6;
/** Largest integer part of a price: BRK.A trades below $1,000,000, so 7 digits leave a wide margin. */
export const MAX_PRICE_INTEGER_DIGITS = 7;

function decimalPlaces(s: string): number {
  const dot = s.indexOf('.');
  return dot === -1 ? 0 : s.length - dot - 1;
}

function integerDigits(s: string): number {
  const dot = s.indexOf('.');
  return (dot === -1 ? s : s.slice(0, dot)).replace(/^0+(?=\d)/, '').length;
}

/**
 * A positive price as a decimal string ("250.30"). Numbers are refused on purpose: a float has already
 * lost the exact value by the time it reaches us.
 */
export const PriceStringSchema = z
  .string({ message: 'must be a decimal string such as "250.30"' })
  .superRefine((s, ctx) => {
    let message: string | undefined;
    if (!UNSIGNED_DECIMAL.test(s)) message = 'must be a positive decimal string such as "250.30"';
    else if (decimalPlaces(s) > MAX_PRICE_DECIMALS) message = `must have at most ${MAX_PRICE_DECIMALS} decimal places`;
    else if (integerDigits(s) > MAX_PRICE_INTEGER_DIGITS)
      message = `must be below 1${'0'.repeat(MAX_PRICE_INTEGER_DIGITS)}`;
    else if (!new Money(s).gt(0)) message = 'must be > 0';
    if (message !== undefined) ctx.addIssue({ code: 'custom', message });
  });

/**
 * A non-negative decimal configuration value. JSON files and the CLI hand us numbers or strings; a JSON
 * number such as 0.04 converts through its shortest round-trip text ("0.04"), which is the value the
 * author typed, so accepting numbers here loses nothing.
 */
export function nonNegativeDecimal(maxDecimals: number) {
  return z.union([z.string(), z.number()], { message: 'must be a decimal number' }).transform((v, ctx) => {
    const text = typeof v === 'number' ? (Number.isFinite(v) ? new Money(v).toFixed() : 'NaN') : v.trim();
    if (!UNSIGNED_DECIMAL.test(text)) {
      ctx.addIssue({ code: 'custom', message: 'must be a non-negative decimal number such as 15 or 0.04' });
      return z.NEVER;
    }
    if (decimalPlaces(text) > maxDecimals) {
      ctx.addIssue({ code: 'custom', message: `must have at most ${maxDecimals} decimal places` });
      return z.NEVER;
    }
    return new Money(text).toFixed();
  });
}

/** Canonical text of a decimal: "250.10" and "250.1" both become "250.1". */
export function canonicalDecimal(value: string | Money): string {
  return new Money(value).toFixed();
}
