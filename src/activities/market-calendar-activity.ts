import { z } from 'zod';
import { localDateTime, type ExchangeCalendar } from '../domain/sessions';
import { parseOrThrow } from '../domain/validation';
import { PolygonError } from '../market-data/polygon-errors';
import { type PolygonRest } from '../market-data/polygon-rest';
import { toActivityFailure } from './failures';

/** US equities: the dates and times of Polygon's rows are read in New York time. */
const EXCHANGE_TIME_ZONE = 'America/New_York';
/** The exchanges whose rows count (a date closed or cut on either is closed or cut for the monitors). */
const EXCHANGES = new Set(['NYSE', 'NASDAQ']);
/** How far ahead the calendar reaches: a monitor fetches it at most daily, and a holiday week fits. */
export const CALENDAR_HORIZON_DAYS = 14;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const isoTime = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO-8601 date-time');

/** One row of /v1/marketstatus/upcoming (openapi GetMarketHolidays); unknown fields are ignored. */
const MarketHolidaySchema = z
  .object({
    date: z.string().regex(DATE, 'must be a date YYYY-MM-DD'),
    exchange: z.string().min(1, 'must name the exchange'),
    name: z.string().min(1, 'must name the holiday'),
    status: z.enum(['closed', 'early-close'], { message: 'must be closed or early-close' }),
    open: isoTime.optional(),
    close: isoTime.optional(),
  })
  .refine((r) => r.status !== 'early-close' || r.close !== undefined, {
    path: ['close'],
    message: 'must be set on an early-close row',
  });
export const MarketHolidaysSchema = z.array(MarketHolidaySchema);

/** /v1/marketstatus/now (openapi GetMarketStatus): only what the calendar reads. */
export const MarketStatusSchema = z.object({
  market: z.string().min(1, 'must give the market status'),
  serverTime: isoTime,
});

export interface MarketCalendarDeps {
  readonly polygon: () => Promise<PolygonRest>;
  /** False when no Polygon key is configured: the calendar is null at once and the configured sessions apply. */
  readonly polygonConfigured?: () => boolean;
  readonly clockMs?: () => number;
  readonly onPolygonError?: (code: string) => void;
}

/**
 * Builds the exchange calendar of the next CALENDAR_HORIZON_DAYS days from Polygon's upcoming holidays, plus
 * today as closed when /now says the market is closed during regular hours on a weekday that the list does not
 * name (an unscheduled closure). Throws a ValidationError naming the field of a malformed row.
 */
export function buildCalendar(holidaysBody: unknown, statusBody: unknown, nowMs: number): ExchangeCalendar {
  const rows = parseOrThrow(MarketHolidaysSchema, holidaysBody, 'marketstatus/upcoming');
  const status = parseOrThrow(MarketStatusSchema, statusBody, 'marketstatus/now');
  const today = localDateTime(nowMs, EXCHANGE_TIME_ZONE);
  const last = localDateTime(nowMs + CALENDAR_HORIZON_DAYS * 86_400_000, EXCHANGE_TIME_ZONE).date;
  const closed: Record<string, string> = {};
  const earlyCloses: Record<string, { close: string; name: string }> = {};
  for (const r of rows) {
    if (!EXCHANGES.has(r.exchange.toUpperCase()) || r.date < today.date || r.date > last) continue;
    if (r.status === 'closed') closed[r.date] = r.name;
    else {
      const close = localDateTime(Date.parse(r.close!), EXCHANGE_TIME_ZONE).hhmm;
      const held = earlyCloses[r.date];
      if (!held || close < held.close) earlyCloses[r.date] = { close, name: r.name };
    }
  }
  for (const date of Object.keys(closed)) delete earlyCloses[date];
  const weekday = new Date(`${today.date}T12:00:00Z`).getUTCDay();
  const regularHours = today.hhmm >= '09:30' && today.hhmm < (earlyCloses[today.date]?.close ?? '16:00');
  if (status.market === 'closed' && weekday >= 1 && weekday <= 5 && regularHours && !(today.date in closed)) {
    closed[today.date] = 'market closed (Polygon market status)';
  }
  return { timeZone: EXCHANGE_TIME_ZONE, closed, earlyCloses };
}

/**
 * `marketCalendar({})`: holidays and early closes of the next two weeks from Polygon (two requests through the
 * worker's rate limiter), kept per worker process for the New York day. Null without a Polygon key. Polygon
 * errors and a malformed answer fail the activity (the monitor then keeps its configured sessions).
 */
export function createMarketCalendarActivity(deps: MarketCalendarDeps) {
  const now = deps.clockMs ?? (() => Date.now());
  let cached: { readonly day: string; readonly calendar: ExchangeCalendar } | null = null;
  return async function marketCalendar(_input: Record<string, never> = {}): Promise<ExchangeCalendar | null> {
    if (deps.polygonConfigured && !deps.polygonConfigured()) return null;
    const at = now();
    const day = localDateTime(at, EXCHANGE_TIME_ZONE).date;
    if (cached?.day === day) return cached.calendar;
    try {
      const rest = await deps.polygon();
      const [holidays, status] = await Promise.all([rest.marketHolidays(), rest.marketStatus()]);
      const calendar = buildCalendar(holidays, status, at);
      cached = { day, calendar };
      return calendar;
    } catch (err) {
      if (err instanceof PolygonError) deps.onPolygonError?.(err.name);
      throw toActivityFailure(err);
    }
  };
}
