import { type TradingSession } from '../config';
import { type ExitSignal, type FlowAlert, type FlowStats } from '../detectors/alerts';
import { type DetectorConfig } from '../detectors/config';
import { type BrokerName, type OrderPricingConfig } from '../orders/order-request';
import { type OrderState } from '../orders/order-state';
import { MonitorEvent, MonitorState, nextMonitorState } from './monitor-machine';
import { type ExchangeCalendar } from '../sessions';

/**
 * Everything a position monitor knows, as one serialisable snapshot, and the rules that change it: alerts and
 * their counts, data health and its alerts, the exit decision, and the state (moved only through the table in
 * monitor-machine.ts). The monitor workflow is a shell around one MonitorModel: its handlers and its loop call
 * these methods, it calls the activities, and it continues-as-new with `snapshot`. Time is passed in (ms or ns
 * since the epoch); log lines are collected in `notes` for the shell to write.
 */

export const MonitorMode = { Alert: 'alert', AutoExit: 'auto-exit' } as const;
export type MonitorMode = (typeof MonitorMode)[keyof typeof MonitorMode];

export const DataMode = { Poll: 'poll', Stream: 'stream' } as const;
export type DataMode = (typeof DataMode)[keyof typeof DataMode];

/** Monitor settings resolved from configuration by the client that starts it (workflows read no environment). */
export interface MonitorSettings {
  readonly detectors: DetectorConfig;
  readonly pollIntervalSeconds: number;
  /**
   * The trading sessions this monitor watches, resolved once by whoever starts it (the CLI's configuration at
   * `monitor start`, FLOWGUARD_CONFIG's marketData.sessions, default the regular 09:30–16:00 New York session),
   * and carried with it: the worker's configuration never changes a running monitor's sessions.
   */
  readonly sessions: readonly TradingSession[];
  /** Reject data older than the stale limits against the wall clock (off to replay a recorded session). */
  readonly staleCheck: boolean;
  /** Where the protective exit goes. */
  readonly exit: { readonly broker: BrokerName; readonly account: string; readonly pricing: OrderPricingConfig };
}

/** A Polygon cursor (market-data/polygon-rest.ts PolygonCursor): the resume point of one source. */
export interface SourceCursor {
  readonly sipTimestamp: string;
  readonly seenAtTimestamp: readonly string[];
  readonly resumePath?: string;
  /** The bound of the resumePath chain's query (null: none; absent: unknown, an older cursor). */
  readonly resumeUntilNs?: string | null;
}

export interface MonitorCursors {
  readonly trades: SourceCursor;
  readonly quotes: SourceCursor;
}

export interface LastTrade {
  readonly price: string;
  readonly size: number;
  readonly timestampNs: string;
}

export interface LastQuote {
  readonly bid: string;
  readonly ask: string;
  readonly bidSize: number;
  readonly askSize: number;
  readonly timestampNs: string;
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
  /** Alerts raised again by a resumed activity (same identity as one already held) and not recorded twice. */
  duplicateAlertsDropped?: number;
  /**
   * Why the exchange calendar is not in use (its activity failed: the configured sessions, or the last calendar
   * held, apply); null once it was read. Absent in runs from before the calendar.
   */
  calendarError?: string | null;
}

/** The exchange calendar the monitor holds (Polygon holidays via the marketCalendar activity). */
export interface HeldCalendar {
  /** New York date (YYYY-MM-DD) of the last successful read: read again on a later date. */
  readonly readOn: string | null;
  /** Workflow time (ms) of the last failed read: tried again an hour later. */
  readonly failedAtMs: number | null;
  /** Null without a Polygon key, or before any read succeeded. */
  readonly calendar: ExchangeCalendar | null;
}

export interface HealthAlert {
  readonly kind: 'data_health';
  readonly severity: 'warning' | 'critical';
  readonly at: string;
  readonly rule: string;
}

/** Where the monitor stands against its trading sessions while it waits outside them. */
export interface SessionWait {
  /** The sessions it waits for, by name (`regular`, ...). */
  readonly sessions: readonly string[];
  /** Set when the exchange calendar is why: `holiday (Thanksgiving)`, `early close 13:00 (Independence Day)`. */
  readonly reason?: string;
  /** ISO-8601: when the next one opens; null when none is scheduled within a week. */
  readonly nextOpenAt: string | null;
}

