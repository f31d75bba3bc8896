import fc from 'fast-check';
import { decodeDeltas, decodeNums, encodeDeltas, encodeNums } from '../../../src/domain/detectors/state-codec';

describe('compact number lists', () => {
  const cases: [number[], string][] = [
    [[], ''],
    [[0], '~1'],
    [[0, 0, 0], '~3'],
    [[5, 0], '5,'],
    [[0, 5], ',5'],
    [[1500, 0, 0, 0, 36, -7], '15o,~3,10,-7'],
    [[0.5, -0, Number.NaN, Infinity], '!0.5,!-0,!NaN,!Infinity'],
  ];
  it.each(cases)('%j ↔ %j', (values, text) => {
    expect(encodeNums(values)).toBe(text);
    expect(decodeNums(text)).toEqual(values);
  });

  it('round-trips any list of doubles exactly (including -0 and fractions)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double(), fc.integer(), fc.constant(0), fc.maxSafeInteger()), { maxLength: 80 }),
        (values) => {
          const back = decodeNums(encodeNums(values))!;
          expect(back).toHaveLength(values.length);
          back.forEach((v, i) => expect(Object.is(v, values[i])).toBe(true));
        },
      ),
    );
  });

  it('round-trips increasing safe integers as deltas, shorter than plain JSON', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 2 ** 50 }), { minLength: 1, maxLength: 32 }), (raw) => {
        const values = [...raw].sort((a, b) => a - b);
        expect(decodeDeltas(encodeDeltas(values))).toEqual(values);
      }),
    );
    const seqs = Array.from({ length: 32 }, (_, i) => 4_210_002 + 3 * i);
    expect(encodeDeltas(seqs).length).toBeLessThan(JSON.stringify(seqs).length / 3);
  });

  it.each(['X', '!', '! 1', '!0x10', '~0', '~', '1,,?', '-', 'A'])('rejects %j', (text) =>
    expect(decodeNums(text)).toBeUndefined(),
  );
});
