import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
  isCancellation,
  log,
  patched,
} from '@temporalio/workflow';
import type {
  CancelAndConfirmOutcome,
  OpenOrderSummary,
  createBrokerActivities,
} from '../activities/broker-activities';
import type { createBrokerEventActivities } from '../activities/broker-events-activity';
import type { BrokerOrderSnapshot } from '../brokers/broker';
import { brokerHasOrderUpdates } from '../brokers/order-updates';
import {
  DeskBook,
  DeskRefusal,
  type CancelAllEntry,
  type CancelAllRun,
  type DeskState,
  type OpenOrderEntry,
  type PlaceOrderResult,
  type ResetResult,
} from '../domain/desk/desk-book';
import { isTerminalOrderState } from '../domain/orders/order-state';
import {
  type BrokerName,
  type OrderPricingConfig,
  type OrderRequestInput,
  type PreparedOrderToPlace,
} from '../domain/orders/order-request';
import { ValidationError } from '../domain/validation';
import { WorkflowIds } from '../shared/contracts';
import { orderLimits, orderRequests } from './lazy-domain';
import { ContinueAsNewGate } from './continue-as-new-gate';
import { orderTerminalSignal, positionsChangedSignal, type OrderTerminalNotice } from './notifications';
import { createNotifier, type NotificationLedger, type Notifier } from './notify';
import { circuitBreakerNotification, killSwitchNotification } from '../domain/notifications/builders';
import {
  BROKER_HEARTBEAT_TIMEOUT_MS,
  brokerUpdateSignal,
  cancelOrderSignal,
  orderWorkflow,
  type OrderSettings,
} from './order';

export type {
  CancelAllEntry,
  CancelAllOutcome,
  CancelAllRun,
  DeskState,
  Latch,
  OpenOrderEntry,
  PlaceOrderResult,
  ResetResult,
} from '../domain/desk/desk-book';

type BrokerActivities = ReturnType<typeof createBrokerActivities>;
type BrokerAnswerSnapshot = Pick<
  BrokerOrderSnapshot,
  'state' | 'brokerOrderId' | 'filledQuantity' | 'averageFillPrice'
>;

export interface DeskInput {
  readonly broker: BrokerName;
  readonly account: string;
  readonly settings: OrderSettings;
  /** Carried across continue-as-new: the whole DeskBook, one serialisable snapshot. */
  readonly state?: DeskState;
  /** Carried across continue-as-new: kill-switch and breaker notifications sent and in flight. */
  readonly notifications?: NotificationLedger;
  /** Continue-as-new after this many events instead of DESK_HISTORY_BUDGET (tests run every state across runs). */
  readonly continueAsNewAfterEvents?: number;
}

export interface PlaceOrderRequest {
  /**
   * The order as its caller priced it (domain prepareLimitOrder, run once outside the workflow, as the CLI does):
   * the desk checks it (checkPreparedOrder) and never prices it again. Its price is in the desk's history, so
   * a replay after a pricing change still decides on the price the caller showed and the broker holds.
   */
  readonly prepared?: PreparedOrderToPlace;
  /**
   * A raw order request, priced once by the desk (in the handler, not the validator), which a replay does again:
   * only position monitors started before 'monitor-exit-prepared' (they now price their protective exit in an
   * activity and send `prepared`) and clients older than `prepared` send one. Ignored with `prepared`.
   */
  readonly request?: OrderRequestInput & { readonly clientOrderId: string };
  /**
   * True when the caller gave no client order id and one was generated for it (the CLI's `fg-<uuid>`): only
   * then may an open order with the same intent stand in for this one. A caller's own id is its identity
   * and is never mapped onto another order.
   */
  readonly clientOrderIdGenerated?: boolean;
  /** With `request` only: pricing resolved by the caller (strategies, offsets); defaults to the desk's. */
  readonly pricing?: OrderPricingConfig;
  /** Workflow to notify when the order is terminal (e.g. a position monitor). */
  readonly requesterWorkflowId?: string;
}