/** The one snapshot carried across continue-as-new (the field names are those runs have always carried). */
export interface MonitorSnapshot {
  state: MonitorState;
  quantity: number;
  settings: MonitorSettings;
  detectorState: unknown;
  cursors: MonitorCursors | null;
  liveFromNs: string | null;
  backfillFromNs: string;
  /** When the monitor last had caught up with the feed. Absent in runs carried before late gap data was accepted. */
  caughtUpAtNs?: string | null;
  alerts: FlowAlert[];
  alertCounts: Record<string, number>;
  alertTotal: number;
  healthAlerts: HealthAlert[];
  exitSignal: ExitSignal | null;
  exitOrder: ExitOrderView | null;
  lastTrade: LastTrade | null;
  lastQuote: LastQuote | null;
  health: DataHealth;
  /** Absent in runs carried before stream updates were tagged. */
  streamGeneration?: number;
  /** Absent in runs carried before the wait was shown. */
  sessionWait?: SessionWait | null;
  /** Absent in runs carried before the exchange calendar was read. */
  calendar?: HeldCalendar;
}

/** What the monitor answers to `state` queries and returns when it ends. */
export interface MonitorView {
  readonly workflowId: string;
  readonly positionId: string;
  readonly symbol: string;
  readonly quantity: number;
  readonly entryPrice: string | null;
  readonly mode: MonitorMode;
  readonly dataMode: DataMode;
  readonly state: MonitorState;
  /** Set while `outside_session`: the sessions waited for and when the next one opens. */
  readonly sessionWait: SessionWait | null;
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

/** The identity a monitor starts with (PositionMonitorInput without its settings and snapshot). */
export interface MonitorIdentity {
  readonly positionId: string;
  readonly symbol: string;
  readonly quantity: number;
  readonly entryPrice?: string;
  readonly mode: MonitorMode;
  readonly dataMode: DataMode;
  readonly startAtNs?: string;
}

/** A poll's result as the model reads it (activities/market-data-activities.ts PollMarketDataResult). */
export interface PollOutcome {
  readonly alerts: readonly FlowAlert[];
  readonly detectorState: unknown;
  readonly cursors: MonitorCursors;
  readonly live: boolean;
  readonly truncated: boolean;
  readonly fetched: { readonly trades: number; readonly quotes: number; readonly requests: number };
  readonly lastTrade: LastTrade | null;
  readonly lastQuote: LastQuote | null;
  readonly stats: FlowStats;
  readonly freshness: DataHealth['freshness'];
  readonly lagMs: number | null;
  readonly late?: number;
  readonly stalled?: { readonly reason: string };
  readonly rebuilt?: string;
}

/** A stream push as the model reads it (activities/market-stream-activity.ts MarketUpdate). */
export interface StreamPush {
  readonly alerts: readonly FlowAlert[];
  readonly exitSignal: ExitSignal | null;
  readonly lastTrade: LastTrade | null;
  readonly lastQuote: LastQuote | null;
  readonly stats: FlowStats;
  readonly live: boolean;
  readonly generation?: number;
  readonly rebuilt?: string;
  readonly stalled?: string;
  readonly checkpoint?: {
    readonly detectorState?: unknown;
    readonly cursors?: MonitorCursors | null;
    readonly liveFromNs: string | null;
  };
}

/** How an order workflow's terminal notice reads to the monitor (domain/desk/desk-book.ts OrderTerminalNotice). */
export interface ExitOrderNotice {
  readonly clientOrderId: string;
  readonly state: OrderState;
  readonly filledQuantity: number;
  readonly averageFillPrice: string | null;
  readonly reason: string | null;
}

export interface MonitorNote {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export const ALERTS_KEPT = 50;

/**
 * What makes two alerts the same event: kind, source, severity, price, size (or the burst's volume) and market time.
 * `late` and the rule text are left out: a re-raise after a failover can be late where the first was live.
 * The time is compared to the millisecond when either side has only milliseconds: Polygon's WebSocket stamps a
 * print in ms, its REST backfill in ns, and a resumed stream activity re-raises from the backfill what it first
 * raised from the socket. Two distinct prints both stamped in ns stay distinct unless their ns are equal.
 */
export function sameAlert(a: FlowAlert, b: FlowAlert): boolean {
  if (alertKey(a) !== alertKey(b)) return false;
  if (a.timestampNs === b.timestampNs) return true;
  return isWholeMs(a.timestampNs) || isWholeMs(b.timestampNs);
}

/** Kind, source, severity, price, size or volume, and the millisecond of market time. */
function alertKey(a: FlowAlert): string {
  const ms = BigInt(a.timestampNs) / 1_000_000n;
  const price = canonicalPrice(a.price);
  return a.kind === 'large_seller'
    ? `${a.kind}|${a.source}|${a.severity}|${ms}|${price}|${a.size}`
    : `${a.kind}|${a.severity}|${ms}|${price}|${a.volume}`;
}

/**
 * '10.50', '10.5' and '010.5' are one price (the socket sends numbers, the REST backfill its own text). Plain
 * decimal text only; anything else is compared as it is. No decimal.js: the monitor's eager imports stay light
 * (test/unit/workflows/bundle-weight.test.ts).
 */
export function canonicalPrice(price: string): string {
  const m = /^(-?)(\d+)(?:\.(\d*?)0*)?$/.exec(price);
  if (!m) return price;
  const whole = m[2]!.replace(/^0+(?=\d)/, '');
  return m[3] ? `${m[1]}${whole}.${m[3]}` : `${m[1]}${whole}`;
}

function isWholeMs(ns: string): boolean {
  return ns.endsWith('000000');
}
export const HEALTH_ALERTS_KEPT = 20;
export const UNAUTHORIZED_RETRY_MS = 15 * 60_000;

/** Nanoseconds since the epoch of `ms` (a decimal string, as SIP timestamps travel). */
export function msToNs(ms: number): string {
  return (BigInt(ms) * 1_000_000n).toString();
}

export class MonitorModel {
  /** Why the run is to end (operator stop, position closed, exit filled); null while it runs. Not carried. */
  stopReason: string | null = null;
  /** Log lines for the shell to write, oldest first. */
  readonly notes: MonitorNote[] = [];

