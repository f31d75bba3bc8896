/**
 * The positions watch's state and rules, as plain data: the positions last read, the monitors by symbol, the
 * monitors told to close and not yet seen finished, the exchange calendar held, and what to do with each fresh read
 * of the broker (start, resize, end, skip, wait for a closing monitor). The positions workflow owns one per run and
 * only calls methods on it, then carries out what they return (child starts, signals, notifications) in the order
 * they come; everything here is synchronous and free of Temporal, so a replay sees the same decisions and a unit
 * test needs no server. Time is passed in (ms since the epoch, workflow time): the domain has no clock.
 */
import { type DataMode, type MonitorMode } from '../monitor/monitor-model';
import { NotificationKind, type NotificationEvent } from '../notifications/event';
import { type TradingSession } from '../config';
import { localDateTime, sessionStatus, type ExchangeCalendar } from '../sessions';
import {
  SkipReason,
  WatchStatus,
  monitorIdentity,
  planReconcile,
  type ListedPosition,
  type ReconcileAction,
  type ReconcilePlan,
  type SkippedPosition,
  type WatchedMonitor,
} from './reconcile';

export const WatchState = {
  Starting: 'starting',
  Watching: 'watching',
  /** The last read of the broker failed; monitors go on, the next read comes at the usual cadence. */
  BrokerError: 'broker_error',
  Stopped: 'stopped',
} as const;
export type WatchState = (typeof WatchState)[keyof typeof WatchState];

export interface WatchEvent {
  /** Workflow time, ISO-8601. */
  readonly at: string;
  readonly symbol: string;
  readonly action: 'started' | 'adopted' | 'resized' | 'ended' | 'monitor_finished' | 'skipped' | 'waiting';
  readonly detail: string;
}

/** The exchange calendar as last read (the marketCalendar activity), carried across continue-as-new. */
export interface HeldCalendar {
  /** New York date it was read on; null when never read. */
  readonly readOn: string | null;
  /** Workflow time of the last failed read, ms; null after a good one. */
  readonly failedAtMs: number | null;
  /** Null without a Polygon key (the configured sessions apply) or before a first good read. */
  readonly calendar: ExchangeCalendar | null;
  readonly error: string | null;
}

/** Where the market stands for the watch (the monitors' sessions and the exchange calendar). */
export interface WatchMarket {
  readonly open: boolean;
  /** `holiday (Thanksgiving)`, `early close 13:00 (…)` while the calendar keeps it closed; else null. */
  readonly reason: string | null;
  /** When the session ends (open) or the next one starts (closed), ISO-8601; null when none within the horizon. */
  readonly nextChangeAt: string | null;
  /** Seconds until the next read of the broker's positions at this cadence (fills still wake the watch at once). */
  readonly reconcileSeconds: number;
  /** The last failed calendar read (the configured sessions, or the calendar held before, apply meanwhile). */
  readonly calendarError: string | null;
}

/** A monitor this watch told its position closed, until it is seen finished (or CLOSING_FORGET_MS passed). */
export interface ClosingMonitor {
  readonly workflowId: string;
  /** Workflow time it was told, ms since the epoch. */
  readonly sinceMs: number;
}

/**
 * What one run hands the next (continue-as-new), without the notification ledger (the workflow's notifier adds it).
 * The field names are those runs already carry: a run continued from an older version reads the same shape.
 */
export interface WatchSnapshot {
  readonly monitors: Record<string, WatchedMonitor>;
  readonly positions: readonly ListedPosition[];
  readonly skipped: readonly SkippedPosition[];
  readonly syncs: number;
  readonly lastSyncAt: string | null;
  readonly lastError: string | null;
  readonly brokerErrors: number;
  readonly events: readonly WatchEvent[];
  readonly eventSeq: number;
  readonly notifiedSkips: readonly string[];
  readonly runs: number;
  /** Absent in runs carried before `order place --protect`. */
  readonly protectModes?: Record<string, MonitorMode>;
  /** Absent in runs carried before the watch waited for closing monitors. */
  readonly closing?: Record<string, ClosingMonitor>;
  /** Absent in runs carried before the watch read the exchange calendar. */
  readonly calendar?: HeldCalendar;
}

