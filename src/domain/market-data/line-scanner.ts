/**
 * Single-pass scanner for one Polygon record as JSON text (a `/v3/trades` or `/v3/quotes` result, or one
 * WebSocket `T`/`Q` message). It reads the known fields straight from the text into fixed slots, without
 * building an object, a string per key or a bigint per timestamp, so validation can run on the slots.
 *
 * It follows parseJsonLossless exactly: the same grammar (anything JSON.parse rejects is a syntax error),
 * the same values (a number literal becomes the double Number(literal) gives; an integer literal of more
 * than 15 digits becomes its text, i.e. a string), the last of duplicate keys wins. What it does not read
 * itself (non-ASCII text, a top level that is not an object, a key with escapes, nesting deeper than
 * MAX_DEPTH) is reported as needing the general parser. Property tests check it against parseJsonLossless
 * and the validators.
 */

/** Field slots, over the union of REST and WebSocket names. */
export const F = {
  conditions: 0,
  correction: 1,
  exchange: 2,
  id: 3,
  participant_timestamp: 4,
  price: 5,
  sequence_number: 6,
  sip_timestamp: 7,
  size: 8,
  tape: 9,
  trf_id: 10,
  trf_timestamp: 11,
  ask_exchange: 12,
  ask_price: 13,
  ask_size: 14,
  bid_exchange: 15,
  bid_price: 16,
  bid_size: 17,
  indicators: 18,
  ev: 19,
  sym: 20,
  x: 21,
  i: 22,
  z: 23,
  p: 24,
  s: 25,
  c: 26,
  t: 27,
  q: 28,
  trfi: 29,
  trft: 30,
  bx: 31,
  bp: 32,
  bs: 33,
  ax: 34,
  ap: 35,
  as: 36,
} as const;
const FIELD_NAMES = Object.keys(F);
const N_FIELDS = FIELD_NAMES.length;

/** What a slot holds after a scan. */
export const SlotKind = {
  Absent: 0,
  /** A number literal parsed to a double (num). */
  Num: 1,
  /** An integer literal of more than 15 digits: the general parser keeps it as its text (a string). */
  BigInt: 2,
  /** A string (start..end between the quotes; escaped strings are decoded into strs). */
  Str: 3,
  /** An array; arrOk says every element is a safe integer (values in the shared element buffer). */
  Arr: 4,
  /** null, true, false, an object, or an array that is not all numbers. */
  Other: 5,
} as const;

/** Result of scan(). */
export const ScanResult = { Ok: 0, Syntax: 1, NeedsGeneral: 2 } as const;
export type ScanResult = (typeof ScanResult)[keyof typeof ScanResult];

const MAX_DEPTH = 64;
const MAX_SAFE_DIGITS = 15;
const POW10: readonly number[] = Array.from({ length: 23 }, (_, k) => 10 ** k);
const MAX_US = Number.MAX_SAFE_INTEGER;

// Key lookup without slicing: the first two characters of a key pick the few field names it can be, each
// checked in place (name, then the closing quote). Anything else is an unknown key, scanned to its quote.
const CANDIDATES: (readonly number[] | undefined)[] = new Array<readonly number[] | undefined>(128 * 128);
/** Names as char codes (typed-array reads are much cheaper than charCodeAt on strings from an array). */
const NAME_CHARS = new Uint8Array(FIELD_NAMES.reduce((n, name) => n + name.length, 0));
const NAME_START = new Int32Array(N_FIELDS);
const NAME_LEN = new Int32Array(N_FIELDS);
for (let f = 0, off = 0; f < N_FIELDS; f++) {
  const n = FIELD_NAMES[f]!;
  NAME_START[f] = off;
  NAME_LEN[f] = n.length;
  for (let j = 0; j < n.length; j++) NAME_CHARS[off++] = n.charCodeAt(j);
}
for (let f = 0; f < N_FIELDS; f++) {
  const n = FIELD_NAMES[f]!;
  const idx = n.charCodeAt(0) * 128 + (n.length > 1 ? n.charCodeAt(1) : 34);
  CANDIDATES[idx] = [...(CANDIDATES[idx] ?? []), f];
}

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

const ENCODER = new TextEncoder();