  constructor(
    readonly identity: MonitorIdentity,
    readonly snapshot: MonitorSnapshot,
  ) {}

  /** A new monitor's snapshot at `nowMs`: quiet backfill of the baseline up to now, or a replay from startAtNs. */
  static initial(identity: MonitorIdentity, settings: MonitorSettings, nowMs: number): MonitorSnapshot {
    return {
      state: MonitorState.Starting,
      quantity: identity.quantity,
      settings,
      detectorState: null,
      cursors: null,
      liveFromNs: identity.startAtNs ? null : msToNs(nowMs),
      backfillFromNs: identity.startAtNs ?? msToNs(nowMs - (settings.detectors.baselineMinutes + 1) * 60_000),
      caughtUpAtNs: null,
      alerts: [],
      alertCounts: {},
      alertTotal: 0,
      healthAlerts: [],
      exitSignal: null,
      exitOrder: null,
      lastTrade: null,
      lastQuote: null,
      health: {
        freshness: 'unknown',
        lagMs: null,
        polls: 0,
        requests: 0,
        tradesSeen: 0,
        quotesSeen: 0,
        lastError: null,
        lastPollAt: null,
        stats: null,
      },
    };
  }

  get state(): MonitorState {
    return this.snapshot.state;
  }

  get settings(): MonitorSettings {
    return this.snapshot.settings;
  }

  get live(): boolean {
    return this.snapshot.liveFromNs === null;
  }

  /** Moves the state through the table; returns the new state, or null when the event changes nothing. */
  fire(event: MonitorEvent): MonitorState | null {
    const next = nextMonitorState(this.snapshot.state, event);
    if (next !== null) this.snapshot.state = next;
    if (next !== null && next !== MonitorState.OutsideSession) this.snapshot.sessionWait = null;
    return next;
  }

