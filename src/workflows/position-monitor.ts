import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createMarketDataActivities } from '../activities/market-data-activities';
import type { MarketUpdate } from '../activities/market-stream-activity';
import type { createOrderActivities, PrepareOrderInput } from '../activities/order-activities';
import type { PreparedOrderToPlace } from '../domain/orders/order-request';
import { PROTECTIVE_STRATEGY, withProtectiveStrategy } from '../domain/orders/protective';
import { type FlowAlert } from '../domain/detectors/alerts';
import { type DetectorConfig, type DetectorConfigInput } from '../domain/detectors/config';
import { type VolumeProfile } from '../domain/detectors/volume-profile';
import { MonitorEvent, MonitorState } from '../domain/monitor/monitor-machine';
import {
  DataMode,
  MonitorMode,
  MonitorModel,
  msToNs,
  type MonitorSettings,
  type MonitorSnapshot,
  type MonitorView,
} from '../domain/monitor/monitor-model';
import { localDateTime, sessionStatus, type ExchangeCalendar, type SessionStatus } from '../domain/sessions';
import { ValidationError, parseOrThrow } from '../domain/validation';
import { MARKET_UPDATE_SIGNAL, SearchAttributes, WorkflowIds } from '../shared/contracts';
import { placeOrderSignal, type PlaceOrderRequest } from './desk';
import { detectorConfig } from './lazy-domain';
import { ContinueAsNewGate } from './continue-as-new-gate';
import { orderTerminalSignal } from './notifications';
import { createNotifier, type NotificationLedger, type Notifier } from './notify';
import {
  alertNotification,
  exitSignalNotification,
  protectiveExitNotification,
} from '../domain/notifications/builders';
import { type NotificationEvent } from '../domain/notifications/event';

export { DataMode, MonitorMode, MonitorState };
export type {
  DataHealth,
  ExitOrderView,
  HealthAlert,
  MonitorSettings,
  MonitorView,
  SessionWait,
} from '../domain/monitor/monitor-model';

type MarketDataActivities = ReturnType<typeof createMarketDataActivities>;
type OrderActivities = ReturnType<typeof createOrderActivities>;

export interface PositionMonitorInput {
  readonly positionId: string;
  readonly symbol: string;
  readonly quantity: number;
  readonly entryPrice?: string;
  readonly mode: MonitorMode;
  readonly dataMode: DataMode;
  readonly settings: MonitorSettings;
  /**
   * Replays a recorded session: read market data from this SIP time on and alert from the first record,
   * instead of backfilling the baseline quietly up to now. Use with staleCheck off.
   */
  readonly startAtNs?: string;
  /** Carried across continue-as-new: the MonitorModel's one snapshot. */
  readonly carried?: MonitorSnapshot;
  /** Carried across continue-as-new: notifications sent so far and those still in flight. */
  readonly notifications?: NotificationLedger;
  /**
   * Continue-as-new once the history reaches this many events, besides when the server suggests it. Absent in
   * production; tests set it low to carry every state across a new run.
   */
  readonly continueAsNewAfterEvents?: number;
  /**
   * Carried across continue-as-new: the intraday volume curve fetched at monitor start (null: none to be had).
   * Absent: not fetched yet (a new monitor, or one whose fetch failed: tried again after continue-as-new).
   */
  readonly volumeProfile?: VolumeProfile | null;
}

export const monitorStateQuery = defineQuery<MonitorView>('state');
export const stopMonitorSignal = defineSignal<[{ readonly reason?: string }]>('stop');
export const positionChangedSignal = defineSignal<[{ readonly quantity: number }]>('positionChanged');
/** Validated detector overrides; answers with the configuration now in force. */
export const updateConfigUpdate = defineUpdate<DetectorConfig, [DetectorConfigInput]>('updateConfig');
/** Alerts and market state pushed by the stream activity (stream mode). */
export const marketUpdateSignal = defineSignal<[MarketUpdate]>(MARKET_UPDATE_SIGNAL);
/** Try the data source again at once (after fixing a key, say) instead of waiting out the back-off. */
export const resumeSignal = defineSignal('resume');

/**
 * Stream mode pushes alerts and the exit signal at once; the rest of the market picture (last trade and quote,
 * counts) at most this often. Each push is a workflow task, and a worker runs hundreds of monitors.
 */