export class LineScanner {
  s = '';
  /** The text as bytes (ASCII only), then two NULs. */
  buf = new Uint8Array(1024);
  pos = 0;
  readonly kind = new Uint8Array(N_FIELDS);
  readonly num = new Float64Array(N_FIELDS);
  readonly start = new Int32Array(N_FIELDS);
  readonly end = new Int32Array(N_FIELDS);
  /** BigInt: the literal had a minus sign. */
  readonly neg = new Uint8Array(N_FIELDS);
  /** Str: the string had escapes (decoded value in strs). */
  readonly escaped = new Uint8Array(N_FIELDS);
  /** Arr: every element is a safe integer. */
  readonly arrOk = new Uint8Array(N_FIELDS);
  readonly strs: (string | undefined)[] = new Array<string | undefined>(N_FIELDS).fill(undefined);
  /** Elements of integer arrays, in scan order; an Arr slot's elements are start..end of this buffer. */
  elems = new Float64Array(64);
  nElems = 0;
  /** Set by ns(): the timestamp read. */
  us = 0;
  rem = 0;

  // Scratch for the number just read.
  private numKind = 0;
  private numVal = 0;
  private numNeg = 0;
  private numStart = 0;
  private numEnd = 0;
  private strEscaped = 0;

  /** Reads one JSON object into the slots. */
  scan(line: string): ScanResult {
    this.s = line;
    this.kind.fill(0);
    this.nElems = 0;
    const n = line.length;
    if (this.buf.length < n + 2) this.buf = new Uint8Array(Math.max(n + 2, this.buf.length * 2));
    const b = this.buf;
    // Bytes are read far faster than string chars (charCodeAt on sliced or rope strings dispatches on the
    // representation each time). Only ASCII text, where byte and char offsets agree, is read this way.
    const done = ENCODER.encodeInto(line, b);
    if (done.read !== n || done.written !== n) return ScanResult.NeedsGeneral;
    // Two NULs end the text: every loop stops on them (a control char is never valid at that point), and an
    // escape at the very end skips at most one of them.
    b[n] = 0;
    b[n + 1] = 0;
    let pos = 0;
    let c = b[pos]!;
    while (isWs(c)) c = b[++pos]!;
    if (c !== 123) return ScanResult.NeedsGeneral;
    c = b[++pos]!;
    while (isWs(c)) c = b[++pos]!;
    if (c === 125) {
      pos++;
    } else {
      for (;;) {
        if (c !== 34) return ScanResult.Syntax;
        // Key.
        const kStart = pos + 1;
        const c0 = b[kStart]!;
        const c1 = b[kStart + 1]!;
        let f = -1;
        let k = -1;
        if (c0 < 128 && c1 < 128) {
          const cands = CANDIDATES[c0 * 128 + c1];
          if (cands !== undefined) {
            for (let ci = 0; ci < cands.length; ci++) {
              const cand = cands[ci]!;
              const off = NAME_START[cand]!;
              const len = NAME_LEN[cand]!;
              let j = len < 2 ? len : 2;
              while (j < len && NAME_CHARS[off + j] === b[kStart + j]!) j++;
              if (j === len && b[kStart + len]! === 34) {
                f = cand;
                k = kStart + len;
                break;
              }
            }
          }
        }
        if (k < 0) {
          k = kStart;
          let kc = c0;
          while (kc !== 34) {
            if (kc === 92) return ScanResult.NeedsGeneral;
            if (kc < 32 || kc !== kc) return ScanResult.Syntax;
            kc = b[++k]!;
          }
        }
        pos = k + 1;
        c = b[pos]!;
        while (isWs(c)) c = b[++pos]!;
        if (c !== 58) return ScanResult.Syntax;
        c = b[++pos]!;
        while (isWs(c)) c = b[++pos]!;
        this.pos = pos;
        const r = f >= 0 ? this.field(f, c) : this.skip(c, 0);
        if (r !== ScanResult.Ok) return r;
        pos = this.pos;
        c = b[pos]!;
        while (isWs(c)) c = b[++pos]!;
        if (c === 44) {
          c = b[++pos]!;
          while (isWs(c)) c = b[++pos]!;
          continue;
        }
        if (c === 125) {
          pos++;
          break;
        }
        return ScanResult.Syntax;
      }
    }
    c = b[pos]!;
    while (isWs(c)) c = b[++pos]!;
    return pos === n ? ScanResult.Ok : ScanResult.Syntax;
  }

