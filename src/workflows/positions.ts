import {
  ParentClosePolicy,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
  ActivityFailure,
  ApplicationFailure,
} from '@temporalio/workflow';
import type { createMarketDataActivities } from '../activities/market-data-activities';
import type { createPositionsActivities } from '../activities/positions-activities';
import { NotificationKind, notificationKey, type NotificationEvent } from '../domain/notifications/event';
import { type BrokerName } from '../domain/orders/order-request';
import {
  SkipReason,
  WatchStatus,
  monitorIdentity,
  planReconcile,
  type ListedPosition,
  type ReconcileAction,
  type SkippedPosition,
  type WatchedMonitor,
} from '../domain/positions/reconcile';
import { localDateTime, sessionStatus, type ExchangeCalendar } from '../domain/sessions';
import { SearchAttributes } from '../shared/contracts';
import { positionsChangedSignal } from './notifications';
import { createNotifier, type NotificationLedger } from './notify';
import {
  positionChangedSignal,
  positionMonitorWorkflow,
  stopMonitorSignal,
  type DataMode,
  type MonitorMode,
  type MonitorSettings,
  type MonitorView,
} from './position-monitor';

type PositionsActivities = ReturnType<typeof createPositionsActivities>;
type MarketDataActivities = ReturnType<typeof createMarketDataActivities>;

export interface PositionsWatchInput {
  readonly broker: BrokerName;
  /** Operator-chosen account label, as for the desk (FLOWGUARD_ACCOUNT, default main). */
  readonly account: string;
  /** Mode of the monitors this watch starts. */
  readonly mode: MonitorMode;
  readonly dataMode: DataMode;
  /** Seconds between reads of the broker's positions (positions.reconcileSeconds); fills wake it sooner. */
  readonly reconcileSeconds: number;
  /** Settings handed to every monitor the watch starts (resolved from configuration by the starter). */
  readonly monitorSettings: MonitorSettings;
  /** Continue-as-new after this many syncs even if the server has not suggested it (tests; default 1000). */
  readonly syncsPerRun?: number;
  readonly carried?: CarriedWatch;
}

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

interface CarriedWatch {
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
  readonly notifications: NotificationLedger;
  readonly runs: number;
  /** Absent in runs carried before `order place --protect`. */
  readonly protectModes?: Record<string, MonitorMode>;
  /** Absent in runs carried before the watch waited for closing monitors. */
  readonly closing?: Record<string, ClosingMonitor>;
  /** Absent in runs carried before the watch read the exchange calendar. */
  readonly calendar?: HeldCalendar;
}

