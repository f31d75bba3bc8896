import { parseJsonLossless } from './json';

/**
 * Records from a recorded Polygon file: either one v3 response object (`{"results":[…]}`), a JSON array of
 * records, or JSON Lines of records. Big integers (nanosecond timestamps) stay exact as digit strings.
 * A JSON Lines line that does not parse becomes `null` in place, so the detector counts it as a SCHEMA
 * rejection where it stood instead of the whole file failing.
 */
export function parseRecordFile(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let whole: unknown;
  let parsed = false;
  try {
    whole = parseJsonLossless(trimmed);
    parsed = true;
  } catch {
    parsed = false;
  }
  if (parsed) {
    if (Array.isArray(whole)) return whole;
    if (typeof whole === 'object' && whole !== null && Array.isArray((whole as { results?: unknown }).results)) {
      return (whole as { results: unknown[] }).results;
    }
    return [whole];
  }
  return parseJsonLines(trimmed);
}

/** One record per non-blank line; malformed lines become null. */
export function parseJsonLines(text: string): unknown[] {
  const out: unknown[] = [];
  let start = 0;
  const n = text.length;
  while (start <= n) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = n;
    const line = text.slice(start, end);
    if (line.trim() !== '') {
      try {
        out.push(parseJsonLossless(line));
      } catch {
        out.push(null);
      }
    }
    start = end + 1;
  }
  return out;
}
