import {
  buildVolumeProfile,
  minuteOfSession,
  profileMinutes,
  profileScale,
  SESSION_MINUTES,
  VolumeProfileSchema,
  type VolumeProfile,
} from '../../../src/domain/detectors/volume-profile';
import { encodeNums } from '../../../src/domain/detectors/state-codec';
import { type RedBurstAlert } from '../../../src/domain/detectors/alerts';
import { setup } from './helpers';

// Issue 16 item 3: red_burst's baseline knows the intraday volume curve, so the surges that happen every day
// (the close, the open) are not bursts.
const JUNE_21_2012_OPEN = Date.UTC(2012, 5, 21, 13, 30); // 09:30 EDT
const DEC_1_2025_OPEN = Date.UTC(2025, 11, 1, 14, 30); // 09:30 EST

const profileOf = (perMinute: number[], days = 1): VolumeProfile => ({ days, perMinute: encodeNums(perMinute) });

describe('volume profile from minute aggregates', () => {
  it('minute of session: 09:30 New York is 0 in summer and winter time, 15:59 is 389, outside is -1', () => {
    expect(minuteOfSession(JUNE_21_2012_OPEN)).toBe(0);
    expect(minuteOfSession(DEC_1_2025_OPEN + 59_999)).toBe(0);
    expect(minuteOfSession(DEC_1_2025_OPEN + 389 * 60_000)).toBe(389);
    expect(minuteOfSession(DEC_1_2025_OPEN + 390 * 60_000)).toBe(-1);
    expect(minuteOfSession(DEC_1_2025_OPEN - 1)).toBe(-1);
  });

  it('mean per session minute over the days seen; a missing bar is no volume; pre-market bars are ignored', () => {
    const p = buildVolumeProfile([
      { t: JUNE_21_2012_OPEN - 60_000, v: 99_999 }, // 09:29: pre-market
      { t: JUNE_21_2012_OPEN, v: 1000 },
      { t: JUNE_21_2012_OPEN + 60_000, v: 300 },
      { t: DEC_1_2025_OPEN, v: 3000 },
    ])!;
    expect(p.days).toBe(2);
    expect(VolumeProfileSchema.parse(p)).toEqual(p);
    const raw = profileMinutes(p, 0);
    expect(raw).toHaveLength(SESSION_MINUTES);
    expect(raw.slice(0, 3)).toEqual([2000, 150, 0]);
  });

  it('no bar inside a session: no profile', () => {
    expect(buildVolumeProfile([])).toBeUndefined();
    expect(buildVolumeProfile([{ t: JUNE_21_2012_OPEN - 60_000, v: 5 }])).toBeUndefined();
  });

  it('smoothed by a centred 15-minute mean, cut at the session ends', () => {
    const raw = new Array<number>(SESSION_MINUTES).fill(0);
    raw[0] = 1500;
    const smooth = profileMinutes(profileOf(raw));
    expect(smooth[0]).toBe(1500 / 8); // minutes 0..7
    expect(smooth[7]).toBe(1500 / 15); // minutes 0..14
    expect(smooth[8]).toBe(0);
  });

  it('scale: the curve at minute m over its mean for the baseline minutes before, never below 1', () => {
    const curve = new Array<number>(SESSION_MINUTES).fill(100);
    curve[200] = 400;
    curve[201] = 50;
    expect(profileScale(curve, 200, 5)).toBe(4);
    expect(profileScale(curve, 201, 1)).toBe(1); // 50 / 400 → never lowered
    expect(profileScale(curve, 2, 5)).toBe(1); // flat: minutes 0..1 only
    expect(profileScale(curve, 0, 5)).toBe(1);
    expect(profileScale(curve, -1, 5)).toBe(1);
    expect(profileScale(new Array<number>(SESSION_MINUTES).fill(0), 100, 5)).toBe(1);
  });

  it('a malformed profile is refused naming the field', () => {
    expect(VolumeProfileSchema.safeParse({ days: 1, perMinute: '1,2' }).error?.issues[0]?.message).toBe(
      `must be ${SESSION_MINUTES} non-negative numbers in compact list form`,
    );
    const { d } = setup();
    expect(() => d.setVolumeProfile({ days: 0, perMinute: '' })).toThrow(/volumeProfile\.days/);
  });
});

describe('red_burst against the intraday profile', () => {
  /** baselineMinutes 1: 100 shares/s for 120 s from T0 (10:00 New York, session minute 30), then a quote. */
  function warm(profile?: VolumeProfile) {
    const s = setup({ baselineMinutes: 1, largeOrderSize: 1_000_000, largeOrderPercentile: null });
    if (profile !== undefined) s.d.setVolumeProfile(profile);
    for (let t = 0; t < 120; t++) s.f.trade(t * 1000, 250, 100);
    s.f.quote(120_000, 249.5, 249.53);
    return s;
  }
  // Volume steps up from session minute 32 (10:02, where the burst is): 1,000 then 3,000 shares a minute.
  const rising = profileOf(Array.from({ length: SESSION_MINUTES }, (_, m) => (m < 32 ? 1000 : 3000)));

  it('a critical burst (ratio 4.01) where the curve always rises is a warning, its baseline scaled and said so', () => {
    const scale = profileScale(profileMinutes(rising), 32, 1);
    expect(scale).toBeCloseTo(31 / 29, 10);
    const { d, f } = warm(rising);
    f.trade(120_200, 249.5, 18_160);
    const [a, ...rest] = d.drainAlerts() as RedBurstAlert[];
    expect(rest).toEqual([]);
    expect(a).toMatchObject({ severity: 'warning', volume: 24_060, profileScale: 1.069 });
    expect(a!.ratio).toBe(Math.round((24_060 / (6000 * scale)) * 10_000) / 10_000);
    expect(a!.rule).toContain('(× 1.069 intraday profile)');
    expect(d.exitSignal).toBeNull();
  });

  it('without a profile, or with a flat one, the same tape is critical', () => {
    for (const profile of [undefined, profileOf(new Array<number>(SESSION_MINUTES).fill(500))]) {
      const { d, f } = warm(profile);
      f.trade(120_200, 249.5, 18_160);
      const [a] = d.drainAlerts() as RedBurstAlert[];
      expect(a).toMatchObject({ severity: 'critical', ratio: 4.01 });
      expect(a!.profileScale).toBe(profile === undefined ? undefined : 1);
    }
  });
});