export interface DeskView extends DeskState {
  readonly broker: BrokerName;
  readonly account: string;
}

/** Events after which a desk run continues as new: about 70 placements, replayed in well under a second. */
const DESK_HISTORY_BUDGET = 1000;
const CONFIRM_TIMEOUT_MS = 30_000;
/** Kill-switch runs and circuit-breaker trips are sent to the notification destinations. */
const NOTIFY_PATCH = 'desk-notifications';
/** An order that ended with shares filled wakes the account's positions watch at once. */
const FILL_WAKES_POSITIONS_PATCH = 'desk-fill-wakes-positions';
/** The kill switch's batch activity hands each order workflow the broker's answer; the desk signals none. */
const CANCEL_ALL_HAND_OFF_PATCH = 'desk-cancel-all-hand-off';
/**
 * The desk closes an order the kill switch's answer ended (it leaves the registry as if it had told the desk), so
 * the order workflow, handed that answer with deskHasAnswer, sends no terminal notice: one signal and its workflow
 * task less per order. The desk's history then holds one event per order (its child's completion, when this run
 * started it), however the load spreads them.
 */
const DESK_CLOSES_ANSWERED_PATCH = 'desk-closes-kill-switch-answered';
/** Continue-as-new decided from recorded work only, never in a rejected update's task (continue-as-new-gate.ts). */
const CONTINUE_AS_NEW_GATE_PATCH = 'desk-continue-as-new-gate';

export const placeOrderUpdate = defineUpdate<PlaceOrderResult, [PlaceOrderRequest]>('placeOrder');
/** The same as placeOrderUpdate for callers that can only signal (other workflows); answers by orderTerminal. */
export const placeOrderSignal = defineSignal<[PlaceOrderRequest]>('placeOrder');
export const cancelAllSignal = defineSignal<[{ readonly reason?: string }]>('cancelAll');
export const resetUpdate = defineUpdate<ResetResult, []>('reset');
export const deskStateQuery = defineQuery<DeskView>('deskState');

/**
 * One desk per broker account: the registry of open orders, the duplicate-intent guard, the circuit breaker
 * and the kill switch. New orders enter only through the desk's placeOrder handler, so the desk's history
 * totally orders every placement against every cancelAll: an order placed a moment before the kill switch is
 * already in the registry when cancelAll runs, and one placed after it is refused.
 *
 * The rules live in DeskBook (src/domain/desk/desk-book.ts); this is the shell that calls activities, starts
 * order workflows, signals them and continues-as-new with the book's snapshot.
 */
export async function deskWorkflow(input: DeskInput): Promise<void> {
  return new Desk(input).run();
}

class Desk {
  private readonly book: DeskBook;
  private readonly broker: BrokerName;
  private readonly account: string;
  private readonly settings: OrderSettings;
  private readonly acts: BrokerActivities;
  /** Cancels and confirms within the kill switch's own bound, plus one broker call's time for the cancel itself. */
  private readonly confirmer: BrokerActivities;
  private readonly availability: BrokerActivities;
  private readonly brokerEvents = new CancellationScope();
  private pendingCancelAll: { reason: string } | null = null;
  private continueAsNewGate: ContinueAsNewGate | undefined;
  /**
   * Keys do not disappear from a running worker: once configured, the broker is not asked about again in this
   * run. A refusal is re-checked on every placement, so a worker restarted with keys is used at once.
   */
  private brokerConfigured = false;
  /** Signals handing cancel results to order workflows during a cancel-all, settled before it completes. */
  private readonly notifications: Promise<void>[] = [];
  /** Order workflows that refused a signal during this cancel-all (closed or gone), with the reason. */
  private readonly notRunning = new Map<string, string>();
  /** Tells a person; fire-and-forget, so a destination that is down never holds the kill switch. */
  private readonly notifier: Notifier;

