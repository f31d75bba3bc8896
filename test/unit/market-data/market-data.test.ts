import fc from 'fast-check';
import { formatPriceE8, toPriceE8 } from '../../../src/domain/market-data/price';
import { checkRecord, RecordKind } from '../../../src/domain/market-data/records';
import {
  parsePolygonJson,
  decodeRecorded,
  decodeRecordedLine,
  quoteFromRest,
  quoteFromWs,
  tradeFromRest,
  tradeFromWs,
} from '../../../src/market-data/decode';
import { formatNs, parseNs } from '../../../src/domain/market-data/timestamp';

describe('nanosecond timestamps', () => {
  const cases: [string, unknown, { us: number; rem: number } | undefined][] = [
    [
      '19-digit string stays exact: 1517562000016036600 → 1517562000016036 µs + 600',
      '1517562000016036600',
      { us: 1517562000016036, rem: 600 },
    ],
    [
      'bigint 1764601201000000123n → µs 1764601201000000, rem 123',
      1764601201000000123n,
      { us: 1764601201000000, rem: 123 },
    ],
    ['safe number 1234567 → 1234 µs + 567', 1234567, { us: 1234, rem: 567 }],
    ['0 → 0 + 0', 0, { us: 0, rem: 0 }],
    ['"999" → 0 + 999', '999', { us: 0, rem: 999 }],
    ['negative → rejected', -1, undefined],
    ['fraction → rejected', 1.5, undefined],
    ['"12a" → rejected', '12a', undefined],
    ['"" → rejected', '', undefined],
    ['"-5" → rejected', '-5', undefined],
    ['null → rejected', null, undefined],
  ];
  it.each(cases)('%s', (_name, input, expected) => expect(parseNs(input)).toEqual(expected));

  it('round-trips any 0..2^63 nanosecond value exactly through the split', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 62n }), (b) => {
        const t = parseNs(b.toString())!;
        expect(formatNs(t.us, t.rem)).toBe(b.toString());
        expect(parseNs(b)).toEqual(t);
      }),
    );
  });

  it('numbers above 2^53 are taken as the (already rounded) integer they hold', () => {
    const n = 1517562000016036600; // JSON.parse has already rounded this to 1517562000016036608
    expect(formatNs(parseNs(n)!.us, parseNs(n)!.rem)).toBe(BigInt(n).toString());
  });
});

describe('prices', () => {
  const cases: [number, number, string][] = [
    [249.5, 24_950_000_000, '249.50'],
    [171.55, 17_155_000_000, '171.55'],
    [0.0001, 10_000, '0.0001'],
    [249.5012, 24_950_120_000, '249.5012'],
    [3, 300_000_000, '3.00'],
  ];
  it.each(cases)('%d → %d units → "%s"', (p, units, text) => {
    expect(toPriceE8(p)).toBe(units);
    expect(formatPriceE8(units)).toBe(text);
  });
});