/** The state query's answer, less what the workflow adds (its id and the notification ledger). */
export interface WatchView {
  readonly broker: string;
  readonly account: string;
  readonly mode: MonitorMode;
  readonly dataMode: DataMode;
  readonly reconcileSeconds: number;
  readonly state: WatchState;
  /** The broker's open positions as last read. */
  readonly positions: readonly ListedPosition[];
  /** Monitors by symbol (running, or ended while the position stayed). */
  readonly monitors: Readonly<Record<string, WatchedMonitor>>;
  /** Positions listed but not watched, each with the reason (shorts, fractions, other assets). */
  readonly skipped: readonly SkippedPosition[];
  readonly syncs: number;
  readonly lastSyncAt: string | null;
  readonly lastError: string | null;
  readonly brokerErrors: number;
  /** Latest changes, newest last (at most 50). */
  readonly events: readonly WatchEvent[];
  /** Runs of this watch so far (1 + continues-as-new). */
  readonly runs: number;
  /** Symbols whose next monitor starts in another mode than the watch's (`order place --protect`). */
  readonly protectModes: Readonly<Record<string, MonitorMode>>;
  /**
   * Monitors told their position closed and not yet seen finished, by symbol. A position reopened meanwhile waits
   * for its symbol's monitor to finish, then gets a new run under the same id (event `waiting`).
   */
  readonly closing: Readonly<Record<string, ClosingMonitor>>;
  /** The market at the last sync; null before the first (and in runs started before the watch read the calendar). */
  readonly market: WatchMarket | null;
}

/** A notification the workflow sends, in the order returned; `seq` makes its key unique within the watch. */
export interface WatchNotice {
  readonly seq: number;
  readonly kind: NotificationEvent['kind'];
  readonly severity: NotificationEvent['severity'];
  readonly symbol: string | null;
  readonly title: string;
  readonly text: string;
  /** Broker and account first, then the notice's own. */
  readonly fields: NotificationEvent['fields'];
}

export type StartAction = Extract<ReconcileAction, { kind: 'start' }>;
export type ResizeAction = Extract<ReconcileAction, { kind: 'resize' }>;
export type EndAction = Extract<ReconcileAction, { kind: 'end' }>;

export interface WatchConfig {
  readonly broker: string;
  readonly account: string;
  /** Mode of the monitors the watch starts, unless `order place --protect` asked another for a symbol. */
  readonly mode: MonitorMode;
  readonly dataMode: DataMode;
  /** Seconds between reads of the broker in session. */
  readonly reconcileSeconds: number;
  /** The monitors' sessions: outside all of them the watch reads the broker less often. */
  readonly sessions: readonly TradingSession[];
}

export const EVENTS_KEPT = 50;
/**
 * A reopened position whose old monitor is still finishing is retried after 1 s, doubling up to 30 s (capped by
 * the reconcile interval). A monitor finishes within a workflow task or two once its poll is back; it can take up
 * to its notification drain (5 min) when a destination is down.
 */
export const WAIT_FOR_CLOSE_FIRST_MS = 1000;
export const WAIT_FOR_CLOSE_MAX_MS = 30_000;
/** A closing monitor not seen finished after this long is no longer waited for: a reopened position adopts it. */
export const CLOSING_FORGET_MS = 60 * 60_000;
/**
 * Outside every session of the monitors (nights, weekends, exchange holidays from the calendar) the watch reads the
 * broker at most every 15 minutes (or at reconcileSeconds if longer), and once more when the session opens: the
 * monitors it starts meanwhile sleep until the open anyway, and a fill through flowguard still wakes it at once.
 */
export const CLOSED_RECONCILE_MS = 15 * 60_000;
/** A failed calendar read is tried again after this long; meanwhile the calendar held (or the sessions) apply. */
export const CALENDAR_RETRY_MS = 3_600_000;
const EXCHANGE_TIME_ZONE = 'America/New_York';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One run's state of the watch of a broker account. Built from the previous run's snapshot (or none); the
 * constructor counts the run. `onEvent` sees each event recorded (the workflow logs it).
 */