  constructor(private readonly input: DeskInput) {
    this.book = new DeskBook(input.state ?? DeskBook.empty());
    this.notifier = createNotifier(input.notifications);
    this.broker = input.broker;
    this.account = input.account;
    this.settings = input.settings;
    const retry = {
      maximumAttempts: this.settings.retry.maximumAttempts,
      initialInterval: this.settings.retry.initialIntervalMs,
      backoffCoefficient: this.settings.retry.backoffCoefficient,
      nonRetryableErrorTypes: [...this.settings.nonRetryableErrorTypes],
    };
    const callMs = this.settings.activityTimeoutSeconds * 1000;
    // The kill switch is not held for the whole start-to-close timeout by a worker lost mid-cancel.
    this.acts = proxyActivities<BrokerActivities>({
      startToCloseTimeout: callMs,
      heartbeatTimeout: BROKER_HEARTBEAT_TIMEOUT_MS,
      retry,
    });
    this.confirmer = proxyActivities<BrokerActivities>({
      startToCloseTimeout: CONFIRM_TIMEOUT_MS + callMs,
      heartbeatTimeout: BROKER_HEARTBEAT_TIMEOUT_MS,
      retry,
    });
    // A regular activity, not a local one: a local activity awaited inside concurrent placeOrder updates that
    // start children replayed its completion in another order than it ran (a non-determinism error seen under
    // the chaos bench), and a desk that cannot replay takes the kill switch down with it.
    this.availability = proxyActivities<BrokerActivities>({
      startToCloseTimeout: '10 seconds',
      retry: { maximumAttempts: 3, initialInterval: '200 milliseconds' },
    });
  }

  async run(): Promise<void> {
    this.startBrokerEvents();
    this.registerHandlers();
    // The desk is the one workflow every placement and every kill switch goes through, and a worker that takes
    // it over replays its whole history before it can answer. Under the chaos bench a 3,500-event desk took
    // longer to replay than a workflow task may take (10 s), so each worker restart left the kill switch waiting
    // minutes. A run is kept short instead of waiting for the server's suggestion (thousands of events).
    const budget = patched('desk-history-budget')
      ? (this.input.continueAsNewAfterEvents ?? DESK_HISTORY_BUDGET)
      : Number.POSITIVE_INFINITY;
    // Runs started before the gate read the history length in the condition itself (continue-as-new-gate.ts).
    const gated = patched(CONTINUE_AS_NEW_GATE_PATCH);
    this.continueAsNewGate = new ContinueAsNewGate(Number.isFinite(budget) ? budget : undefined);
    const gate = this.continueAsNewGate;
    const due = () => (gated ? gate.due : gate.observe());
    for (;;) {
      await condition(() => this.pendingCancelAll !== null || due());
      if (this.pendingCancelAll) {
        const { reason } = this.pendingCancelAll;
        this.pendingCancelAll = null;
        await this.runCancelAll(reason);
        gate.observe();
        continue;
      }
      await condition(allHandlersFinished);
      if (this.pendingCancelAll) continue;
      this.brokerEvents.cancel();
      const notifications = this.notifier.carry();
      await continueAsNew<typeof deskWorkflow>({ ...this.input, state: this.book.state, notifications });
    }
  }

  /**
   * The event path for fills: relays the broker's order updates to the order workflows while this run lasts
   * (polling stays their fallback). Its scope is cancelled before continue-as-new; the next run starts it again.
   */
  private startBrokerEvents(): void {
    const { broker, account } = this;
    if (this.settings.brokerEvents === false || !brokerHasOrderUpdates(broker) || !patched('desk-broker-events'))
      return;
    const { relayBrokerEvents } = proxyActivities<ReturnType<typeof createBrokerEventActivities>>({
      startToCloseTimeout: '1 day',
      heartbeatTimeout: '30 seconds',
      retry: {
        initialInterval: '1 second',
        maximumInterval: '30 seconds',
        nonRetryableErrorTypes: ['BrokerUnauthorized'],
      },
    });
    void this.brokerEvents
      .run(() => relayBrokerEvents({ broker, account }))
      .then(
        (r) => log.info('broker events not relayed', { broker, reason: r.reason }),
        (err) => {
          if (!isCancellation(err))
            log.warn('broker event relay stopped; fills are polled', { error: errorMessage(err) });
        },
      );
  }

