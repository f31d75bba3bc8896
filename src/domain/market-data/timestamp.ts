/**
 * SIP timestamps are integer nanoseconds since the epoch (~1.7e18), beyond 2^53, so a JS number cannot
 * hold them. flowguard splits them into integer microseconds (exact in a double until the year 2255) and
 * the nanosecond remainder 0..999: ordering stays exact to the nanosecond, window arithmetic runs on plain
 * numbers (no bigint on the hot path), and the original value is rebuilt losslessly for alerts.
 */
export interface NsTime {
  /** Whole microseconds since the Unix epoch. */
  readonly us: number;
  /** Nanoseconds past `us`, 0..999. */
  readonly rem: number;
}

const MAX_US = Number.MAX_SAFE_INTEGER;

/**
 * Accepts a non-negative integer as number, digit string or bigint. Numbers above 2^53 were already
 * rounded by whoever parsed them; they are accepted as the integer they now hold (use strings to stay exact).
 * Returns undefined for anything else.
 */
export function parseNs(value: unknown): NsTime | undefined {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) return undefined;
    if (value <= Number.MAX_SAFE_INTEGER) {
      const us = Math.floor(value / 1000);
      return { us, rem: value - us * 1000 };
    }
    return fromBigInt(BigInt(value));
  }
  if (typeof value === 'string') return parseNsDigits(value);
  if (typeof value === 'bigint') return value < 0n ? undefined : fromBigInt(value);
  return undefined;
}

/** 2^53 µs in ns: the first nanosecond count whose microseconds no longer fit a double exactly. */
const NS_LIMIT = 9_007_199_254_740_992_000;

/** parseNs(value) !== undefined, without building the split (numbers above 2^53 need no bigint for this). */
export function isNs(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value < NS_LIMIT;
  return parseNs(value) !== undefined;
}

/** Exact split of a decimal digit string; undefined if it is not one or overflows the microsecond range. */
export function parseNsDigits(s: string): NsTime | undefined {
  const n = s.length;
  if (n === 0 || n > 22) return undefined;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  if (n <= 3) return { us: 0, rem: Number(s) };
  const us = Number(s.slice(0, n - 3));
  if (us > MAX_US) return undefined;
  return { us, rem: Number(s.slice(n - 3)) };
}

function fromBigInt(b: bigint): NsTime | undefined {
  const us = b / 1000n;
  if (us > BigInt(MAX_US)) return undefined;
  return { us: Number(us), rem: Number(b % 1000n) };
}

export function nsFromMillis(ms: number): NsTime {
  return { us: ms * 1000, rem: 0 };
}

/** The exact nanosecond value as a decimal string (what alerts and APIs carry). */
export function formatNs(us: number, rem: number): string {
  if (us === 0) return String(rem);
  return rem >= 100 ? `${us}${rem}` : rem >= 10 ? `${us}0${rem}` : `${us}00${rem}`;
}

export function nsToBigInt(t: NsTime): bigint {
  return BigInt(t.us) * 1000n + BigInt(t.rem);
}

/** Negative when a is earlier than b, 0 when equal, positive when later. */
export function compareNs(aUs: number, aRem: number, bUs: number, bRem: number): number {
  return aUs !== bUs ? aUs - bUs : aRem - bRem;
}
