import { type TradingSession, type Weekday } from './config';

/** Where an instant stands against the configured trading sessions. */
export interface SessionStatus {
  readonly open: boolean;
  /** The session in force (when open). */
  readonly session: string | null;
  /** When the current session ends (open) or the next one starts (closed), ms since the epoch. */
  readonly nextChangeMs: number | null;
  /**
   * Why it is closed when the exchange calendar is the reason: `holiday (Thanksgiving)` or `early close 13:00
   * (Independence Day)`. Absent when only the configured sessions close it.
   */
  readonly reason?: string;
}

/**
 * Exchange-level holidays and early closes (from Polygon's /v1/marketstatus/upcoming), keyed by the exchange's
 * local date YYYY-MM-DD in `timeZone`. A closed date drops every session that starts on it; an early close cuts
 * every session of that date at `close` (HH:MM local) and drops those that would start after it.
 */
export interface ExchangeCalendar {
  /** IANA zone of the dates and times, `America/New_York` for US equities. */
  readonly timeZone: string;
  /** Date → holiday name. */
  readonly closed: Readonly<Record<string, string>>;
  /** Date → the early close (HH:MM local) and the holiday's name. */
  readonly earlyCloses: Readonly<Record<string, { readonly close: string; readonly name: string }>>;
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

/** The local date (YYYY-MM-DD) and time (HH:MM) of an instant in a time zone. */
export function localDateTime(ms: number, timeZone: string): { date: string; hhmm: string } {
  const p = zonedParts(ms, timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  return { date: `${p.year}-${two(p.month)}-${two(p.day)}`, hhmm: `${two(p.hour)}:${two(p.minute)}` };
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
 * passes workflow time). With a `calendar`, exchange holidays drop the day's sessions and early closes cut them
 * (the reason is given while they keep it closed); without one, only the configured weekly sessions count.
 */
export function sessionStatus(
  nowMs: number,
  sessions: readonly TradingSession[],
  calendar?: ExchangeCalendar | null,
): SessionStatus {
  let open: { name: string; end: number } | null = null;
  let nextStart: number | null = null;
  const intervals: { start: number; end: number }[] = [];
  // Sessions the calendar took away, with the time they would have run: the earliest one still ahead explains a wait.
  const removed: { start: number; end: number; reason: string }[] = [];
  // A holiday week can push the next session past a plain week.
  const horizon = calendar ? 12 : 7;
  for (const s of sessions) {
    // Yesterday through a week ahead covers every weekly schedule and a session spanning "now".
    for (let d = -1; d <= horizon; d++) {
      const local = zonedParts(nowMs + d * DAY_MS, s.timeZone);
      const weekday = WEEKDAYS[new Date(Date.UTC(local.year, local.month - 1, local.day)).getUTCDay()]!;
      if (!s.days.includes(weekday)) continue;
      const start = zonedTimeToUtc(local.year, local.month, local.day, s.start, s.timeZone);
      let end = zonedTimeToUtc(local.year, local.month, local.day, s.end, s.timeZone);
      if (calendar) {
        const day = localDateTime(start, calendar.timeZone).date;
        const holiday = calendar.closed[day];
        if (holiday !== undefined) {
          removed.push({ start, end, reason: `holiday (${holiday})` });
          continue;
        }
        const early = calendar.earlyCloses[day];
        if (early) {
          const [y, m, dd] = day.split('-').map(Number) as [number, number, number];
          const cut = zonedTimeToUtc(y, m, dd, early.close, calendar.timeZone);
          if (cut < end) {
            removed.push({ start: Math.max(start, cut), end, reason: `early close ${early.close} (${early.name})` });
            end = cut;
          }
          if (end <= start) continue;
        }
      }
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
  const why = removed
    .filter((r) => r.end > nowMs && (nextStart === null || r.start < nextStart))
    .sort((a, b) => a.start - b.start)[0];
  return { open: false, session: null, nextChangeMs: nextStart, ...(why ? { reason: why.reason } : {}) };
}