  private registerHandlers(): void {
    // Every handler that runs is recorded work: the continue-as-new gate looks at the history length there.
    const observed =
      <A extends unknown[], R>(handler: (...args: A) => R) =>
      (...args: A): R => {
        this.continueAsNewGate?.observe();
        return handler(...args);
      };
    setHandler(
      placeOrderUpdate,
      observed((req: PlaceOrderRequest) => this.place(req)),
      { validator: (req: PlaceOrderRequest) => this.validate(req) },
    );
    setHandler(
      placeOrderSignal,
      observed((req: PlaceOrderRequest) => this.placeBySignal(req)),
    );
    setHandler(
      orderTerminalSignal,
      observed((notice: OrderTerminalNotice) => {
        const wasTripped = this.book.state.breaker !== null;
        this.book.orderEnded(notice, now());
        const breaker = this.book.state.breaker;
        if (breaker && !wasTripped && patched(NOTIFY_PATCH)) {
          this.notifier.notify(
            circuitBreakerNotification(workflowInfo().workflowId, this.brokerAccount, breaker, now()),
          );
        }
        if (notice.filledQuantity > 0 && patched(FILL_WAKES_POSITIONS_PATCH)) void this.wakePositions(notice);
      }),
    );
    setHandler(
      cancelAllSignal,
      observed(({ reason }: { readonly reason?: string }) => {
        // Engaged at once, inside the signal's own workflow task: nothing placed after this point gets through.
        this.pendingCancelAll = { reason: this.book.engageKillSwitch(reason, now()) };
      }),
    );
    setHandler(
      resetUpdate,
      observed(() => this.book.reset()),
    );
    setHandler(deskStateQuery, () => ({ broker: this.broker, account: this.account, ...this.book.state }));
  }

  /** The positions watch reads the broker now instead of at its next reconcile; no watch running is fine. */
  private async wakePositions(notice: OrderTerminalNotice): Promise<void> {
    try {
      await getExternalWorkflowHandle(WorkflowIds.positions(this.broker, this.account)).signal(positionsChangedSignal, {
        symbol: notice.symbol,
        reason: `${notice.side} ${notice.clientOrderId} ${notice.state} with ${notice.filledQuantity} filled`,
      });
    } catch {
      /* no positions watch for this account */
    }
  }

  private get brokerAccount(): string {
    return `${this.broker}:${this.account}`;
  }

  /**
   * Price once. An update's validator does not run on replay, so nothing it computes can be used by the handler;
   * pricing in both (as the desk did) computed every price twice, and a replay after a pricing change repriced.
   * So a caller that can (the CLI) prepares the order outside the workflow and the desk only checks it here,
   * without pricing: a bad order is refused before it is accepted and leaves nothing in the desk's history. A
   * raw request (older monitors and clients) is priced by the handler alone (`preparedFor`); a pricing
   * failure then fails the accepted update with the same ValidationError (UpdateAccepted and UpdateCompleted
   * events in history), which the caller sees as it saw the validator's refusal.
   */
  private validate(req: PlaceOrderRequest): void {
    refuseIf(() => this.book.assertAccepting());
    if (req.prepared === undefined && req.request === undefined) {
      throw ApplicationFailure.create({
        message: 'prepared: is required (the order as priced by domain prepareLimitOrder)',
        type: 'ValidationError',
        nonRetryable: true,
        details: [[{ field: 'prepared', rule: 'is required' }]],
      });
    }
    if (req.prepared !== undefined) this.checkLimits(this.checkPrepared(req.prepared));
  }

