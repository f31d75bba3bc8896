/**
 * Polygon/SIP trade condition ids that do not update consolidated last-sale/volume, as listed in
 * REFERENCE.md §2 (average price, Form T/extended hours, auction-related, corrected consolidated close, …).
 * The authoritative source is `/v3/reference/conditions` (update_rules.consolidated.updates_volume).
 * Regular (0), intermarket sweep (14), odd lot (37) and 41 count toward volume.
 */
export const EXCLUDED_TRADE_CONDITIONS: readonly number[] = [
  2, 7, 8, 9, 10, 12, 13, 15, 16, 17, 18, 19, 20, 21, 22, 25, 28, 29, 33, 38, 52, 53,
];

const TABLE = new Uint8Array(256);
for (const c of EXCLUDED_TRADE_CONDITIONS) TABLE[c] = 1;

/** The first condition that makes a print ineligible, or -1 when every condition counts toward volume. */
export function firstExcludedCondition(conditions: readonly number[]): number {
  for (let i = 0; i < conditions.length; i++) {
    const c = conditions[i]!;
    if (c >= 0 && c < 256 && TABLE[c] === 1) return c;
  }
  return -1;
}
