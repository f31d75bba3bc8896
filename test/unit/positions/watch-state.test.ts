import { type TradingSession } from '../../../src/domain/config';
import { SkipReason, WatchStatus, type ListedPosition } from '../../../src/domain/positions/reconcile';
import {
  CALENDAR_RETRY_MS,
  CLOSED_RECONCILE_MS,
  CLOSING_FORGET_MS,
  EVENTS_KEPT,
  PositionsWatchState,
  WAIT_FOR_CLOSE_MAX_MS,
  WatchState,
  type StartAction,
  type WatchConfig,
  type WatchEvent,
  type WatchSnapshot,
} from '../../../src/domain/positions/watch-state';
import { type ExchangeCalendar } from '../../../src/domain/sessions';

const ALWAYS: TradingSession = {
  name: 'always',
  days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
  start: '00:00',
  end: '24:00',
  timeZone: 'UTC',
};
const REGULAR: TradingSession = {
  name: 'regular',
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  start: '09:30',
  end: '16:00',
  timeZone: 'America/New_York',
};

const config = (over: Partial<WatchConfig> = {}): WatchConfig => ({
  broker: 'paper',
  account: 'main',
  mode: 'alert',
  dataMode: 'poll',
  reconcileSeconds: 60,
  sessions: [ALWAYS],
  ...over,
});

/** Thursday 2026-11-26 (Thanksgiving) 15:00 UTC, 10:00 New York. */
const THANKSGIVING_10AM = Date.parse('2026-11-26T15:00:00Z');
/** Wednesday 2026-11-25 15:00 UTC, 10:00 New York: an ordinary session day. */
const WEDNESDAY_10AM = Date.parse('2026-11-25T15:00:00Z');
const T0 = WEDNESDAY_10AM;
const CALENDAR: ExchangeCalendar = {
  timeZone: 'America/New_York',
  closed: { '2026-11-26': 'Thanksgiving' },
  earlyCloses: { '2026-11-27': { close: '13:00', name: 'Day after Thanksgiving' } },
};

const long = (symbol: string, quantity: string, averageEntryPrice: string | null = '100.00'): ListedPosition => ({
  symbol,
  quantity,
  averageEntryPrice,
});

/** A state that read `positions` once and started every monitor the plan asked for. */
function watching(positions: ListedPosition[], over: Partial<WatchConfig> = {}, nowMs = T0) {
  const events: WatchEvent[] = [];
  const watch = new PositionsWatchState(config(over), undefined, (e) => events.push(e));
  watch.beginSync();
  const plan = watch.brokerRead(positions, nowMs);
  const seqs: Record<string, number> = {};
  for (const a of plan.actions) {
    if (a.kind !== 'start') throw new Error(`unexpected ${a.kind}`);
    seqs[a.symbol] = watch.monitorStarted(a, watch.takeMode(a.symbol), nowMs).seq;
  }
  watch.settleSkips(plan.skipped, nowMs);
  return { watch, events, seqs, plan };
}

const startOf = (watch: PositionsWatchState, positions: ListedPosition[], nowMs: number): StartAction => {
  const a = watch.brokerRead(positions, nowMs).actions.find((x) => x.kind === 'start');
  if (!a || a.kind !== 'start') throw new Error('no start planned');
  return a;
};