export class PositionsWatchState {
  readonly brokerAccount: string;
  readonly runs: number;
  private readonly monitors: Record<string, WatchedMonitor>;
  private positions: readonly ListedPosition[];
  private skipped: readonly SkippedPosition[];
  private syncs: number;
  private syncsThisRun = 0;
  private lastSyncAt: string | null;
  private lastError: string | null;
  private brokerErrors: number;
  private readonly events: WatchEvent[];
  private eventSeq: number;
  private readonly notifiedSkips: Set<string>;
  private state: WatchState;
  private readonly protectModes: Record<string, MonitorMode>;
  private readonly closing: Record<string, ClosingMonitor>;
  /** Symbols whose start waits for the old monitor to finish; the loop syncs again sooner while any is here. */
  private readonly waitingToStart = new Set<string>();
  private waitForCloseMs = WAIT_FOR_CLOSE_FIRST_MS;
  /** The child started last for each symbol by this run: a result from an older run under the same id is ignored. */
  private readonly childSeq = new Map<string, number>();
  private childSeqNext = 0;
  private heldCalendar: HeldCalendar | null;
  private market: WatchMarket | null = null;
  /** The WatchedPositions search attribute as last written (a new run starts from what the last one wrote). */
  private publishedCount: number;
  private stop: { readonly stopMonitors: boolean; readonly reason: string } | null = null;
  private wake = false;

  constructor(
    private readonly config: WatchConfig,
    carried?: WatchSnapshot,
    private readonly onEvent: (event: WatchEvent) => void = () => undefined,
  ) {
    const c = carried;
    this.brokerAccount = `${config.broker}:${config.account}`;
    this.monitors = { ...(c?.monitors ?? {}) };
    this.positions = c?.positions ?? [];
    this.skipped = c?.skipped ?? [];
    this.syncs = c?.syncs ?? 0;
    this.lastSyncAt = c?.lastSyncAt ?? null;
    this.lastError = c?.lastError ?? null;
    this.brokerErrors = c?.brokerErrors ?? 0;
    this.events = [...(c?.events ?? [])];
    this.eventSeq = c?.eventSeq ?? 0;
    this.notifiedSkips = new Set(c?.notifiedSkips ?? []);
    this.runs = (c?.runs ?? 0) + 1;
    this.state = c ? (this.lastError ? WatchState.BrokerError : WatchState.Watching) : WatchState.Starting;
    this.protectModes = { ...(c?.protectModes ?? {}) };
    this.closing = { ...(c?.closing ?? {}) };
    this.heldCalendar = c?.calendar ?? null;
    this.publishedCount = c ? this.runningCount() : 0;
  }

  // --- signals -------------------------------------------------------------------------------------------------

  /** positionsChanged: sync at once; `order place --protect` names the mode of the symbol's next monitor. */
  positionsChanged(symbol: string | undefined, mode: string | undefined): void {
    this.wake = true;
    if (symbol && (mode === 'alert' || mode === 'auto-exit')) this.protectModes[symbol] = mode;
  }

  /** stop: the first one wins. */
  requestStop(stopMonitors: boolean | undefined, reason: string | undefined): void {
    this.stop ??= { stopMonitors: stopMonitors === true, reason: reason?.trim() || 'stopped by operator' };
  }

  get stopRequest(): { readonly stopMonitors: boolean; readonly reason: string } | null {
    return this.stop;
  }

  /** True when a sync is due before the timer (a fill, or a waited-for monitor finished); read by the loop's wait. */
  get woken(): boolean {
    return this.wake;
  }

  /** The loop starts a sync: wakes so far are served by it. */
  beginCycle(): void {
    this.wake = false;
  }

  // --- one sync ------------------------------------------------------------------------------------------------

  /** Counts a sync about to read the broker. */
  beginSync(): void {
    this.syncs += 1;
    this.syncsThisRun += 1;
  }

  /** True when this run has synced `syncsPerRun` times (continue-as-new is then due). */
  runIsFull(syncsPerRun: number): boolean {
    return this.syncsThisRun >= syncsPerRun;
  }

  /** The broker could not be read: noted, monitors go on; a notice only when the last read had not failed already. */
  brokerFailed(message: string): WatchNotice[] {
    const notices: WatchNotice[] = [];
    if (this.state !== WatchState.BrokerError) {
      notices.push(
        this.notice(
          NotificationKind.WatchError,
          'warning',
          null,
          `${this.brokerAccount}: cannot read positions`,
          `The positions watch could not read the broker's positions; running monitors go on. ${message}`,
        ),
      );
    }
    this.lastError = message;
    this.brokerErrors += 1;
    this.state = WatchState.BrokerError;
    return notices;
  }

