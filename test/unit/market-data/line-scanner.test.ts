import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  generalQuote,
  generalTrade,
  generalWsQuote,
  generalWsTrade,
  LineReader,
  parseJsonOrNull,
} from '../../../src/domain/market-data/line-records';
import { LineScanner, ScanResult } from '../../../src/domain/market-data/line-scanner';
import { checkRecord, RecordKind, type Parsed } from '../../../src/domain/market-data/records';

const SCENARIOS = join(__dirname, '../../fixtures/scenarios');

/** The record lines of a v3 envelope file written one result per line (as the fixtures are). */
export function recordLines(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('{"results"') && !l.startsWith(']'))
    .map((l) => l.replace(/,$/, ''));
}

/** A plain copy of a verdict: the reject code, or the event's fields (the fast path returns a scratch object). */
const plain = (p: Parsed<object>) => (typeof p === 'string' ? p : { ...p });

type Kind = 'rest_trade' | 'rest_quote' | 'ws_trade' | 'ws_quote';
const FAST: Record<Kind, (r: LineReader, line: string) => Parsed<object>> = {
  rest_trade: (r, l) => r.restTrade(l),
  rest_quote: (r, l) => r.restQuote(l),
  ws_trade: (r, l) => r.wsTrade(l),
  ws_quote: (r, l) => r.wsQuote(l),
};
const GENERAL: Record<Kind, (line: string) => Parsed<object>> = {
  rest_trade: generalTrade,
  rest_quote: generalQuote,
  ws_trade: generalWsTrade,
  ws_quote: generalWsQuote,
};
const ZOD_KIND: Record<Kind, RecordKind> = {
  rest_trade: RecordKind.RestTrade,
  rest_quote: RecordKind.RestQuote,
  ws_trade: RecordKind.WsTrade,
  ws_quote: RecordKind.WsQuote,
};

/** Fast and general path give the same verdict and the same event; the verdict is the zod contract's. */
function expectAgreement(reader: LineReader, kind: Kind, line: string, zod = true): string {
  const fast = plain(FAST[kind](reader, line));
  const general = plain(GENERAL[kind](line));
  expect(fast).toEqual(general);
  // toEqual treats -0 and 0 as different already; check the timestamps and prices bit for bit as well.
  if (typeof fast !== 'string' && typeof general !== 'string') {
    for (const [k, v] of Object.entries(general)) {
      if (typeof v === 'number') expect([k, Object.is((fast as Record<string, unknown>)[k], v)]).toEqual([k, true]);
    }
  }
  const verdict = typeof fast === 'string' ? fast : 'ok';
  if (zod) {
    const z = checkRecord(ZOD_KIND[kind], parseJsonOrNull(line));
    expect(verdict).toBe(z.ok ? 'ok' : z.code);
  }
  return verdict;
}

describe('line scanner: fixtures', () => {
  const names = readdirSync(SCENARIOS).sort();
  it.each(names)('%s: every trade and quote line gives the general path verdict, on the fast path', (name) => {
    const reader = new LineReader();
    const trades = recordLines(join(SCENARIOS, name, 'trades.json'));
    const quotes = recordLines(join(SCENARIOS, name, 'quotes.json'));
    expect(trades.length).toBeGreaterThan(100);
    let fastLines = 0;
    const runs: [string[], Kind][] = [
      [trades, 'rest_trade'],
      [quotes, 'rest_quote'],
    ];
    // Each file read as the other kind too: exercises the rejection paths on realistic text.
    if (name === 'malformed-records') runs.push([trades, 'rest_quote'], [quotes, 'rest_trade']);
    for (const [lines, kind] of runs) {
      for (const line of lines) {
        const before = reader.general;
        // The general path's agreement with zod is property-tested in market-data.test.ts.
        expectAgreement(reader, kind, line, false);
        if (reader.general === before) fastLines++;
      }
    }
    // Only a top-level `null` element (malformed-records) is not an object and goes to the general parser.
    const total = runs.reduce((n, [lines]) => n + lines.length, 0);
    const nonObjects = runs.reduce((n, [lines]) => n + lines.filter((l) => !l.trimStart().startsWith('{')).length, 0);
    expect(fastLines).toBe(total - nonObjects);
    if (name === 'malformed-records') expect(nonObjects).toBeGreaterThan(0);
  });

  it('keeps 19-digit timestamps exact: 1764601200101085846 → 1764601200101085 µs + 846', () => {
    const line =
      '{"exchange":11,"id":"31003","participant_timestamp":1764601200100641664,"price":249.98,"sequence_number":4210002,"sip_timestamp":1764601200101085846,"size":300,"tape":3}';
    expect(plain(new LineReader().restTrade(line))).toEqual({
      id: '31003',
      exchange: 11,
      trfId: -1,
      priceE8: 24_998_000_000,
      size: 300,
      conditions: [],
      correction: 0,
      sequence: 4210002,
      tsUs: 1764601200101085,
      tsRem: 846,
      execUs: 1764601200101085,
      execRem: 846,
    });
  });
});