describe('PositionsWatchState: a run begins', () => {
  it('a first run starts in starting, run 1, nothing watched, and writes no search attribute change', () => {
    const watch = new PositionsWatchState(config());
    const v = watch.view();
    expect(v).toMatchObject({ state: WatchState.Starting, runs: 1, syncs: 0, monitors: {}, market: null });
    expect(watch.brokerAccount).toBe('paper:main');
    expect(watch.watchedCountChange()).toBeNull();
    expect(watch.stopRequest).toBeNull();
  });

  it('a carried run counts the run, resumes watching (or in broker_error) and keeps every field', () => {
    const { watch } = watching([long('AAPL', '10'), long('BTCUSD', '1')]);
    watch.beginSync();
    watch.brokerFailed('Error: down');
    watch.calendarRead('2026-11-25', CALENDAR);
    watch.positionsChanged('MSFT', 'auto-exit');
    const snap = watch.snapshot();
    const next = new PositionsWatchState(config(), JSON.parse(JSON.stringify(snap)) as WatchSnapshot);
    expect(next.runs).toBe(2);
    expect(next.view().state).toBe(WatchState.BrokerError);
    expect(next.snapshot()).toEqual({ ...snap, runs: 2 });
    // The search attribute was written by the last run with the running count: no change to write.
    expect(next.watchedCountChange()).toBeNull();

    const { watch: ok } = watching([long('AAPL', '10')]);
    expect(new PositionsWatchState(config(), ok.snapshot()).view().state).toBe(WatchState.Watching);
  });

  it('a snapshot from before protect modes, closing monitors and the calendar reads as empty ones', () => {
    const { watch } = watching([long('AAPL', '10')]);
    const { protectModes: _p, closing: _c, calendar: _k, ...old } = watch.snapshot();
    const next = new PositionsWatchState(config(), old);
    expect(next.view()).toMatchObject({ protectModes: {}, closing: {} });
    expect(next.snapshot().calendar).toBeUndefined();
    expect(next.calendarDue(T0)).toEqual({ read: true, today: '2026-11-25' });
  });
});

describe('PositionsWatchState: signals', () => {
  it('positionsChanged wakes the loop until the next cycle; a --protect mode is kept for the next start only', () => {
    const watch = new PositionsWatchState(config());
    watch.positionsChanged(undefined, undefined);
    expect(watch.woken).toBe(true);
    watch.beginCycle();
    expect(watch.woken).toBe(false);
    watch.positionsChanged('AAPL', 'auto-exit');
    watch.positionsChanged('MSFT', 'sideways');
    expect(watch.view().protectModes).toEqual({ AAPL: 'auto-exit' });
    expect(watch.takeMode('AAPL')).toBe('auto-exit');
    expect(watch.takeMode('AAPL')).toBe('alert');
    expect(watch.takeMode('MSFT')).toBe('alert');
  });

  it('stop: the first request wins; a blank reason reads as stopped by operator', () => {
    const watch = new PositionsWatchState(config());
    watch.requestStop(undefined, '   ');
    watch.requestStop(true, 'second');
    expect(watch.stopRequest).toEqual({ stopMonitors: false, reason: 'stopped by operator' });
    const other = new PositionsWatchState(config());
    other.requestStop(true, ' maintenance ');
    expect(other.stopRequest).toEqual({ stopMonitors: true, reason: 'maintenance' });
  });
});

