/**
 * Compact, exact text encoding of number lists for the serialized detector state, which travels through
 * Temporal workflow history on every activity call (budget < 4 KB per symbol).
 *
 * A list is comma-separated tokens: an empty token is one 0, `~n` is a run of n zeros (n in base 36), a
 * safe integer is written in base 36 (`-` for negatives), anything else (fractional sizes, -0, NaN, ±∞) is
 * `!` followed by String(x), which round-trips every double. Sequence lists are delta-encoded first (they
 * only ever increase), so 32 seven-digit sequence numbers become a few characters each.
 */

function token(x: number): string {
  if (Object.is(x, -0)) return '!-0';
  if (x === 0) return '';
  if (Number.isSafeInteger(x)) return x.toString(36);
  return `!${String(x)}`;
}

export function encodeNums(values: readonly number[]): string {
  const out: string[] = [];
  let zeros = 0;
  const flush = () => {
    if (zeros === 1) out.push('');
    else if (zeros > 1) out.push(`~${zeros.toString(36)}`);
    zeros = 0;
  };
  for (const x of values) {
    if (x === 0 && !Object.is(x, -0)) {
      zeros++;
      continue;
    }
    flush();
    out.push(token(x));
  }
  flush();
  // A single empty token would read back as no entries; a lone zero is written as its run.
  if (out.length === 1 && out[0] === '') return '~1';
  return out.join(',');
}

const BASE36 = /^-?[0-9a-z]+$/;

/** Inverse of encodeNums; undefined when the text is not such a list. */
export function decodeNums(text: string): number[] | undefined {
  const out: number[] = [];
  if (text === '') return out;
  for (const t of text.split(',')) {
    if (t === '') out.push(0);
    else if (t.charCodeAt(0) === 126) {
      const n = parseBase36(t.slice(1));
      if (n === undefined || n < 1 || n > 100_000) return undefined;
      for (let i = 0; i < n; i++) out.push(0);
    } else if (t.charCodeAt(0) === 33) {
      const body = t.slice(1);
      const x = Number(body);
      // Only what String() writes: reject '', whitespace, hex and the like that Number() would also take.
      if (body === '' || (String(x) !== body && !(body === '-0' && Object.is(x, -0)))) return undefined;
      out.push(x);
    } else {
      const x = parseBase36(t);
      if (x === undefined) return undefined;
      out.push(x);
    }
  }
  return out;
}

function parseBase36(t: string): number | undefined {
  if (!BASE36.test(t)) return undefined;
  const x = parseInt(t, 36);
  return Number.isSafeInteger(x) && x.toString(36) === t.replace(/^(-?)0+(?=.)/, '$1') ? x : undefined;
}

/** Delta-encoded list of safe integers (first value absolute). */
export function encodeDeltas(values: readonly number[]): string {
  const d: number[] = [];
  let prev = 0;
  for (const x of values) {
    d.push(x - prev);
    prev = x;
  }
  return encodeNums(d);
}

export function decodeDeltas(text: string): number[] | undefined {
  const d = decodeNums(text);
  if (d === undefined) return undefined;
  let acc = 0;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isSafeInteger(d[i]!)) return undefined;
    acc += d[i]!;
    if (!Number.isSafeInteger(acc)) return undefined;
    d[i] = acc;
  }
  return d;
}