// ---- generated text

/** Whitespace JSON allows between tokens (mostly none, as Polygon writes it). */
const ws = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(' ', '\n', '\r', '\t'), minLength: 1, maxLength: 3 }) },
);

/** Every way JSON can write a number, including the ones the scanner hands to Number() or treats as text. */
function numberText(v: number): fc.Arbitrary<string> {
  const forms: fc.Arbitrary<string>[] = [fc.constant(JSON.stringify(v))];
  if (Number.isFinite(v) && v !== 0) {
    forms.push(fc.constant(v.toExponential()), fc.constant(v.toExponential().replace('e', 'E').replace('+', '')));
    if (Number.isInteger(v) && Math.abs(v) < 1e15) forms.push(fc.constant(`${v}.0`), fc.constant(`${v}.000`));
  }
  return fc.oneof(...forms);
}

const anyNumberText = fc.oneof(
  fc.constantFrom(
    '0',
    '-0',
    '-0.0',
    '0.0',
    '1e400',
    '-1e400',
    '1E-400',
    '249.50000000000000001',
    '0.1234567890123456789',
    '9007199254740993',
    '-9007199254740993',
    '123456789012345',
    '1234567890123456',
    '99999999999999999999999',
    '1.5',
    '-1',
    '10000000.000000001',
    '10000000',
    '10000000000',
    '10000000001',
    '2e10',
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }).chain(numberText),
  fc.integer({ min: -5, max: 300 }).chain(numberText),
  fc.integer({ min: 1, max: 1_000_000 }).chain((c) => numberText(c / 100)),
  fc.bigInt({ min: -(10n ** 22n), max: 10n ** 22n }).map(String),
);

/** A JSON string, sometimes with \\u escapes (general parser path inside the scanner). */
function stringText(s: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(JSON.stringify(s)) },
    {
      weight: 1,
      arbitrary: fc.constant(
        `"${[...s].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`,
      ),
    },
    { weight: 1, arbitrary: fc.constant(JSON.stringify(s).replace(/^"/, '"\\/')) },
  );
}

const nsText = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 63n }).map(String),
  fc.bigInt({ min: 1_764_601_200_000_000_000n, max: 1_764_601_300_000_000_000n }).map(String),
  fc.bigInt({ min: 0n, max: 10n ** 23n }).chain((b) => stringText(b.toString())),
  fc.constantFrom(
    '"00017646012001010858"',
    '"1764601200101085846x"',
    '""',
    '"-5"',
    '1.7646012e18',
    '1764601200101085846.0',
    '-1764601200101085846',
    '9007199254740991999',
    '9007199254740992000',
    '12',
    '0',
    'null',
  ),
  anyNumberText,
);

const intText = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 300 }).chain(numberText) },
  { weight: 1, arbitrary: fc.constantFrom('1.5', '"1"', 'null', 'true', '2e60', '1152921504606846976', '[]', '{}') },
);
const intArrayText = fc.oneof(
  fc
    .array(fc.oneof(fc.integer({ min: 0, max: 60 }).map(String), intText), { maxLength: 4 })
    .chain((xs) => ws.map((w) => `[${w}${xs.join(`${w},`)}]`)),
  fc.constantFrom('[]', '[ ]', '[-0]', '[14]', '[37]', '[12,41]', '"x"', 'null', '[1,[2]]', '[1,"2"]', '[1,]', '{}'),
);
const priceText = fc.oneof(
  fc.integer({ min: 1, max: 100_000 }).chain((c) => numberText(c / 100)),
  fc.constantFrom('0', '-0', '-1', '"249.5"', 'null', '10000000', '10000000.01'),
  anyNumberText,
);
const sizeText = fc.oneof(
  fc.integer({ min: 1, max: 50_000 }).chain(numberText),
  fc.constantFrom('0', '-0', '-5', '0.5', '10000000000', '10000000000.5', '"100"'),
  anyNumberText,
);
const strText = fc.oneof(
  fc.string({ maxLength: 6 }).chain(stringText),
  fc.constantFrom('12345678901234567890', '-12345678901234567', '1', 'null', '["a"]'),
);
/** Unknown fields of any JSON value, nested too. */
const extraValueText = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v, null, 1)),
  fc.constantFrom('"\\"quoted\\""', '"\\u00e9"', '[[[[]]]]', '{"a":{"b":[1,{"c":null}]}}'),
);

