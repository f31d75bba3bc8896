import { z } from 'zod';
import { zonedTimeToUtc } from '../sessions';
import { decodeNums, encodeNums } from './state-codec';

/**
 * The intraday volume curve of a symbol, for the red_burst baseline (issue 16 item 3): the opening and closing
 * surges happen every day, so a trailing 5-minute baseline taken just before them makes them look like bursts.
 *
 * A profile is the mean volume of each minute of the regular session (09:30–16:00 New York, 390 minutes) over
 * the previous N sessions, built from Polygon's minute aggregates (`/v2/aggs/ticker/{T}/range/1/minute/…`) or a
 * file of recorded ones. The detector scales its baseline by profileScale(): how much more volume the curve
 * expects in the current minute than over the baseline window before it.
 */

/** Minutes in the regular session (09:30–16:00). */
export const SESSION_MINUTES = 390;
const MS_PER_MIN = 60_000;

/** One minute aggregate as Polygon sends it (`t`: Unix ms of the bar's start; `v`: shares). Other fields ignored. */
export interface MinuteBar {
  readonly t: number;
  readonly v: number;
}

export const MinuteBarSchema = z.looseObject({
  t: z.number().int('must be whole Unix milliseconds').nonnegative('must be ≥ 0'),
  v: z.number().nonnegative('must be ≥ 0'),
});

/**
 * Wire form (activity inputs, workflow history): `perMinute` is the 390 expected volumes, rounded to whole
 * shares, in the compact number-list text of state-codec.ts (about 1.5 KB for a liquid symbol).
 */
export interface VolumeProfile {
  /** Sessions that had at least one bar. */
  readonly days: number;
  readonly perMinute: string;
}

export const VolumeProfileSchema = z
  .object({
    days: z.number().int('must be an integer').min(1, 'must be ≥ 1'),
    perMinute: z.string().refine((text) => {
      const v = decodeNums(text);
      return v !== undefined && v.length === SESSION_MINUTES && v.every((x) => Number.isFinite(x) && x >= 0);
    }, `must be ${SESSION_MINUTES} non-negative numbers in compact list form`),
  })
  .strict();

/** 09:30 New York of the UTC calendar day containing `ms`, in Unix ms. */
function openOfDay(ms: number): number {
  const d = new Date(ms);
  return zonedTimeToUtc(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), '09:30', 'America/New_York');
}

/** Minute of the regular session (0 = 09:30–09:31 New York) of a Unix-ms time, or -1 outside the session. */
export function minuteOfSession(ms: number): number {
  const m = Math.floor((ms - openOfDay(ms)) / MS_PER_MIN);
  return m >= 0 && m < SESSION_MINUTES ? m : -1;
}

/**
 * Builds a profile from minute bars of any number of sessions (pre- and post-market bars are ignored; a bar
 * may appear once per session). Each minute's expectation is the mean over the sessions seen, a missing bar
 * counting as no volume (Polygon leaves out minutes without trades). Undefined when no bar lies in a session.
 */
export function buildVolumeProfile(bars: readonly MinuteBar[]): VolumeProfile | undefined {
  const sums = new Array<number>(SESSION_MINUTES).fill(0);
  const days = new Set<number>();
  for (const bar of bars) {
    const m = minuteOfSession(bar.t);
    if (m < 0) continue;
    sums[m]! += bar.v;
    days.add(Math.floor(bar.t / 86_400_000));
  }
  if (days.size === 0) return undefined;
  return { days: days.size, perMinute: encodeNums(sums.map((s) => Math.round(s / days.size))) };
}

/** Half-width in minutes of the centred moving mean that smooths the curve (a 15-minute window). */
export const PROFILE_SMOOTHING_MINUTES = 7;

/**
 * The 390 expected volumes of a (validated) profile, smoothed by a centred moving mean (cut at the session's
 * ends): the day's U shape is what repeats, single minutes of a few days are noise (a lone block print in one
 * day's minute would otherwise raise the bar for that minute only).
 */
export function profileMinutes(profile: VolumeProfile, halfWidth = PROFILE_SMOOTHING_MINUTES): number[] {
  const raw = decodeNums(profile.perMinute) ?? new Array<number>(SESSION_MINUTES).fill(0);
  return raw.map((_, m) => {
    const from = Math.max(0, m - halfWidth);
    const to = Math.min(raw.length - 1, m + halfWidth);
    let sum = 0;
    for (let i = from; i <= to; i++) sum += raw[i]!;
    return sum / (to - from + 1);
  });
}

/**
 * How much the baseline is raised at session minute `m`: the curve's volume for minute m over its mean volume
 * for the `baselineMinutes` minutes before it, never below 1. Only ever raising the bar keeps the profile from
 * making bursts out of a quiet stretch after a surge (the lull after the open would otherwise divide the
 * ratio). 1 outside the session, in its first minute, and where the curve has no volume before m.
 */
export function profileScale(minutes: readonly number[], m: number, baselineMinutes: number): number {
  if (m < 1 || m >= SESSION_MINUTES) return 1;
  const from = Math.max(0, m - baselineMinutes);
  let sum = 0;
  for (let i = from; i < m; i++) sum += minutes[i]!;
  const before = sum / (m - from);
  if (!(before > 0)) return 1;
  return Math.max(1, minutes[m]! / before);
}