  /**
   * A fresh read of the broker: the plan of what to do (planReconcile over the monitors watched). A waiting start
   * whose position went away waits no more; a closing monitor not seen finished for CLOSING_FORGET_MS is forgotten.
   * The workflow carries out `actions` in order, then hands `skipped` to `settleSkips`.
   */
  brokerRead(listed: readonly ListedPosition[], nowMs: number): ReconcilePlan {
    this.positions = listed;
    this.lastError = null;
    this.lastSyncAt = iso(nowMs);
    this.state = WatchState.Watching;
    const plan = planReconcile({
      broker: this.config.broker,
      account: this.config.account,
      positions: listed,
      monitors: Object.values(this.monitors),
      nowMs,
    });
    for (const symbol of [...this.waitingToStart]) {
      if (!plan.actions.some((a) => a.kind === 'start' && a.symbol === symbol)) this.waitingToStart.delete(symbol);
    }
    for (const [symbol, m] of Object.entries(this.closing)) {
      if (nowMs - m.sinceMs >= CLOSING_FORGET_MS) delete this.closing[symbol];
    }
    return plan;
  }

  /** The mode of the monitor about to start for `symbol` (a `--protect` mode is used once). */
  takeMode(symbol: string): MonitorMode {
    const mode = this.protectModes[symbol] ?? this.config.mode;
    delete this.protectModes[symbol];
    return mode;
  }

  /** The monitor was started: watched from now on; returns its child sequence number and the notice to send. */
  monitorStarted(a: StartAction, mode: MonitorMode, nowMs: number): { seq: number; notice: WatchNotice } {
    this.monitors[a.symbol] = monitorEntry(a);
    delete this.closing[a.symbol];
    this.waitingToStart.delete(a.symbol);
    const seq = ++this.childSeqNext;
    this.childSeq.set(a.symbol, seq);
    this.record(
      nowMs,
      a.symbol,
      'started',
      `${a.quantity} shares${a.entryPrice ? ` @ ${a.entryPrice}` : ''}: ${a.workflowId}`,
    );
    const notice = this.notice(
      NotificationKind.MonitorStarted,
      'info',
      a.symbol,
      `${a.symbol}: now monitored (${a.quantity} shares)`,
      // "an": both modes (alert, auto-exit) begin with a vowel.
      `The ${this.brokerAccount} positions watch started an ${mode} monitor for ${a.quantity} ${a.symbol}.`,
      { quantity: a.quantity, entryPrice: a.entryPrice, monitor: a.workflowId },
    );
    return { seq, notice };
  }

  /**
   * The start found a run under the id already: true when that run is the one this watch told its position closed
   * (less than CLOSING_FORGET_MS ago), still finishing. Adopting it would leave the reopened position unwatched once
   * it ends: the workflow waits for it instead (`waitForClose`), under the patch that introduced the wait.
   */
  isClosing(a: StartAction, nowMs: number): boolean {
    const old = this.closing[a.symbol];
    return old?.workflowId === a.workflowId && nowMs - old.sinceMs < CLOSING_FORGET_MS;
  }

  /** The reopened position waits for its closing monitor: recorded once per wait. */
  waitForCloseToFinish(a: StartAction, nowMs: number): void {
    this.waitForClose(a.symbol, `${a.quantity} shares reopened: waiting for ${a.workflowId} to finish closing`, nowMs);
  }

  /** Already running under the derived id (an earlier run, a duplicated sync, `monitor start`): adopted. */
  adopted(a: StartAction, nowMs: number): void {
    this.monitors[a.symbol] = monitorEntry(a);
    this.record(nowMs, a.symbol, 'adopted', `monitor ${a.workflowId} was already running: told ${a.quantity} shares`);
  }

  /** The adopted monitor finished between the start attempt and the signal: started again at the next sync. */
  adoptedFinished(a: StartAction, nowMs: number): void {
    delete this.monitors[a.symbol];
    this.waitForClose(a.symbol, `${a.workflowId} finished as it was adopted: starting it again`, nowMs);
  }

