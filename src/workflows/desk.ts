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
import { type BrokerName } from '../domain/orders/order-request';
import { isTerminalOrderState, type OrderState } from '../domain/orders/order-state';
import {
  type OrderPricingConfig,
  type OrderRequestInput,
  type PreparedLimitOrder,
} from '../domain/orders/order-request';
import { ValidationError } from '../domain/validation';
import { WorkflowIds } from '../shared/contracts';
import { orderRequests } from './lazy-domain';
import { orderTerminalSignal, type OrderTerminalNotice } from './notifications';
import {
  BROKER_HEARTBEAT_TIMEOUT_MS,
  brokerUpdateSignal,
  cancelOrderSignal,
  orderWorkflow,
  type OrderSettings,
} from './order';

type BrokerActivities = ReturnType<typeof createBrokerActivities>;

export interface DeskInput {
  readonly broker: BrokerName;
  readonly account: string;
  readonly settings: OrderSettings;
  /** Carried across continue-as-new. */
  readonly state?: DeskState;
}

export interface PlaceOrderRequest {
  /** Raw order request (validated by the desk and again by the order workflow). */
  readonly request: OrderRequestInput & { readonly clientOrderId: string };
  /**
   * True when the caller gave no client order id and one was generated for it (the CLI's `fg-<uuid>`): only
   * then may an open order with the same intent stand in for this one. A caller's own id is its identity
   * and is never mapped onto another order.
   */
  readonly clientOrderIdGenerated?: boolean;
  /** Pricing configuration resolved by the caller (strategies, offsets); defaults to the desk's. */
  readonly pricing?: OrderPricingConfig;
  /** Workflow to notify when the order is terminal (e.g. a position monitor). */
  readonly requesterWorkflowId?: string;
}

export interface PlaceOrderResult {
  readonly workflowId: string;
  readonly clientOrderId: string;
  readonly limitPrice: string;
  /** Set when the request matched an order already in flight (same client order id or same intent). */
  readonly existing: 'same_client_order_id' | 'same_intent' | null;
}

export interface OpenOrderEntry {
  readonly clientOrderId: string;
  readonly workflowId: string;
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  readonly quantity: number;
  readonly limitPrice: string;
  readonly intentKey: string;
  readonly placedAt: string;
  started: boolean;
}

export type CancelAllOutcome =
  | 'pending'
  | 'cancelled'
  | 'filled'
  | 'partially_filled_then_cancelled'
  | 'rejected'
  | 'expired'
  | 'failed'
  | 'unconfirmed';

export interface CancelAllEntry {
  readonly key: string;
  readonly source: 'flowguard' | 'broker';
  readonly clientOrderId: string | null;
  brokerOrderId: string | null;
  readonly symbol: string;
  outcome: CancelAllOutcome;
  filledQuantity: number;
  detail: string | null;
}

export interface CancelAllRun {
  readonly id: number;
  readonly reason: string;
  readonly requestedAt: string;
  completedAt: string | null;
  readonly results: Record<string, CancelAllEntry>;
}

export interface Latch {
  readonly reason: string;
  readonly at: string;
  readonly clientOrderId?: string;
}

export interface DeskState {
  killSwitch: Latch | null;
  breaker: Latch | null;
  openOrders: Record<string, OpenOrderEntry>;
  /** The last terminal notices, newest last (bounded). */
  recent: OrderTerminalNotice[];
  cancelAll: CancelAllRun | null;
  cancelAllCount: number;
}

export interface DeskView extends DeskState {
  readonly broker: BrokerName;
  readonly account: string;
}

export interface ResetResult {
  readonly killSwitchWasEngaged: boolean;
  readonly breakerWasTripped: boolean;
  readonly breakerReason: string | null;
}

const RECENT_LIMIT = 50;
/** Events after which a desk run continues as new: about 70 placements, replayed in well under a second. */
const DESK_HISTORY_BUDGET = 1000;
const CONFIRM_TIMEOUT_MS = 30_000;

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
 */