describe('PositionsWatchState: a read of the broker', () => {
  it('a failed read counts, keeps monitors and notifies once until a read succeeds', () => {
    const { watch } = watching([long('AAPL', '10')]);
    const first = watch.brokerFailed('BrokerUnavailable: 503');
    expect(first).toEqual([
      expect.objectContaining({
        kind: 'watch_error',
        severity: 'warning',
        symbol: null,
        title: 'paper:main: cannot read positions',
        fields: { broker: 'paper', account: 'main' },
      }),
    ]);
    expect(watch.brokerFailed('BrokerUnavailable: 503')).toEqual([]);
    expect(watch.view()).toMatchObject({ state: WatchState.BrokerError, lastError: 'BrokerUnavailable: 503' });
    expect(watch.view().brokerErrors).toBe(2);
    expect(Object.keys(watch.view().monitors)).toEqual(['AAPL']);
    watch.brokerRead([long('AAPL', '10')], T0 + 60_000);
    expect(watch.view()).toMatchObject({ state: WatchState.Watching, lastError: null });
    expect(watch.view().lastSyncAt).toBe(new Date(T0 + 60_000).toISOString());
    expect(watch.brokerFailed('again')).toHaveLength(1);
  });

  it('a new long position: start with a new opening id; started records, notifies and watches it', () => {
    const events: WatchEvent[] = [];
    const watch = new PositionsWatchState(config(), undefined, (e) => events.push(e));
    const a = startOf(watch, [long('AAPL', '10.5', '190.10')], T0);
    expect(a).toEqual({
      kind: 'start',
      symbol: 'AAPL',
      positionId: 'paper:main:AAPL:20261125T150000.000Z',
      workflowId: 'position:paper:main:AAPL',
      quantity: 10,
      entryPrice: '190.10',
    });
    const { seq, notice } = watch.monitorStarted(a, 'alert', T0);
    expect(seq).toBe(1);
    expect(notice).toEqual({
      seq: 1,
      kind: 'monitor_started',
      severity: 'info',
      symbol: 'AAPL',
      title: 'AAPL: now monitored (10 shares)',
      text: 'The paper:main positions watch started an alert monitor for 10 AAPL.',
      fields: {
        broker: 'paper',
        account: 'main',
        quantity: 10,
        entryPrice: '190.10',
        monitor: 'position:paper:main:AAPL',
      },
    });
    expect(watch.view().monitors.AAPL).toMatchObject({ status: WatchStatus.Running, quantity: 10 });
    expect(events).toEqual([
      {
        at: new Date(T0).toISOString(),
        symbol: 'AAPL',
        action: 'started',
        detail: '10 shares @ 190.10: position:paper:main:AAPL',
      },
    ]);
    expect(watch.watchedCountChange()).toBe(1);
    expect(watch.watchedCountChange()).toBeNull();
  });

  it('a quantity change: resize; the monitor told keeps its entry and takes the quantity', () => {
    const { watch } = watching([long('AAPL', '10')]);
    const plan = watch.brokerRead([long('AAPL', '15')], T0 + 1000);
    expect(plan.actions).toEqual([
      { kind: 'resize', symbol: 'AAPL', workflowId: 'position:paper:main:AAPL', quantity: 15, previous: 10 },
    ]);
    const a = plan.actions[0]!;
    if (a.kind !== 'resize') throw new Error('resize expected');
    watch.resized(a, watch.monitorOf('AAPL')!, T0 + 1000);
    expect(watch.view().monitors.AAPL).toMatchObject({ quantity: 15, entryPrice: '100.00', status: 'running' });
    expect(watch.view().events.at(-1)).toMatchObject({ action: 'resized', detail: '10 → 15 shares' });
  });

  it('a monitor gone before its resize: forgotten, and started again as a new opening (entry as listed, else kept)', () => {
    const { watch } = watching([long('AAPL', '10', '90.00')]);
    const plan = watch.brokerRead([long('AAPL', '12', null)], T0 + 5000);
    const a = plan.actions[0]!;
    if (a.kind !== 'resize') throw new Error('resize expected');
    const start = watch.resizeFailed(a, watch.monitorOf('AAPL')!, T0 + 5000);
    expect(start).toEqual({
      kind: 'start',
      symbol: 'AAPL',
      positionId: 'paper:main:AAPL:20261125T150005.000Z',
      workflowId: 'position:paper:main:AAPL',
      quantity: 12,
      entryPrice: '90.00',
    });
    expect(watch.monitorOf('AAPL')).toBeUndefined();

    const { watch: listed } = watching([long('MSFT', '3', '300.00')]);
    const b = listed.brokerRead([long('MSFT', '4', '310.00')], T0).actions[0]!;
    if (b.kind !== 'resize') throw new Error('resize expected');
    expect(listed.resizeFailed(b, listed.monitorOf('MSFT')!, T0).entryPrice).toBe('310.00');
  });

  it('a position closed: end; with the patch the monitor is remembered as closing, and the notice says so', () => {
    const { watch } = watching([long('AAPL', '10'), long('MSFT', '2')]);
    expect(watch.watchedCountChange()).toBe(2);
    const plan = watch.brokerRead([], T0 + 1000);
    expect(plan.actions.map((a) => `${a.kind}:${a.symbol}`)).toEqual(['end:AAPL', 'end:MSFT']);
    const [aapl, msft] = plan.actions;
    if (aapl?.kind !== 'end' || msft?.kind !== 'end') throw new Error('ends expected');
    watch.ending(aapl, true, T0 + 1000);
    watch.ending(msft, false, T0 + 1000);
    expect(watch.view().closing).toEqual({ AAPL: { workflowId: 'position:paper:main:AAPL', sinceMs: T0 + 1000 } });
    expect(watch.view().monitors).toEqual({});
    const notice = watch.ended(aapl, T0 + 1000);
    expect(notice).toMatchObject({
      kind: 'monitor_ended',
      symbol: 'AAPL',
      title: 'AAPL: position closed, monitor ended',
      text: 'The paper:main account no longer holds AAPL long (was 10 shares).',
      fields: { broker: 'paper', account: 'main', previousQuantity: 10, monitor: 'position:paper:main:AAPL' },
    });
    expect(watch.watchedCountChange()).toBe(0);
  });

  it('notification sequence numbers grow across runs (the key of each notice is unique within the watch)', () => {
    const { watch } = watching([long('AAPL', '10'), long('MSFT', '1')]);
    const next = new PositionsWatchState(config(), watch.snapshot());
    expect(next.brokerFailed('x')[0]!.seq).toBe(3);
  });

  it('skips: each kind noted and notified once; a monitor ended on its own never; a skip gone and back again is noted anew', () => {
    const events: WatchEvent[] = [];
    const watch = new PositionsWatchState(config(), undefined, (e) => events.push(e));
    const listed = [long('TSLA', '-5'), long('BTCUSD', '1'), long('NVDA', '0.5')];
    const first = watch.settleSkips(watch.brokerRead(listed, T0).skipped, T0);
    expect(first.map((n) => `${n.symbol}:${n.fields.reason}`)).toEqual([
      'BTCUSD:unsupported_symbol',
      'NVDA:fractional',
      'TSLA:short',
    ]);
    expect(first[0]).toMatchObject({ kind: 'position_skipped', title: 'BTCUSD: not monitored', severity: 'info' });
    expect(events.map((e) => e.action)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(watch.settleSkips(watch.brokerRead(listed, T0 + 1).skipped, T0 + 1)).toEqual([]);
    expect(watch.view().skipped).toHaveLength(3);
    // TSLA covered, then short again.
    watch.settleSkips(watch.brokerRead(listed.slice(1), T0 + 2).skipped, T0 + 2);
    expect(watch.settleSkips(watch.brokerRead(listed, T0 + 3).skipped, T0 + 3).map((n) => n.symbol)).toEqual(['TSLA']);

    // A monitor that ended on its own while the position stayed is a skip, never a notice.
    const { watch: w, seqs } = watching([long('AAPL', '10')]);
    w.monitorFinished('AAPL', 'position:paper:main:AAPL', seqs.AAPL!, 'stopped', T0 + 1);
    const plan = w.brokerRead([long('AAPL', '10')], T0 + 2);
    expect(plan.skipped.map((s) => s.reason)).toEqual([SkipReason.MonitorEnded]);
    expect(w.settleSkips(plan.skipped, T0 + 2)).toEqual([]);
    expect(w.view().skipped).toHaveLength(1);
  });

  it('forget: a monitor remembered as ended whose position is gone', () => {
    const { watch, seqs } = watching([long('AAPL', '10')]);
    watch.monitorFinished('AAPL', 'position:paper:main:AAPL', seqs.AAPL!, 'stopped', T0 + 1);
    const plan = watch.brokerRead([], T0 + 2);
    expect(plan.actions).toEqual([{ kind: 'forget', symbol: 'AAPL' }]);
    watch.forget('AAPL');
    expect(watch.view().monitors).toEqual({});
  });

  it('keeps the latest 50 events', () => {
    const watch = new PositionsWatchState(config());
    for (let i = 0; i < EVENTS_KEPT + 7; i++) {
      watch.settleSkips(watch.brokerRead([long(`X${String.fromCharCode(65 + (i % 26))}`, '-1')], T0 + i).skipped, T0);
    }
    expect(watch.view().events).toHaveLength(EVENTS_KEPT);
  });

  it('counts syncs; the run is full at syncsPerRun', () => {
    const { watch } = watching([]);
    expect(watch.view().syncs).toBe(1);
    expect(watch.runIsFull(2)).toBe(false);
    watch.beginSync();
    expect(watch.runIsFull(2)).toBe(true);
    // A new run counts its own syncs, the total goes on.
    const next = new PositionsWatchState(config(), watch.snapshot());
    next.beginSync();
    expect(next.runIsFull(2)).toBe(false);
    expect(next.view().syncs).toBe(3);
  });
});

describe('PositionsWatchState: a position reopened while its monitor is closing', () => {
  function closed() {
    const { watch, seqs, events } = watching([long('AAPL', '10')]);
    const end = watch.brokerRead([], T0 + 1000).actions[0]!;
    if (end.kind !== 'end') throw new Error('end expected');
    watch.ending(end, true, T0 + 1000);
    watch.ended(end, T0 + 1000);
    return { watch, seqs, events };
  }

  it('the start that finds the closing run under its id waits (recorded once), syncing sooner: 1 s doubling to 30 s', () => {
    const { watch, events } = closed();
    const a = startOf(watch, [long('AAPL', '4')], T0 + 2000);
    expect(watch.isClosing(a, T0 + 2000)).toBe(true);
    watch.waitForCloseToFinish(a, T0 + 2000);
    watch.waitForCloseToFinish(startOf(watch, [long('AAPL', '4')], T0 + 3000), T0 + 3000);
    expect(events.filter((e) => e.action === 'waiting')).toEqual([
      expect.objectContaining({
        detail: '4 shares reopened: waiting for position:paper:main:AAPL to finish closing',
      }),
    ]);
    const waits = Array.from({ length: 7 }, () => watch.waitMs(60_000));
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(WAIT_FOR_CLOSE_MAX_MS).toBe(30_000);
    // Capped by the cadence.
    expect(watch.waitMs(5000)).toBe(5000);
  });

  it('the closing monitor finished: the waiting start is due at once and then starts a monitor of its own', () => {
    const { watch, seqs } = closed();
    const a = startOf(watch, [long('AAPL', '4')], T0 + 2000);
    watch.waitForCloseToFinish(a, T0 + 2000);
    watch.beginCycle();
    // Its result is not a monitor ended with the position open: nothing to note.
    expect(watch.monitorFinished('AAPL', a.workflowId, seqs.AAPL!, 'closed', T0 + 2500)).toBe(false);
    expect(watch.woken).toBe(true);
    expect(watch.view().closing).toEqual({});
    const again = startOf(watch, [long('AAPL', '4')], T0 + 3000);
    expect(watch.isClosing(again, T0 + 3000)).toBe(false);
    const { seq } = watch.monitorStarted(again, 'alert', T0 + 3000);
    expect(seq).toBe(seqs.AAPL! + 1);
    expect(watch.waitMs(60_000)).toBe(60_000);
    // The old run's result arriving late is not the latest child: ignored.
    expect(watch.monitorFinished('AAPL', again.workflowId, seqs.AAPL!, 'closed', T0 + 4000)).toBe(false);
    expect(watch.view().monitors.AAPL?.status).toBe('running');
  });

  it('a closing monitor finishing with no start waiting wakes nothing', () => {
    const { watch, seqs } = closed();
    watch.beginCycle();
    watch.monitorFinished('AAPL', 'position:paper:main:AAPL', seqs.AAPL!, 'closed', T0 + 2000);
    expect(watch.woken).toBe(false);
    expect(watch.view().closing).toEqual({});
  });

  it('a waiting start whose position went away again waits no more', () => {
    const { watch } = closed();
    watch.waitForCloseToFinish(startOf(watch, [long('AAPL', '4')], T0 + 2000), T0 + 2000);
    watch.brokerRead([], T0 + 3000);
    expect(watch.waitMs(60_000)).toBe(60_000);
  });

  it('a closing monitor not seen finished for an hour is forgotten: the reopened position adopts the run', () => {
    const { watch } = closed();
    const late = T0 + 1000 + CLOSING_FORGET_MS;
    const a = startOf(watch, [long('AAPL', '4')], late - 1);
    expect(watch.isClosing(a, late - 1)).toBe(true);
    expect(watch.isClosing(a, late)).toBe(false);
    watch.brokerRead([long('AAPL', '4')], late);
    expect(watch.view().closing).toEqual({});
  });

  it('another id under the symbol (`monitor start` by hand) is not the closing one: adopted', () => {
    const { watch } = closed();
    const a = startOf(watch, [long('AAPL', '4')], T0 + 2000);
    expect(watch.isClosing({ ...a, workflowId: 'position:paper:other:AAPL' }, T0 + 2000)).toBe(false);
  });

  it('adopted: watched and recorded; finished as it was adopted: forgotten and waiting to start again', () => {
    const events: WatchEvent[] = [];
    const watch = new PositionsWatchState(config(), undefined, (e) => events.push(e));
    const a = startOf(watch, [long('AAPL', '4')], T0);
    watch.adopted(a, T0);
    expect(watch.view().monitors.AAPL).toMatchObject({ status: 'running', quantity: 4, workflowId: a.workflowId });
    watch.adoptedFinished(a, T0);
    expect(watch.view().monitors).toEqual({});
    expect(events.map((e) => `${e.action}: ${e.detail}`)).toEqual([
      'adopted: monitor position:paper:main:AAPL was already running: told 4 shares',
      'waiting: position:paper:main:AAPL finished as it was adopted: starting it again',
    ]);
    expect(watch.waitMs(60_000)).toBe(1000);
  });
});

describe('PositionsWatchState: monitors finishing on their own', () => {
  it('a running monitor that finishes while its position stays is noted ended (with how) and counted out', () => {
    const { watch, seqs } = watching([long('AAPL', '10')]);
    expect(watch.watchedCountChange()).toBe(1);
    expect(watch.monitorFinished('AAPL', 'position:paper:main:AAPL', seqs.AAPL!, 'failed: boom', T0 + 1)).toBe(true);
    expect(watch.view().monitors.AAPL).toMatchObject({ status: 'ended', endedReason: 'failed: boom' });
    expect(watch.view().events.at(-1)).toMatchObject({
      action: 'monitor_finished',
      detail: 'monitor finished (failed: boom) while the position was open',
    });
    expect(watch.watchedCountChange()).toBe(0);
    // Its quantity changing starts it again.
    expect(watch.brokerRead([long('AAPL', '11')], T0 + 2).actions.map((a) => a.kind)).toEqual(['start']);
  });

  it('a monitor replaced under another id, or already noted, is not noted again', () => {
    const { watch, seqs } = watching([long('AAPL', '10')]);
    expect(watch.monitorFinished('AAPL', 'position:paper:x:AAPL', seqs.AAPL!, 'closed', T0)).toBe(false);
    expect(watch.monitorFinished('AAPL', 'position:paper:main:AAPL', seqs.AAPL!, 'stopped', T0)).toBe(true);
    expect(watch.monitorFinished('AAPL', 'position:paper:main:AAPL', seqs.AAPL!, 'stopped', T0)).toBe(false);
  });
});

describe('PositionsWatchState: exchange calendar and cadence', () => {
  it('reads the calendar once per New York day; a failure keeps the held calendar and is retried after an hour', () => {
    const watch = new PositionsWatchState(config());
    expect(watch.calendarDue(T0)).toEqual({ read: true, today: '2026-11-25' });
    expect(watch.calendarRead('2026-11-25', CALENDAR)).toBe(CALENDAR);
    expect(watch.calendarDue(T0 + 3_600_000)).toEqual({ read: false, calendar: CALENDAR });
    // 00:30 New York the next day.
    const tomorrow = Date.parse('2026-11-26T05:30:00Z');
    const due = watch.calendarDue(tomorrow);
    expect(due).toEqual({ read: true, today: '2026-11-26' });
    expect(watch.calendarFailed('PolygonUnavailable', tomorrow)).toBe(CALENDAR);
    expect(watch.calendarDue(tomorrow + CALENDAR_RETRY_MS - 1)).toEqual({ read: false, calendar: CALENDAR });
    expect(watch.calendarDue(tomorrow + CALENDAR_RETRY_MS)).toEqual({ read: true, today: '2026-11-26' });
    expect(watch.snapshot().calendar).toEqual({
      readOn: '2026-11-25',
      failedAtMs: tomorrow,
      calendar: CALENDAR,
      error: 'PolygonUnavailable',
    });
  });

  it('a first read that fails leaves no calendar: the configured sessions apply; a read without a key is null', () => {
    const watch = new PositionsWatchState(config());
    expect(watch.calendarFailed('PolygonUnauthorized', T0)).toBeNull();
    expect(watch.calendarDue(T0 + 1)).toEqual({ read: false, calendar: null });
    expect(watch.calendarRead('2026-11-25', null)).toBeNull();
    expect(watch.calendarDue(T0 + 2)).toEqual({ read: false, calendar: null });
  });

  it('in session: the reconcile interval; the market shows open until the session ends', () => {
    const watch = new PositionsWatchState(config({ sessions: [REGULAR] }));
    expect(watch.cadenceMs(T0, CALENDAR)).toBe(60_000);
    expect(watch.view().market).toEqual({
      open: true,
      reason: null,
      nextChangeAt: '2026-11-25T21:00:00.000Z',
      reconcileSeconds: 60,
      calendarError: null,
    });
    expect(watch.details()).not.toContain('market closed');
  });

  it('on an exchange holiday: every 15 min, with the holiday named and the error of the last calendar read', () => {
    const watch = new PositionsWatchState(config({ sessions: [REGULAR] }));
    watch.calendarFailed('PolygonUnavailable', THANKSGIVING_10AM);
    expect(watch.cadenceMs(THANKSGIVING_10AM, CALENDAR)).toBe(CLOSED_RECONCILE_MS);
    expect(watch.view().market).toEqual({
      open: false,
      reason: 'holiday (Thanksgiving)',
      nextChangeAt: '2026-11-27T14:30:00.000Z',
      reconcileSeconds: 900,
      calendarError: 'PolygonUnavailable',
    });
    expect(watch.details()).toContain(
      'market closed (holiday (Thanksgiving)): next open 2026-11-27T14:30:00.000Z, reading positions every 15 min',
    );
  });

  it('closed: until the open when sooner than 15 min (at least 1 s), never below the reconcile interval', () => {
    const watch = new PositionsWatchState(config({ sessions: [REGULAR] }));
    const open = Date.parse('2026-11-25T14:30:00Z');
    expect(watch.cadenceMs(open - 5 * 60_000, null)).toBe(5 * 60_000);
    expect(watch.cadenceMs(open - 200, null)).toBe(60_000);
    const fast = new PositionsWatchState(config({ sessions: [REGULAR], reconcileSeconds: 0.1 }));
    expect(fast.cadenceMs(open - 200, null)).toBe(1000);
    const slow = new PositionsWatchState(config({ sessions: [REGULAR], reconcileSeconds: 1800 }));
    expect(slow.cadenceMs(open - 5 * 60_000, null)).toBe(1_800_000);
    // No session ahead at all: every 15 min.
    const never = new PositionsWatchState(config({ sessions: [] }));
    expect(never.cadenceMs(T0, null)).toBe(CLOSED_RECONCILE_MS);
    expect(never.view().market?.nextChangeAt).toBeNull();
    expect(never.details()).toContain('next open none scheduled');
  });
});

describe('PositionsWatchState: stop, details and view', () => {
  it('stopping with monitors: running ones are stopped (recorded when told), ended ones left; state stopped', () => {
    const { watch, seqs } = watching([long('AAPL', '10'), long('MSFT', '3'), long('NVDA', '1')]);
    watch.monitorFinished('NVDA', 'position:paper:main:NVDA', seqs.NVDA!, 'stopped', T0);
    const running = watch.runningMonitors();
    expect(running.map((m) => m.symbol)).toEqual(['AAPL', 'MSFT']);
    watch.monitorStopped(running[0]!, true, T0 + 1);
    watch.monitorStopped(running[1]!, false, T0 + 1);
    watch.stopped();
    const v = watch.view();
    expect(v.state).toBe(WatchState.Stopped);
    expect(Object.keys(v.monitors)).toEqual(['NVDA']);
    expect(v.events.filter((e) => e.action === 'ended').map((e) => e.symbol)).toEqual(['AAPL']);
  });

  it('details list the state, the monitors, the skips and the last error', () => {
    const { watch, seqs } = watching([long('AAPL', '10'), long('MSFT', '3'), long('TSLA', '-2')]);
    watch.monitorFinished('MSFT', 'position:paper:main:MSFT', seqs.MSFT!, 'stopped', T0);
    watch.brokerFailed('BrokerUnavailable: 503');
    expect(watch.details().split('\n')).toEqual([
      `**paper:main** — broker_error, 1 watched, 1 skipped, sync 1 at ${new Date(T0).toISOString()}`,
      '- AAPL ×10: position:paper:main:AAPL',
      '- MSFT ×3: ended (stopped)',
      expect.stringMatching(/^- TSLA -2: skipped — short 2 TSLA: not monitored/),
      'last error: BrokerUnavailable: 503',
    ]);
  });

  it('the view names the configuration and the state', () => {
    const { watch } = watching([long('AAPL', '10')], { mode: 'auto-exit', dataMode: 'stream', reconcileSeconds: 30 });
    expect(watch.view()).toMatchObject({
      broker: 'paper',
      account: 'main',
      mode: 'auto-exit',
      dataMode: 'stream',
      reconcileSeconds: 30,
      state: 'watching',
      positions: [long('AAPL', '10')],
      runs: 1,
    });
  });
});