  /** The calendar read on `readOn` (New York date); null without a key. */
  calendarRead(calendar: ExchangeCalendar | null, readOn: string): void {
    this.snapshot.calendar = { readOn, failedAtMs: null, calendar };
    this.snapshot.health.calendarError = null;
  }

  /** The calendar activity failed: the calendar held (or the configured sessions) keep applying; noted in health. */
  calendarFailed(message: string, atMs: number): void {
    const held = this.snapshot.calendar;
    this.snapshot.calendar = { readOn: held?.readOn ?? null, failedAtMs: atMs, calendar: held?.calendar ?? null };
    this.snapshot.health.calendarError = message;
    this.notes.push({ level: 'warn', message: 'exchange calendar unavailable', fields: { error: message } });
  }

  /** Outside every session: remembers what it waits for (shown by `monitor status`). */
  waitForSession(wait: SessionWait): MonitorState | null {
    this.snapshot.sessionWait = wait;
    return this.fire(MonitorEvent.SessionClosed);
  }

  view(workflowId: string): MonitorView {
    const s = this.snapshot;
    const id = this.identity;
    return {
      workflowId,
      positionId: id.positionId,
      symbol: id.symbol,
      quantity: s.quantity,
      entryPrice: id.entryPrice ?? null,
      mode: id.mode,
      dataMode: id.dataMode,
      state: s.state,
      sessionWait: s.state === MonitorState.OutsideSession ? (s.sessionWait ?? null) : null,
      alerts: s.alerts,
      alertCounts: s.alertCounts,
      alertTotal: s.alertTotal,
      healthAlerts: s.healthAlerts,
      exitSignal: s.exitSignal,
      exitOrder: s.exitOrder,
      live: s.liveFromNs === null && s.health.lastPollAt !== null,
      lastTrade: s.lastTrade,
      lastQuote: s.lastQuote,
      cursor: { trades: s.cursors?.trades.sipTimestamp ?? null, quotes: s.cursors?.quotes.sipTimestamp ?? null },
      dataHealth: s.health,
      config: s.settings.detectors,
    };
  }

  requestStop(reason: string | undefined): void {
    this.stopReason ??= reason?.trim() || 'stopped by operator';
  }

  /** A new position size; zero ends the monitor. Returns false (and notes why) for a size that is not one. */
  positionChanged(quantity: number): boolean {
    if (!Number.isSafeInteger(quantity) || quantity < 0) {
      this.note('warn', 'positionChanged ignored: quantity must be a non-negative integer', { quantity });
      return false;
    }
    this.snapshot.quantity = quantity;
    if (quantity === 0) this.stopReason ??= 'position closed';
    return true;
  }

  /**
   * New detector settings: bucket geometry depends on them, so the baseline is rebuilt quietly from history (the
   * state and cursors are dropped) and stream updates of the running activity no longer apply.
   */
  reconfigure(detectors: DetectorConfig, nowMs: number): void {
    const s = this.snapshot;
    s.settings = { ...s.settings, detectors };
    s.detectorState = null;
    s.cursors = null;
    s.backfillFromNs = msToNs(nowMs - (detectors.baselineMinutes + 1) * 60_000);
    s.liveFromNs = msToNs(nowMs);
    s.streamGeneration = (s.streamGeneration ?? 0) + 1;
  }

  /** Starts a stream activity's generation: only its updates may move cursors, detector state or `live`. */
  nextStreamGeneration(): number {
    this.snapshot.streamGeneration = (this.snapshot.streamGeneration ?? 0) + 1;
    return this.snapshot.streamGeneration;
  }

  /** The protective order ended: filled ends the monitor; anything else leaves the position open. */
  exitOrderEnded(notice: ExitOrderNotice): MonitorEvent | null {
    const order = this.snapshot.exitOrder;
    if (!order || notice.clientOrderId !== order.clientOrderId) return null;
    order.state = notice.state;
    order.filledQuantity = notice.filledQuantity;
    order.averageFillPrice = notice.averageFillPrice;
    order.reason = notice.reason;
    if (notice.state !== 'filled') return MonitorEvent.ExitFailed;
    this.stopReason ??= 'protective exit filled';
    return MonitorEvent.ExitFilled;
  }

