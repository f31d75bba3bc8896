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
import { notificationKey } from '../domain/notifications/event';
import { type BrokerName } from '../domain/orders/order-request';
import { type ListedPosition, type ReconcileAction } from '../domain/positions/reconcile';
import {
  PositionsWatchState,
  type StartAction,
  type WatchNotice,
  type WatchSnapshot,
  type WatchView,
} from '../domain/positions/watch-state';
import { type ExchangeCalendar } from '../domain/sessions';
import { SearchAttributes } from '../shared/contracts';
import { positionsChangedSignal } from './notifications';
import { createNotifier, type NotificationLedger, type Notifier } from './notify';
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

interface CarriedWatch extends WatchSnapshot {
  readonly notifications: NotificationLedger;
}

export interface PositionsView extends WatchView {
  readonly workflowId: string;
  readonly broker: BrokerName;
  readonly notifications: NotificationLedger;
}

export const positionsStateQuery = defineQuery<PositionsView>('state');
export { positionsChangedSignal };
/** Ends the watch. Its monitors keep running unless `stopMonitors`. */
export const stopWatchSignal = defineSignal<[{ readonly stopMonitors?: boolean; readonly reason?: string }]>('stop');

const DEFAULT_SYNCS_PER_RUN = 1000;
/**
 * A position reopened while the monitor of its closing is still finishing used to adopt that monitor (it answered
 * "already started" under the same id), which then finished and left the new position unwatched.
 */
const WAIT_FOR_CLOSE_PATCH = 'positions-wait-for-closing-monitor';
/** The watch reads the exchange calendar (the monitors' marketCalendar activity) at most daily. */
const CALENDAR_PATCH = 'positions-exchange-calendar';

/** One run of the watch: its input, its state and what it calls. The functions below take it. */
interface Run {
  readonly input: PositionsWatchInput;
  readonly watch: PositionsWatchState;
  readonly notifier: Notifier;
  readonly acts: ReturnType<typeof proxyActivities<PositionsActivities>>;
  readonly calendarActs: ReturnType<typeof proxyActivities<MarketDataActivities>>;
}

/**
 * One long-running watch per broker account: reads the account's open positions every `reconcileSeconds` (and at
 * once when told a fill changed one), starts a monitor for each long position without one, tells a monitor when
 * its quantity changes and ends it when the position closes. Monitor workflow ids come from account + symbol
 * (monitorIdentity), so a restarted or duplicated sync finds the running monitor instead of starting another.
 * Monitors are children abandoned on close: they outlive the watch's runs and, unless asked, the watch itself.
 * The rules live in PositionsWatchState (src/domain/positions/watch-state.ts); this shell carries them out.
 */
