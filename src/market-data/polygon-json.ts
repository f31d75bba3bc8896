import { isInteger, isLosslessNumber, isSafeNumber, parse, type LosslessNumber } from 'lossless-json';

/**
 * Polygon's nanosecond timestamps (~1.7e18) exceed 2^53, so JSON.parse would round them by hundreds of ns.
 * This parser keeps the wire digits: every `*_timestamp` field and every integer outside the safe range
 * becomes a decimal-digit string; all other numbers (prices, sizes, ms timestamps) stay JS numbers, which
 * round-trip their JSON text exactly. Everything else is Polygon's JSON unchanged.
 */
export function parsePolygonJson(text: string): unknown {
  return parse(text, (key, value) => (isLosslessNumber(value) ? reviveNumber(key, value) : value));
}

function reviveNumber(key: string, value: LosslessNumber): number | string {
  const digits = value.value;
  if (isInteger(digits) && (key.endsWith('_timestamp') || !isSafeNumber(digits))) return canonicalInteger(digits);
  return Number(digits);
}

/** "-0012" → "-12": integers are compared and keyed as strings downstream, so one spelling per value. */
function canonicalInteger(digits: string): string {
  return BigInt(digits).toString();
}

/** Axios `transformResponse` that parses JSON losslessly; non-JSON bodies (HTML error pages) pass through as text. */
export function losslessTransformResponse(data: unknown): unknown {
  if (typeof data !== 'string' || data.trim() === '') return data;
  try {
    return parsePolygonJson(data);
  } catch {
    return data;
  }
}
