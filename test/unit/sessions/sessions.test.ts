import { ALWAYS_OPEN_SESSION, AppConfigSchema, REGULAR_SESSION, type TradingSession } from '../../../src/domain/config';
import { sessionStatus, zonedTimeToUtc, type ExchangeCalendar } from '../../../src/domain/sessions';

const at = (iso: string) => Date.parse(iso);

describe('zonedTimeToUtc', () => {
  it.each([
    // New York is UTC−5 in winter (EST) and UTC−4 in summer (EDT).
    ['winter 09:30 New York = 14:30 UTC', 2026, 1, 15, '09:30', 'America/New_York', '2026-01-15T14:30:00.000Z'],
    ['summer 09:30 New York = 13:30 UTC', 2026, 7, 15, '09:30', 'America/New_York', '2026-07-15T13:30:00.000Z'],
    ['DST start day 09:30 = 13:30 UTC', 2026, 3, 8, '09:30', 'America/New_York', '2026-03-08T13:30:00.000Z'],
    ['UTC is itself', 2026, 11, 21, '23:59', 'UTC', '2026-11-21T23:59:00.000Z'],
  ])('%s', (_name, y, m, d, hhmm, tz, expected) => {
    expect(new Date(zonedTimeToUtc(y, m, d, hhmm, tz)).toISOString()).toBe(expected);
  });
});

describe('sessionStatus (regular session 09:30–16:00 New York, Mon–Fri)', () => {
  const sessions = [REGULAR_SESSION];
  it.each([
    ['Friday 10:00 EST is open until 16:00 EST', '2026-11-20T15:00:00Z', true, '2026-11-20T21:00:00.000Z'],
    ['Friday 16:00 EST is closed; opens Monday 09:30', '2026-11-20T21:00:00Z', false, '2026-11-23T14:30:00.000Z'],
    ['Saturday is closed; opens Monday', '2026-11-21T23:00:00Z', false, '2026-11-23T14:30:00.000Z'],
    ['Monday 09:29 EST opens at 09:30', '2026-11-23T14:29:00Z', false, '2026-11-23T14:30:00.000Z'],
    ['Monday 09:30 EST exactly is open', '2026-11-23T14:30:00Z', true, '2026-11-23T21:00:00.000Z'],
    ['summer Wednesday 15:59 EDT is open until 16:00 EDT', '2026-07-15T19:59:00Z', true, '2026-07-15T20:00:00.000Z'],
  ])('%s', (_name, now, open, next) => {
    const s = sessionStatus(at(now), sessions);
    expect(s.open).toBe(open);
    expect(new Date(s.nextChangeMs!).toISOString()).toBe(next);
  });

  it('takes the union of several sessions', () => {
    const pre: TradingSession = {
      name: 'pre',
      start: '04:00',
      end: '09:30',
      timeZone: 'America/New_York',
      days: ['mon'],
    };
    const s = sessionStatus(at('2026-11-23T10:00:00Z'), [pre, REGULAR_SESSION]); // 05:00 EST Monday
    expect(s).toMatchObject({ open: true, session: 'pre' });
  });
});

describe('ALWAYS_OPEN_SESSION', () => {
  it('is a valid session, open on a Sunday night, a Wednesday noon and across midnight, never closed', () => {
    expect(AppConfigSchema.parse({ marketData: { sessions: [ALWAYS_OPEN_SESSION] } }).marketData.sessions).toEqual([
      ALWAYS_OPEN_SESSION,
    ]);
    expect(sessionStatus(at('2026-11-22T22:00:00Z'), [ALWAYS_OPEN_SESSION]).open).toBe(true);
    expect(sessionStatus(at('2026-11-25T12:00:00Z'), [ALWAYS_OPEN_SESSION]).open).toBe(true);
    expect(sessionStatus(at('2026-11-25T23:59:30Z'), [ALWAYS_OPEN_SESSION]).open).toBe(true);
    expect(sessionStatus(at('2026-11-26T00:00:00Z'), [ALWAYS_OPEN_SESSION]).open).toBe(true);
    // Every day back to back: the open stretch runs to the end of the week ahead that is looked at, not to midnight.
    const s = sessionStatus(at('2026-11-25T12:00:00Z'), [ALWAYS_OPEN_SESSION]);
    expect(s.nextChangeMs! - at('2026-11-25T12:00:00Z')).toBeGreaterThan(6 * 86_400_000);
  });

  it('a session may end at 24:00; 24:00 is refused as a start', () => {
    const night = { name: 'late', start: '20:00', end: '24:00', timeZone: 'UTC', days: ['wed'] };
    expect(AppConfigSchema.safeParse({ marketData: { sessions: [night] } }).success).toBe(true);
    expect(
      sessionStatus(at('2026-11-25T23:59:59Z'), [
        AppConfigSchema.parse({ marketData: { sessions: [night] } }).marketData.sessions[0]!,
      ]),
    ).toMatchObject({
      open: true,
      nextChangeMs: at('2026-11-26T00:00:00Z'),
    });
    expect(AppConfigSchema.safeParse({ marketData: { sessions: [{ ...night, start: '24:00' }] } }).success).toBe(false);
  });
});