describe('JSON with exact nanoseconds (one parser: JSON.parse)', () => {
  const line =
    '{"exchange":11,"id":"1","participant_timestamp":1517562000015577000,"price":171.55,"sequence_number":1063,"sip_timestamp":1517562000016036600,"size":100}';

  it('keeps 19-digit values exact as digit strings and parses the rest as JSON.parse does', () => {
    expect(parsePolygonJson(line)).toEqual({
      exchange: 11,
      id: '1',
      participant_timestamp: '1517562000015577000',
      price: 171.55,
      sequence_number: 1063,
      sip_timestamp: '1517562000016036600',
      size: 100,
    });
  });

  it('the recorded-line fast path (JSON.parse, exact ns read back) decodes as the exact parse does', () => {
    const ts = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 63n }), fc.bigInt({ min: 10n ** 18n, max: 2n * 10n ** 18n }));
    fc.assert(
      fc.property(
        ts,
        ts,
        fc.jsonValue(),
        fc.boolean(),
        fc.constantFrom('trade', 'quote'),
        (sip, part, extra, spaced, stream) => {
          const sp = spaced ? ' ' : '';
          const fields =
            stream === 'trade'
              ? '"exchange":11,"id":"7","price":10.01,"size":100,"trf_id":202'
              : '"bid_price":10,"bid_size":1,"ask_price":10.02,"ask_size":3';
          const text = `{"x":${JSON.stringify(extra)},${fields},"sequence_number":3,"sip_timestamp":${sip},${sp}"participant_timestamp":${sp}${part}}`;
          const exact = decodeRecorded(parsePolygonJson(text), stream, 'TSLA');
          expect(decodeRecordedLine(JSON.parse(text), text, stream, 'TSLA')).toEqual(exact);
          if (exact.kind === 'trade') expect(BigInt(exact.trade.tsUs) * 1000n + BigInt(exact.trade.tsRem)).toBe(sip);
        },
      ),
    );
  });

  it('parses any JSON text without long integers exactly as JSON.parse', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify(v);
        fc.pre(!/[0-9]{16,}/.test(text));
        expect(parsePolygonJson(text)).toEqual(JSON.parse(text));
      }),
    );
  });

  const bad = ['', '{', '{"a":}', '[1,]', '{"a" 1}', 'tru', '{"a":1} 2'];
  it.each(bad)('rejects malformed text %j', (text) => {
    expect(() => parsePolygonJson(text)).toThrow(SyntaxError);
  });
});

// ---- the hot-path validators agree with the zod contract

const nsValue = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 63n }).map(String),
  fc.nat(),
  fc.constantFrom(-1, 1.5, 'abc', '', null, undefined, '1764601200000000001'),
);
const num = fc.oneof(
  fc.constantFrom(0, -0.01, 249.5, 1e8, 2e10, Number.NaN, Infinity, 100, 15_000, -100),
  fc.double({ noNaN: false }),
  fc.constantFrom('249.5', null, undefined),
);
const intish = fc.oneof(fc.integer({ min: -5, max: 300 }), fc.constantFrom(1.5, '1', null, undefined, 2 ** 60));
const intArr = fc.oneof(fc.array(intish, { maxLength: 3 }), fc.constantFrom(undefined, 'x', null));
const str = fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom(1, undefined));

const restTrade = fc.record(
  {
    conditions: intArr,
    correction: intish,
    exchange: intish,
    id: str,
    participant_timestamp: nsValue,
    price: num,
    sequence_number: intish,
    sip_timestamp: nsValue,
    size: num,
    tape: intish,
    trf_id: intish,
    trf_timestamp: nsValue,
  },
  { requiredKeys: [] },
);
const restQuote = fc.record(
  {
    ask_exchange: intish,
    ask_price: num,
    ask_size: num,
    bid_exchange: intish,
    bid_price: num,
    bid_size: num,
    conditions: intArr,
    indicators: intArr,
    participant_timestamp: nsValue,
    sequence_number: intish,
    sip_timestamp: nsValue,
    tape: intish,
  },
  { requiredKeys: [] },
);
const wsTrade = fc.record(
  {
    ev: fc.constantFrom('T', 'Q', undefined),
    sym: str,
    x: intish,
    i: str,
    z: intish,
    p: num,
    s: num,
    c: intArr,
    t: intish,
    q: intish,
    trfi: intish,
    trft: intish,
  },
  { requiredKeys: [] },
);
const wsQuote = fc.record(
  {
    ev: fc.constantFrom('Q', 'T'),
    sym: str,
    bx: intish,
    bp: num,
    bs: num,
    ax: intish,
    ap: num,
    as: num,
    c: intish,
    i: intArr,
    t: intish,
    q: intish,
    z: intish,
  },
  { requiredKeys: [] },
);