  /** The caller's prepared order, checked without pricing it again (domain checkPreparedOrder). */
  private checkPrepared(prepared: PreparedOrderToPlace): PreparedOrderToPlace {
    return asValidationFailure(() => orderRequests().checkPreparedOrder(prepared, this.broker));
  }

  private checkLimits(prepared: PreparedOrderToPlace): void {
    const { limits } = this.settings;
    if (!limits) return;
    asValidationFailure(() =>
      orderLimits().assertWithinOrderLimits({ quantity: prepared.quantity, limitPrice: prepared.limitPrice }, limits),
    );
  }

  /**
   * The order to place: a prepared one as it came (checked by the validator, which replay skips: re-checking
   * here could decide differently after a rule change), or a raw request priced now, the one time it is priced.
   */
  private preparedFor(req: PlaceOrderRequest): PreparedOrderToPlace {
    if (req.prepared !== undefined) return req.prepared;
    const request = req.request!;
    const prepared = asValidationFailure(() =>
      orderRequests().prepareLimitOrder({ ...request, broker: this.broker }, req.pricing ?? this.settings.pricing),
    );
    const toPlace = { ...prepared, clientOrderId: request.clientOrderId };
    this.checkLimits(toPlace);
    return toPlace;
  }

  /**
   * Refuses at once an order for a broker this worker has no configuration for, instead of accepting it and
   * letting its order workflow be rejected in the background. Paper is embedded and always configured.
   */
  private async ensureBrokerConfigured(): Promise<void> {
    if (this.brokerConfigured) return;
    const { broker } = this;
    let availability;
    try {
      availability = await this.availability.brokerAvailability({ broker });
    } catch (err) {
      // The check itself broke (not a missing variable): the order workflow meets and reports any real
      // problem, so a protective exit is never refused for a fault of the check.
      log.warn('broker availability check failed; placing anyway', { broker, error: errorMessage(err) });
      return;
    }
    if (availability.configured) {
      this.brokerConfigured = true;
      return;
    }
    const vars = availability.missing.join(', ');
    throw ApplicationFailure.create({
      message:
        `the ${broker} broker is not configured on the worker: set ${vars} in the worker's environment and ` +
        `restart it (${availability.detail ?? 'missing configuration'})`,
      type: 'BrokerNotConfigured',
      nonRetryable: true,
      details: [{ broker, missing: availability.missing }],
    });
  }

  private async place(req: PlaceOrderRequest): Promise<PlaceOrderResult> {
    return this.placePrepared(req, this.preparedFor(req));
  }

  private async placePrepared(req: PlaceOrderRequest, prepared: PreparedOrderToPlace): Promise<PlaceOrderResult> {
    const { broker, book } = this;
    // Before every check below, so they and the registration run in one step with nothing in between. Not
    // awaited at all where it does not apply: a replayed old history must reach startChild in the same step.
    if (broker !== 'paper' && patched('desk-broker-availability-activity')) await this.ensureBrokerConfigured();
    const { clientOrderId } = prepared;
    const existing = refuseIf(() => book.existingFor({ ...req, clientOrderId }, prepared, patched));
    if (existing) return existing;
    // Checked again here: a cancelAll may have been handled while this update waited for its turn.
    refuseIf(() => book.assertAccepting());
    // Registered before the child starts so a cancelAll arriving meanwhile already sees it.
    const entry = book.register({
      clientOrderId,
      workflowId: WorkflowIds.order(clientOrderId),
      symbol: prepared.symbol,
      side: prepared.side,
      quantity: prepared.quantity,
      limitPrice: prepared.limitPrice,
      intentKey: prepared.intentKey,
      placedAt: now(),
    });
    try {
      await startChild(orderWorkflow, {
        workflowId: entry.workflowId,
        // Orders outlive the desk's run: it continues-as-new and must not take its orders with it.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        staticSummary: `${prepared.side.toUpperCase()} ${prepared.quantity} ${prepared.symbol} limit ${prepared.limitPrice} (${broker})`,
        args: [
          {
            // The prepared order alone: the order workflow takes its identity from it, one shape end to end.
            prepared,
            settings: this.settings,
            deskWorkflowId: workflowInfo().workflowId,
            ...(req.requesterWorkflowId ? { requesterWorkflowId: req.requesterWorkflowId } : {}),
          },
        ],
      });
    } catch (err) {
      book.unregister(clientOrderId);
      if (err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError') {
        return {
          workflowId: entry.workflowId,
          clientOrderId,
          limitPrice: prepared.limitPrice,
          existing: 'same_client_order_id',
        };
      }
      throw err;
    }
    entry.started = true;
    return { workflowId: entry.workflowId, clientOrderId, limitPrice: entry.limitPrice, existing: null };
  }