  /** Appends alerts (bounded) and counts them; returns the last one, or null when there were none. */
  recordAlerts(fresh: readonly FlowAlert[]): FlowAlert | null {
    return this.acceptAlerts(fresh, false).last;
  }

  /**
   * Appends alerts (bounded) and counts them. With `dedupe`, an alert the monitor already holds (see sameAlert) is dropped: a stream activity resumed on another worker restarts from its last recorded
   * heartbeat and raises again what it had already signalled, and at-least-once delivery must not become two alerts,
   * two counts and two notifications. Returns the alerts recorded and the last of them.
   */
  acceptAlerts(fresh: readonly FlowAlert[], dedupe: boolean): { recorded: FlowAlert[]; last: FlowAlert | null } {
    const s = this.snapshot;
    const recorded: FlowAlert[] = [];
    for (const a of fresh) {
      if (dedupe && s.alerts.some((held) => sameAlert(held, a))) {
        s.health.duplicateAlertsDropped = (s.health.duplicateAlertsDropped ?? 0) + 1;
        continue;
      }
      recorded.push(a);
      s.alerts.push(a);
      const key = a.kind === 'large_seller' ? `${a.kind}:${a.source}:${a.severity}` : `${a.kind}:${a.severity}`;
      s.alertCounts[key] = (s.alertCounts[key] ?? 0) + 1;
      s.alertTotal += 1;
      this.note('info', 'order-flow alert', {
        kind: a.kind,
        severity: a.severity,
        rule: a.rule,
        ...(a.late ? { late: true, marketTimeNs: a.timestampNs } : {}),
      });
    }
    if (s.alerts.length > ALERTS_KEPT) s.alerts.splice(0, s.alerts.length - ALERTS_KEPT);
    return { recorded, last: recorded[recorded.length - 1] ?? null };
  }

  /** Takes the exit signal if none was raised yet; true when this one is new. */
  raiseExit(signal: ExitSignal | null): boolean {
    if (!signal || this.snapshot.exitSignal) return false;
    this.snapshot.exitSignal = signal;
    return true;
  }

  /**
   * A poll's result: detector state, cursors, the live edge, prices and health. Returns whether the poll was
   * truncated without moving its cursor from `cursorsBefore` (the source does not advance). Alerts are recorded
   * separately (recordAlerts), after the caller decided on the stall.
   */
  recordPoll(
    result: PollOutcome,
    cursorsBefore: MonitorCursors | null,
    pollStartedAtMs: number,
    nowIso: string,
  ): boolean {
    const s = this.snapshot;
    s.detectorState = result.detectorState;
    s.cursors = result.cursors;
    // A truncated poll is still catching up: the gap keeps its start until a poll reaches the live edge.
    if (!result.truncated) s.caughtUpAtNs = msToNs(pollStartedAtMs);
    if (result.live) s.liveFromNs = null;
    s.lastTrade = result.lastTrade ?? s.lastTrade;
    s.lastQuote = result.lastQuote ?? s.lastQuote;
    const stuck = result.truncated && sameCursors(cursorsBefore, result.cursors);
    this.recordHealth(result, stuck ? 'the poll was truncated but its cursor did not move' : null, nowIso);
    return stuck;
  }

  /**
   * A source that does not advance would hold a monitor in its baseline forever: it goes live with the baseline
   * it has (the health alert says why).
   */
  goLiveWithBaseline(): void {
    this.snapshot.liveFromNs = null;
  }