const STREAM_STATE_PUSH_MS = 10_000;
/**
 * A poll is lost with its worker: the heartbeat timeout, not the start-to-close timeout, bounds how long that
 * holds the monitor (plus the 1 s retry back-off). The activity heartbeats every second while it runs.
 */
const POLL_HEARTBEAT_TIMEOUT = '5 seconds';
/**
 * A live worker's poll is bounded by its requests (≤ 10 pages, 10 s timeout each) and normally takes well
 * under a second; this only stops one that hangs some other way.
 */
const POLL_START_TO_CLOSE = '1 minute';
const NO_IDLE_WAKE_PATCH = 'stream-monitor-no-idle-wake';
/** Stream activities are tagged with a generation; checkpoints from an older one are dropped. */
const STREAM_GENERATION_PATCH = 'stream-checkpoint-generation';
/** A truncated poll whose cursor did not move waits the interval instead of polling again at once. */
const CURSOR_MUST_ADVANCE_PATCH = 'monitor-cursor-must-advance';
const FAST_STOP_PATCH = 'stream-monitor-fast-stop';
/** Alerts, the exit signal and the protective exit's outcome are sent to the notification destinations. */
const NOTIFY_PATCH = 'monitor-notifications';
/** Alerts are deduplicated by identity (a stream activity resumed on another worker raises its last ones again). */
const ALERT_IDENTITY_PATCH = 'monitor-alert-identity';
/** A stop (or a closed position) handled before continue-as-new ends the run: the next run would not know of it. */
const STOP_BEFORE_CONTINUE_PATCH = 'monitor-stop-before-continue-as-new';
/** Holidays and early closes from Polygon (the marketCalendar activity, read at most daily). */
const CALENDAR_PATCH = 'monitor-exchange-calendar';
/** A failed calendar read is tried again after this long; meanwhile the configured sessions apply. */
const CALENDAR_RETRY_MS = 3_600_000;
/**
 * The intraday volume curve of red_burst's baseline is fetched once: in poll mode right after the first poll
 * (the backfill, which raises no alerts), in stream mode before the stream activity starts.
 */
const VOLUME_PROFILE_PATCH = 'monitor-volume-profile';
/**
 * The protective exit is priced once, by an activity of the monitor (its result is in this history), and the desk
 * is sent the prepared order. Before, the desk priced the raw request in its signal handler, which runs again on
 * every replay: a desk replayed after a pricing change repriced it, and its book could disagree with its order.
 */
const EXIT_PREPARED_PATCH = 'monitor-exit-prepared';
/** The stream loop's continue-as-new from recorded work only, never in a rejected update's task. */
const CONTINUE_AS_NEW_GATE_PATCH = 'monitor-continue-as-new-gate';
/**
 * Continue-as-new at the end of any turn of the loop, not only after a good poll or a stream session: a monitor that
 * only waits (a failing or unauthorized data source, retried every minute or quarter hour; sessions that never open)
 * grew its history without bound, about 10 events a turn, and the server ends a run at 51,200 events. A good poll's
 * run now continues after its wait, so the next run keeps the cadence instead of polling at once.
 */