export async function deskWorkflow(input: DeskInput): Promise<void> {
  const state: DeskState = input.state ?? {
    killSwitch: null,
    breaker: null,
    openOrders: {},
    recent: [],
    cancelAll: null,
    cancelAllCount: 0,
  };
  const { broker, account, settings } = input;
  const acts = proxyActivities<BrokerActivities>({
    startToCloseTimeout: settings.activityTimeoutSeconds * 1000,
    // The kill switch is not held for the whole start-to-close timeout by a worker lost mid-cancel.
    heartbeatTimeout: BROKER_HEARTBEAT_TIMEOUT_MS,
    retry: {
      maximumAttempts: settings.retry.maximumAttempts,
      initialInterval: settings.retry.initialIntervalMs,
      backoffCoefficient: settings.retry.backoffCoefficient,
      nonRetryableErrorTypes: [...settings.nonRetryableErrorTypes],
    },
  });
  let pendingCancelAll: { reason: string } | null = null;

  // Cancels and confirms within the kill switch's own bound, plus one broker call's time for the cancel itself.
  const confirmer = proxyActivities<BrokerActivities>({
    startToCloseTimeout: CONFIRM_TIMEOUT_MS + settings.activityTimeoutSeconds * 1000,
    heartbeatTimeout: BROKER_HEARTBEAT_TIMEOUT_MS,
    retry: {
      maximumAttempts: settings.retry.maximumAttempts,
      initialInterval: settings.retry.initialIntervalMs,
      backoffCoefficient: settings.retry.backoffCoefficient,
      nonRetryableErrorTypes: [...settings.nonRetryableErrorTypes],
    },
  });
  // A regular activity, not a local one: a local activity awaited inside concurrent placeOrder updates that
  // start children replayed its completion in another order than it ran (a non-determinism error seen under
  // the chaos bench), and a desk that cannot replay takes the kill switch down with it.
  const { brokerAvailability } = proxyActivities<BrokerActivities>({
    startToCloseTimeout: '10 seconds',
    retry: { maximumAttempts: 3, initialInterval: '200 milliseconds' },
  });
  // Keys do not disappear from a running worker: once configured, the broker is not asked about again in this
  // run. A refusal is re-checked on every placement, so a worker restarted with keys is used at once.
  let brokerConfigured = false;

  // The event path for fills: relays the broker's order updates to the order workflows while this run lasts
  // (polling stays their fallback). Its scope is cancelled before continue-as-new; the next run starts it again.

  const brokerEvents = new CancellationScope();
  if (settings.brokerEvents !== false && brokerHasOrderUpdates(broker) && patched('desk-broker-events')) {
    const { relayBrokerEvents } = proxyActivities<ReturnType<typeof createBrokerEventActivities>>({
      startToCloseTimeout: '1 day',
      heartbeatTimeout: '30 seconds',
      retry: {
        initialInterval: '1 second',
        maximumInterval: '30 seconds',
        nonRetryableErrorTypes: ['BrokerUnauthorized'],
      },
    });
    void brokerEvents
      .run(() => relayBrokerEvents({ broker, account }))
      .then(
        (r) => log.info('broker events not relayed', { broker, reason: r.reason }),
        (err) => {
          if (!isCancellation(err))
            log.warn('broker event relay stopped; fills are polled', { error: errorMessage(err) });
        },
      );
  }

  const now = () => new Date().toISOString();

  function refusal(): string | null {
    if (state.killSwitch) {
      return `kill switch engaged at ${state.killSwitch.at} (${state.killSwitch.reason}): new orders are refused until 'flowguard kill-switch reset'`;
    }
    if (state.breaker) {
      return `circuit breaker tripped at ${state.breaker.at} (${state.breaker.reason}): new orders are refused until 'flowguard kill-switch reset'`;
    }
    return null;
  }

  function prepare(req: PlaceOrderRequest) {
    try {
      return orderRequests().prepareLimitOrder({ ...req.request, broker }, req.pricing ?? settings.pricing);
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

  function validate(req: PlaceOrderRequest): void {
    const refused = refusal();
    if (refused) throw ApplicationFailure.create({ message: refused, type: 'OrderRefused', nonRetryable: true });
    prepare(req);
  }

  /**
   * Refuses at once an order for a broker this worker has no configuration for, instead of accepting it and
   * letting its order workflow be rejected in the background. Paper is embedded and always configured.
   */
  async function ensureBrokerConfigured(): Promise<void> {
    if (brokerConfigured) return;
    let availability;
    try {
      availability = await brokerAvailability({ broker });
    } catch (err) {
      // The check itself broke (not a missing variable): the order workflow meets and reports any real
      // problem, so a protective exit is never refused for a fault of the check.
      log.warn('broker availability check failed; placing anyway', { broker, error: errorMessage(err) });
      return;
    }
    if (availability.configured) {
      brokerConfigured = true;
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

  /** An order already known for this request, or null when a new order is to be placed. */
  function existingFor(req: PlaceOrderRequest, prepared: PreparedLimitOrder): PlaceOrderResult | null {
    const clientOrderId = req.request.clientOrderId;
    const same = state.openOrders[clientOrderId];
    if (same) {
      // A retry of the same request is answered with its order; the same id on a different order is a caller's
      // mistake that must not pass as success. (Entries from before quantity joined the key match on price.)
      const sameOrder = same.intentKey === prepared.intentKey || same.intentKey === priceIntent(prepared.intentKey);
      if (!sameOrder && patched('desk-client-order-id-reuse')) {
        throw ApplicationFailure.create({
          message: `client order id ${clientOrderId} is already used by another open order (${same.side} ${same.quantity} ${same.symbol} limit ${same.limitPrice}); use a new id`,
          type: 'OrderRefused',
          nonRetryable: true,
        });
      }
      return { ...summary(same), existing: 'same_client_order_id' };
    }
    const done = (): PlaceOrderResult | null => {
      const notice = state.recent.find((n) => n.clientOrderId === clientOrderId);
      if (!notice) return null;
      return {
        workflowId: notice.workflowId,
        clientOrderId,
        limitPrice: prepared.limitPrice,
        existing: 'same_client_order_id',
      };
    };
    if (!patched('desk-order-identity')) {
      // Histories from before: any open order at the same symbol, side and limit (quantity ignored, the
      // caller's id ignored) stood in for this one. Replayed as it ran.
      const legacy = Object.values(state.openOrders).find(
        (o) => priceIntent(o.intentKey) === priceIntent(prepared.intentKey),
      );
      if (legacy) return { ...summary(legacy), existing: 'same_intent' };
      return done();
    }
    const finished = done();
    if (finished) return finished;
    if (req.clientOrderIdGenerated !== true) return null;
    const sameIntent = Object.values(state.openOrders).find((o) => o.intentKey === prepared.intentKey);
    return sameIntent ? { ...summary(sameIntent), existing: 'same_intent' } : null;
  }

  async function place(req: PlaceOrderRequest): Promise<PlaceOrderResult> {
    const prepared = prepare(req);
    // Before every check below, so they and the registration run in one step with nothing in between. Not
    // awaited at all where it does not apply: a replayed old history must reach startChild in the same step.
    if (broker !== 'paper' && patched('desk-broker-availability-activity')) await ensureBrokerConfigured();
    const clientOrderId = req.request.clientOrderId;
    const existing = existingFor(req, prepared);
    if (existing) return existing;
    // Checked again here: a cancelAll may have been handled while this update waited for its turn.
    const refused = refusal();
    if (refused) throw ApplicationFailure.create({ message: refused, type: 'OrderRefused', nonRetryable: true });

    const entry: OpenOrderEntry = {
      clientOrderId,
      workflowId: WorkflowIds.order(clientOrderId),
      symbol: prepared.symbol,
      side: prepared.side,
      quantity: prepared.quantity,
      limitPrice: prepared.limitPrice,
      intentKey: prepared.intentKey,
      placedAt: now(),
      started: false,
    };
    // Registered before the child starts so a cancelAll arriving meanwhile already sees it.
    state.openOrders[clientOrderId] = entry;
    try {
      await startChild(orderWorkflow, {
        workflowId: entry.workflowId,
        // Orders outlive the desk's run: it continues-as-new and must not take its orders with it.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        staticSummary: `${prepared.side.toUpperCase()} ${prepared.quantity} ${prepared.symbol} limit ${prepared.limitPrice} (${broker})`,
        args: [
          {
            request: { ...req.request, broker },
            prepared,
            settings,
            deskWorkflowId: workflowInfo().workflowId,
            ...(req.requesterWorkflowId ? { requesterWorkflowId: req.requesterWorkflowId } : {}),
          },
        ],
      });
    } catch (err) {
      delete state.openOrders[clientOrderId];
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
    return { ...summary(entry), existing: null };
  }

  setHandler(placeOrderUpdate, place, { validator: validate });

  setHandler(placeOrderSignal, async (req) => {
    try {
      validate(req);
      await place(req);
    } catch (err) {
      if (!req.requesterWorkflowId) return;
      const failure = err instanceof ApplicationFailure ? err : null;
      await getExternalWorkflowHandle(req.requesterWorkflowId).signal(orderTerminalSignal, {
        clientOrderId: req.request.clientOrderId,
        workflowId: WorkflowIds.order(req.request.clientOrderId),
        symbol: req.request.symbol,
        side: req.request.side,
        state: 'rejected',
        brokerOrderId: null,
        filledQuantity: 0,
        averageFillPrice: null,
        reason: failure?.message ?? String(err),
        errorType: failure?.type ?? 'Error',
      });
    }
  });

  setHandler(orderTerminalSignal, (notice) => {
    delete state.openOrders[notice.clientOrderId];
    state.recent.push(notice);
    if (state.recent.length > RECENT_LIMIT) state.recent.splice(0, state.recent.length - RECENT_LIMIT);
    if (notice.errorType === 'InsufficientFunds' && !state.breaker) {
      state.breaker = {
        reason: `insufficient funds on ${notice.clientOrderId}`,
        at: now(),
        clientOrderId: notice.clientOrderId,
      };
    }
    const run = state.cancelAll;
    const entry = run?.results[notice.clientOrderId];
    if (entry) {
      entry.brokerOrderId = notice.brokerOrderId;
      entry.filledQuantity = notice.filledQuantity;
      entry.outcome = outcomeOf(notice.state, notice.filledQuantity);
      entry.detail = notice.reason;
    }
  });

  setHandler(cancelAllSignal, ({ reason }) => {
    const why = reason?.trim() || 'cancel-all requested';
    // Engaged at once, inside the signal's own workflow task: nothing placed after this point gets through.
    state.killSwitch ??= { reason: why, at: now() };
    pendingCancelAll = { reason: why };
  });

  setHandler(resetUpdate, () => {
    const result: ResetResult = {
      killSwitchWasEngaged: state.killSwitch !== null,
      breakerWasTripped: state.breaker !== null,
      breakerReason: state.breaker?.reason ?? null,
    };
    state.killSwitch = null;
    state.breaker = null;
    return result;
  });

  setHandler(deskStateQuery, () => ({ broker, account, ...state }));

  /**
   * The kill switch. Everything the broker shows open is cancelled by the desk directly and in parallel (one
   * hop, so 25 orders confirm in about one broker round trip), and each flowguard order workflow is handed the
   * broker's answer so it closes at once. Orders the broker does not show open yet (a submit in flight) are
   * cancelled by their own workflow, which cancels right after its submit returns.
   */
  async function runCancelAll(reason: string): Promise<void> {
    state.cancelAllCount += 1;
    const run: CancelAllRun = { id: state.cancelAllCount, reason, requestedAt: now(), completedAt: null, results: {} };
    state.cancelAll = run;
    const why = `cancel-all: ${reason}`;

    const ours = Object.values(state.openOrders);
    for (const o of ours) {
      run.results[o.clientOrderId] = {
        key: o.clientOrderId,
        source: 'flowguard',
        clientOrderId: o.clientOrderId,
        brokerOrderId: null,
        symbol: o.symbol,
        outcome: 'pending',
        filledQuantity: 0,
        detail: null,
      };
    }

    let open: OpenOrderSummary[] = [];
    try {
      open = await acts.listOpenBrokerOrders({ broker });
    } catch (err) {
      run.results['broker:list'] = {
        key: 'broker:list',
        source: 'broker',
        clientOrderId: null,
        brokerOrderId: null,
        symbol: '*',
        outcome: 'failed',
        filledQuantity: 0,
        detail: `could not list the broker's open orders: ${errorMessage(err)}`,
      };
    }
    const atBroker = new Set(open.map((o) => o.clientOrderId).filter((id): id is string => id !== null));
    const viaWorkflow = ours.filter((o) => !atBroker.has(o.clientOrderId));

    const batched = patched('desk-cancel-all-batch');
    await Promise.all([
      ...(batched
        ? [cancelAllAtBroker(run, open, why)]
        : open.map((o) =>
            cancelAtBroker(run, o, o.clientOrderId ? state.openOrders[o.clientOrderId] : undefined, why),
          )),
      ...viaWorkflow.map(async (o) => {
        await condition(() => o.started || !state.openOrders[o.clientOrderId]);
        if (state.openOrders[o.clientOrderId]) await signalOrder(o.workflowId, why);
      }),
    ]);
    const confirmed = await condition(
      () => Object.values(run.results).every((r) => r.outcome !== 'pending'),
      CONFIRM_TIMEOUT_MS,
    );
    // Settled first (the signals went out already; no new command): a refused one tells a closed workflow.
    await Promise.all(notifications.splice(0));
    if (!confirmed) {
      for (const r of Object.values(run.results)) {
        if (r.outcome === 'pending') {
          r.outcome = 'unconfirmed';
          const within = `no terminal state within ${CONFIRM_TIMEOUT_MS / 1000} s`;
          // "Keeps trying" only for a workflow that took the desk's signal, i.e. one that is running.
          const unreachable = r.clientOrderId ? notRunning.get(WorkflowIds.order(r.clientOrderId)) : undefined;
          r.detail = unreachable
            ? `${within}; its order workflow is not running (${unreachable}): see 'flowguard order status ${r.clientOrderId}'`
            : `${within}; its order workflow keeps trying to cancel`;
        }
      }
    }
    run.completedAt = now();
    notRunning.clear();
  }

  const notifications: Promise<void>[] = [];
  /** Order workflows that refused a signal during this cancel-all (closed or gone), with the reason. */
  const notRunning = new Map<string, string>();

  async function notifyOrder(workflowId: string, order: BrokerOrderSnapshot): Promise<void> {
    try {
      await getExternalWorkflowHandle(workflowId).signal(brokerUpdateSignal, order);
    } catch (err) {
      notRunning.set(workflowId, errorMessage(err));
      log.warn('could not hand the cancel result to an order workflow', { workflowId, error: errorMessage(err) });
    }
  }

  async function signalOrder(workflowId: string, reason: string): Promise<void> {
    try {
      await getExternalWorkflowHandle(workflowId).signal(cancelOrderSignal, { reason });
    } catch (err) {
      notRunning.set(workflowId, errorMessage(err));
      log.warn('could not signal an order workflow', { workflowId, error: errorMessage(err) });
    }
  }

  function cancelEntry(run: CancelAllRun, o: OpenOrderSummary, ours: OpenOrderEntry | undefined): CancelAllEntry {
    const key = ours ? ours.clientOrderId : `broker:${o.brokerOrderId}`;
    const entry: CancelAllEntry = run.results[key] ?? {
      key,
      source: 'broker',
      clientOrderId: o.clientOrderId,
      brokerOrderId: o.brokerOrderId,
      symbol: o.symbol,
      outcome: 'pending',
      filledQuantity: o.filledQuantity,
      detail: null,
    };
    entry.brokerOrderId = o.brokerOrderId;
    run.results[key] = entry;
    return entry;
  }

  /** The broker's last answer after the cancel decides the entry; the order workflow is handed it at once. */
  function cancelAnswered(entry: CancelAllEntry, ours: OpenOrderEntry | undefined, order: BrokerOrderSnapshot): void {
    entry.filledQuantity = order.filledQuantity;
    if (isTerminalOrderState(order.state)) entry.outcome = outcomeOf(order.state, order.filledQuantity);
    else if (!ours) entry.outcome = 'unconfirmed';
    // The order workflow learns the outcome now instead of at its next poll, but the confirmation does not wait
    // for that signal to be delivered (the server sends them one by one). One that already told the desk it
    // ended (its own poll saw the cancel first) needs no news: the signal would only fail and fill history.
    const stillOpen = ours !== undefined && state.openOrders[ours.clientOrderId] !== undefined;
    if (ours && (stillOpen || !patched('desk-cancel-all-batch')))
      notifications.push(notifyOrder(ours.workflowId, order));
  }

  async function cancelFailed(
    entry: CancelAllEntry,
    ours: OpenOrderEntry | undefined,
    why: string,
    detail: string,
  ): Promise<void> {
    entry.detail = detail;
    // Ours stay pending: their workflow takes over the cancel and keeps trying until the broker answers.
    if (ours) await signalOrder(ours.workflowId, why);
    else entry.outcome = 'failed';
  }

  /** Every listed order cancelled and confirmed inside one activity: a few history events per kill switch. */
  async function cancelAllAtBroker(run: CancelAllRun, open: readonly OpenOrderSummary[], why: string): Promise<void> {
    if (open.length === 0) return;
    const targets = open.map((o) => {
      const ours = o.clientOrderId ? state.openOrders[o.clientOrderId] : undefined;
      return { o, ours, entry: cancelEntry(run, o, ours) };
    });
    let outcomes: CancelAndConfirmOutcome[];
    try {
      outcomes = await confirmer.cancelAndConfirmBrokerOrders({
        broker,
        orders: open.map((o) => ({ brokerOrderId: o.brokerOrderId, clientOrderId: o.clientOrderId })),
        confirmWithinMs: CONFIRM_TIMEOUT_MS,
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      await Promise.all(targets.map((t) => cancelFailed(t.entry, t.ours, why, errorMessage(err))));
      return;
    }
    const byId = new Map(outcomes.map((r) => [r.brokerOrderId, r]));
    await Promise.all(
      targets.map(async ({ o, ours, entry }) => {
        const r = byId.get(o.brokerOrderId);
        if (r?.ok) cancelAnswered(entry, ours, r.order);
        else await cancelFailed(entry, ours, why, r ? r.error : 'no answer for this order');
      }),
    );
  }

  /** Before 'desk-cancel-all-batch': one cancel activity per order, confirmed by polling from here. */
  async function cancelAtBroker(
    run: CancelAllRun,
    o: OpenOrderSummary,
    ours: OpenOrderEntry | undefined,
    why: string,
  ): Promise<void> {
    const entry = cancelEntry(run, o, ours);
    try {
      const result = await acts.cancelBrokerOrder({
        broker,
        brokerOrderId: o.brokerOrderId,
        clientOrderId: o.clientOrderId,
      });
      let order = result.order;
      for (let i = 0; !isTerminalOrderState(order.state) && i < 60; i++) {
        await sleep(500);
        const latest = await acts.getBrokerOrder({ broker, brokerOrderId: o.brokerOrderId });
        if (latest) order = latest;
      }
      cancelAnswered(entry, ours, order);
    } catch (err) {
      if (isCancellation(err)) throw err;
      await cancelFailed(entry, ours, why, errorMessage(err));
    }
  }

  // The desk is the one workflow every placement and every kill switch goes through, and a worker that takes it
  // over replays its whole history before it can answer. Under the chaos bench a 3,500-event desk took longer
  // to replay than a workflow task may take (10 s) on a busy machine, so each worker restart left the kill switch
  // waiting minutes. A run is kept short instead of waiting for the server's suggestion (thousands of events).
  const historyBudget = patched('desk-history-budget') ? DESK_HISTORY_BUDGET : Number.POSITIVE_INFINITY;
  const continueAsNewDue = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= historyBudget;
  for (;;) {
    await condition(() => pendingCancelAll !== null || continueAsNewDue());
    if (pendingCancelAll) {
      const { reason } = pendingCancelAll;
      pendingCancelAll = null;
      await runCancelAll(reason);
      continue;
    }
    await condition(allHandlersFinished);
    if (pendingCancelAll) continue;
    brokerEvents.cancel();
    await continueAsNew<typeof deskWorkflow>({ broker, account, settings, state });
  }
}

/** The intent key without its quantity (`SYMBOL:side:limit`): what desks matched on before 'desk-order-identity'. */
function priceIntent(intentKey: string): string {
  return intentKey.split(':').slice(0, 3).join(':');
}

function summary(o: OpenOrderEntry) {
  return { workflowId: o.workflowId, clientOrderId: o.clientOrderId, limitPrice: o.limitPrice };
}

function outcomeOf(state: OrderState, filledQuantity: number): CancelAllOutcome {
  switch (state) {
    case 'filled':
      return 'filled';
    case 'cancelled':
      return filledQuantity > 0 ? 'partially_filled_then_cancelled' : 'cancelled';
    case 'rejected':
      return 'rejected';
    case 'expired':
      return 'expired';
    case 'failed':
      return 'failed';
    default:
      return 'pending';
  }
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
  return String(err);
}