  /** placeOrder by signal: a refusal is told to the requester as a rejected order. */
  private async placeBySignal(req: PlaceOrderRequest): Promise<void> {
    try {
      // No validator on a signal: the same checks, then the one pricing of a raw request.
      this.validate(req);
      await this.placePrepared(req, this.preparedFor(req));
    } catch (err) {
      if (!req.requesterWorkflowId) return;
      const failure = err instanceof ApplicationFailure ? err : null;
      const order = req.prepared ?? req.request;
      const clientOrderId = order?.clientOrderId ?? 'unknown';
      await getExternalWorkflowHandle(req.requesterWorkflowId).signal(orderTerminalSignal, {
        clientOrderId,
        workflowId: WorkflowIds.order(clientOrderId),
        symbol: order?.symbol ?? '',
        side: order?.side ?? 'sell',
        state: 'rejected',
        brokerOrderId: null,
        filledQuantity: 0,
        averageFillPrice: null,
        reason: failure?.message ?? String(err),
        errorType: failure?.type ?? 'Error',
      });
    }
  }

  /**
   * The kill switch. Everything the broker shows open is cancelled by the desk directly and in parallel (one
   * hop, so 25 orders confirm in about one broker round trip), and each flowguard order workflow is handed the
   * broker's answer so it closes at once. Orders the broker does not show open yet (a submit in flight) are
   * cancelled by their own workflow, which cancels right after its submit returns.
   */
  private async runCancelAll(reason: string): Promise<void> {
    const { book, broker } = this;
    const { run, ours } = book.beginCancelAll(reason, now());
    const why = `cancel-all: ${reason}`;
    let open: OpenOrderSummary[] = [];
    try {
      open = await this.acts.listOpenBrokerOrders({ broker });
    } catch (err) {
      book.listFailed(run, errorMessage(err));
    }
    const atBroker = new Set(open.map((o) => o.clientOrderId).filter((id): id is string => id !== null));
    const viaWorkflow = ours.filter((o) => !atBroker.has(o.clientOrderId));

    const batched = patched('desk-cancel-all-batch');
    await Promise.all([
      ...(batched
        ? [this.cancelAllAtBroker(run, open, why)]
        : open.map((o) => this.cancelAtBroker(run, o, book.openOrder(o.clientOrderId), why))),
      ...viaWorkflow.map(async (o) => {
        await condition(() => o.started || !book.isOpen(o.clientOrderId));
        if (book.isOpen(o.clientOrderId)) await this.signalOrder(o.workflowId, why);
      }),
    ]);
    const confirmed = await condition(() => DeskBook.settled(run), CONFIRM_TIMEOUT_MS);
    // Settled first (the signals went out already; no new command): a refused one tells a closed workflow.
    await Promise.all(this.notifications.splice(0));
    book.completeCancelAll(run, confirmed, CONFIRM_TIMEOUT_MS, this.notRunning, WorkflowIds.order, now());
    this.notRunning.clear();
    if (patched(NOTIFY_PATCH)) {
      this.notifier.notify(killSwitchNotification(workflowInfo().workflowId, this.brokerAccount, run, now()));
    }
  }