  /** A stream push. Returns the alerts it brought and whether it raised the exit signal. */
  applyStreamPush(
    u: StreamPush,
    nowIso: string,
    dedupe = false,
  ): { recorded: FlowAlert[]; last: FlowAlert | null; exitRaised: boolean } {
    const s = this.snapshot;
    const generation = s.streamGeneration ?? 0;
    // Untagged updates come from activities started before the tag (or by runs without it): applied as before.
    const current = u.generation === undefined || u.generation === generation;
    if (!current) {
      s.health.staleUpdatesDropped = (s.health.staleUpdatesDropped ?? 0) + 1;
      this.note('info', 'stream update from an older activity run: state and cursors not applied', {
        generation: u.generation,
        current: generation,
      });
    }
    if (u.checkpoint && current) {
      s.detectorState = u.checkpoint.detectorState ?? s.detectorState;
      s.cursors = u.checkpoint.cursors ?? s.cursors;
      s.liveFromNs = u.checkpoint.liveFromNs;
    }
    if (u.live && current) s.liveFromNs = null;
    if (u.rebuilt !== undefined && current) this.recordRebuilt(u.rebuilt, nowIso);
    s.lastTrade = u.lastTrade ?? s.lastTrade;
    s.lastQuote = u.lastQuote ?? s.lastQuote;
    const h = s.health;
    if (u.stats.trades + u.stats.quotes > 0) h.stats = u.stats;
    h.tradesSeen = u.stats.trades || h.tradesSeen;
    h.quotesSeen = u.stats.quotes || h.quotesSeen;
    h.lastPollAt = nowIso;
    h.lastError = null;
    if (u.stalled !== undefined) this.recordStall(u.stalled, nowIso);
    const { recorded, last } = this.acceptAlerts(u.alerts, dedupe);
    return { recorded, last, exitRaised: this.raiseExit(u.exitSignal) };
  }

  /**
   * A market-data activity failed. An unauthorized key pauses the monitor (one critical health alert per
   * episode) for 15 minutes or until resumed; anything else backs off up to a minute.
   */
  dataFailed(
    failure: { readonly type: string | null; readonly message: string } | null,
    fallback: string,
    nowIso: string,
  ): { event: MonitorEvent; backoffMs: number } {
    const s = this.snapshot;
    s.health.lastError = failure ? `${failure.type ?? 'Error'}: ${failure.message}` : fallback;
    if (failure?.type === 'PolygonUnauthorized') {
      if (s.state !== MonitorState.Unauthorized) {
        this.note('error', 'Polygon refused the API key: monitor paused until the key is fixed', {});
        this.pushHealthAlert('critical', `market data unauthorized: ${failure.message}`, nowIso);
      }
      return { event: MonitorEvent.Unauthorized, backoffMs: UNAUTHORIZED_RETRY_MS };
    }
    return { event: MonitorEvent.DataFailed, backoffMs: Math.min(60_000, s.settings.pollIntervalSeconds * 4000) };
  }

  /** The current bid (a sell crosses to it) when two-sided, else the last trade. */
  referencePrice(): string | null {
    const { lastQuote, lastTrade } = this.snapshot;
    if (lastQuote && Number(lastQuote.bid) > 0) return lastQuote.bid;
    if (lastTrade && Number(lastTrade.price) > 0) return lastTrade.price;
    return null;
  }

  takePrices(latest: { readonly lastTrade?: LastTrade | null; readonly lastQuote?: LastQuote | null }): void {
    this.snapshot.lastQuote = latest.lastQuote ?? this.snapshot.lastQuote;
    this.snapshot.lastTrade = latest.lastTrade ?? this.snapshot.lastTrade;
  }

  /** Whether a protective exit is to be placed: auto-exit mode, a position left, and none placed yet. */
  wantsExit(): boolean {
    return !this.snapshot.exitOrder && this.identity.mode === MonitorMode.AutoExit && this.snapshot.quantity > 0;
  }

  /**
   * Records the protective sell of the whole position at `reference` (null: nothing to price it with, so it
   * fails at once). Its client order id is derived from the position id, so it can never be placed twice.
   */
  openExit(reference: string | null, workflowIdOf: (clientOrderId: string) => string): ExitOrderView {
    const clientOrderId = `exit-${this.identity.positionId}`;
    const order: ExitOrderView = {
      clientOrderId,
      workflowId: workflowIdOf(clientOrderId),
      referencePrice: reference ?? '0',
      quantity: this.snapshot.quantity,
      state: 'requested',
      filledQuantity: 0,
      averageFillPrice: null,
      reason: null,
    };
    this.snapshot.exitOrder = order;
    if (!reference) this.exitFailed('no bid or last trade to price the protective sell');
    return order;
  }