type FieldArbs = Record<string, fc.Arbitrary<string>>;
const REST_TRADE: FieldArbs = {
  conditions: intArrayText,
  correction: intText,
  exchange: intText,
  id: strText,
  participant_timestamp: nsText,
  price: priceText,
  sequence_number: fc.oneof(fc.nat().map(String), intText),
  sip_timestamp: nsText,
  size: sizeText,
  tape: intText,
  trf_id: intText,
  trf_timestamp: nsText,
};
const REST_QUOTE: FieldArbs = {
  ask_exchange: intText,
  ask_price: priceText,
  ask_size: sizeText,
  bid_exchange: intText,
  bid_price: priceText,
  bid_size: sizeText,
  conditions: intArrayText,
  indicators: intArrayText,
  participant_timestamp: nsText,
  sequence_number: fc.oneof(fc.nat().map(String), intText),
  sip_timestamp: nsText,
  tape: intText,
  trf_timestamp: nsText,
};
const WS_TRADE: FieldArbs = {
  ev: fc.oneof(fc.constantFrom('"T"', '"T"', '"Q"', '"\\u0054"', '"t"', 'null', '1'), strText),
  sym: fc.oneof(fc.constantFrom('"TSLA"', '"TSLA"', '"AAPL"', '"TSL\\u0041"', '5', 'null'), strText),
  x: intText,
  i: strText,
  z: intText,
  p: priceText,
  s: sizeText,
  c: intArrayText,
  t: fc.oneof(fc.integer({ min: 0, max: 2_000_000_000_000 }).map(String), intText),
  q: fc.oneof(fc.nat().map(String), intText),
  trfi: intText,
  trft: intText,
};
const WS_QUOTE: FieldArbs = {
  ev: fc.oneof(fc.constantFrom('"Q"', '"Q"', '"T"', '"\\u0051"', 'null'), strText),
  sym: fc.oneof(fc.constantFrom('"TSLA"', '"TSLA"', '"AAPL"', 'null'), strText),
  bx: intText,
  bp: priceText,
  bs: sizeText,
  ax: intText,
  ap: priceText,
  as: sizeText,
  c: intText,
  i: intArrayText,
  t: fc.oneof(fc.integer({ min: 0, max: 2_000_000_000_000 }).map(String), intText),
  q: fc.oneof(fc.nat().map(String), intText),
  z: intText,
};

/** Keys as text: mostly plain, sometimes escaped (the scanner hands those to the general parser). */
function keyText(k: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 60, arbitrary: fc.constant(JSON.stringify(k)) },
    { weight: 1, arbitrary: fc.constant(`"\\u${k.charCodeAt(0).toString(16).padStart(4, '0')}${k.slice(1)}"`) },
  );
}

/**
 * A record as text: the kind's fields (usually all present and plausible, sometimes missing), unknown extra
 * fields, a duplicated key now and then, random whitespace, shuffled order.
 */
function recordText(fields: FieldArbs, plausible: Record<string, string>): fc.Arbitrary<string> {
  const names = Object.keys(fields);
  const value = (k: string) =>
    plausible[k] === undefined
      ? fields[k]!
      : fc.oneof({ weight: 12, arbitrary: fc.constant(plausible[k]) }, fields[k]!);
  const present = fc.subarray(names, { minLength: Math.max(0, names.length - 3) });
  return fc
    .tuple(
      fc.oneof({ weight: 4, arbitrary: present }, { weight: 1, arbitrary: fc.subarray(names) }),
      fc.array(
        fc.tuple(fc.oneof(fc.string({ maxLength: 5 }), fc.constantFrom('price_x', 'sip', 'ev2')), extraValueText),
        {
          maxLength: 2,
        },
      ),
      fc.option(fc.constantFrom(...names), { nil: undefined }),
    )
    .chain(([keys, extras, dup]) => {
      const entries: fc.Arbitrary<string>[] = keys.map((k) =>
        fc.tuple(keyText(k), ws, ws, value(k)).map(([kt, w1, w2, v]) => `${kt}${w1}:${w2}${v}`),
      );
      for (const [k, v] of extras) entries.push(fc.constant(`${JSON.stringify(k)}:${v}`));
      if (dup !== undefined) entries.push(value(dup).map((v) => `${JSON.stringify(dup)}:${v}`));
      return fc.tuple(fc.tuple(...entries), ws, ws, fc.nat()).map(([es, w1, w2, seed]) => {
        // Deterministic shuffle from the seed, so shrinking stays meaningful.
        const order = es.map((e, i) => [((i + 1) * 2654435761 + seed) % 4294967296, e] as const);
        order.sort((a, b) => a[0] - b[0]);
        return `${w1}{${order.map((o) => o[1]).join(`${w2},`)}}${w1}`;
      });
    });
}