const CONTINUE_WHILE_WAITING_PATCH = 'monitor-continue-as-new-while-waiting';
const RETRY = { maximumAttempts: 5, initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' };

/**
 * One durable monitor per position: polls Polygon through an activity that runs the detectors and returns
 * only compact results (or listens to a stream activity that pushes them), keeps a bounded alert list, raises
 * the exit signal and — in auto-exit mode — places exactly one protective limit SELL through the desk (its
 * client order id is derived from the position id, so a replayed or retried decision can never place a second
 * one). The state and its rules are a MonitorModel (src/domain/monitor); this is the shell around it.
 */
export async function positionMonitorWorkflow(input: PositionMonitorInput): Promise<MonitorView> {
  return new PositionMonitor(input).run();
}

class PositionMonitor {
  private readonly model: MonitorModel;
  private readonly acts = proxyActivities<MarketDataActivities>({ startToCloseTimeout: '2 minutes', retry: RETRY });
  // Same schedule commands as before (timeouts are not part of the command sequence replay checks).
  private readonly pollActs = proxyActivities<MarketDataActivities>({
    startToCloseTimeout: POLL_START_TO_CLOSE,
    heartbeatTimeout: POLL_HEARTBEAT_TIMEOUT,
    retry: RETRY,
  });
  private readonly streamActs = proxyActivities<MarketDataActivities>({
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: '30 seconds',
    // The activity's last signal carries its checkpoint: wait for it before continuing-as-new.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: ['PolygonUnauthorized', 'ValidationError'],
    },
  });
  // A few quick attempts: the monitor waits for it at a session check, and a failure only costs the calendar.
  private readonly calendarActs = proxyActivities<MarketDataActivities>({
    startToCloseTimeout: '30 seconds',
    retry: {
      maximumAttempts: 3,
      initialInterval: '1 second',
      maximumInterval: '5 seconds',
      nonRetryableErrorTypes: ['PolygonUnauthorized', 'ValidationError'],
    },
  });
  /** Set by `resume` and by a config change: ends a back-off or a wait at once. */
  private wake = false;
  /** A stream push raised the exit signal; the loop places the exit (handlers do not call activities). */
  private exitPending = false;
  private readonly notifier: Notifier;
  // A few quick attempts: the curve only refines red_burst, and the monitor must not wait long for it.
  private readonly profileActs = proxyActivities<MarketDataActivities>({
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 3, initialInterval: '1 second', backoffCoefficient: 2 },
  });
  private readonly orderActs = proxyActivities<OrderActivities>({ startToCloseTimeout: '30 seconds', retry: RETRY });
  private volumeProfile: VolumeProfile | null | undefined;
  /** Continue-as-new as seen from recorded work: what the stream loop's condition reads (continue-as-new-gate.ts). */
  private readonly continueAsNewGate: ContinueAsNewGate;

  constructor(private readonly input: PositionMonitorInput) {
    this.continueAsNewGate = new ContinueAsNewGate(input.continueAsNewAfterEvents);
    this.volumeProfile = input.volumeProfile;
    const snapshot = input.carried ?? MonitorModel.initial(input, input.settings, Date.now());
    this.model = new MonitorModel(input, snapshot);
    this.notifier = createNotifier(input.notifications);
  }

  /** Tells a person (fire-and-forget: never waited for, never fails the monitor); older histories replay unchanged. */
  private tell(event: (workflowId: string, at: string) => NotificationEvent): void {
    if (patched(NOTIFY_PATCH)) this.notifier.notify(event(workflowInfo().workflowId, new Date().toISOString()));
  }

  private get stopped(): boolean {
    return this.model.stopReason !== null;
  }

  async run(): Promise<MonitorView> {
    const { model, input } = this;
    this.registerHandlers();
    if (!input.carried) {
      upsertSearchAttributes([
        { key: SearchAttributes.Symbol, value: input.symbol },
        { key: SearchAttributes.PositionId, value: input.positionId },
        { key: SearchAttributes.MonitorState, value: model.state },
        { key: SearchAttributes.AlertCount, value: 0 },
        { key: SearchAttributes.ExitSignal, value: false },
      ]);
    }
    while (!this.stopped) {
      const session = sessionStatus(Date.now(), model.settings.sessions, await this.exchangeCalendar());
      if (!session.open) await this.waitOutsideSession(session);
      else if (input.dataMode === DataMode.Stream) await this.streamSession(session);
      else await this.pollOnce();
      // Resumed after a timer or an activity: recorded work, where the gate may look at the history length.
      if (this.continueAsNewGate.observe() && !this.stopped && patched(CONTINUE_WHILE_WAITING_PATCH)) {
        await this.continueAsNewNow();
      }
    }
    if (model.state !== MonitorState.Exited) {
      this.fire(model.snapshot.quantity === 0 ? MonitorEvent.PositionClosed : MonitorEvent.Stopped);
    }
    log.info('monitor finished', { positionId: input.positionId, symbol: input.symbol, reason: model.stopReason });
    await this.notifier.drain();
    await condition(allHandlersFinished);
    return this.view();
  }

  /**
   * Not fetched yet and still watching: a stop handled while the poll (or the calendar read) was out must not start a
   * fetch the stopped monitor would only wait on. The stop is checked before patched() so a stopped run records no
   * marker it does not act on.
   */
  private wantsVolumeProfile(): boolean {
    return this.volumeProfile === undefined && !this.stopped && patched(VOLUME_PROFILE_PATCH);
  }

  /**
   * The curve of the previous volumeProfileDays sessions (a setting of the configuration the monitor was started
   * with; absent in older ones: none). A failure leaves it unfetched, to be tried again after continue-as-new.
   */
  private async fetchVolumeProfile(): Promise<void> {
    const days = this.model.settings.detectors.volumeProfileDays ?? 0;
    if (days === 0) {
      this.volumeProfile = null;
      return;
    }
    try {
      this.volumeProfile = await this.profileActs.fetchVolumeProfile({ symbol: this.input.symbol, days });
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('volume profile unavailable: red_burst uses its plain baseline', {
        positionId: this.input.positionId,
        symbol: this.input.symbol,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  private view(): MonitorView {
    return this.model.view(workflowInfo().workflowId);
  }

  private registerHandlers(): void {
    const { model } = this;
    // Every handler that runs (not a query, not a validator) is recorded work: the continue-as-new gate looks at
    // the history length there.
    const seen = () => this.continueAsNewGate.observe();
    setHandler(monitorStateQuery, () => this.view());
    setHandler(stopMonitorSignal, ({ reason }) => {
      seen();
      model.requestStop(reason);
    });
    setHandler(resumeSignal, () => {
      seen();
      this.wake = true;
    });
    setHandler(positionChangedSignal, ({ quantity }) => {
      seen();
      model.positionChanged(quantity);
      this.flushNotes();
    });
    setHandler(
      updateConfigUpdate,
      (overrides) => {
        seen();
        const next = this.parseConfig(overrides);
        model.reconfigure(next, Date.now());
        this.wake = true;
        return next;
      },
      { validator: (overrides: DetectorConfigInput) => void this.parseConfig(overrides) },
    );
    setHandler(orderTerminalSignal, (notice) => {
      seen();
      const event = model.exitOrderEnded(notice);
      if (event) this.fire(event);
      const order = model.snapshot.exitOrder;
      if (event && order) this.tell((id, at) => protectiveExitNotification(id, this.input.symbol, order, at));
    });
    setHandler(marketUpdateSignal, (u) => {
      seen();
      const dedupe = u.alerts.length > 0 && patched(ALERT_IDENTITY_PATCH);
      const { recorded, last, exitRaised } = model.applyStreamPush(u, new Date().toISOString(), dedupe);
      for (const a of dedupe ? recorded : u.alerts) this.tell((id, at) => alertNotification(id, a, at));
      this.publishAlerts(last);
      if (exitRaised) this.exitPending = true;
    });
  }

  private parseConfig(overrides: DetectorConfigInput): DetectorConfig {
    try {
      return parseOrThrow(
        detectorConfig().DetectorConfigSchema,
        { ...this.model.settings.detectors, ...overrides },
        'config',
      );
    } catch (err) {
      if (err instanceof ValidationError) {
        throw ApplicationFailure.create({ message: err.message, type: 'ValidationError', nonRetryable: true });
      }
      throw err;
    }
  }

  /** Moves the state through the table; a change is published as the MonitorState search attribute. */
  private fire(event: MonitorEvent): void {
    const next = this.model.fire(event);
    if (next !== null) upsertSearchAttributes([{ key: SearchAttributes.MonitorState, value: next }]);
    this.flushNotes();
  }

  private publishAlerts(last: FlowAlert | null): void {
    this.flushNotes();
    if (!last) return;
    upsertSearchAttributes([
      { key: SearchAttributes.AlertCount, value: this.model.snapshot.alertTotal },
      { key: SearchAttributes.LastAlertSeverity, value: last.severity },
    ]);
  }

  private flushNotes(): void {
    const where = { positionId: this.input.positionId, symbol: this.input.symbol };
    for (const n of this.model.notes.splice(0)) log[n.level](n.message, { ...where, ...n.fields });
  }

  /** Waits `ms` (ends early on stop, resume or a config change); `summary` names the timer in the UI. */
  private async pause(ms: number, summary?: string): Promise<void> {
    this.wake = false;
    const until = () => this.stopped || this.wake;
    await (summary === undefined ? condition(until, ms) : condition(until, ms, { summary }));
  }

  /** Outside every trading session: says which and until when (status, UI, the timer's name), then sleeps. */
  private async waitOutsideSession(session: SessionStatus): Promise<void> {
    const until = session.nextChangeMs ?? Date.now() + 3_600_000;
    const names = this.model.settings.sessions.map((s) => s.name);
    const nextOpenAt = session.nextChangeMs === null ? null : new Date(session.nextChangeMs).toISOString();
    const reason = session.reason;
    const next = this.model.waitForSession({ sessions: names, nextOpenAt, ...(reason ? { reason } : {}) });
    if (next !== null) upsertSearchAttributes([{ key: SearchAttributes.MonitorState, value: next }]);
    const why = reason ? `${reason}, ` : '';
    const what = `${why}outside session (${names.join(', ')}): next open ${nextOpenAt ?? 'none scheduled within a week'}`;
    setCurrentDetails(`${this.input.symbol}: ${what}`);
    await this.pause(Math.max(1000, until - Date.now()), `wait ${what}`);
    setCurrentDetails('');
  }

  /**
   * The exchange calendar for this session check: read through the activity at most once per New York day
   * (workflow time), an hour after a failure; held in the snapshot across continue-as-new. A failed read never
   * stops the monitor: the calendar held before (or none: the configured sessions) applies, noted in data health.
   * Runs started before the calendar replay without it.
   */
  private async exchangeCalendar(): Promise<ExchangeCalendar | null> {
    if (!patched(CALENDAR_PATCH)) return null;
    const held = this.model.snapshot.calendar;
    const now = Date.now();
    const today = localDateTime(now, 'America/New_York').date;
    const fresh = held?.readOn === today;
    const failedRecently = held?.failedAtMs != null && now - held.failedAtMs < CALENDAR_RETRY_MS;
    if (held && (fresh || failedRecently)) return held.calendar;
    try {
      this.model.calendarRead(await this.calendarActs.marketCalendar({}), today);
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
      this.model.calendarFailed(cause instanceof Error ? cause.message : String(cause), now);
      this.flushNotes();
    }
    return this.model.snapshot.calendar?.calendar ?? null;
  }

  /** Stream mode, one session: the stream activity until it ends, then continue-as-new when suggested. */
  private async streamSession(session: SessionStatus): Promise<void> {
    if (this.wantsVolumeProfile()) await this.fetchVolumeProfile();
    await this.streamUntilInterrupted(session.nextChangeMs);
    if (this.continueAsNewGate.observe() && !this.stopped) await this.continueAsNewNow();
  }

  private async continueAsNewNow(): Promise<void> {
    await condition(allHandlersFinished);
    // The stop reason is not part of the carried snapshot: a poll-mode monitor stopped while its poll was out used
    // to continue as new and keep watching.
    if (this.stopped && patched(STOP_BEFORE_CONTINUE_PATCH)) return;
    await continueAsNew<typeof positionMonitorWorkflow>({
      ...this.input,
      carried: this.model.snapshot,
      notifications: this.notifier.carry(),
      ...(this.volumeProfile !== undefined ? { volumeProfile: this.volumeProfile } : {}),
    });
  }

  /** Poll mode: one poll, its result applied, then the wait for the next one. */
  private async pollOnce(): Promise<void> {
    const { model, input } = this;
    const s = model.snapshot;
    const pollStartedAt = Date.now();
    // Before the poll: a config change handled meanwhile resets the cursors, and the stall check compares with these.
    const cursorsBefore = s.cursors;
    let result;
    try {
      if (s.state === MonitorState.Starting || s.cursors === null) this.fire(MonitorEvent.BackfillStarted);
      result = await this.pollActs.pollMarketData({
        positionId: input.positionId,
        symbol: input.symbol,
        config: s.settings.detectors,
        detectorState: s.detectorState,
        cursors: s.cursors,
        backfillFromNs: s.backfillFromNs,
        liveFromNs: s.liveFromNs,
        staleCheck: s.settings.staleCheck,
        caughtUpAtNs: s.caughtUpAtNs ?? null,
        ...(this.volumeProfile ? { volumeProfile: this.volumeProfile } : {}),
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      await this.pause(this.dataFailed(err));
      return;
    }
    const stuck = model.recordPoll(result, cursorsBefore, pollStartedAt, new Date().toISOString());
    if (this.wantsVolumeProfile()) await this.fetchVolumeProfile();
    // A source that does not advance goes live with the baseline it has and polls at its cadence.
    const holdCadence = stuck && patched(CURSOR_MUST_ADVANCE_PATCH);
    if (holdCadence) model.goLiveWithBaseline();
    const dedupe = result.alerts.length > 0 && patched(ALERT_IDENTITY_PATCH);
    const { recorded, last } = model.acceptAlerts(result.alerts, dedupe);
    this.publishAlerts(last);
    for (const a of dedupe ? recorded : result.alerts) this.tell((id, at) => alertNotification(id, a, at));
    this.fire(model.live ? MonitorEvent.PollLive : MonitorEvent.PollBackfilling);
    if (model.raiseExit(result.exitSignal)) await this.onExitSignal();
    // Runs before the loop's own check continued as new here, before the wait: the next run polled at once.
    if (!patched(CONTINUE_WHILE_WAITING_PATCH) && this.continueAsNewGate.observe()) await this.continueAsNewNow();
    // A truncated poll that did not move the cursor would be asked again at once, forever: wait the interval.
    if (!holdCadence && (result.truncated || this.stopped)) return;
    // A fixed cadence: the interval runs from the start of the poll, so the time a poll takes does not add to it.
    // The floor keeps an overloaded worker from polling back to back.
    const intervalMs = s.settings.pollIntervalSeconds * 1000;
    await this.pause(Math.max(intervalMs / 5, intervalMs - (Date.now() - pollStartedAt)));
  }

  /** Records an activity failure shared by both data modes; returns how long to back off. */
  private dataFailed(err: unknown): number {
    const failure = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : null;
    const { event, backoffMs } = this.model.dataFailed(
      failure ? { type: failure.type ?? null, message: failure.message } : null,
      String(err),
      new Date().toISOString(),
    );
    this.fire(event);
    return backoffMs;
  }

  private async onExitSignal(): Promise<void> {
    this.exitPending = false;
    const signal = this.model.snapshot.exitSignal;
    if (!signal) return;
    upsertSearchAttributes([{ key: SearchAttributes.ExitSignal, value: true }]);
    log.warn('exit signal', {
      positionId: this.input.positionId,
      symbol: this.input.symbol,
      reason: signal.reason,
      rule: signal.rule,
    });
    const autoExit = this.input.mode === MonitorMode.AutoExit;
    this.tell((id, at) => exitSignalNotification(id, this.input.symbol, signal, autoExit, at));
    await this.placeProtectiveExit();
    const order = this.model.snapshot.exitOrder;
    // Refused before it reached the desk (no price, no desk): said now; a placed one is told when it ends.
    if (order?.state === 'failed') this.tell((id, at) => protectiveExitNotification(id, this.input.symbol, order, at));
  }

  private async placeProtectiveExit(): Promise<void> {
    const { model, input } = this;
    if (!model.wantsExit()) return;
    if (!model.referencePrice()) model.takePrices(await this.acts.latestPrices({ symbol: input.symbol }));
    const reference = model.referencePrice();
    const order = model.openExit(reference, WorkflowIds.order);
    if (!reference) return this.fire(MonitorEvent.ExitFailed);
    this.fire(MonitorEvent.ExitPlaced);
    const { broker, account, pricing } = model.settings.exit;
    const request = {
      symbol: input.symbol,
      side: 'sell',
      quantity: order.quantity,
      referencePrice: reference,
      broker,
      clientOrderId: order.clientOrderId,
    } as const;
    let placement: PlaceOrderRequest;
    if (patched(EXIT_PREPARED_PATCH)) {
      // Priced by the protective strategy (marketable at the bid unless configured otherwise), also for monitors
      // whose carried settings predate it: an activity's input may change, its result is what replays.
      const priced = await this.priceExit(
        { ...request, strategy: PROTECTIVE_STRATEGY },
        withProtectiveStrategy(pricing),
      );
      if (!priced) return this.fire(MonitorEvent.ExitFailed);
      placement = { prepared: priced, requesterWorkflowId: workflowInfo().workflowId };
    } else {
      placement = { request, pricing, requesterWorkflowId: workflowInfo().workflowId };
    }
    try {
      await getExternalWorkflowHandle(WorkflowIds.desk(broker, account)).signal(placeOrderSignal, placement);
    } catch (err) {
      model.exitFailed(
        `the ${broker} desk (${account}) is not running: ${err instanceof Error ? err.message : String(err)}`,
      );
      this.fire(MonitorEvent.ExitFailed);
    }
  }

  /** The protective sell priced once (see EXIT_PREPARED_PATCH); null, with the exit failed and why, when it cannot be. */
  private async priceExit(
    request: PrepareOrderInput['request'],
    pricing: PrepareOrderInput['pricing'],
  ): Promise<PreparedOrderToPlace | null> {
    let reason: string;
    try {
      const priced = await this.orderActs.prepareOrder({ request, pricing });
      if (priced.ok) return priced.prepared;
      reason = priced.error;
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
    }
    this.model.exitFailed(`the protective sell could not be priced: ${reason}`);
    return null;
  }

  /** Stream mode: one long-running activity per session; returns when it should be restarted or stopped. */
  private async streamUntilInterrupted(sessionEndsMs: number | null): Promise<void> {
    const { model, input } = this;
    const s = model.snapshot;
    const scope = new CancellationScope();
    const configAtStart = s.settings;
    const generation = patched(STREAM_GENERATION_PATCH) ? model.nextStreamGeneration() : undefined;
    const running = scope.run(() =>
      this.streamActs.streamMarketData({
        positionId: input.positionId,
        symbol: input.symbol,
        config: s.settings.detectors,
        backfillFromNs: s.backfillFromNs,
        staleCheck: s.settings.staleCheck,
        workflowId: workflowInfo().workflowId,
        checkpoint: { detectorState: s.detectorState, cursors: s.cursors, liveFromNs: s.liveFromNs },
        updateIntervalMs: STREAM_STATE_PUSH_MS,
        ...(generation === undefined ? {} : { generation }),
        ...(this.volumeProfile ? { volumeProfile: this.volumeProfile } : {}),
      }),
    );
    let failed: unknown = null;
    let done = false;
    running.then(
      () => (done = true),
      (err: unknown) => {
        done = true;
        failed = err;
      },
    );
    this.fire(model.live ? MonitorEvent.StreamLive : MonitorEvent.StreamBackfilling);
    const deadline = sessionEndsMs ?? Number.POSITIVE_INFINITY;
    const caughtUp = () => model.live && model.state === MonitorState.Backfilling;
    // Runs started before the gate read the history length in the condition itself (continue-as-new-gate.ts).
    const gate = patched(CONTINUE_AS_NEW_GATE_PATCH) ? this.continueAsNewGate : null;
    const due = () => (gate ? gate.due : this.continueAsNewGate.observe());
    const interrupted = () => done || this.stopped || s.settings !== configAtStart || due();
    for (;;) {
      // No periodic wake-up: an idle monitor costs the server nothing until data, a handler or the session end.
      // Runs started before this change woke every minute; their histories replay with that timer.
      const untilEnd = Number.isFinite(deadline) ? Math.max(1000, deadline - Date.now()) : undefined;
      const timeout = patched(NO_IDLE_WAKE_PATCH) ? untilEnd : Math.min(untilEnd ?? 60_000, 60_000);
      await condition(() => interrupted() || this.exitPending || caughtUp(), timeout);
      // Woken by recorded work (a handler, the activity, the timer): the length may be looked at here.
      gate?.observe();
      if (caughtUp()) this.fire(MonitorEvent.StreamCaughtUp);
      if (this.exitPending) await this.onExitSignal();
      if (interrupted() || Date.now() >= deadline) break;
    }
    if (!done) {
      scope.cancel();
      // A stopped monitor needs no checkpoint: finish now rather than when the activity's next heartbeat (up to
      // ~24 s away) tells it of the cancellation. Runs started before this change waited; they replay that way.
      if (this.stopped && patched(FAST_STOP_PATCH)) return;
      try {
        await running;
      } catch {
        /* cancelled: the checkpoint arrived by signal */
      }
    } else if (failed && !isCancellation(failed)) {
      await this.pause(this.dataFailed(failed));
    }
  }
}

/** Workflow time as nanoseconds since the epoch, shifted by `offsetMs`. */
export function nowNs(offsetMs: number): string {
  return msToNs(Date.now() + offsetMs);
}