export async function positionsWatchWorkflow(input: PositionsWatchInput): Promise<PositionsView> {
  const brokerAccount = `${input.broker}:${input.account}`;
  const watch = new PositionsWatchState(
    {
      broker: input.broker,
      account: input.account,
      mode: input.mode,
      dataMode: input.dataMode,
      reconcileSeconds: input.reconcileSeconds,
      sessions: input.monitorSettings.sessions,
    },
    input.carried,
    ({ symbol, action, detail }) =>
      log.info(`positions watch: ${action} ${symbol}`, { brokerAccount, symbol, action, detail }),
  );
  const run: Run = {
    input,
    watch,
    notifier: createNotifier(input.carried?.notifications),
    acts: proxyActivities<PositionsActivities>({
      startToCloseTimeout: '1 minute',
      heartbeatTimeout: '10 seconds',
      // A sync that cannot read the broker is retried a little, then waits for the next reconcile: the watch never
      // stops because a broker was down.
      retry: { maximumAttempts: 3, initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds' },
    }),
    // As the monitors read it: a few quick attempts, a failure only costs the calendar.
    calendarActs: proxyActivities<MarketDataActivities>({
      startToCloseTimeout: '30 seconds',
      retry: {
        maximumAttempts: 3,
        initialInterval: '1 second',
        maximumInterval: '5 seconds',
        nonRetryableErrorTypes: ['PolygonUnauthorized', 'ValidationError'],
      },
    }),
  };

  setHandler(positionsStateQuery, () => view(run));
  setHandler(positionsChangedSignal, ({ symbol, reason, mode }) => {
    watch.positionsChanged(symbol, mode);
    log.info('positions changed: syncing now', { symbol, reason });
  });
  setHandler(stopWatchSignal, ({ stopMonitors, reason }) => watch.requestStop(stopMonitors, reason));

  if (!input.carried) {
    upsertSearchAttributes([
      { key: SearchAttributes.BrokerAccount, value: watch.brokerAccount },
      { key: SearchAttributes.WatchedPositions, value: 0 },
    ]);
  }

  const syncsPerRun = input.syncsPerRun ?? DEFAULT_SYNCS_PER_RUN;
  while (watch.stopRequest === null) {
    watch.beginCycle();
    await sync(run);
    publish(run);
    if (watch.stopRequest !== null) break;
    if (workflowInfo().continueAsNewSuggested || watch.runIsFull(syncsPerRun)) {
      await condition(allHandlersFinished);
      const next: CarriedWatch = { ...watch.snapshot(), notifications: run.notifier.carry() };
      await continueAsNew<typeof positionsWatchWorkflow>({ ...input, carried: next });
    }
    const cadenceMs = await nextSyncInMs(run);
    publish(run);
    await condition(() => watch.stopRequest !== null || watch.woken, watch.waitMs(cadenceMs));
  }

  const stop = watch.stopRequest;
  if (stop.stopMonitors) await stopMonitors(run, `positions watch stopped: ${stop.reason}`);
  watch.stopped();
  publish(run);
  log.info('positions watch stopped', {
    brokerAccount: watch.brokerAccount,
    reason: stop.reason,
    stopMonitors: stop.stopMonitors,
  });
  await run.notifier.drain();
  await condition(allHandlersFinished);
  return view(run);
}

/** `--stop-monitors`: each running monitor is sent stop, one after the other; one already finished is let be. */
async function stopMonitors(run: Run, reason: string): Promise<void> {
  for (const m of run.watch.runningMonitors()) {
    let told = true;
    try {
      await getExternalWorkflowHandle(m.workflowId).signal(stopMonitorSignal, { reason });
    } catch {
      told = false; // already finished
    }
    run.watch.monitorStopped(m, told, Date.now());
  }
}

function view(run: Run): PositionsView {
  return {
    ...run.watch.view(),
    workflowId: workflowInfo().workflowId,
    broker: run.input.broker,
    notifications: run.notifier.ledger,
  };
}

/** Sends the state's notices, in order (each schedules its activity at once; nothing waits for delivery). */
function send(run: Run, notices: readonly WatchNotice[]): void {
  const { workflowId } = workflowInfo();
  for (const n of notices) {
    run.notifier.notify({
      key: notificationKey(workflowId, `${n.kind}:${n.symbol ?? '-'}:${n.seq}`),
      kind: n.kind,
      severity: n.severity,
      title: n.title,
      text: n.text,
      symbol: n.symbol,
      workflowId,
      at: new Date().toISOString(),
      fields: n.fields,
    });
  }
}

/**
 * The WatchedPositions search attribute when the running count changed (an upsert is a history event: a sync a
 * minute would otherwise add 1,440 events a day), and the current details.
 */
function publish(run: Run): void {
  const running = run.watch.watchedCountChange();
  if (running !== null) upsertSearchAttributes([{ key: SearchAttributes.WatchedPositions, value: running }]);
  setCurrentDetails(run.watch.details());
}

/** One read of the broker and the plan it gives, carried out in order. */
async function sync(run: Run): Promise<void> {
  const { watch } = run;
  watch.beginSync();
  let listed: ListedPosition[];
  try {
    listed = await run.acts.listBrokerPositions({ broker: run.input.broker });
  } catch (err) {
    const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : null;
    const message = cause ? `${cause.type ?? 'Error'}: ${cause.message}` : String(err);
    send(run, watch.brokerFailed(message));
    log.warn('positions watch: cannot read positions', { brokerAccount: watch.brokerAccount, error: message });
    return;
  }
  const plan = watch.brokerRead(listed, Date.now());
  for (const action of plan.actions) await apply(run, action);
  send(run, watch.settleSkips(plan.skipped, Date.now()));
}

async function apply(run: Run, a: ReconcileAction): Promise<void> {
  const { watch } = run;
  switch (a.kind) {
    case 'start':
      return startMonitor(run, a);
    case 'resize': {
      const before = watch.monitorOf(a.symbol)!;
      if (await tell(a.symbol, a.workflowId, a.quantity)) return watch.resized(a, before, Date.now());
      // Gone without this run seeing it end (stopped before a continue-as-new): start it again.
      return startMonitor(run, watch.resizeFailed(a, before, Date.now()));
    }
    case 'end':
      watch.ending(a, patched(WAIT_FOR_CLOSE_PATCH), Date.now());
      await tell(a.symbol, a.workflowId, 0);
      return send(run, [watch.ended(a, Date.now())]);
    case 'forget':
      return watch.forget(a.symbol);
  }
}

async function startMonitor(run: Run, a: StartAction): Promise<void> {
  const { input, watch } = run;
  const mode = watch.takeMode(a.symbol);
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
        { key: SearchAttributes.BrokerAccount, value: watch.brokerAccount },
      ],
      staticSummary: `${mode} monitor: ${a.quantity} ${a.symbol} (${input.dataMode}), started by the ${watch.brokerAccount} positions watch`,
    });
    const { seq, notice } = watch.monitorStarted(a, mode, Date.now());
    followChild(run, a, seq, child.result());
    send(run, [notice]);
  } catch (err) {
    if (!(err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError')) throw err;
    // The run under this id is the one told its position closed, still finishing: wait for it, then start a new run
    // under the same id.
    if (watch.isClosing(a, Date.now()) && patched(WAIT_FOR_CLOSE_PATCH))
      return watch.waitForCloseToFinish(a, Date.now());
    // Already running under the derived id: adopt it and make sure it knows the quantity.
    watch.adopted(a, Date.now());
    if (!(await tell(a.symbol, a.workflowId, a.quantity)) && patched(WAIT_FOR_CLOSE_PATCH)) {
      watch.adoptedFinished(a, Date.now());
    }
  }
}

/** Watches for the end of a monitor started by this run: one that ends with its position still open is noted. */
function followChild(run: Run, a: StartAction, seq: number, result: Promise<MonitorView>): void {
  const finished = (how: string) => {
    if (run.watch.monitorFinished(a.symbol, a.workflowId, seq, how, Date.now())) publish(run);
  };
  result.then(
    (v) => finished(`${v.state}`),
    (err: unknown) => finished(`failed: ${err instanceof Error ? err.message : String(err)}`),
  );
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

/** Milliseconds until the next sync: the reconcile interval in session, up to 15 min (or the open) outside. */
async function nextSyncInMs(run: Run): Promise<number> {
  if (!patched(CALENDAR_PATCH)) return run.input.reconcileSeconds * 1000;
  const now = Date.now();
  return run.watch.cadenceMs(now, await exchangeCalendar(run, now));
}

/**
 * The exchange calendar for this cadence check: read at most once per New York day (workflow time), an hour after
 * a failure; a failed read keeps the calendar held before (or none: the configured sessions).
 */
async function exchangeCalendar(run: Run, now: number): Promise<ExchangeCalendar | null> {
  const { watch } = run;
  const due = watch.calendarDue(now);
  if (!due.read) return due.calendar;
  try {
    return watch.calendarRead(due.today, await run.calendarActs.marketCalendar({}));
  } catch (err) {
    const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
    const message = cause instanceof Error ? cause.message : String(cause);
    log.warn('positions watch: exchange calendar unavailable', { brokerAccount: watch.brokerAccount, error: message });
    return watch.calendarFailed(message, now);
  }
}
