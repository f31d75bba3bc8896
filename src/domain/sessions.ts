import { type TradingSession, type Weekday } from './config';

/** Where an instant stands against the configured trading sessions. */
export interface SessionStatus {
  readonly open: boolean;
  /** The session in force (when open). */
  readonly session: string | null;
  /** When the current session ends (open) or the next one starts (closed), ms since the epoch. */
  readonly nextChangeMs: number | null;
}

const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock fields of an instant in a time zone. */
function zonedParts(ms: number, timeZone: string) {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return parts as { year: number; month: number; day: number; hour: number; minute: number; second: number };
}

/** Offset of the time zone from UTC at an instant, in ms (New York in winter: −5 h). */
function offsetMs(ms: number, timeZone: string): number {
  const p = zonedParts(ms, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The instant at which a local wall-clock time occurs in a time zone (DST-aware, two-pass). */
export function zonedTimeToUtc(year: number, month: number, day: number, hhmm: string, timeZone: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  const guess = Date.UTC(year, month - 1, day, h, m);
  const first = guess - offsetMs(guess, timeZone);
  return guess - offsetMs(first, timeZone);
}

/**
 * Whether any session is open at `nowMs`, and when that changes. Pure: the caller passes the time (a workflow
 * passes workflow time). Exchange holidays are not modelled.
 */
export function sessionStatus(nowMs: number, sessions: readonly TradingSession[]): SessionStatus {
  let open: { name: string; end: number } | null = null;
  let nextStart: number | null = null;
  const intervals: { start: number; end: number }[] = [];
  for (const s of sessions) {
    // Yesterday through a week ahead covers every weekly schedule and a session spanning "now".
    for (let d = -1; d <= 7; d++) {
      const local = zonedParts(nowMs + d * DAY_MS, s.timeZone);
      const weekday = WEEKDAYS[new Date(Date.UTC(local.year, local.month - 1, local.day)).getUTCDay()]!;
      if (!s.days.includes(weekday)) continue;
      const start = zonedTimeToUtc(local.year, local.month, local.day, s.start, s.timeZone);
      const end = zonedTimeToUtc(local.year, local.month, local.day, s.end, s.timeZone);
      intervals.push({ start, end });
      if (start <= nowMs && nowMs < end) {
        if (!open || end > open.end) open = { name: s.name, end };
      } else if (start > nowMs && (nextStart === null || start < nextStart)) {
        nextStart = start;
      }
    }
  }
  if (open) {
    // Back-to-back sessions (a day ending at 24:00 and the next starting at 00:00) are one stretch: the monitor
    // should not stop and restart at a boundary where nothing closes.
    for (let extended = true; extended;) {
      extended = false;
      for (const i of intervals) {
        if (i.start <= open.end && i.end > open.end) {
          open.end = i.end;
          extended = true;
        }
      }
    }
    return { open: true, session: open.name, nextChangeMs: open.end };
  }
  return { open: false, session: null, nextChangeMs: nextStart };
}