  private async notifyOrder(workflowId: string, order: BrokerOrderSnapshot): Promise<void> {
    try {
      await getExternalWorkflowHandle(workflowId).signal(brokerUpdateSignal, order);
    } catch (err) {
      this.notRunning.set(workflowId, errorMessage(err));
      log.warn('could not hand the cancel result to an order workflow', { workflowId, error: errorMessage(err) });
    }
  }

  private async signalOrder(workflowId: string, reason: string): Promise<void> {
    try {
      await getExternalWorkflowHandle(workflowId).signal(cancelOrderSignal, { reason });
    } catch (err) {
      this.notRunning.set(workflowId, errorMessage(err));
      log.warn('could not signal an order workflow', { workflowId, error: errorMessage(err) });
    }
  }

  /** The broker's last answer after the cancel decides the entry; the order workflow is handed it at once. */
  private cancelAnswered(entry: CancelAllEntry, ours: OpenOrderEntry | undefined, order: BrokerOrderSnapshot): void {
    this.book.cancelAnswered(entry, ours, order);
    // The order workflow learns the outcome now instead of at its next poll, but the confirmation does not wait
    // for that signal to be delivered (the server sends them one by one). One that already told the desk it
    // ended (its own poll saw the cancel first) needs no news: the signal would only fail and fill history.
    const stillOpen = ours !== undefined && this.book.isOpen(ours.clientOrderId);
    if (ours && (stillOpen || !patched('desk-cancel-all-batch')))
      this.notifications.push(this.notifyOrder(ours.workflowId, order));
  }

  private async cancelFailed(entry: CancelAllEntry, ours: OpenOrderEntry | undefined, why: string, detail: string) {
    this.book.cancelFailed(entry, ours, detail);
    // Ours stay pending: their workflow takes over the cancel and keeps trying until the broker answers.
    if (ours) await this.signalOrder(ours.workflowId, why);
  }