/** The exchange calendar as last read (the marketCalendar activity), carried across continue-as-new. */
interface HeldCalendar {
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

export interface PositionsView {
  readonly workflowId: string;
  readonly broker: BrokerName;
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
  readonly notifications: NotificationLedger;
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

export const positionsStateQuery = defineQuery<PositionsView>('state');
export { positionsChangedSignal };
/** Ends the watch. Its monitors keep running unless `stopMonitors`. */
export const stopWatchSignal = defineSignal<[{ readonly stopMonitors?: boolean; readonly reason?: string }]>('stop');

const EVENTS_KEPT = 50;
const DEFAULT_SYNCS_PER_RUN = 1000;
/**
 * A reopened position whose old monitor is still finishing is retried after 1 s, doubling up to 30 s (capped by
 * the reconcile interval). A monitor finishes within a workflow task or two once its poll is back; it can take up
 * to its notification drain (5 min) when a destination is down.
 */
const WAIT_FOR_CLOSE_FIRST_MS = 1000;
const WAIT_FOR_CLOSE_MAX_MS = 30_000;
/** A closing monitor not seen finished after this long is no longer waited for: a reopened position adopts it. */
const CLOSING_FORGET_MS = 60 * 60_000;
/**
 * A position reopened while the monitor of its closing is still finishing used to adopt that monitor (it answered
 * "already started" under the same id), which then finished and left the new position unwatched.
 */
const WAIT_FOR_CLOSE_PATCH = 'positions-wait-for-closing-monitor';
/**
 * Outside every session of the monitors (nights, weekends, exchange holidays from the calendar) the watch reads the
 * broker at most every 15 minutes (or at reconcileSeconds if longer), and once more when the session opens: the
 * monitors it starts meanwhile sleep until the open anyway, and a fill through flowguard still wakes it at once.
 */
const CLOSED_RECONCILE_MS = 15 * 60_000;
/** The watch reads the exchange calendar (the monitors' marketCalendar activity) at most daily. */
const CALENDAR_PATCH = 'positions-exchange-calendar';
/** A failed calendar read is tried again after this long; meanwhile the calendar held (or the sessions) apply. */
const CALENDAR_RETRY_MS = 3_600_000;
const EXCHANGE_TIME_ZONE = 'America/New_York';

/**
 * One long-running watch per broker account: reads the account's open positions every `reconcileSeconds` (and at
 * once when told a fill changed one), starts a monitor for each long position without one, tells a monitor when
 * its quantity changes and ends it when the position closes. Monitor workflow ids come from account + symbol
 * (monitorIdentity), so a restarted or duplicated sync finds the running monitor instead of starting another.
 * Monitors are children abandoned on close: they outlive the watch's runs and, unless asked, the watch itself.
 */
export async function positionsWatchWorkflow(input: PositionsWatchInput): Promise<PositionsView> {
  const c = input.carried;
  const { broker, account } = input;
  const monitors: Record<string, WatchedMonitor> = { ...(c?.monitors ?? {}) };
  let positions: readonly ListedPosition[] = c?.positions ?? [];
  let skipped: readonly SkippedPosition[] = c?.skipped ?? [];
  let syncs = c?.syncs ?? 0;
  let lastSyncAt = c?.lastSyncAt ?? null;
  let lastError = c?.lastError ?? null;
  let brokerErrors = c?.brokerErrors ?? 0;
  const events: WatchEvent[] = [...(c?.events ?? [])];
  let eventSeq = c?.eventSeq ?? 0;
  const notifiedSkips = new Set(c?.notifiedSkips ?? []);
  const runs = (c?.runs ?? 0) + 1;
  let state: WatchState = c ? (lastError ? WatchState.BrokerError : WatchState.Watching) : WatchState.Starting;
  let stop: { stopMonitors: boolean; reason: string } | null = null;
  let wake = false;
  let syncsThisRun = 0;
  const notifier = createNotifier(c?.notifications);
  const brokerAccount = `${broker}:${account}`;
  const protectModes: Record<string, MonitorMode> = { ...(c?.protectModes ?? {}) };
  const closing: Record<string, ClosingMonitor> = { ...(c?.closing ?? {}) };
  /** Symbols whose start waits for the old monitor to finish; the loop syncs again sooner while any is here. */
  const waitingToStart = new Set<string>();
  let waitForCloseMs = WAIT_FOR_CLOSE_FIRST_MS;
  /** The child started last for each symbol by this run: a result from an older run under the same id is ignored. */
  const childSeq = new Map<string, number>();
  let childSeqNext = 0;
  let heldCalendar: HeldCalendar | null = c?.calendar ?? null;
  let market: WatchMarket | null = null;

  const acts = proxyActivities<PositionsActivities>({
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: '10 seconds',
    // A sync that cannot read the broker is retried a little, then waits for the next reconcile: the watch never
    // stops because a broker was down.
    retry: { maximumAttempts: 3, initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds' },
  });
  // As the monitors read it: a few quick attempts, a failure only costs the calendar.
  const calendarActs = proxyActivities<MarketDataActivities>({
    startToCloseTimeout: '30 seconds',
    retry: {
      maximumAttempts: 3,
      initialInterval: '1 second',
      maximumInterval: '5 seconds',
      nonRetryableErrorTypes: ['PolygonUnauthorized', 'ValidationError'],
    },
  });

  const view = (): PositionsView => ({
    workflowId: workflowInfo().workflowId,
    broker,
    account,
    mode: input.mode,
    dataMode: input.dataMode,
    reconcileSeconds: input.reconcileSeconds,
    state,
    positions,
    monitors,
    skipped,
    syncs,
    lastSyncAt,
    lastError,
    brokerErrors,
    events,
    notifications: notifier.ledger,
    runs,
    protectModes,
    closing,
    market,
  });

  setHandler(positionsStateQuery, view);
  setHandler(positionsChangedSignal, ({ symbol, reason, mode }) => {
    wake = true;
    if (symbol && (mode === 'alert' || mode === 'auto-exit')) protectModes[symbol] = mode;
    log.info('positions changed: syncing now', { symbol, reason });
  });
  setHandler(stopWatchSignal, ({ stopMonitors, reason }) => {
    stop ??= { stopMonitors: stopMonitors === true, reason: reason?.trim() || 'stopped by operator' };
  });

  function record(symbol: string, action: WatchEvent['action'], detail: string): void {
    events.push({ at: new Date().toISOString(), symbol, action, detail });
    if (events.length > EVENTS_KEPT) events.splice(0, events.length - EVENTS_KEPT);
    log.info(`positions watch: ${action} ${symbol}`, { brokerAccount, symbol, action, detail });
  }

  function notify(
    kind: NotificationEvent['kind'],
    severity: NotificationEvent['severity'],
    symbol: string | null,
    title: string,
    text: string,
    fields: NotificationEvent['fields'] = {},
  ): void {
    eventSeq += 1;
    notifier.notify({
      key: notificationKey(workflowInfo().workflowId, `${kind}:${symbol ?? '-'}:${eventSeq}`),
      kind,
      severity,
      title,
      text,
      symbol,
      workflowId: workflowInfo().workflowId,
      at: new Date().toISOString(),
      fields: { broker, account, ...fields },
    });
  }

  // The search attribute as last written: an upsert is a history event, so only a change is written (a sync a minute
  // would otherwise add 1,440 events a day). A new run starts from what the last one wrote.
  let publishedCount = c ? Object.values(monitors).filter((m) => m.status === WatchStatus.Running).length : 0;
  function publish(): void {
    const running = Object.values(monitors).filter((m) => m.status === WatchStatus.Running).length;
    if (running !== publishedCount) {
      upsertSearchAttributes([{ key: SearchAttributes.WatchedPositions, value: running }]);
      publishedCount = running;
    }
    setCurrentDetails(
      [
        `**${brokerAccount}** — ${state}, ${running} watched, ${skipped.length} skipped, sync ${syncs}${lastSyncAt ? ` at ${lastSyncAt}` : ''}`,
        market && !market.open
          ? `market closed${market.reason ? ` (${market.reason})` : ''}: next open ${market.nextChangeAt ?? 'none scheduled'}, reading positions every ${Math.round(market.reconcileSeconds / 60)} min`
          : '',
        ...Object.values(monitors).map(
          (m) =>
            `- ${m.symbol} ×${m.quantity}: ${m.status === WatchStatus.Running ? m.workflowId : `ended (${m.endedReason ?? ''})`}`,
        ),
        ...skipped.map((s) => `- ${s.symbol} ${s.quantity}: skipped — ${s.note}`),
        lastError ? `last error: ${lastError}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  }

  /** Watches for the end of a monitor started by this run: one that ends with its position still open is noted. */
  function followChild(symbol: string, workflowId: string, result: Promise<MonitorView>): void {
    const seq = ++childSeqNext;
    childSeq.set(symbol, seq);
    result.then(
      (v) => onMonitorFinished(symbol, workflowId, seq, `${v.state}`),
      (err: unknown) =>
        onMonitorFinished(symbol, workflowId, seq, `failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  function onMonitorFinished(symbol: string, workflowId: string, seq: number, how: string): void {
    // Not the latest run this watch started for the symbol (a closed monitor whose result arrives after its
    // successor started under the same id): nothing to note.
    if (childSeq.get(symbol) !== seq) return;
    if (closing[symbol]?.workflowId === workflowId) {
      delete closing[symbol];
      // The reopened position waiting for it starts now.
      if (waitingToStart.has(symbol)) wake = true;
    }
    const m = monitors[symbol];
    // Ended on purpose by this watch (position closed), or replaced since: nothing to note.
    if (!m || m.workflowId !== workflowId || m.status !== WatchStatus.Running) return;
    monitors[symbol] = { ...m, status: WatchStatus.Ended, endedReason: how };
    record(symbol, 'monitor_finished', `monitor finished (${how}) while the position was open`);
    publish();
  }

  async function startMonitor(a: Extract<ReconcileAction, { kind: 'start' }>): Promise<void> {
    const mode = protectModes[a.symbol] ?? input.mode;
    delete protectModes[a.symbol];
    const args = {
      positionId: a.positionId,
      symbol: a.symbol,
      quantity: a.quantity,
      ...(a.entryPrice ? { entryPrice: a.entryPrice } : {}),
      mode,
      dataMode: input.dataMode,
      settings: input.monitorSettings,
    };
    try {
      const child = await startChild(positionMonitorWorkflow, {
        workflowId: a.workflowId,
        args: [args],
        // Monitors outlive the watch's runs (continue-as-new) and, unless --stop-monitors, the watch.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [
          { key: SearchAttributes.Symbol, value: a.symbol },
          { key: SearchAttributes.PositionId, value: a.positionId },
          { key: SearchAttributes.BrokerAccount, value: brokerAccount },
        ],
        staticSummary: `${mode} monitor: ${a.quantity} ${a.symbol} (${input.dataMode}), started by the ${brokerAccount} positions watch`,
      });
      monitors[a.symbol] = monitorEntry(a);
      delete closing[a.symbol];
      waitingToStart.delete(a.symbol);
      followChild(a.symbol, a.workflowId, child.result());
      record(a.symbol, 'started', `${a.quantity} shares${a.entryPrice ? ` @ ${a.entryPrice}` : ''}: ${a.workflowId}`);
      notify(
        NotificationKind.MonitorStarted,
        'info',
        a.symbol,
        `${a.symbol}: now monitored (${a.quantity} shares)`,
        `The ${brokerAccount} positions watch started a ${mode} monitor for ${a.quantity} ${a.symbol}.`,
        { quantity: a.quantity, entryPrice: a.entryPrice, monitor: a.workflowId },
      );
    } catch (err) {
      if (!(err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError')) throw err;
      // The run under this id is the one told its position closed, still finishing (its poll out, its notifications
      // draining): adopting it would leave the reopened position unwatched once it ends. Wait for it, then start a
      // new run under the same id.
      const old = closing[a.symbol];
      if (
        old?.workflowId === a.workflowId &&
        Date.now() - old.sinceMs < CLOSING_FORGET_MS &&
        patched(WAIT_FOR_CLOSE_PATCH)
      ) {
        waitForClose(a.symbol, `${a.quantity} shares reopened: waiting for ${a.workflowId} to finish closing`);
        return;
      }
      // Already running under the derived id (an earlier run of this watch, a duplicated sync, `monitor start` with
      // the same position id): adopt it and make sure it knows the quantity.
      monitors[a.symbol] = monitorEntry(a);
      record(a.symbol, 'adopted', `monitor ${a.workflowId} was already running: told ${a.quantity} shares`);
      if (!(await tell(a.symbol, a.workflowId, a.quantity)) && patched(WAIT_FOR_CLOSE_PATCH)) {
        // It finished between the start attempt and the signal: start it again at the next sync.
        delete monitors[a.symbol];
        waitForClose(a.symbol, `${a.workflowId} finished as it was adopted: starting it again`);
      }
    }
  }

  /** The symbol's start is retried at the next sync, which comes sooner (1 s doubling to 30 s) while any waits. */
  function waitForClose(symbol: string, detail: string): void {
    if (!waitingToStart.has(symbol)) record(symbol, 'waiting', detail);
    waitingToStart.add(symbol);
  }

  function monitorEntry(a: Extract<ReconcileAction, { kind: 'start' }>): WatchedMonitor {
    return {
      symbol: a.symbol,
      positionId: a.positionId,
      workflowId: a.workflowId,
      quantity: a.quantity,
      entryPrice: a.entryPrice,
      status: WatchStatus.Running,
    };
  }

  /** positionChanged to a running monitor; false when it is not running any more. */
  async function tell(symbol: string, workflowId: string, quantity: number): Promise<boolean> {
    try {
      await getExternalWorkflowHandle(workflowId).signal(positionChangedSignal, { quantity });
      return true;
    } catch (err) {
      log.info('monitor not running: it will be started again', {
        symbol,
        workflowId,
        error: err instanceof Error ? err.message : String(err),
      });
      return false;
    }
  }

  async function apply(a: ReconcileAction): Promise<void> {
    switch (a.kind) {
      case 'start':
        return startMonitor(a);
      case 'resize': {
        const m = monitors[a.symbol]!;
        if (await tell(a.symbol, a.workflowId, a.quantity)) {
          monitors[a.symbol] = { ...m, quantity: a.quantity };
          record(a.symbol, 'resized', `${a.previous} → ${a.quantity} shares`);
          return;
        }
        // Gone without this run seeing it end (stopped before a continue-as-new): start it again.
        delete monitors[a.symbol];
        const position = positions.find((p) => p.symbol === a.symbol);
        return startMonitor({
          kind: 'start',
          symbol: a.symbol,
          positionId: monitorIdentity(broker, account, a.symbol, Date.now()).positionId,
          workflowId: a.workflowId,
          quantity: a.quantity,
          entryPrice: position?.averageEntryPrice ?? m.entryPrice,
        });
      }
      case 'end': {
        delete monitors[a.symbol];
        if (patched(WAIT_FOR_CLOSE_PATCH)) closing[a.symbol] = { workflowId: a.workflowId, sinceMs: Date.now() };
        await tell(a.symbol, a.workflowId, 0);
        record(a.symbol, 'ended', `position closed (was ${a.previous} shares): monitor told to finish`);
        notify(
          NotificationKind.MonitorEnded,
          'info',
          a.symbol,
          `${a.symbol}: position closed, monitor ended`,
          `The ${brokerAccount} account no longer holds ${a.symbol} long (was ${a.previous} shares).`,
          { previousQuantity: a.previous, monitor: a.workflowId },
        );
        return;
      }
      case 'forget':
        delete monitors[a.symbol];
        return;
    }
  }

  async function sync(): Promise<void> {
    syncs += 1;
    syncsThisRun += 1;
    let listed: ListedPosition[];
    try {
      listed = await acts.listBrokerPositions({ broker });
    } catch (err) {
      const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : null;
      const message = cause ? `${cause.type ?? 'Error'}: ${cause.message}` : String(err);
      if (state !== WatchState.BrokerError) {
        notify(
          NotificationKind.WatchError,
          'warning',
          null,
          `${brokerAccount}: cannot read positions`,
          `The positions watch could not read the broker's positions; running monitors go on. ${message}`,
        );
      }
      lastError = message;
      brokerErrors += 1;
      state = WatchState.BrokerError;
      log.warn('positions watch: cannot read positions', { brokerAccount, error: message });
      return;
    }
    positions = listed;
    lastError = null;
    lastSyncAt = new Date().toISOString();
    state = WatchState.Watching;
    const plan = planReconcile({
      broker,
      account,
      positions: listed,
      monitors: Object.values(monitors),
      nowMs: Date.now(),
    });
    // A waiting start whose position went away again waits no more.
    for (const symbol of [...waitingToStart]) {
      if (!plan.actions.some((a) => a.kind === 'start' && a.symbol === symbol)) waitingToStart.delete(symbol);
    }
    for (const [symbol, m] of Object.entries(closing)) {
      if (Date.now() - m.sinceMs >= CLOSING_FORGET_MS) delete closing[symbol];
    }
    for (const action of plan.actions) await apply(action);
    skipped = plan.skipped;
    for (const s of plan.skipped) {
      if (s.reason === SkipReason.MonitorEnded) continue;
      const id = `${s.symbol}:${s.reason}`;
      if (notifiedSkips.has(id)) continue;
      notifiedSkips.add(id);
      record(s.symbol, 'skipped', s.note);
      notify(NotificationKind.PositionSkipped, 'info', s.symbol, `${s.symbol}: not monitored`, s.note, {
        quantity: s.quantity,
        reason: s.reason,
      });
    }
    // A skip that no longer applies may be noted again if it comes back.
    for (const id of [...notifiedSkips]) {
      if (!plan.skipped.some((s) => `${s.symbol}:${s.reason}` === id)) notifiedSkips.delete(id);
    }
  }

  if (!c) {
    upsertSearchAttributes([
      { key: SearchAttributes.BrokerAccount, value: brokerAccount },
      { key: SearchAttributes.WatchedPositions, value: 0 },
    ]);
  }

  const syncsPerRun = input.syncsPerRun ?? DEFAULT_SYNCS_PER_RUN;
  while (stop === null) {
    wake = false;
    await sync();
    publish();
    if (stop !== null) break;
    if (workflowInfo().continueAsNewSuggested || syncsThisRun >= syncsPerRun) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof positionsWatchWorkflow>({ ...input, carried: carry() });
    }
    let waitMs = await nextSyncInMs();
    publish();
    if (waitingToStart.size > 0) {
      waitMs = Math.min(waitMs, waitForCloseMs);
      waitForCloseMs = Math.min(waitForCloseMs * 2, WAIT_FOR_CLOSE_MAX_MS);
    } else {
      waitForCloseMs = WAIT_FOR_CLOSE_FIRST_MS;
    }
    await condition(() => stop !== null || wake, waitMs);
  }

  const finalStop = stop as { stopMonitors: boolean; reason: string };
  if (finalStop.stopMonitors) {
    for (const m of Object.values(monitors)) {
      if (m.status !== WatchStatus.Running) continue;
      try {
        await getExternalWorkflowHandle(m.workflowId).signal(stopMonitorSignal, {
          reason: `positions watch stopped: ${finalStop.reason}`,
        });
        record(m.symbol, 'ended', 'monitor stopped with the watch (--stop-monitors)');
      } catch {
        /* already finished */
      }
      delete monitors[m.symbol];
    }
  }
  state = WatchState.Stopped;
  publish();
  log.info('positions watch stopped', {
    brokerAccount,
    reason: finalStop.reason,
    stopMonitors: finalStop.stopMonitors,
  });
  await notifier.drain();
  await condition(allHandlersFinished);
  return view();

  /**
   * The exchange calendar for this cadence check: read at most once per New York day (workflow time), an hour after
   * a failure; a failed read keeps the calendar held before (or none: the configured sessions).
   */
  async function exchangeCalendar(): Promise<ExchangeCalendar | null> {
    const now = Date.now();
    const today = localDateTime(now, EXCHANGE_TIME_ZONE).date;
    const h = heldCalendar;
    if (h && (h.readOn === today || (h.failedAtMs !== null && now - h.failedAtMs < CALENDAR_RETRY_MS))) {
      return h.calendar;
    }
    try {
      heldCalendar = { readOn: today, failedAtMs: null, calendar: await calendarActs.marketCalendar({}), error: null };
    } catch (err) {
      const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
      const message = cause instanceof Error ? cause.message : String(cause);
      heldCalendar = { readOn: h?.readOn ?? null, failedAtMs: now, calendar: h?.calendar ?? null, error: message };
      log.warn('positions watch: exchange calendar unavailable', { brokerAccount, error: message });
    }
    return heldCalendar.calendar;
  }

  /** Milliseconds until the next sync: the reconcile interval in session, up to 15 min (or the open) outside. */
  async function nextSyncInMs(): Promise<number> {
    const regular = input.reconcileSeconds * 1000;
    if (!patched(CALENDAR_PATCH)) return regular;
    const now = Date.now();
    const session = sessionStatus(now, input.monitorSettings.sessions, await exchangeCalendar());
    let waitMs = regular;
    if (!session.open) {
      const untilOpen = session.nextChangeMs === null ? CLOSED_RECONCILE_MS : session.nextChangeMs - now;
      waitMs = Math.max(regular, Math.min(CLOSED_RECONCILE_MS, Math.max(1000, untilOpen)));
    }
    market = {
      open: session.open,
      reason: session.reason ?? null,
      nextChangeAt: session.nextChangeMs === null ? null : new Date(session.nextChangeMs).toISOString(),
      reconcileSeconds: Math.round(waitMs / 1000),
      calendarError: heldCalendar?.error ?? null,
    };
    return waitMs;
  }

  function carry(): CarriedWatch {
    return {
      monitors,
      positions,
      skipped,
      syncs,
      lastSyncAt,
      lastError,
      brokerErrors,
      events,
      eventSeq,
      notifiedSkips: [...notifiedSkips],
      notifications: notifier.carry(),
      runs,
      protectModes,
      closing,
      ...(heldCalendar ? { calendar: heldCalendar } : {}),
    };
  }
}
