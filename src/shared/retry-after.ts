/**
 * An HTTP Retry-After value in milliseconds: delta-seconds ("7", "1.5") or an HTTP date (RFC 9110 §10.2.3).
 * Anything else (absent, empty, "soon", a negative number) is null rather than guessed. Used by the broker
 * adapters, the Polygon client and the notification sender alike.
 */
export function parseRetryAfter(value: unknown, nowMs: number = Date.now()): number | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}