  /** The monitor watched for `symbol`, if any. */
  monitorOf(symbol: string): WatchedMonitor | undefined {
    return this.monitors[symbol];
  }

  /** The monitor (`before`: as watched when it was told) took its new quantity. */
  resized(a: ResizeAction, before: WatchedMonitor, nowMs: number): void {
    this.monitors[a.symbol] = { ...before, quantity: a.quantity };
    this.record(nowMs, a.symbol, 'resized', `${a.previous} → ${a.quantity} shares`);
  }

  /**
   * The monitor to resize was gone without this run seeing it end (stopped before a continue-as-new): forgotten,
   * and the start to carry out instead (a new opening, the entry price as listed, else as the monitor had it).
   */
  resizeFailed(a: ResizeAction, before: WatchedMonitor, nowMs: number): StartAction {
    const m = before;
    delete this.monitors[a.symbol];
    const position = this.positions.find((p) => p.symbol === a.symbol);
    return {
      kind: 'start',
      symbol: a.symbol,
      positionId: monitorIdentity(this.config.broker, this.config.account, a.symbol, nowMs).positionId,
      workflowId: a.workflowId,
      quantity: a.quantity,
      entryPrice: position?.averageEntryPrice ?? m.entryPrice,
    };
  }

  /**
   * The position closed: the monitor is no longer watched; with `waitForClose` (the patch) it is remembered as
   * closing until seen finished. Call before telling it quantity 0, then `ended` after.
   */
  ending(a: EndAction, waitForClose: boolean, nowMs: number): void {
    delete this.monitors[a.symbol];
    if (waitForClose) this.closing[a.symbol] = { workflowId: a.workflowId, sinceMs: nowMs };
  }

  /** The closed position's monitor was told to finish: the notice to send. */
  ended(a: EndAction, nowMs: number): WatchNotice {
    this.record(nowMs, a.symbol, 'ended', `position closed (was ${a.previous} shares): monitor told to finish`);
    return this.notice(
      NotificationKind.MonitorEnded,
      'info',
      a.symbol,
      `${a.symbol}: position closed, monitor ended`,
      `The ${this.brokerAccount} account no longer holds ${a.symbol} long (was ${a.previous} shares).`,
      { previousQuantity: a.previous, monitor: a.workflowId },
    );
  }

  /** A monitor remembered as ended whose position is gone too. */
  forget(symbol: string): void {
    delete this.monitors[symbol];
  }

  /**
   * The sync's skipped positions: each new skip is recorded and notified once (not a monitor ended on its own); a
   * skip that no longer applies may be noted again if it comes back.
   */
  settleSkips(skipped: readonly SkippedPosition[], nowMs: number): WatchNotice[] {
    this.skipped = skipped;
    const notices: WatchNotice[] = [];
    for (const s of skipped) {
      if (s.reason === SkipReason.MonitorEnded) continue;
      const id = `${s.symbol}:${s.reason}`;
      if (this.notifiedSkips.has(id)) continue;
      this.notifiedSkips.add(id);
      this.record(nowMs, s.symbol, 'skipped', s.note);
      notices.push(
        this.notice(NotificationKind.PositionSkipped, 'info', s.symbol, `${s.symbol}: not monitored`, s.note, {
          quantity: s.quantity,
          reason: s.reason,
        }),
      );
    }
    for (const id of [...this.notifiedSkips]) {
      if (!skipped.some((s) => `${s.symbol}:${s.reason}` === id)) this.notifiedSkips.delete(id);
    }
    return notices;
  }

  // --- monitors finishing --------------------------------------------------------------------------------------

  /**
   * A monitor started by this run finished (`seq` from `monitorStarted`; `how` its final state or failure). Not
   * the latest run for the symbol: nothing. The closing monitor a reopened position waits for: it is done waiting
   * (a sync is due at once). One that ends with its position still open is noted as ended; returns true then.
   */
  monitorFinished(symbol: string, workflowId: string, seq: number, how: string, nowMs: number): boolean {
    if (this.childSeq.get(symbol) !== seq) return false;
    if (this.closing[symbol]?.workflowId === workflowId) {
      delete this.closing[symbol];
      if (this.waitingToStart.has(symbol)) this.wake = true;
    }
    const m = this.monitors[symbol];
    // Ended on purpose by this watch (position closed), or replaced since: nothing to note.
    if (!m || m.workflowId !== workflowId || m.status !== WatchStatus.Running) return false;
    this.monitors[symbol] = { ...m, status: WatchStatus.Ended, endedReason: how };
    this.record(nowMs, symbol, 'monitor_finished', `monitor finished (${how}) while the position was open`);
    return true;
  }

