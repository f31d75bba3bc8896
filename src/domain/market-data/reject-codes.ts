/** Why a market-data record was rejected. Stable: counted in stats, shown to operators, used in tests. */
export const RejectCode = {
  Schema: 'SCHEMA',
  NonPositivePrice: 'NON_POSITIVE_PRICE',
  NonPositiveSize: 'NON_POSITIVE_SIZE',
  CrossedQuote: 'CROSSED_QUOTE',
  OutOfOrder: 'OUT_OF_ORDER',
  Duplicate: 'DUPLICATE',
  Stale: 'STALE',
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

export const REJECT_CODES: readonly RejectCode[] = Object.values(RejectCode);

export function isRejectCode(value: unknown): value is RejectCode {
  return typeof value === 'string' && (REJECT_CODES as readonly string[]).includes(value);
}