/** Mostly-valid records too, so acceptance is exercised and not only rejection. */
const validTrade = fc.record({
  exchange: fc.constantFrom(4, 11),
  id: fc.string({ minLength: 1, maxLength: 5 }),
  participant_timestamp: fc.bigInt({ min: 0n, max: 2n ** 63n }).map(String),
  price: fc.oneof(
    fc.constantFrom(0, -1),
    fc.integer({ min: 1, max: 100_000 }).map((c) => c / 100),
  ),
  sequence_number: fc.nat(),
  sip_timestamp: fc.bigInt({ min: 0n, max: 2n ** 63n }).map(String),
  size: fc.oneof(fc.constantFrom(0, -5), fc.integer({ min: 1, max: 50_000 })),
  conditions: fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 3 }),
});
const validQuote = fc.record({
  ask_price: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 24_900, max: 25_100 }).map((c) => c / 100),
  ),
  ask_size: fc.constantFrom(0, 100, 12_000, -1),
  bid_price: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 24_900, max: 25_100 }).map((c) => c / 100),
  ),
  bid_size: fc.constantFrom(0, 100, 40_000),
  participant_timestamp: fc.nat(),
  sequence_number: fc.nat(),
  sip_timestamp: fc.bigInt({ min: 0n, max: 2n ** 63n }),
});

describe('the edge decoder (src/market-data/decode.ts, the one production uses) agrees with the zod contract', () => {
  const verdict = (r: unknown) => (typeof r === 'string' ? r : 'ok');
  const zodVerdict = (kind: RecordKind, raw: unknown) => {
    const v = checkRecord(kind, raw);
    return v.ok ? 'ok' : v.code;
  };
  const cases: [string, RecordKind, fc.Arbitrary<unknown>, (raw: unknown) => unknown][] = [
    ['REST trade (random fields)', RecordKind.RestTrade, restTrade, tradeFromRest],
    ['REST trade (plausible fields)', RecordKind.RestTrade, validTrade, tradeFromRest],
    ['REST quote (random fields)', RecordKind.RestQuote, restQuote, quoteFromRest],
    ['REST quote (plausible fields)', RecordKind.RestQuote, validQuote, quoteFromRest],
    ['WebSocket T', RecordKind.WsTrade, wsTrade, tradeFromWs],
    ['WebSocket Q', RecordKind.WsQuote, wsQuote, quoteFromWs],
    ['anything', RecordKind.RestTrade, fc.anything(), tradeFromRest],
  ];
  it.each(cases)('%s', (_name, kind, arb, fast) => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(arb, (raw) => {
        const v = verdict(fast(raw));
        seen.add(v);
        expect(v).toBe(zodVerdict(kind, raw));
      }),
      { numRuns: 1000 },
    );
    if (_name.includes('plausible')) expect(seen.has('ok')).toBe(true);
  });

  it('explains a rejection field by field', () => {
    const v = checkRecord(RecordKind.RestQuote, {
      bid_price: 250.1,
      bid_size: 100,
      ask_price: 250,
      ask_size: 100,
      participant_timestamp: 1,
      sequence_number: 1,
      sip_timestamp: 1,
    });
    expect(v).toEqual({
      ok: false,
      code: 'CROSSED_QUOTE',
      issues: [{ field: 'bid_price', rule: 'must be ≤ the ask (250): crossed quote' }],
    });
  });

  it('maps a REST trade to a compact event with exact time and scaled price', () => {
    expect(
      tradeFromRest({
        conditions: [12, 41],
        exchange: 11,
        id: '1',
        participant_timestamp: '1517562000015577000',
        price: 171.55,
        sequence_number: 1063,
        sip_timestamp: '1517562000016036600',
        size: 100,
        tape: 3,
      }),
    ).toEqual({
      id: '1',
      exchange: 11,
      trfId: -1,
      priceE8: 17_155_000_000,
      size: 100,
      conditions: [12, 41],
      correction: 0,
      sequence: 1063,
      tsUs: 1517562000016036,
      tsRem: 600,
      execUs: 1517562000016036,
      execRem: 600,
    });
  });
});