  // --- cadence and calendar ------------------------------------------------------------------------------------

  /**
   * The exchange calendar to use now, or `read` with the New York date when it is due: at most once per New York
   * day, an hour after a failure.
   */
  calendarDue(nowMs: number):
    | { readonly read: false; readonly calendar: ExchangeCalendar | null }
    | {
        readonly read: true;
        readonly today: string;
      } {
    const today = localDateTime(nowMs, EXCHANGE_TIME_ZONE).date;
    const h = this.heldCalendar;
    if (h && (h.readOn === today || (h.failedAtMs !== null && nowMs - h.failedAtMs < CALENDAR_RETRY_MS))) {
      return { read: false, calendar: h.calendar };
    }
    return { read: true, today };
  }

  /** A good calendar read (null: no Polygon key, the configured sessions apply). */
  calendarRead(today: string, calendar: ExchangeCalendar | null): ExchangeCalendar | null {
    this.heldCalendar = { readOn: today, failedAtMs: null, calendar, error: null };
    return calendar;
  }

  /** A failed calendar read: the calendar held before (or none) stays. */
  calendarFailed(message: string, nowMs: number): ExchangeCalendar | null {
    const h = this.heldCalendar;
    this.heldCalendar = { readOn: h?.readOn ?? null, failedAtMs: nowMs, calendar: h?.calendar ?? null, error: message };
    return this.heldCalendar.calendar;
  }

  /**
   * Milliseconds until the next sync with this calendar: the reconcile interval in session, outside it up to
   * CLOSED_RECONCILE_MS or until the open (at least 1 s, never below the interval). Sets the market shown.
   */
  cadenceMs(nowMs: number, calendar: ExchangeCalendar | null): number {
    const regular = this.config.reconcileSeconds * 1000;
    const session = sessionStatus(nowMs, this.config.sessions, calendar);
    let waitMs = regular;
    if (!session.open) {
      const untilOpen = session.nextChangeMs === null ? CLOSED_RECONCILE_MS : session.nextChangeMs - nowMs;
      waitMs = Math.max(regular, Math.min(CLOSED_RECONCILE_MS, Math.max(1000, untilOpen)));
    }
    this.market = {
      open: session.open,
      reason: session.reason ?? null,
      nextChangeAt: session.nextChangeMs === null ? null : iso(session.nextChangeMs),
      reconcileSeconds: Math.round(waitMs / 1000),
      calendarError: this.heldCalendar?.error ?? null,
    };
    return waitMs;
  }

  /** The wait before the next sync: shortened (1 s doubling to 30 s) while a reopened position waits to start. */
  waitMs(cadenceMs: number): number {
    if (this.waitingToStart.size === 0) {
      this.waitForCloseMs = WAIT_FOR_CLOSE_FIRST_MS;
      return cadenceMs;
    }
    const waitMs = Math.min(cadenceMs, this.waitForCloseMs);
    this.waitForCloseMs = Math.min(this.waitForCloseMs * 2, WAIT_FOR_CLOSE_MAX_MS);
    return waitMs;
  }

  // --- stop ----------------------------------------------------------------------------------------------------

  /** Monitors still running, to stop with the watch (`--stop-monitors`). */
  runningMonitors(): WatchedMonitor[] {
    return Object.values(this.monitors).filter((m) => m.status === WatchStatus.Running);
  }

  /** A running monitor was sent stop (`told`: the signal reached it) and is watched no more. */
  monitorStopped(m: WatchedMonitor, told: boolean, nowMs: number): void {
    if (told) this.record(nowMs, m.symbol, 'ended', 'monitor stopped with the watch (--stop-monitors)');
    delete this.monitors[m.symbol];
  }

  stopped(): void {
    this.state = WatchState.Stopped;
  }

