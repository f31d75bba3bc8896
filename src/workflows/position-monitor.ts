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
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  LastQuote,
  LastTrade,
  MonitorCursors,
  PollMarketDataResult,
  createMarketDataActivities,
} from '../activities/market-data-activities';
import type { MarketUpdate } from '../activities/market-stream-activity';
import { type TradingSession } from '../domain/config';
import { type ExitSignal, type FlowAlert, type FlowStats } from '../domain/detectors/alerts';
import { type DetectorConfig, type DetectorConfigInput } from '../domain/detectors/config';
import { type BrokerName, type OrderPricingConfig } from '../domain/orders/order-request';
import { type OrderState } from '../domain/orders/order-state';
import { sessionStatus } from '../domain/sessions';
import { ValidationError, parseOrThrow } from '../domain/validation';
import { MARKET_UPDATE_SIGNAL, SearchAttributes, WorkflowIds } from '../shared/contracts';
import { placeOrderSignal } from './desk';
import { detectorConfig } from './lazy-domain';
import { orderTerminalSignal, type OrderTerminalNotice } from './notifications';

type MarketDataActivities = ReturnType<typeof createMarketDataActivities>;

export const MonitorMode = { Alert: 'alert', AutoExit: 'auto-exit' } as const;
export type MonitorMode = (typeof MonitorMode)[keyof typeof MonitorMode];

export const DataMode = { Poll: 'poll', Stream: 'stream' } as const;
export type DataMode = (typeof DataMode)[keyof typeof DataMode];

export const MonitorState = {
  Starting: 'starting',
  Backfilling: 'backfilling',
  Monitoring: 'monitoring',
  OutsideSession: 'outside_session',
  Unauthorized: 'unauthorized',
  DataError: 'data_error',
  Exiting: 'exiting',
  Exited: 'exited',
  ExitFailed: 'exit_failed',
  Stopped: 'stopped',
  Closed: 'closed',
} as const;
export type MonitorState = (typeof MonitorState)[keyof typeof MonitorState];

/** Monitor settings resolved from configuration by the client that starts it (workflows read no environment). */
export interface MonitorSettings {
  readonly detectors: DetectorConfig;
  readonly pollIntervalSeconds: number;
  readonly sessions: readonly TradingSession[];
  /** Reject data older than the stale limits against the wall clock (off to replay a recorded session). */
  readonly staleCheck: boolean;
  /** Where the protective exit goes. */
  readonly exit: { readonly broker: BrokerName; readonly account: string; readonly pricing: OrderPricingConfig };
}

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
  /** Carried across continue-as-new. */
  readonly carried?: CarriedMonitor;
}

export interface ExitOrderView {
  readonly clientOrderId: string;
  readonly workflowId: string;
  readonly referencePrice: string;
  readonly quantity: number;
  state: OrderState | 'requested';
  filledQuantity: number;
  averageFillPrice: string | null;
  reason: string | null;
}

export interface DataHealth {
  freshness: 'ok' | 'warn' | 'stale' | 'unknown';
  lagMs: number | null;
  polls: number;
  requests: number;
  tradesSeen: number;
  quotesSeen: number;
  lastError: string | null;
  lastPollAt: string | null;
  stats: FlowStats | null;
  /** Records accepted late: older than the stale bound, fetched to fill a gap (a lost poll, an outage). */
  lateRecords?: number;
  /**
   * Polls (or stream backfills) whose cursor or next_url chain did not advance: the source served the same page
   * again, so it was not followed and the monitor kept its cadence. `stalledAt` is the latest, null once one
   * advanced again. Absent in runs from before this was counted.
   */
  stalledCursors?: number;
  stalledAt?: string | null;
  /** Detector states dropped because they did not fit the configuration (baseline rebuilt from history). */
  rebuilds?: number;
  /** Stream updates from an older activity run (before a config change or restart) whose state was not applied. */
  staleUpdatesDropped?: number;
}

export interface HealthAlert {
  readonly kind: 'data_health';
  readonly severity: 'warning' | 'critical';
  readonly at: string;
  readonly rule: string;
}