/** Text damage: truncation, a stray or missing character, doubled commas. */
function damaged(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(text, fc.nat(), fc.constantFrom(',', '}', '{', '"', ':', '\\', 'x', '\u0001', ' ', '0', '-', '.', 'e'))
    .chain(([t, at, ch]) => {
      const i = t.length === 0 ? 0 : at % t.length;
      return fc.constantFrom(
        t.slice(0, i),
        t.slice(0, i) + ch + t.slice(i),
        t.slice(0, i) + t.slice(i + 1),
        t.replace(',', ',,'),
      );
    });
}

const PLAUSIBLE_TRADE = {
  exchange: '11',
  id: '"31003"',
  participant_timestamp: '1764601200100641664',
  price: '249.98',
  sequence_number: '4210002',
  sip_timestamp: '1764601200101085846',
  size: '300',
  conditions: '[14]',
};
const PLAUSIBLE_QUOTE = {
  ask_price: '249.99',
  ask_size: '200',
  bid_price: '249.97',
  bid_size: '300',
  participant_timestamp: '1764601199999718508',
  sequence_number: '9870005',
  sip_timestamp: '1764601200000087927',
};
const PLAUSIBLE_WS_TRADE = {
  ev: '"T"',
  sym: '"TSLA"',
  x: '4',
  i: '"9"',
  p: '249.5',
  s: '100',
  t: '1764601200000',
  q: '7',
};
const PLAUSIBLE_WS_QUOTE = {
  ev: '"Q"',
  sym: '"TSLA"',
  bp: '249.5',
  bs: '300',
  ap: '249.53',
  as: '300',
  t: '1764601200000',
  q: '8',
};

const GENERATORS: [Kind, fc.Arbitrary<string>][] = [
  ['rest_trade', recordText(REST_TRADE, PLAUSIBLE_TRADE)],
  ['rest_quote', recordText(REST_QUOTE, PLAUSIBLE_QUOTE)],
  ['ws_trade', recordText(WS_TRADE, PLAUSIBLE_WS_TRADE)],
  ['ws_quote', recordText(WS_QUOTE, PLAUSIBLE_WS_QUOTE)],
];