  /** Every listed order cancelled and confirmed inside one activity: a few history events per kill switch. */
  private async cancelAllAtBroker(run: CancelAllRun, open: readonly OpenOrderSummary[], why: string): Promise<void> {
    if (open.length === 0) return;
    const targets = open.map((o) => {
      const ours = this.book.openOrder(o.clientOrderId);
      return { o, ours, entry: this.book.cancelEntry(run, o, ours) };
    });
    // The activity hands each order workflow its answer itself (through the worker's client), so the desk writes
    // no signal command per order: 25 orders cost the desk's history 50 events less, and the workflow tasks
    // their results woke. Before this patch the desk signalled them after the activity (cancelAnswered).
    const handOff = patched(CANCEL_ALL_HAND_OFF_PATCH);
    const closes = handOff && patched(DESK_CLOSES_ANSWERED_PATCH);
    let outcomes: CancelAndConfirmOutcome[];
    try {
      outcomes = await this.confirmer.cancelAndConfirmBrokerOrders({
        broker: this.broker,
        orders: targets.map(({ o, ours }) => ({
          brokerOrderId: o.brokerOrderId,
          clientOrderId: o.clientOrderId,
          ...(handOff && ours ? { orderWorkflowId: ours.workflowId } : {}),
        })),
        confirmWithinMs: CONFIRM_TIMEOUT_MS,
        ...(closes ? { deskHasAnswer: true } : {}),
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      await Promise.all(
        targets.map(async (t) => {
          await this.cancelFailed(t.entry, t.ours, why, errorMessage(err));
          // An attempt that died after handing its answer over may have ended that order without a notice to the
          // desk (and the cancel signal may still have reached it before it closed): the broker says how it ended.
          if (closes && t.ours) await this.closeFromBroker(t.ours);
        }),
      );
      return;
    }
    const byId = new Map(outcomes.map((r) => [r.brokerOrderId, r]));
    await Promise.all(
      targets.map(async ({ o, ours, entry }) => {
        const r = byId.get(o.brokerOrderId);
        if (!r?.ok) return this.cancelFailed(entry, ours, why, r ? r.error : 'no answer for this order');
        if (!handOff) return this.cancelAnswered(entry, ours, r.order);
        this.book.cancelAnswered(entry, ours, r.order);
        // A refused hand-off (the workflow closed or is gone) is reported like a refused signal was.
        if (ours && r.handOff && !r.handOff.delivered) this.notRunning.set(ours.workflowId, r.handOff.error);
        // Handed with deskHasAnswer, the order workflow tells the desk nothing more: the desk closes it here.
        if (closes && ours && r.handOff?.delivered && isTerminalOrderState(r.order.state)) {
          this.closeAnswered(ours, r.order);
        }
      }),
    );
  }

  /** Ends an order the kill switch's answer closed, as its terminal notice would have (once: it may have come). */
  private closeAnswered(ours: OpenOrderEntry, order: BrokerAnswerSnapshot): void {
    if (!this.book.isOpen(ours.clientOrderId)) return;
    const notice: OrderTerminalNotice = {
      clientOrderId: ours.clientOrderId,
      workflowId: ours.workflowId,
      symbol: ours.symbol,
      side: ours.side,
      state: order.state,
      brokerOrderId: order.brokerOrderId,
      filledQuantity: order.filledQuantity,
      averageFillPrice: order.averageFillPrice,
      // As the order workflow's own notice of a broker answer reads: the run's reason heads the cancel-all, not
      // each of its lines (an order closed either way must print the same line).
      reason: null,
      errorType: null,
    };
    this.book.orderEnded(notice, now());
    if (notice.filledQuantity > 0 && patched(FILL_WAKES_POSITIONS_PATCH)) void this.wakePositions(notice);
  }

  /** An order whose workflow may close without telling the desk: a terminal broker view closes it here. */
  private async closeFromBroker(ours: OpenOrderEntry): Promise<void> {
    if (!this.book.isOpen(ours.clientOrderId)) return;
    try {
      const order = await this.acts.getBrokerOrder({ broker: this.broker, clientOrderId: ours.clientOrderId });
      if (order && isTerminalOrderState(order.state)) this.closeAnswered(ours, order);
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('could not read a closed order at the broker', {
        workflowId: ours.workflowId,
        error: errorMessage(err),
      });
    }
  }

  /** Before 'desk-cancel-all-batch': one cancel activity per order, confirmed by polling from here. */
  private async cancelAtBroker(
    run: CancelAllRun,
    o: OpenOrderSummary,
    ours: OpenOrderEntry | undefined,
    why: string,
  ): Promise<void> {
    const { broker } = this;
    const entry = this.book.cancelEntry(run, o, ours);
    try {
      const result = await this.acts.cancelBrokerOrder({
        broker,
        brokerOrderId: o.brokerOrderId,
        clientOrderId: o.clientOrderId,
      });
      let order = result.order;
      for (let i = 0; !isTerminalOrderState(order.state) && i < 60; i++) {
        await sleep(500);
        const latest = await this.acts.getBrokerOrder({ broker, brokerOrderId: o.brokerOrderId });
        if (latest) order = latest;
      }
      this.cancelAnswered(entry, ours, order);
    } catch (err) {
      if (isCancellation(err)) throw err;
      await this.cancelFailed(entry, ours, why, errorMessage(err));
    }
  }
}

/** A ValidationError becomes the non-retryable failure the caller sees (fields and rules in its details). */
function asValidationFailure<T>(rule: () => T): T {
  try {
    return rule();
  } catch (err) {
    if (err instanceof ValidationError) {
      throw ApplicationFailure.create({
        message: err.message,
        type: 'ValidationError',
        nonRetryable: true,
        details: [err.issues],
      });
    }
    throw err;
  }
}

function refuseIf<T>(rule: () => T): T {
  try {
    return rule();
  } catch (err) {
    if (err instanceof DeskRefusal) {
      throw ApplicationFailure.create({ message: err.message, type: 'OrderRefused', nonRetryable: true });
    }
    throw err;
  }
}

function now(): string {
  return new Date().toISOString();
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
  return String(err);
}