  /** Reads the value of a known field at this.pos (c is its first char) into slot f. */
  private field(f: number, c: number): ScanResult {
    if (c === 45 || (c >= 48 && c <= 57)) {
      if (!this.number()) return ScanResult.Syntax;
      this.numberInto(f);
      return ScanResult.Ok;
    }
    if (c === 34) {
      const start = this.pos + 1;
      const r = this.string();
      if (r !== ScanResult.Ok) return r;
      this.kind[f] = SlotKind.Str;
      this.start[f] = start;
      this.end[f] = this.pos - 1;
      this.escaped[f] = this.strEscaped;
      return ScanResult.Ok;
    }
    if (c === 91) return this.intArray(f);
    this.kind[f] = SlotKind.Other;
    return this.skip(c, 0);
  }

  private numberInto(f: number): void {
    this.kind[f] = this.numKind;
    this.num[f] = this.numVal;
    this.neg[f] = this.numNeg;
    this.start[f] = this.numStart;
    this.end[f] = this.numEnd;
  }

  /** An array value of a known field: numbers are kept; anything else makes the slot Other (still validated). */
  private intArray(f: number): ScanResult {
    const b = this.buf;
    const first = this.nElems;
    let ok = 1;
    let allNumbers = true;
    let pos = this.pos + 1;
    let c = b[pos]!;
    while (isWs(c)) c = b[++pos]!;
    if (c === 93) {
      pos++;
    } else {
      for (;;) {
        this.pos = pos;
        if (c === 45 || (c >= 48 && c <= 57)) {
          if (!this.number()) return ScanResult.Syntax;
          if (this.numKind === SlotKind.Num && Number.isSafeInteger(this.numVal)) {
            if (this.nElems === this.elems.length) {
              const grown = new Float64Array(this.elems.length * 2);
              grown.set(this.elems);
              this.elems = grown;
            }
            this.elems[this.nElems++] = this.numVal;
          } else ok = 0;
        } else {
          allNumbers = false;
          const r = this.skip(c, 1);
          if (r !== ScanResult.Ok) return r;
        }
        pos = this.pos;
        c = b[pos]!;
        while (isWs(c)) c = b[++pos]!;
        if (c === 44) {
          c = b[++pos]!;
          while (isWs(c)) c = b[++pos]!;
          continue;
        }
        if (c === 93) {
          pos++;
          break;
        }
        return ScanResult.Syntax;
      }
    }
    this.pos = pos;
    this.kind[f] = allNumbers ? SlotKind.Arr : SlotKind.Other;
    this.arrOk[f] = ok;
    this.start[f] = first;
    this.end[f] = this.nElems;
    return ScanResult.Ok;
  }

  /**
   * Reads a number literal at this.pos as parseJsonLossless does: an integer of more than 15 digits is kept
   * as text (BigInt kind); otherwise the double Number(literal) gives. Up to 15 significant digits without an
   * exponent the double is m / 10^k, which is exact-then-correctly-rounded just as Number() is.
   */
  private number(): boolean {
    const b = this.buf;
    const start = this.pos;
    let pos = start;
    let neg = 0;
    if (b[pos]! === 45) {
      neg = 1;
      pos++;
    }
    const intStart = pos;
    let c = b[pos]!;
    let m = 0;
    if (c === 48) {
      c = b[++pos]!;
    } else if (c >= 49 && c <= 57) {
      do {
        m = m * 10 + (c - 48);
        c = b[++pos]!;
      } while (c >= 48 && c <= 57);
    } else return false;
    const intDigits = pos - intStart;
    let digits = intDigits;
    let k = 0;
    let simple = true;
    if (c === 46) {
      c = b[++pos]!;
      if (!(c >= 48 && c <= 57)) return false;
      do {
        m = m * 10 + (c - 48);
        k++;
        c = b[++pos]!;
      } while (c >= 48 && c <= 57);
      digits += k;
    }
    if (c === 101 || c === 69) {
      simple = false;
      c = b[++pos]!;
      if (c === 43 || c === 45) c = b[++pos]!;
      if (!(c >= 48 && c <= 57)) return false;
      do c = b[++pos]!;
      while (c >= 48 && c <= 57);
    }
    this.pos = pos;
    this.numNeg = neg;
    this.numStart = start;
    this.numEnd = pos;
    if (simple && k === 0 && intDigits > MAX_SAFE_DIGITS) {
      this.numKind = SlotKind.BigInt;
      this.numVal = 0;
      return true;
    }
    this.numKind = SlotKind.Num;
    if (simple && digits <= MAX_SAFE_DIGITS) {
      const v = k === 0 ? m : m / POW10[k]!;
      this.numVal = neg === 1 ? -v : v;
    } else {
      this.numVal = Number(this.s.slice(start, pos));
    }
    return true;
  }