describe('sessionStatus with an exchange calendar (regular session, New York)', () => {
  const sessions = [REGULAR_SESSION];
  const calendar: ExchangeCalendar = {
    timeZone: 'America/New_York',
    closed: {
      '2025-07-04': 'Independence Day',
      '2026-01-19': 'Martin Luther King, Jr. Day',
      '2026-11-26': 'Thanksgiving',
      '2026-03-10': 'Test',
    },
    earlyCloses: {
      '2025-07-03': { close: '13:00', name: 'Independence Day' },
      '2026-11-27': { close: '13:00', name: 'Thanksgiving' },
      '2026-03-09': { close: '13:00', name: 'DST week' },
      '2026-11-02': { close: '13:00', name: 'DST week' },
    },
  };
  const check = (now: string, open: boolean, next: string, reason?: string) => {
    const s = sessionStatus(at(now), sessions, calendar);
    expect(s.open).toBe(open);
    expect(new Date(s.nextChangeMs!).toISOString()).toBe(next);
    expect(s.reason).toBe(reason);
  };

  it('a Monday holiday: closed all day, opens Tuesday, says why', () => {
    check('2026-01-19T15:00:00Z', false, '2026-01-20T14:30:00.000Z', 'holiday (Martin Luther King, Jr. Day)');
  });
  it('the weekend before a Monday holiday waits for Tuesday and names the holiday', () => {
    check('2026-01-17T12:00:00Z', false, '2026-01-20T14:30:00.000Z', 'holiday (Martin Luther King, Jr. Day)');
  });
  it('Friday before a Monday holiday is an ordinary day', () => {
    check('2026-01-16T15:00:00Z', true, '2026-01-16T21:00:00.000Z');
  });
  it('July 3 early close 13:00 EDT: open until 13:00, then closed until the next session', () => {
    check('2025-07-03T14:00:00Z', true, '2025-07-03T17:00:00.000Z');
    check('2025-07-03T17:00:00Z', false, '2025-07-07T13:30:00.000Z', 'early close 13:00 (Independence Day)');
  });
  it('Thanksgiving closed, the Friday after closes at 13:00 EST', () => {
    check('2026-11-26T15:00:00Z', false, '2026-11-27T14:30:00.000Z', 'holiday (Thanksgiving)');
    check('2026-11-27T15:00:00Z', true, '2026-11-27T18:00:00.000Z');
    check('2026-11-27T18:30:00Z', false, '2026-11-30T14:30:00.000Z', 'early close 13:00 (Thanksgiving)');
  });
  it('DST weeks: an early close is 13:00 local on either side of the change', () => {
    // March 8 2026 New York moves to EDT (UTC−4); November 1 2026 back to EST (UTC−5).
    check('2026-03-09T14:00:00Z', true, '2026-03-09T17:00:00.000Z');
    check('2026-03-09T17:30:00Z', false, '2026-03-11T13:30:00.000Z', 'early close 13:00 (DST week)');
    check('2026-11-02T15:00:00Z', true, '2026-11-02T18:00:00.000Z');
  });
  it('an early close cuts sessions of that day only: a pre-market session is untouched, after-hours is dropped', () => {
    const ext: TradingSession[] = [
      { ...REGULAR_SESSION, name: 'pre', start: '04:00', end: '09:30' },
      { ...REGULAR_SESSION, name: 'post', start: '16:00', end: '20:00' },
    ];
    const s = sessionStatus(at('2026-11-27T21:30:00Z'), ext, calendar);
    expect(s).toMatchObject({ open: false, nextChangeMs: at('2026-11-30T09:00:00Z') });
    expect(s.reason).toBe('early close 13:00 (Thanksgiving)');
    expect(sessionStatus(at('2026-11-27T10:00:00Z'), ext, calendar).open).toBe(true);
  });
  it('without a calendar (or null) the configured sessions apply as before', () => {
    expect(sessionStatus(at('2026-11-26T15:00:00Z'), sessions, null).open).toBe(true);
    expect(sessionStatus(at('2026-11-26T15:00:00Z'), sessions).open).toBe(true);
  });
});