interface CarriedMonitor {
  readonly state: MonitorState;
  readonly quantity: number;
  readonly settings: MonitorSettings;
  readonly detectorState: unknown;
  readonly cursors: MonitorCursors | null;
  readonly liveFromNs: string | null;
  readonly backfillFromNs: string;
  /** Absent in runs carried before late gap data was accepted. */
  readonly caughtUpAtNs?: string | null;
  readonly alerts: FlowAlert[];
  readonly alertCounts: Record<string, number>;
  readonly alertTotal: number;
  readonly healthAlerts: HealthAlert[];
  readonly exitSignal: ExitSignal | null;
  readonly exitOrder: ExitOrderView | null;
  readonly lastTrade: LastTrade | null;
  readonly lastQuote: LastQuote | null;
  readonly health: DataHealth;
  /** Absent in runs carried before stream updates were tagged. */
  readonly streamGeneration?: number;
}

export interface MonitorView {
  readonly workflowId: string;
  readonly positionId: string;
  readonly symbol: string;
  readonly quantity: number;
  readonly entryPrice: string | null;
  readonly mode: MonitorMode;
  readonly dataMode: DataMode;
  readonly state: MonitorState;
  readonly alerts: readonly FlowAlert[];
  readonly alertCounts: Readonly<Record<string, number>>;
  readonly alertTotal: number;
  readonly healthAlerts: readonly HealthAlert[];
  readonly exitSignal: ExitSignal | null;
  readonly exitOrder: ExitOrderView | null;
  /** True once the quiet backfill is over and alerts are live. */
  readonly live: boolean;
  readonly lastTrade: LastTrade | null;
  readonly lastQuote: LastQuote | null;
  readonly cursor: { readonly trades: string | null; readonly quotes: string | null };
  readonly dataHealth: DataHealth;
  readonly config: DetectorConfig;
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

const ALERTS_KEPT = 50;
const HEALTH_ALERTS_KEPT = 20;
const UNAUTHORIZED_RETRY_MS = 15 * 60_000;
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

/**
 * One durable monitor per position: polls Polygon through an activity that runs the detectors and returns
 * only compact results, keeps a bounded alert list, raises the exit signal and — in auto-exit mode — places
 * exactly one protective limit SELL through the desk (its client order id is derived from the position id,
 * so a replayed or retried decision can never place a second one).
 */
export async function positionMonitorWorkflow(input: PositionMonitorInput): Promise<MonitorView> {
  const c = input.carried;
  const { positionId, symbol } = input;
  let settings = c?.settings ?? input.settings;
  let quantity = c?.quantity ?? input.quantity;
  let state: MonitorState = c?.state ?? MonitorState.Starting;
  let detectorState: unknown = c?.detectorState ?? null;
  let cursors: MonitorCursors | null = c?.cursors ?? null;
  let liveFromNs: string | null = c ? c.liveFromNs : input.startAtNs ? null : nowNs(0);
  let backfillFromNs =
    c?.backfillFromNs ?? input.startAtNs ?? nowNs(-(settings.detectors.baselineMinutes + 1) * 60_000);
  // When the monitor last had caught up with the feed: what printed after that and arrives late is our gap.
  let caughtUpAtNs: string | null = c?.caughtUpAtNs ?? null;
  const alerts: FlowAlert[] = [...(c?.alerts ?? [])];
  const alertCounts: Record<string, number> = { ...(c?.alertCounts ?? {}) };
  let alertTotal = c?.alertTotal ?? 0;
  const healthAlerts: HealthAlert[] = [...(c?.healthAlerts ?? [])];
  let exitSignal: ExitSignal | null = c?.exitSignal ?? null;
  let exitOrder: ExitOrderView | null = c?.exitOrder ?? null;
  let lastTrade: LastTrade | null = c?.lastTrade ?? null;
  let lastQuote: LastQuote | null = c?.lastQuote ?? null;
  const health: DataHealth = c?.health ?? {
    freshness: 'unknown',
    lagMs: null,
    polls: 0,
    requests: 0,
    tradesSeen: 0,
    quotesSeen: 0,
    lastError: null,
    lastPollAt: null,
    stats: null,
  };
  let stopReason: string | null = null;
  let wake = false;
  // Bumped by every stream activity start and every config change: only updates from the current one may move
  // cursors, detector state or `live` (a cancelled activity's last checkpoint arrives after the reset).
  let streamGeneration = c?.streamGeneration ?? 0;

  const retry = {
    maximumAttempts: 5,
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
  };
  const acts = proxyActivities<MarketDataActivities>({ startToCloseTimeout: '2 minutes', retry });
  // Same schedule commands as before (timeouts are not part of the command sequence replay checks).
  const pollActs = proxyActivities<MarketDataActivities>({
    startToCloseTimeout: POLL_START_TO_CLOSE,
    heartbeatTimeout: POLL_HEARTBEAT_TIMEOUT,
    retry,
  });

  const view = (): MonitorView => ({
    workflowId: workflowInfo().workflowId,
    positionId,
    symbol,
    quantity,
    entryPrice: input.entryPrice ?? null,
    mode: input.mode,
    dataMode: input.dataMode,
    state,
    alerts,
    alertCounts,
    alertTotal,
    healthAlerts,
    exitSignal,
    exitOrder,
    live: liveFromNs === null && health.lastPollAt !== null,
    lastTrade,
    lastQuote,
    cursor: { trades: cursors?.trades.sipTimestamp ?? null, quotes: cursors?.quotes.sipTimestamp ?? null },
    dataHealth: health,
    config: settings.detectors,
  });

  setHandler(monitorStateQuery, view);
  setHandler(stopMonitorSignal, ({ reason }) => {
    stopReason ??= reason?.trim() || 'stopped by operator';
  });
  setHandler(resumeSignal, () => {
    wake = true;
  });
  setHandler(positionChangedSignal, ({ quantity: q }) => {
    if (!Number.isSafeInteger(q) || q < 0) {
      log.warn('positionChanged ignored: quantity must be a non-negative integer', { positionId, quantity: q });
      return;
    }
    quantity = q;
    if (q === 0) stopReason ??= 'position closed';
  });
  setHandler(
    updateConfigUpdate,
    (overrides) => {
      const next = parseOrThrow(
        detectorConfig().DetectorConfigSchema,
        { ...settings.detectors, ...overrides },
        'config',
      );
      settings = { ...settings, detectors: next };
      // Bucket geometry depends on the configuration: rebuild the baseline from history, quietly.
      detectorState = null;
      cursors = null;
      backfillFromNs = nowNs(-(next.baselineMinutes + 1) * 60_000);
      liveFromNs = nowNs(0);
      streamGeneration += 1;
      wake = true;
      return next;
    },
    {
      validator: (overrides) => {
        try {
          parseOrThrow(detectorConfig().DetectorConfigSchema, { ...settings.detectors, ...overrides }, 'config');
        } catch (err) {
          if (err instanceof ValidationError) {
            throw ApplicationFailure.create({ message: err.message, type: 'ValidationError', nonRetryable: true });
          }
          throw err;
        }
      },
    },
  );
  setHandler(orderTerminalSignal, (notice: OrderTerminalNotice) => {
    if (!exitOrder || notice.clientOrderId !== exitOrder.clientOrderId) return;
    exitOrder.state = notice.state;
    exitOrder.filledQuantity = notice.filledQuantity;
    exitOrder.averageFillPrice = notice.averageFillPrice;
    exitOrder.reason = notice.reason;
    if (notice.state === 'filled') {
      setState(MonitorState.Exited);
      stopReason ??= 'protective exit filled';
    } else {
      // The position is still open: keep watching and say so.
      setState(MonitorState.ExitFailed);
    }
  });

  function setState(next: MonitorState): void {
    if (next === state) return;
    state = next;
    upsertSearchAttributes([{ key: SearchAttributes.MonitorState, value: state }]);
  }

  function recordAlerts(fresh: readonly FlowAlert[]): void {
    if (fresh.length === 0) return;
    for (const a of fresh) {
      alerts.push(a);
      const key = a.kind === 'large_seller' ? `${a.kind}:${a.source}:${a.severity}` : `${a.kind}:${a.severity}`;
      alertCounts[key] = (alertCounts[key] ?? 0) + 1;
      alertTotal += 1;
      log.info('order-flow alert', {
        positionId,
        symbol,
        kind: a.kind,
        severity: a.severity,
        rule: a.rule,
        ...(a.late ? { late: true, marketTimeNs: a.timestampNs } : {}),
      });
    }
    if (alerts.length > ALERTS_KEPT) alerts.splice(0, alerts.length - ALERTS_KEPT);
    const last = fresh[fresh.length - 1]!;
    upsertSearchAttributes([
      { key: SearchAttributes.AlertCount, value: alertTotal },
      { key: SearchAttributes.LastAlertSeverity, value: last.severity },
    ]);
  }

  function recordHealth(result: PollMarketDataResult, stuck: string | null): void {
    const before = health.freshness;
    health.freshness = result.freshness;
    health.lagMs = result.lagMs;
    health.polls += 1;
    health.requests += result.fetched.requests;
    health.tradesSeen += result.fetched.trades;
    health.quotesSeen += result.fetched.quotes;
    health.lastError = null;
    health.lastPollAt = new Date().toISOString();
    health.stats = result.stats;
    // Absent from a result of a worker that predates late gap data.
    const late = result.late ?? 0;
    if (late > 0) {
      health.lateRecords = (health.lateRecords ?? 0) + late;
      pushHealthAlert(
        'warning',
        `filled a gap: ${late} records older than ${settings.detectors.staleRejectSeconds} s accepted late (alerts on them are marked late)`,
      );
    }
    recordStall(result.stalled?.reason ?? stuck);
    if (result.rebuilt) recordRebuilt(result.rebuilt);
    if ((result.freshness === 'warn' || result.freshness === 'stale') && before !== 'warn' && before !== 'stale') {
      pushHealthAlert(
        result.freshness === 'stale' ? 'critical' : 'warning',
        `newest market data is ${Math.round((result.lagMs ?? 0) / 1000)} s old (warn after ${settings.detectors.staleWarnSeconds} s, reject after ${settings.detectors.staleRejectSeconds} s)`,
      );
    }
  }

  /** A detector state that did not fit the configuration was dropped and the baseline rebuilt from history. */
  function recordRebuilt(reason: string): void {
    health.rebuilds = (health.rebuilds ?? 0) + 1;
    pushHealthAlert(
      'warning',
      `detector state did not fit the configuration (${reason}): baseline rebuilt from history`,
    );
  }

  /** One alert per episode (the first stalled fetch after one that advanced), a count for every one. */
  function recordStall(reason: string | null): void {
    if (reason === null) {
      if (health.stalledAt) health.stalledAt = null;
      return;
    }
    const first = !health.stalledAt;
    health.stalledCursors = (health.stalledCursors ?? 0) + 1;
    health.stalledAt = new Date().toISOString();
    if (first) {
      pushHealthAlert(
        'warning',
        `market data source is not advancing (${reason}): not followed, polling keeps its ${settings.pollIntervalSeconds} s cadence`,
      );
    }
  }

  function pushHealthAlert(severity: 'warning' | 'critical', rule: string): void {
    healthAlerts.push({ kind: 'data_health', severity, at: new Date().toISOString(), rule });
    if (healthAlerts.length > HEALTH_ALERTS_KEPT) healthAlerts.splice(0, healthAlerts.length - HEALTH_ALERTS_KEPT);
    log.warn('market-data health alert', { positionId, symbol, severity, rule });
  }

  async function placeProtectiveExit(): Promise<void> {
    if (exitOrder || input.mode !== MonitorMode.AutoExit || quantity <= 0) return;
    let reference = referencePrice();
    if (!reference) {
      const latest = await acts.latestPrices({ symbol });
      lastQuote = latest.lastQuote ?? lastQuote;
      lastTrade = latest.lastTrade ?? lastTrade;
      reference = referencePrice();
    }
    const clientOrderId = `exit-${positionId}`;
    exitOrder = {
      clientOrderId,
      workflowId: WorkflowIds.order(clientOrderId),
      referencePrice: reference ?? '0',
      quantity,
      state: 'requested',
      filledQuantity: 0,
      averageFillPrice: null,
      reason: null,
    };
    if (!reference) {
      exitOrder.state = 'failed';
      exitOrder.reason = 'no bid or last trade to price the protective sell';
      setState(MonitorState.ExitFailed);
      return;
    }
    setState(MonitorState.Exiting);
    const { broker, account, pricing } = settings.exit;
    try {
      await getExternalWorkflowHandle(WorkflowIds.desk(broker, account)).signal(placeOrderSignal, {
        request: { symbol, side: 'sell', quantity, referencePrice: reference, broker, clientOrderId },
        pricing,
        requesterWorkflowId: workflowInfo().workflowId,
      });
    } catch (err) {
      exitOrder.state = 'failed';
      exitOrder.reason = `the ${broker} desk (${account}) is not running: ${err instanceof Error ? err.message : String(err)}`;
      setState(MonitorState.ExitFailed);
    }
  }

  /** The current bid (a sell crosses to it) when two-sided, else the last trade. */
  function referencePrice(): string | null {
    if (lastQuote && Number(lastQuote.bid) > 0) return lastQuote.bid;
    if (lastTrade && Number(lastTrade.price) > 0) return lastTrade.price;
    return null;
  }

  const streamActs = proxyActivities<MarketDataActivities>({
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
  let exitPending = false;

  setHandler(marketUpdateSignal, (u) => {
    // Untagged updates come from activities started before the tag (or by runs without it): applied as before.
    const current = u.generation === undefined || u.generation === streamGeneration;
    if (!current) {
      health.staleUpdatesDropped = (health.staleUpdatesDropped ?? 0) + 1;
      log.info('stream update from an older activity run: state and cursors not applied', {
        positionId,
        generation: u.generation,
        current: streamGeneration,
      });
    }
    if (u.checkpoint && current) {
      detectorState = u.checkpoint.detectorState ?? detectorState;
      cursors = u.checkpoint.cursors ?? cursors;
      liveFromNs = u.checkpoint.liveFromNs;
    }
    if (u.live && current) liveFromNs = null;
    if (u.rebuilt !== undefined && current) recordRebuilt(u.rebuilt);
    lastTrade = u.lastTrade ?? lastTrade;
    lastQuote = u.lastQuote ?? lastQuote;
    if (u.stats.trades + u.stats.quotes > 0) health.stats = u.stats;
    health.tradesSeen = u.stats.trades || health.tradesSeen;
    health.quotesSeen = u.stats.quotes || health.quotesSeen;
    health.lastPollAt = new Date().toISOString();
    health.lastError = null;
    if (u.stalled !== undefined) recordStall(u.stalled);
    recordAlerts(u.alerts);
    if (u.exitSignal && !exitSignal) {
      exitSignal = u.exitSignal;
      exitPending = true;
    }
  });

  async function onExitSignal(): Promise<void> {
    exitPending = false;
    if (!exitSignal) return;
    upsertSearchAttributes([{ key: SearchAttributes.ExitSignal, value: true }]);
    log.warn('exit signal', { positionId, symbol, reason: exitSignal.reason, rule: exitSignal.rule });
    await placeProtectiveExit();
  }

  /** Handles an activity failure shared by both data modes; returns how long to back off. */
  function onDataFailure(err: unknown): number {
    const failure = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : null;
    health.lastError = failure ? `${failure.type ?? 'Error'}: ${failure.message}` : String(err);
    if (failure?.type === 'PolygonUnauthorized') {
      if (state !== MonitorState.Unauthorized) {
        log.error('Polygon refused the API key: monitor paused until the key is fixed', { positionId, symbol });
        pushHealthAlert('critical', `market data unauthorized: ${failure.message}`);
      }
      setState(MonitorState.Unauthorized);
      return UNAUTHORIZED_RETRY_MS;
    }
    setState(MonitorState.DataError);
    return Math.min(60_000, settings.pollIntervalSeconds * 4000);
  }

  function carry(): CarriedMonitor {
    return {
      state,
      quantity,
      settings,
      detectorState,
      cursors,
      liveFromNs,
      backfillFromNs,
      caughtUpAtNs,
      alerts,
      alertCounts,
      alertTotal,
      healthAlerts,
      exitSignal,
      exitOrder,
      lastTrade,
      lastQuote,
      health,
      streamGeneration,
    };
  }

  /** Stream mode: one long-running activity per session; returns when it should be restarted or stopped. */
  async function streamUntilInterrupted(sessionEndsMs: number | null): Promise<void> {
    const scope = new CancellationScope();
    const configAtStart = settings;
    const generation = patched(STREAM_GENERATION_PATCH) ? ++streamGeneration : undefined;
    const running = scope.run(() =>
      streamActs.streamMarketData({
        positionId,
        symbol,
        config: settings.detectors,
        backfillFromNs,
        staleCheck: settings.staleCheck,
        workflowId: workflowInfo().workflowId,
        checkpoint: { detectorState, cursors, liveFromNs },
        updateIntervalMs: STREAM_STATE_PUSH_MS,
        ...(generation === undefined ? {} : { generation }),
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
    setState(liveFromNs === null ? MonitorState.Monitoring : MonitorState.Backfilling);
    const deadline = sessionEndsMs ?? Number.POSITIVE_INFINITY;
    for (;;) {
      // No periodic wake-up: an idle monitor costs the server nothing until data, a handler or the session end.
      // Runs started before this change woke every minute; their histories replay with that timer.
      const untilEnd = Number.isFinite(deadline) ? Math.max(1000, deadline - Date.now()) : undefined;
      const timeout = patched(NO_IDLE_WAKE_PATCH) ? untilEnd : Math.min(untilEnd ?? 60_000, 60_000);
      await condition(
        () =>
          done ||
          stopReason !== null ||
          exitPending ||
          settings !== configAtStart ||
          workflowInfo().continueAsNewSuggested ||
          (liveFromNs === null && state === MonitorState.Backfilling),
        timeout,
      );
      if (liveFromNs === null && state === MonitorState.Backfilling) setState(MonitorState.Monitoring);
      if (exitPending) await onExitSignal();
      if (
        done ||
        stopReason !== null ||
        settings !== configAtStart ||
        workflowInfo().continueAsNewSuggested ||
        Date.now() >= deadline
      )
        break;
    }
    if (!done) {
      scope.cancel();
      // A stopped monitor needs no checkpoint: finish now rather than when the activity's next heartbeat (up to
      // ~24 s away) tells it of the cancellation. Runs started before this change waited; they replay that way.
      if (stopReason !== null && patched(FAST_STOP_PATCH)) return;
      try {
        await running;
      } catch {
        /* cancelled: the checkpoint arrived by signal */
      }
    } else if (failed && !isCancellation(failed)) {
      const backoff = onDataFailure(failed);
      wake = false;
      await condition(() => stopReason !== null || wake, backoff);
    }
  }

  if (!c) {
    upsertSearchAttributes([
      { key: SearchAttributes.Symbol, value: symbol },
      { key: SearchAttributes.PositionId, value: positionId },
      { key: SearchAttributes.MonitorState, value: state },
      { key: SearchAttributes.AlertCount, value: 0 },
      { key: SearchAttributes.ExitSignal, value: false },
    ]);
  }

  while (stopReason === null) {
    const session = sessionStatus(Date.now(), settings.sessions);
    if (!session.open) {
      setState(MonitorState.OutsideSession);
      const until = session.nextChangeMs ?? Date.now() + 3_600_000;
      wake = false;
      await condition(() => stopReason !== null || wake, Math.max(1000, until - Date.now()));
      continue;
    }

    if (input.dataMode === DataMode.Stream) {
      await streamUntilInterrupted(session.nextChangeMs);
      if (workflowInfo().continueAsNewSuggested && stopReason === null) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof positionMonitorWorkflow>({ ...input, carried: carry() });
      }
      continue;
    }

    let result: PollMarketDataResult | null = null;
    const pollStartedAt = Date.now();
    const cursorsBefore = cursors;
    try {
      if (state === MonitorState.Starting || cursors === null) setState(MonitorState.Backfilling);
      result = await pollActs.pollMarketData({
        positionId,
        symbol,
        config: settings.detectors,
        detectorState,
        cursors,
        backfillFromNs,
        liveFromNs,
        staleCheck: settings.staleCheck,
        caughtUpAtNs,
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const backoff = onDataFailure(err);
      wake = false;
      await condition(() => stopReason !== null || wake, backoff);
      continue;
    }

    detectorState = result.detectorState;
    cursors = result.cursors;
    // A truncated poll is still catching up: the gap keeps its start until a poll reaches the live edge.
    if (!result.truncated) caughtUpAtNs = (BigInt(pollStartedAt) * 1_000_000n).toString();
    if (result.live) liveFromNs = null;
    lastTrade = result.lastTrade ?? lastTrade;
    lastQuote = result.lastQuote ?? lastQuote;
    const stuck = result.truncated && sameCursors(cursorsBefore, result.cursors);
    recordHealth(result, stuck ? 'the poll was truncated but its cursor did not move' : null);
    // A source that does not advance would hold a monitor in its baseline forever: it goes live with the baseline
    // it has (the health alert says why) and polls at its cadence.
    const holdCadence = stuck && patched(CURSOR_MUST_ADVANCE_PATCH);
    if (holdCadence) liveFromNs = null;
    recordAlerts(result.alerts);
    if (
      state === MonitorState.Backfilling ||
      state === MonitorState.DataError ||
      state === MonitorState.Unauthorized ||
      state === MonitorState.OutsideSession ||
      state === MonitorState.Starting
    ) {
      setState(liveFromNs === null ? MonitorState.Monitoring : MonitorState.Backfilling);
    }
    if (result.exitSignal && !exitSignal) {
      exitSignal = result.exitSignal;
      await onExitSignal();
    }

    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof positionMonitorWorkflow>({ ...input, carried: carry() });
    }
    // A truncated poll that did not move the cursor would be asked again at once, forever: wait the interval.
    if (!holdCadence && (result.truncated || stopReason !== null)) continue;
    wake = false;
    // A fixed cadence: the interval runs from the start of the poll, so the time a poll takes does not add to it.
    // The floor keeps an overloaded worker from polling back to back.
    const intervalMs = settings.pollIntervalSeconds * 1000;
    const untilNext = Math.max(intervalMs / 5, intervalMs - (Date.now() - pollStartedAt));
    await condition(() => stopReason !== null || wake, untilNext);
  }

  if (state !== MonitorState.Exited) setState(quantity === 0 ? MonitorState.Closed : MonitorState.Stopped);
  log.info('monitor finished', { positionId, symbol, reason: stopReason });
  await condition(allHandlersFinished);
  return view();
}

/** Whether a poll left both cursors (time, identities at that time, resume point) where they were. */
function sameCursors(a: MonitorCursors | null, b: MonitorCursors): boolean {
  if (a === null) return false;
  const same = (x: MonitorCursors['trades'], y: MonitorCursors['trades']) =>
    x.sipTimestamp === y.sipTimestamp &&
    x.resumePath === y.resumePath &&
    x.seenAtTimestamp.length === y.seenAtTimestamp.length &&
    x.seenAtTimestamp.every((k, i) => k === y.seenAtTimestamp[i]);
  return same(a.trades, b.trades) && same(a.quotes, b.quotes);
}

/** Workflow time as nanoseconds since the epoch, shifted by `offsetMs`. */
function nowNs(offsetMs: number): string {
  return (BigInt(Date.now() + offsetMs) * 1_000_000n).toString();
}