  /** Skips a string at this.pos (on its opening quote), validating it as the general parser does. */
  private string(): ScanResult {
    const b = this.buf;
    const start = this.pos + 1;
    let pos = start;
    let escaped = 0;
    for (;;) {
      const c = b[pos]!;
      if (c === 34) break;
      if (c === 92) {
        escaped = 1;
        pos += 2;
        continue;
      }
      if (c < 32 || c !== c) return ScanResult.Syntax;
      pos++;
    }
    this.pos = pos + 1;
    this.strEscaped = escaped;
    if (escaped === 1) {
      try {
        JSON.parse(this.s.slice(start - 1, pos + 1));
      } catch {
        return ScanResult.Syntax;
      }
    }
    return ScanResult.Ok;
  }

  /** Skips any JSON value at this.pos, validating it. */
  private skip(c: number, depth: number): ScanResult {
    if (c === 34) return this.string();
    if (c === 45 || (c >= 48 && c <= 57)) return this.number() ? ScanResult.Ok : ScanResult.Syntax;
    const b = this.buf;
    if (c === 116) return this.literal('true');
    if (c === 102) return this.literal('false');
    if (c === 110) return this.literal('null');
    if (c !== 123 && c !== 91) return ScanResult.Syntax;
    if (depth >= MAX_DEPTH) return ScanResult.NeedsGeneral;
    const isObj = c === 123;
    const close = isObj ? 125 : 93;
    let pos = this.pos + 1;
    c = b[pos]!;
    while (isWs(c)) c = b[++pos]!;
    if (c === close) {
      this.pos = pos + 1;
      return ScanResult.Ok;
    }
    for (;;) {
      if (isObj) {
        if (c !== 34) return ScanResult.Syntax;
        this.pos = pos;
        const r = this.string();
        if (r !== ScanResult.Ok) return r;
        pos = this.pos;
        c = b[pos]!;
        while (isWs(c)) c = b[++pos]!;
        if (c !== 58) return ScanResult.Syntax;
        c = b[++pos]!;
        while (isWs(c)) c = b[++pos]!;
      }
      this.pos = pos;
      const r = this.skip(c, depth + 1);
      if (r !== ScanResult.Ok) return r;
      pos = this.pos;
      c = b[pos]!;
      while (isWs(c)) c = b[++pos]!;
      if (c === 44) {
        c = b[++pos]!;
        while (isWs(c)) c = b[++pos]!;
        continue;
      }
      if (c === close) {
        this.pos = pos + 1;
        return ScanResult.Ok;
      }
      return ScanResult.Syntax;
    }
  }

  private literal(word: string): ScanResult {
    if (!this.s.startsWith(word, this.pos)) return ScanResult.Syntax;
    this.pos += word.length;
    return ScanResult.Ok;
  }

  // ---- typed reads of slots, with exactly the semantics of the validators in records.ts

  has(f: number): boolean {
    return this.kind[f] !== SlotKind.Absent;
  }

  /** A safe integer number. */
  isInt(f: number): boolean {
    return this.kind[f] === SlotKind.Num && Number.isSafeInteger(this.num[f]);
  }

  optInt(f: number): boolean {
    return this.kind[f] === SlotKind.Absent || this.isInt(f);
  }

  /** A finite number at most max. */
  isNumMax(f: number, max: number): boolean {
    if (this.kind[f] !== SlotKind.Num) return false;
    const v = this.num[f]!;
    return Number.isFinite(v) && v <= max;
  }

  optNumMax(f: number, max: number): boolean {
    return this.kind[f] === SlotKind.Absent || this.isNumMax(f, max);
  }

