import Decimal from 'decimal.js';

/**
 * Prices travel through the detectors as integers in units of 1e-8 USD. Integer arithmetic on these is
 * exact decimal arithmetic (a trade exactly at the midpoint compares equal, which float sums do not
 * guarantee) and costs nothing on the hot path; decimal.js formats them at the boundary.
 */
export const PRICE_SCALE = 100_000_000;

/** Largest price accepted: keeps price × PRICE_SCALE and bid + ask exact in a double. */
export const MAX_PRICE = 10_000_000;

/** Largest trade or quote size accepted (shares). */
export const MAX_SIZE = 10_000_000_000;

/** Converts a decimal price as parsed from JSON into scaled units; exact for prices with ≤ 8 decimals. */
export function toPriceE8(price: number): number {
  return Math.round(price * PRICE_SCALE);
}

/** Decimal string with at least two decimals and no trailing noise: 24950000000 → "249.50". */
export function formatPriceE8(priceE8: number): string {
  const d = new Decimal(priceE8).div(PRICE_SCALE);
  return d.decimalPlaces() <= 2 ? d.toFixed(2) : d.toFixed();
}

export function priceE8ToDecimal(priceE8: number): Decimal {
  return new Decimal(priceE8).div(PRICE_SCALE);
}