  // --- what is shown and carried -------------------------------------------------------------------------------

  /** The running count when it differs from the search attribute as last written (then taken as written); else null. */
  watchedCountChange(): number | null {
    const running = this.runningCount();
    if (running === this.publishedCount) return null;
    this.publishedCount = running;
    return running;
  }

  /** The workflow's current details (markdown): state, monitors, skips, the market when closed, the last error. */
  details(): string {
    const running = this.runningCount();
    const market = this.market;
    return [
      `**${this.brokerAccount}** — ${this.state}, ${running} watched, ${this.skipped.length} skipped, sync ${this.syncs}${this.lastSyncAt ? ` at ${this.lastSyncAt}` : ''}`,
      market && !market.open
        ? `market closed${market.reason ? ` (${market.reason})` : ''}: next open ${market.nextChangeAt ?? 'none scheduled'}, reading positions every ${Math.round(market.reconcileSeconds / 60)} min`
        : '',
      ...Object.values(this.monitors).map(
        (m) =>
          `- ${m.symbol} ×${m.quantity}: ${m.status === WatchStatus.Running ? m.workflowId : `ended (${m.endedReason ?? ''})`}`,
      ),
      ...this.skipped.map((s) => `- ${s.symbol} ${s.quantity}: skipped — ${s.note}`),
      this.lastError ? `last error: ${this.lastError}` : '',
    ]
      .filter(Boolean)
      .join('\n');
  }

  view(): WatchView {
    return {
      broker: this.config.broker,
      account: this.config.account,
      mode: this.config.mode,
      dataMode: this.config.dataMode,
      reconcileSeconds: this.config.reconcileSeconds,
      state: this.state,
      positions: this.positions,
      monitors: this.monitors,
      skipped: this.skipped,
      syncs: this.syncs,
      lastSyncAt: this.lastSyncAt,
      lastError: this.lastError,
      brokerErrors: this.brokerErrors,
      events: this.events,
      runs: this.runs,
      protectModes: this.protectModes,
      closing: this.closing,
      market: this.market,
    };
  }

  snapshot(): WatchSnapshot {
    return {
      monitors: this.monitors,
      positions: this.positions,
      skipped: this.skipped,
      syncs: this.syncs,
      lastSyncAt: this.lastSyncAt,
      lastError: this.lastError,
      brokerErrors: this.brokerErrors,
      events: this.events,
      eventSeq: this.eventSeq,
      notifiedSkips: [...this.notifiedSkips],
      runs: this.runs,
      protectModes: this.protectModes,
      closing: this.closing,
      ...(this.heldCalendar ? { calendar: this.heldCalendar } : {}),
    };
  }

  // --- internals -----------------------------------------------------------------------------------------------

  private runningCount(): number {
    return Object.values(this.monitors).filter((m) => m.status === WatchStatus.Running).length;
  }

  /** The symbol's start is retried at the next sync, which comes sooner (1 s doubling to 30 s) while any waits. */
  private waitForClose(symbol: string, detail: string, nowMs: number): void {
    if (!this.waitingToStart.has(symbol)) this.record(nowMs, symbol, 'waiting', detail);
    this.waitingToStart.add(symbol);
  }

  private record(nowMs: number, symbol: string, action: WatchEvent['action'], detail: string): void {
    const event: WatchEvent = { at: iso(nowMs), symbol, action, detail };
    this.events.push(event);
    if (this.events.length > EVENTS_KEPT) this.events.splice(0, this.events.length - EVENTS_KEPT);
    this.onEvent(event);
  }

  private notice(
    kind: WatchNotice['kind'],
    severity: WatchNotice['severity'],
    symbol: string | null,
    title: string,
    text: string,
    fields: NotificationEvent['fields'] = {},
  ): WatchNotice {
    this.eventSeq += 1;
    const { broker, account } = this.config;
    return { seq: this.eventSeq, kind, severity, symbol, title, text, fields: { broker, account, ...fields } };
  }
}

function monitorEntry(a: StartAction): WatchedMonitor {
  return {
    symbol: a.symbol,
    positionId: a.positionId,
    workflowId: a.workflowId,
    quantity: a.quantity,
    entryPrice: a.entryPrice,
    status: WatchStatus.Running,
  };
}
