/**
 * A JSON parser that keeps integers too long for a double exact: an integer literal with more than 15
 * digits is returned as its decimal string (SIP nanosecond timestamps are 19 digits; JSON.parse would
 * round them by hundreds of ns). Every other value parses exactly as JSON.parse does. Throws SyntaxError
 * on malformed text. Hand-written because lossless-json wraps every number in an object, which is far too
 * slow for the market-data hot path.
 */
export function parseJsonLossless(text: string): unknown {
  const p = new Parser(text);
  const value = p.value();
  p.ws();
  if (p.pos !== text.length) p.fail('unexpected text after the JSON value');
  return value;
}

/** Above this many digits an integer may not be exact in a double. */
const SAFE_DIGITS = 15;

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  fail(what: string): never {
    throw new SyntaxError(`${what} at position ${this.pos}`);
  }

  ws(): void {
    const s = this.s;
    let pos = this.pos;
    for (;;) {
      const c = s.charCodeAt(pos);
      if (c === 32 || c === 10 || c === 13 || c === 9) pos++;
      else break;
    }
    this.pos = pos;
  }

  value(): unknown {
    this.ws();
    const c = this.s.charCodeAt(this.pos);
    if (c === 123) return this.object();
    if (c === 91) return this.array();
    if (c === 34) return this.string();
    if (c === 45 || (c >= 48 && c <= 57)) return this.number();
    if (c === 116) return this.literal('true', true);
    if (c === 102) return this.literal('false', false);
    if (c === 110) return this.literal('null', null);
    return this.fail(Number.isNaN(c) ? 'unexpected end of JSON' : 'unexpected character');
  }

  private literal<T>(word: string, value: T): T {
    if (!this.s.startsWith(word, this.pos)) this.fail('unexpected character');
    this.pos += word.length;
    return value;
  }

  private object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos++;
    this.ws();
    if (this.s.charCodeAt(this.pos) === 125) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s.charCodeAt(this.pos) !== 34) this.fail('expected a string key');
      const key = this.string();
      this.ws();
      if (this.s.charCodeAt(this.pos) !== 58) this.fail("expected ':'");
      this.pos++;
      const v = this.value();
      // JSON.parse makes "__proto__" an own property; plain assignment would set the prototype.
      if (key === '__proto__')
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
      this.ws();
      const c = this.s.charCodeAt(this.pos++);
      if (c === 44) continue;
      if (c === 125) return out;
      this.pos--;
      this.fail("expected ',' or '}'");
    }
  }

  private array(): unknown[] {
    const out: unknown[] = [];
    this.pos++;
    this.ws();
    if (this.s.charCodeAt(this.pos) === 93) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.ws();
      const c = this.s.charCodeAt(this.pos++);
      if (c === 44) continue;
      if (c === 93) return out;
      this.pos--;
      this.fail("expected ',' or ']'");
    }
  }

  private string(): string {
    const s = this.s;
    const start = ++this.pos;
    let pos = start;
    let escaped = false;
    for (;;) {
      const c = s.charCodeAt(pos);
      if (c === 34) break;
      if (c === 92) {
        escaped = true;
        pos += 2;
        continue;
      }
      if (c < 32 || Number.isNaN(c)) {
        this.pos = pos;
        this.fail(Number.isNaN(c) ? 'unterminated string' : 'control character in string');
      }
      pos++;
    }
    this.pos = pos + 1;
    if (!escaped) return s.slice(start, pos);
    try {
      return JSON.parse(s.slice(start - 1, pos + 1)) as string;
    } catch {
      this.pos = start;
      return this.fail('invalid escape in string');
    }
  }

  private number(): number | string {
    const s = this.s;
    const start = this.pos;
    let pos = start;
    if (s.charCodeAt(pos) === 45) pos++;
    const intStart = pos;
    let c = s.charCodeAt(pos);
    if (c === 48) pos++;
    else if (c >= 49 && c <= 57) {
      do c = s.charCodeAt(++pos);
      while (c >= 48 && c <= 57);
    } else {
      this.pos = pos;
      this.fail('invalid number');
    }
    const intDigits = pos - intStart;
    let integer = true;
    c = s.charCodeAt(pos);
    if (c === 46) {
      integer = false;
      c = s.charCodeAt(++pos);
      if (!(c >= 48 && c <= 57)) {
        this.pos = pos;
        this.fail('invalid number');
      }
      do c = s.charCodeAt(++pos);
      while (c >= 48 && c <= 57);
    }
    if (c === 101 || c === 69) {
      integer = false;
      c = s.charCodeAt(++pos);
      if (c === 43 || c === 45) c = s.charCodeAt(++pos);
      if (!(c >= 48 && c <= 57)) {
        this.pos = pos;
        this.fail('invalid number');
      }
      do c = s.charCodeAt(++pos);
      while (c >= 48 && c <= 57);
    }
    this.pos = pos;
    const literal = s.slice(start, pos);
    return integer && intDigits > SAFE_DIGITS ? literal : Number(literal);
  }
}