describe('line scanner: generated text agrees with parseJsonLossless + validators (and the zod contract)', () => {
  it.each(GENERATORS)('%s', (kind, arb) => {
    const reader = new LineReader();
    const verdicts = new Map<string, number>();
    let n = 0;
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: arb }, { weight: 1, arbitrary: damaged(arb) }), (line) => {
        n++;
        const v = expectAgreement(reader, kind, line);
        verdicts.set(v, (verdicts.get(v) ?? 0) + 1);
      }),
      { numRuns: 3000 },
    );
    // Not vacuous: accepted records and schema rejections are both common, and most text stays on the fast path.
    expect(verdicts.get('ok') ?? 0).toBeGreaterThan(n / 50);
    expect(verdicts.get('SCHEMA') ?? 0).toBeGreaterThan(n / 20);
    expect(reader.general).toBeLessThan(n / 3);
  });

  it('reaches every rule-level reject code', () => {
    const reader = new LineReader();
    const seen = new Set<string>();
    for (const [kind, arb] of GENERATORS) {
      fc.assert(
        fc.property(arb, (line) => {
          seen.add(expectAgreement(reader, kind, line));
        }),
        { numRuns: 1500, seed: 11 },
      );
    }
    expect([...seen].sort()).toEqual(['CROSSED_QUOTE', 'NON_POSITIVE_PRICE', 'NON_POSITIVE_SIZE', 'SCHEMA', 'ok']);
  });

  it('agrees on arbitrary JSON and on arbitrary text', () => {
    const reader = new LineReader();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.string(),
          fc
            .dictionary(fc.constantFrom('price', 'size', 'id', 'ev', 'p', 'conditions', 'x'), fc.jsonValue())
            .map((o) => JSON.stringify(o)),
        ),
        fc.constantFrom<Kind>('rest_trade', 'rest_quote', 'ws_trade', 'ws_quote'),
        (line, kind) => {
          expectAgreement(reader, kind, line);
        },
      ),
      { numRuns: 3000 },
    );
  });

  const edge: [string, Kind, string, string | Record<string, unknown>][] = [
    [
      'exponent price 2.4998E2',
      'rest_trade',
      '{"exchange":1,"id":"a","participant_timestamp":1,"price":2.4998E2,"sequence_number":1,"sip_timestamp":2,"size":1e2}',
      { priceE8: 24_998_000_000, size: 100, tsUs: 0, tsRem: 2 },
    ],
    [
      'negative zero price',
      'rest_trade',
      '{"exchange":1,"id":"a","participant_timestamp":1,"price":-0,"sequence_number":1,"sip_timestamp":2,"size":1}',
      'NON_POSITIVE_PRICE',
    ],
    [
      '20-digit size is text to the general parser → SCHEMA',
      'rest_trade',
      '{"exchange":1,"id":"a","participant_timestamp":1,"price":1,"sequence_number":1,"sip_timestamp":2,"size":12345678901234567890}',
      'SCHEMA',
    ],
    [
      'a 17-digit integer id is a string to the general parser',
      'rest_trade',
      '{"exchange":1,"id":12345678901234567,"participant_timestamp":1,"price":1,"sequence_number":1,"sip_timestamp":2,"size":1}',
      { id: '12345678901234567' },
    ],
    [
      'escaped id and whitespace everywhere',
      'rest_trade',
      ' {\t"exchange" : 1 ,\r\n"id":"\\u0061\\n","participant_timestamp":1,"price":1,"sequence_number":1,"sip_timestamp":"0001764601200101085846","size":1 } ',
      { id: 'a\n', tsUs: 1764601200101085, tsRem: 846 },
    ],
    [
      'missing sip_timestamp',
      'rest_trade',
      '{"exchange":1,"id":"a","participant_timestamp":1,"price":1,"sequence_number":1,"size":1}',
      'SCHEMA',
    ],
    [
      'duplicate key: the last one wins',
      'rest_quote',
      '{"bid_price":250.1,"bid_size":1,"ask_price":250,"ask_size":1,"bid_price":249.9,"participant_timestamp":1,"sequence_number":1,"sip_timestamp":1}',
      { bidE8: 24_990_000_000 },
    ],
    [
      'extra nested fields are skipped',
      'ws_trade',
      '{"ev":"T","sym":"TSLA","x":1,"i":"1","p":1,"s":1,"t":5,"q":1,"extra":{"a":[1,{"b":"\\"}"}]}}',
      { tsUs: 5000, tsRem: 0 },
    ],
    [
      'non-ASCII text (read by the general parser): id "é😀"',
      'rest_trade',
      '{"exchange":1,"id":"é😀","participant_timestamp":1,"price":1,"sequence_number":1,"sip_timestamp":2,"size":1}',
      { id: 'é😀' },
    ],
    ['text ending inside an escape', 'rest_trade', '{"exchange":1,"id":"a\\', 'SCHEMA'],
    ['text ending inside a key', 'rest_trade', '{"exchange":1,"participant_timestam', 'SCHEMA'],
    ['trailing garbage', 'ws_quote', '{"ev":"Q","sym":"TSLA","t":5,"q":1} x', 'SCHEMA'],
    ['a bad escape inside an unknown field', 'ws_quote', '{"ev":"Q","sym":"TSLA","t":5,"q":1,"n":"\\x"}', 'SCHEMA'],
  ];
  it.each(edge)('%s', (_name, kind, line, expected) => {
    const reader = new LineReader();
    expectAgreement(reader, kind, line);
    const got = plain(FAST[kind](reader, line));
    if (typeof expected === 'string') expect(got).toBe(expected);
    else expect(got).toMatchObject(expected);
  });

  it('hands text it does not read itself to the general parser', () => {
    const sc = new LineScanner();
    expect(sc.scan('null')).toBe(ScanResult.NeedsGeneral);
    expect(sc.scan('[{"ev":"T"}]')).toBe(ScanResult.NeedsGeneral);
    expect(sc.scan('{"\\u0070rice":1}')).toBe(ScanResult.NeedsGeneral);
    expect(sc.scan(`{"a":${'['.repeat(100)}${']'.repeat(100)}}`)).toBe(ScanResult.NeedsGeneral);
    expect(sc.scan('{"price":1,}')).toBe(ScanResult.Syntax);
    expect(sc.scan('{"price":01}')).toBe(ScanResult.Syntax);
    expect(sc.scan('{"price":1}')).toBe(ScanResult.Ok);
  });
});