  optIntArray(f: number): boolean {
    const k = this.kind[f];
    return k === SlotKind.Absent || (k === SlotKind.Arr && this.arrOk[f] === 1);
  }

  /** A string in the general parser's output (a JSON string, or an integer literal of more than 15 digits). */
  isStr(f: number): boolean {
    const k = this.kind[f];
    return k === SlotKind.Str || k === SlotKind.BigInt;
  }

  /** The string value of an isStr slot. */
  str(f: number): string {
    const s = this.s;
    if (this.kind[f] === SlotKind.BigInt) return s.slice(this.start[f], this.end[f]); // with its sign, as parsed
    if (this.escaped[f] === 1) return JSON.parse(s.slice(this.start[f]! - 1, this.end[f]! + 1)) as string;
    return s.slice(this.start[f], this.end[f]);
  }

  /** Whether an isStr slot equals `value`, without building the string when it has no escapes. */
  strEquals(f: number, value: string): boolean {
    if (this.kind[f] === SlotKind.Str && this.escaped[f] === 0) {
      const start = this.start[f]!;
      const len = this.end[f]! - start;
      if (len !== value.length) return false;
      const b = this.buf;
      for (let j = 0; j < len; j++) if (b[start + j] !== value.charCodeAt(j)) return false;
      return true;
    }
    return this.str(f) === value;
  }

  /**
   * A timestamp as parseNs reads the general parser's value: a non-negative integer number, or a digit
   * string. On success sets us and rem.
   */
  ns(f: number): boolean {
    const k = this.kind[f];
    if (k === SlotKind.Num) {
      const v = this.num[f]!;
      if (!Number.isInteger(v) || v < 0) return false;
      if (v <= Number.MAX_SAFE_INTEGER) {
        const us = Math.floor(v / 1000);
        this.us = us;
        this.rem = v - us * 1000;
        return true;
      }
      const b = BigInt(v);
      const us = b / 1000n;
      if (us > BigInt(MAX_US)) return false;
      this.us = Number(us);
      this.rem = Number(b % 1000n);
      return true;
    }
    if (k === SlotKind.BigInt) {
      if (this.neg[f] === 1) return false;
      return this.digits(this.buf, this.start[f]!, this.end[f]!);
    }
    if (k === SlotKind.Str) {
      if (this.escaped[f] === 1) {
        const v = this.str(f);
        const codes = new Uint16Array(v.length);
        for (let j = 0; j < v.length; j++) codes[j] = v.charCodeAt(j);
        return this.digits(codes, 0, v.length);
      }
      return this.digits(this.buf, this.start[f]!, this.end[f]!);
    }
    return false;
  }

  /** ns() when only validity matters: a plain 16..19-digit literal below 9e18 needs no digit reading. */
  nsOk(f: number): boolean {
    if (this.kind[f] === SlotKind.BigInt && this.neg[f] === 0) {
      const start = this.start[f]!;
      const n = this.end[f]! - start;
      // A BigInt literal has ≥ 16 digits and no leading zero; below 19 digits, or 19 starting with 1..8,
      // its microseconds are < 9e15 ≤ MAX_US.
      if (n <= 18 || (n === 19 && this.buf[start]! <= 56)) return true;
    }
    return this.ns(f);
  }

  /** parseNsDigits over the char codes s[start, end) without slicing. */
  private digits(s: Uint8Array | Uint16Array, start: number, end: number): boolean {
    const n = end - start;
    if (n === 0 || n > 22) return false;
    let us = 0;
    const split = end - 3;
    let pos = start;
    for (; pos < split; pos++) {
      const c = s[pos]!;
      if (c < 48 || c > 57) return false;
      us = us * 10 + (c - 48);
    }
    if (us > MAX_US) {
      // Still reject non-digits first, as parseNsDigits checks every character before the range.
      for (; pos < end; pos++) {
        const c = s[pos]!;
        if (c < 48 || c > 57) return false;
      }
      return false;
    }
    let rem = 0;
    for (; pos < end; pos++) {
      const c = s[pos]!;
      if (c < 48 || c > 57) return false;
      rem = rem * 10 + (c - 48);
    }
    this.us = us;
    this.rem = rem;
    return true;
  }
}