  exitFailed(reason: string): void {
    const order = this.snapshot.exitOrder;
    if (!order) return;
    order.state = 'failed';
    order.reason = reason;
  }

  private recordHealth(result: PollOutcome, stuck: string | null, nowIso: string): void {
    const { health, settings } = this.snapshot;
    const before = health.freshness;
    health.freshness = result.freshness;
    health.lagMs = result.lagMs;
    health.polls += 1;
    health.requests += result.fetched.requests;
    health.tradesSeen += result.fetched.trades;
    health.quotesSeen += result.fetched.quotes;
    health.lastError = null;
    health.lastPollAt = nowIso;
    health.stats = result.stats;
    // Absent from a result of a worker that predates late gap data.
    const late = result.late ?? 0;
    if (late > 0) {
      health.lateRecords = (health.lateRecords ?? 0) + late;
      this.pushHealthAlert(
        'warning',
        `filled a gap: ${late} records older than ${settings.detectors.staleRejectSeconds} s accepted late (alerts on them are marked late)`,
        nowIso,
      );
    }
    this.recordStall(result.stalled?.reason ?? stuck, nowIso);
    if (result.rebuilt) this.recordRebuilt(result.rebuilt, nowIso);
    if ((result.freshness === 'warn' || result.freshness === 'stale') && before !== 'warn' && before !== 'stale') {
      this.pushHealthAlert(
        result.freshness === 'stale' ? 'critical' : 'warning',
        `newest market data is ${Math.round((result.lagMs ?? 0) / 1000)} s old (warn after ${settings.detectors.staleWarnSeconds} s, reject after ${settings.detectors.staleRejectSeconds} s)`,
        nowIso,
      );
    }
  }

  /** A detector state that did not fit the configuration was dropped and the baseline rebuilt from history. */
  private recordRebuilt(reason: string, nowIso: string): void {
    const { health } = this.snapshot;
    health.rebuilds = (health.rebuilds ?? 0) + 1;
    this.pushHealthAlert(
      'warning',
      `detector state did not fit the configuration (${reason}): baseline rebuilt from history`,
      nowIso,
    );
  }

  /** One alert per episode (the first stalled fetch after one that advanced), a count for every one. */
  private recordStall(reason: string | null, nowIso: string): void {
    const { health, settings } = this.snapshot;
    if (reason === null) {
      if (health.stalledAt) health.stalledAt = null;
      return;
    }
    const first = !health.stalledAt;
    health.stalledCursors = (health.stalledCursors ?? 0) + 1;
    health.stalledAt = nowIso;
    if (first) {
      this.pushHealthAlert(
        'warning',
        `market data source is not advancing (${reason}): not followed, polling keeps its ${settings.pollIntervalSeconds} s cadence`,
        nowIso,
      );
    }
  }

  private pushHealthAlert(severity: 'warning' | 'critical', rule: string, nowIso: string): void {
    const { healthAlerts } = this.snapshot;
    healthAlerts.push({ kind: 'data_health', severity, at: nowIso, rule });
    if (healthAlerts.length > HEALTH_ALERTS_KEPT) healthAlerts.splice(0, healthAlerts.length - HEALTH_ALERTS_KEPT);
    this.note('warn', 'market-data health alert', { severity, rule });
  }

  private note(level: MonitorNote['level'], message: string, fields: Record<string, unknown>): void {
    this.notes.push({ level, message, fields });
  }
}

/** Whether a poll left both cursors (time, identities at that time, resume point) where they were. */
export function sameCursors(a: MonitorCursors | null, b: MonitorCursors): boolean {
  if (a === null) return false;
  const same = (x: SourceCursor, y: SourceCursor) =>
    x.sipTimestamp === y.sipTimestamp &&
    x.resumePath === y.resumePath &&
    x.resumeUntilNs === y.resumeUntilNs &&
    x.seenAtTimestamp.length === y.seenAtTimestamp.length &&
    x.seenAtTimestamp.every((k, i) => k === y.seenAtTimestamp[i]);
  return same(a.trades, b.trades) && same(a.quotes, b.quotes);
}
