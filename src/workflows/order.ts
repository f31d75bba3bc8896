import type { OrderLimits } from '../domain/orders/order-limits';
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BrokerOrderSnapshot, LimitOrderToPlace } from '../brokers/broker';
import type { createBrokerActivities } from '../activities/broker-activities';
import { type OrderEvent, type OrderRecord } from '../domain/orders/order-machine';
import {
  type BrokerName,
  type OrderPricingConfig,
  type OrderRequestInput,
  type PreparedLimitOrder,
} from '../domain/orders/order-request';
import { isTerminalOrderState, type OrderState } from '../domain/orders/order-state';
import {
  BROKER_WAIT_TOO_LONG,
  DEFAULT_MAX_BROKER_WAIT_SECONDS,
  DEFAULT_UNKNOWN_OUTCOME_WINDOW_SECONDS,
  SubmitNext,
  decideAfterSubmitFailure,
  resolveDeadlineMs,
} from '../domain/orders/submit-outcome';
import { ValidationError } from '../domain/validation';
import { SearchAttributes, WorkflowIds } from '../shared/contracts';
import { orderMachine, orderRequests } from './lazy-domain';
import { orderTerminalSignal, positionsChangedSignal, type OrderTerminalNotice } from './notifications';

type BrokerActivities = ReturnType<typeof createBrokerActivities>;

/** Order handling settings resolved from configuration by the caller (workflows read no environment). */
export interface OrderSettings {
  readonly pricing: OrderPricingConfig;
  readonly pollIntervalSeconds: number;
  /** Upper bound of one broker call attempt; keep it above the adapters' HTTP timeouts. */
  readonly activityTimeoutSeconds: number;
  readonly retry: {
    readonly maximumAttempts: number;
    readonly initialIntervalMs: number;
    readonly backoffCoefficient: number;
  };
  readonly nonRetryableErrorTypes: readonly string[];
  /**
   * Whether the desk relays the broker's order-update stream (brokers that have one) to the order workflows;
   * polling stays the fallback either way. Absent (settings from before this field) means on.
   */
  readonly brokerEvents?: boolean;
  /** Longest broker-advised wait honoured before another attempt (absent: 60 s). */
  readonly maxBrokerWaitSeconds?: number;
  /** How long an unknown submit outcome is resolved by lookup after the last attempt (absent: 60 s). */
  readonly unknownOutcomeWindowSeconds?: number;
  /**
   * Continue-as-new once the history reaches this many events, besides when the server suggests it. Absent
   * in production (the server's suggestion decides); tests set it low to run every state across a new run.
   */
  readonly continueAsNewAfterEvents?: number;
  /**
   * Largest order the desk accepts (orders.maxQuantity / orders.maxNotional). Absent in settings from before the
   * limits: the desk then leaves the check to the CLI that placed the order.
   */
  readonly limits?: OrderLimits;
}

export interface OrderWorkflowInput {
  /** Only in runs started before the desk handed over `prepared` alone: the raw request it was prepared from. */
  readonly request?: OrderRequestInput & { readonly clientOrderId: string };
  /**
   * The order as it was priced, once, by the desk's caller (limit price, tick, intent key). Submitted as it is and
   * never recomputed, so a pricing change deployed while the order is in flight (or between two runs of it) cannot
   * move its price or its identity away from what the broker holds.
   */
  readonly prepared?: PreparedLimitOrder;
  /** Only for runs started before `prepared` existed: the pricing they were priced with. */
  readonly pricing?: OrderPricingConfig;
  readonly settings: OrderSettings;
  readonly deskWorkflowId?: string;
  readonly requesterWorkflowId?: string;
  /** Carried across continue-as-new. */
  readonly carried?: CarriedOrder;
}

export interface CarriedOrder {
  readonly order: OrderRecord;
  readonly submitted: boolean;
  readonly cancelRequested: string | null;
  readonly cancelSent: boolean;
  readonly raw: unknown;
  readonly warnings: readonly string[];
  readonly errorType: string | null;
  /** Absent in runs carried by older versions: the submit had completed before they continued-as-new. */
  readonly submit?: SubmitProgress;
}

/** Where the submit stands; compact, carried across continue-as-new. */
export interface SubmitProgress {
  /** Submit attempts made (an attempt is one submitOrder activity, including Temporal's own retries of it). */
  attempts: number;
  /** Some attempt may have created the order at the broker: only a lookup by client order id can tell. */
  mayHaveReachedBroker: boolean;
  /** Epoch ms when the last attempt that may have reached the broker started. */
  lastReachingAttemptAt: number | null;
  /** No more submits: the attempts ran out, the broker refused, or a cancel arrived. Only lookups remain. */
  stopped: boolean;
  /** The broker stated a refusal (type and message); the order ends rejected unless a lookup finds it. */
  refusal: { readonly type: string; readonly message: string; readonly rejectReason: string | null } | null;
  lastError: { readonly type: string; readonly message: string } | null;
}

/** What `order status` shows of an order that is not at the broker yet. */
export interface SubmitStatus {
  readonly attempts: number;
  readonly mayHaveReachedBroker: boolean;
  /** ISO-8601: while the outcome is unknown, lookups by client order id go on until this time. */
  readonly resolvingUntil: string | null;
  readonly lastError: string | null;
}

export interface OrderStatus {
  readonly workflowId: string;
  readonly clientOrderId: string;
  readonly broker: string;
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  readonly quantity: number;
  readonly referencePrice: string | null;
  readonly limitPrice: string | null;
  readonly state: OrderState;
  readonly filledQuantity: number;
  readonly averageFillPrice: string | null;
  readonly remainingQuantity: number;
  readonly overfillQuantity: number;
  readonly updatedAt: string | null;
  readonly brokerOrderId: string | null;
  readonly cancelRequested: string | null;
  readonly reason: string | null;
  readonly errorType: string | null;
  readonly warnings: readonly string[];
  /** The broker's stable reason for a refusal (pattern_day_trading, wash_trade, market_closed, ...), when it gave one. */
  readonly rejectReason: string | null;
  /** Present until the broker acknowledged the order (or it ended without reaching the broker). */
  readonly submit: SubmitStatus | null;
  /** The broker's last payload for this order, secrets and account numbers masked. */
  readonly raw: unknown;
}

export type OrderResult = OrderStatus;

export const cancelOrderSignal = defineSignal<[{ readonly reason?: string }]>('cancelOrder');
/**
 * The broker's view handed to an order workflow outside its own polls: by the desk's kill switch (its batch
 * cancel activity) with `deskHasAnswer` when the desk records this answer itself, so the order need not tell it.
 */
export type HandedBrokerUpdate = BrokerOrderSnapshot & { readonly deskHasAnswer?: boolean };
/** A broker update pushed by a stream listener (the event path) or the kill switch; polling remains the fallback. */
export const brokerUpdateSignal = defineSignal<[HandedBrokerUpdate]>('brokerUpdate');
export const orderStatusQuery = defineQuery<OrderStatus>('status');

const WARNINGS_KEPT = 10;
/** Broker activities heartbeat every second while a call is out (activities/heartbeat.ts). */
export const BROKER_HEARTBEAT_TIMEOUT_MS = 5000;
/** Temporal's retries of one submit attempt for failures that are not the broker's (worker lost mid-call). */
const SUBMIT_INFRASTRUCTURE_ATTEMPTS = 3;
/** The broker's transient errors come back to the workflow, which decides (and counts) the next attempt. */
const TRANSIENT_BROKER_ERROR_TYPES = ['BrokerTimeout', 'BrokerUnavailable', 'BrokerRateLimited'];
const LOOKUP_MAX_INTERVAL_MS = 10_000;
/** Between lookups while an unknown outcome is resolved. */
const LOOKUP_INTERVAL_MS = 5_000;
/** After a lookup failed for good (credentials, an unreadable reply): the question stays open, asked less often. */
const LOOKUP_RETRY_MS = 30_000;
/** Pause before cancelling again after the broker could not be reached (retries inside the activity came first). */
const CANCEL_RETRY_MS = 5000;

/** Search attributes are published once per step (before the workflow waits), not on every state change. */
const PUBLISH_ONCE_PATCH = 'order-search-attributes-once';
/** A fill wakes the account's positions watch at once (partial fills included). */
const FILL_WAKES_POSITIONS_PATCH = 'order-fill-wakes-positions';
/**
 * An order ended by the kill switch's answer, which the desk records itself (`deskHasAnswer`), sends the desk no
 * terminal notice: one signal event less per order in the desk's history (and the workflow task it woke).
 */
const DESK_HAS_ANSWER_PATCH = 'order-desk-has-kill-switch-answer';

/**
 * One order's life: submit the prepared order the desk hands over exactly once (the client order id is the broker's
 * idempotency key), follow fills from broker updates with polling as the fallback, honour cancels — a fill
 * that races the cancel is applied — and tell the desk and the requester how it ended. The life cycle's rules
 * are the order machine (src/domain/orders/order-machine.ts); this is the shell that calls the broker.
 */
export async function orderWorkflow(input: OrderWorkflowInput): Promise<OrderResult> {
  return new OrderRun(input).run();
}

/** Which order this is: the prepared order's fields (in runs started before it, the raw request's). */
interface OrderIdentity {
  readonly clientOrderId: string;
  readonly broker: BrokerName;
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  readonly quantity: number | string;
}

function identityOf(input: OrderWorkflowInput): OrderIdentity {
  const { prepared, request } = input;
  if (prepared?.clientOrderId !== undefined) {
    const { clientOrderId, broker, symbol, side, quantity } = prepared;
    return { clientOrderId, broker, symbol, side, quantity };
  }
  if (!request) throw ApplicationFailure.nonRetryable('order input: prepared (with its clientOrderId) is required');
  return { ...request, broker: request.broker ?? 'paper' };
}

class OrderRun {
  private readonly request: OrderIdentity;
  private readonly settings: OrderSettings;
  private readonly clientOrderId: string;
  private readonly broker: BrokerName;
  private readonly maxWaitMs: number;
  private readonly windowSeconds: number;
  private readonly acts: BrokerActivities;
  /**
   * The workflow decides between submit attempts (it must know which ones may have reached the broker, and a
   * cancel must be able to stop a backoff), so Temporal retries only failures that are not the broker's: a
   * worker that died mid-call, an unexpected exception. Those retries look the order up before submitting.
   */
  private readonly submitter: BrokerActivities;
  /** Resolving an unknown outcome must not give up while the broker is unreachable: the order may exist there. */
  private readonly lookup: BrokerActivities;
  private readonly prepared: PreparedLimitOrder | null = null;
  private readonly validationError: string | null = null;
  private order: OrderRecord;
  private submitted: boolean;
  private cancelRequested: string | null;
  private cancelSent: boolean;
  private raw: unknown;
  private errorType: string | null;
  private readonly warnings: string[];
  private readonly progress: SubmitProgress;
  private readonly updates: BrokerOrderSnapshot[] = [];
  /** The terminal state the desk's kill switch handed this order and records itself (deskHasAnswer), if any. */
  private deskHasAnswer: { readonly state: OrderState; readonly filledQuantity: number } | null = null;
  /** Set by PUBLISH_ONCE_PATCH: state changes mark the search attributes stale; `publish` writes them once. */
  private publishOnce = false;
  private published: { readonly state: OrderState; readonly brokerOrderId: string | null } | null = null;

  constructor(private readonly input: OrderWorkflowInput) {
    const { settings } = input;
    const request = identityOf(input);
    this.request = request;
    this.settings = settings;
    this.clientOrderId = request.clientOrderId;
    this.broker = request.broker;
    const retry = {
      maximumAttempts: settings.retry.maximumAttempts,
      initialInterval: settings.retry.initialIntervalMs,
      backoffCoefficient: settings.retry.backoffCoefficient,
      nonRetryableErrorTypes: [...settings.nonRetryableErrorTypes],
    };
    const startToCloseTimeout = settings.activityTimeoutSeconds * 1000;
    // Broker activities heartbeat while they wait on the broker: a worker lost mid-call is noticed in seconds.
    const heartbeatTimeout = BROKER_HEARTBEAT_TIMEOUT_MS;
    this.maxWaitMs = (settings.maxBrokerWaitSeconds ?? DEFAULT_MAX_BROKER_WAIT_SECONDS) * 1000;
    this.windowSeconds = settings.unknownOutcomeWindowSeconds ?? DEFAULT_UNKNOWN_OUTCOME_WINDOW_SECONDS;
    this.acts = proxyActivities<BrokerActivities>({ startToCloseTimeout, heartbeatTimeout, retry });
    this.submitter = proxyActivities<BrokerActivities>({
      startToCloseTimeout,
      heartbeatTimeout,
      retry: {
        maximumAttempts: SUBMIT_INFRASTRUCTURE_ATTEMPTS,
        initialInterval: settings.retry.initialIntervalMs,
        backoffCoefficient: settings.retry.backoffCoefficient,
        nonRetryableErrorTypes: [...settings.nonRetryableErrorTypes, ...TRANSIENT_BROKER_ERROR_TYPES],
      },
    });
    this.lookup = proxyActivities<BrokerActivities>({
      startToCloseTimeout,
      heartbeatTimeout,
      retry: {
        initialInterval: settings.retry.initialIntervalMs,
        backoffCoefficient: settings.retry.backoffCoefficient,
        maximumInterval: LOOKUP_MAX_INTERVAL_MS,
        nonRetryableErrorTypes: [...settings.nonRetryableErrorTypes],
      },
    });
    if (input.prepared) this.prepared = input.prepared;
    else {
      // Only runs started before the desk prepared orders: priced here with the pricing they were started with.
      try {
        this.prepared = orderRequests().prepareLimitOrder(
          { ...input.request, broker: this.broker },
          input.pricing ?? settings.pricing,
        );
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        this.validationError = err.message;
      }
    }
    const carried = input.carried;
    this.order = carried?.order ?? orderMachine().newOrderRecord(safeQuantity(request.quantity), nowIso());
    this.submitted = carried?.submitted ?? false;
    this.cancelRequested = carried?.cancelRequested ?? null;
    this.cancelSent = carried?.cancelSent ?? false;
    this.raw = carried?.raw ?? null;
    this.errorType = carried?.errorType ?? null;
    this.warnings = [...(carried?.warnings ?? [])];
    this.progress = carried?.submit ?? {
      attempts: 0,
      mayHaveReachedBroker: false,
      lastReachingAttemptAt: null,
      stopped: false,
      refusal: null,
      lastError: null,
    };
  }

  async run(): Promise<OrderResult> {
    const { request, clientOrderId } = this;
    setHandler(orderStatusQuery, () => this.status());
    setHandler(cancelOrderSignal, ({ reason }) => {
      this.cancelRequested ??= reason?.trim() || 'cancel requested';
    });
    setHandler(brokerUpdateSignal, (snapshot) => {
      if (snapshot.deskHasAnswer === true && isTerminalOrderState(snapshot.state)) {
        this.deskHasAnswer = { state: snapshot.state, filledQuantity: snapshot.filledQuantity };
      }
      this.updates.push(snapshot);
    });
    this.publishOnce = patched(PUBLISH_ONCE_PATCH);
    if (!this.input.carried) {
      upsertSearchAttributes([
        { key: SearchAttributes.Symbol, value: request.symbol },
        { key: SearchAttributes.OrderSide, value: request.side },
        { key: SearchAttributes.ClientOrderId, value: clientOrderId },
        { key: SearchAttributes.OrderState, value: this.order.state },
      ]);
      this.published = { state: this.order.state, brokerOrderId: null };
    }
    const prepared = this.prepared;
    if (!prepared) {
      this.errorType = 'ValidationError';
      this.apply({ type: 'rejected', reason: this.validationError ?? 'invalid order' });
      return this.finish();
    }
    if (!this.submitted && !isTerminalOrderState(this.order.state)) {
      const found = await this.submitWithAttempts({
        clientOrderId,
        symbol: prepared.symbol,
        side: prepared.side,
        quantity: prepared.quantity,
        limitPrice: prepared.limitPrice,
        timeInForce: prepared.timeInForce,
      });
      if (!found) {
        this.concludeNotAtBroker();
        return this.finish();
      }
      this.submitted = true;
      if (this.order.state === 'pending_submit') this.apply({ type: 'submitted', brokerOrderId: found.brokerOrderId });
      this.applySnapshot(found);
    }
    while (!isTerminalOrderState(this.order.state)) {
      if (this.continueAsNewDue()) await this.continueAsNewNow();
      const brokerOrderId = this.order.brokerOrderId;
      if (this.cancelRequested && !this.cancelSent && brokerOrderId) await this.cancelAtBroker(brokerOrderId);
      else await this.pollOnce();
    }
    return this.finish();
  }

  private get pollMs(): number {
    return this.settings.pollIntervalSeconds * 1000;
  }

  private resolvingUntil(): number | null {
    const { progress } = this;
    return progress.mayHaveReachedBroker && progress.lastReachingAttemptAt !== null
      ? resolveDeadlineMs(progress.lastReachingAttemptAt, this.windowSeconds)
      : null;
  }

  private status(): OrderStatus {
    const { order, progress, prepared, request } = this;
    return {
      workflowId: workflowInfo().workflowId,
      clientOrderId: this.clientOrderId,
      broker: this.broker,
      symbol: request.symbol,
      side: request.side,
      quantity: order.quantity,
      referencePrice: prepared?.referencePrice ?? null,
      limitPrice: prepared?.limitPrice ?? null,
      state: order.state,
      filledQuantity: order.filledQuantity,
      averageFillPrice: order.averageFillPrice,
      remainingQuantity: order.remainingQuantity,
      overfillQuantity: order.overfillQuantity,
      updatedAt: order.updatedAt ?? null,
      brokerOrderId: order.brokerOrderId ?? null,
      cancelRequested: this.cancelRequested,
      reason: order.reason ?? null,
      errorType: this.errorType,
      warnings: this.warnings,
      rejectReason: progress.refusal?.rejectReason ?? null,
      submit:
        this.submitted || progress.attempts === 0
          ? null
          : {
              attempts: progress.attempts,
              mayHaveReachedBroker: progress.mayHaveReachedBroker,
              resolvingUntil:
                progress.stopped && !isTerminalOrderState(order.state) ? isoOrNull(this.resolvingUntil()) : null,
              lastError: progress.lastError ? `${progress.lastError.type}: ${progress.lastError.message}` : null,
            },
      raw: this.raw,
    };
  }

  private warn(w: string): void {
    this.warnings.push(w);
    if (this.warnings.length > WARNINGS_KEPT) this.warnings.splice(0, this.warnings.length - WARNINGS_KEPT);
    log.warn('order event needs attention', { clientOrderId: this.clientOrderId, warning: w });
  }

  private apply(event: OrderEvent): void {
    const before = this.order.state;
    const filledBefore = this.order.filledQuantity;
    const result = orderMachine().applyOrderEvent(this.order, { ...event, at: event.at ?? nowIso() });
    this.order = result.order;
    for (const w of [result.warning, result.rejection?.reason]) if (w !== undefined) this.warn(w);
    if (this.order.filledQuantity > filledBefore) this.fillChangedPosition();
    if (this.order.state === before) return;
    log.info('order state changed', {
      clientOrderId: this.clientOrderId,
      from: before,
      to: this.order.state,
      filled: this.order.filledQuantity,
    });
    if (!this.publishOnce) this.upsertState();
  }

  /** The account's positions watch reads the broker now instead of at its next reconcile; no watch: nothing. */
  private fillChangedPosition(): void {
    const desk = this.input.deskWorkflowId;
    if (!desk || !patched(FILL_WAKES_POSITIONS_PATCH)) return;
    const reason = `${this.request.side} ${this.clientOrderId}: ${this.order.filledQuantity} filled`;
    void getExternalWorkflowHandle(WorkflowIds.positionsOfDesk(desk))
      .signal(positionsChangedSignal, { symbol: this.request.symbol, reason })
      .catch(() => undefined);
  }

  private applySnapshot(snapshot: BrokerOrderSnapshot): void {
    this.raw = snapshot.raw;
    this.apply({
      type: 'broker_snapshot',
      state: snapshot.state,
      filledQuantity: snapshot.filledQuantity,
      ...(snapshot.filledQuantity > 0 && snapshot.averageFillPrice
        ? { averageFillPrice: snapshot.averageFillPrice }
        : {}),
      ...(snapshot.executionsComplete ? { executions: snapshot.executions.map((e) => ({ ...e })) } : {}),
      brokerOrderId: snapshot.brokerOrderId,
    });
  }

  private applyPushed(): void {
    for (const snapshot of this.updates.splice(0)) this.applySnapshot(snapshot);
  }

  private upsertState(): void {
    const { state, brokerOrderId } = this.order;
    upsertSearchAttributes([
      { key: SearchAttributes.OrderState, value: state },
      ...(brokerOrderId ? [{ key: SearchAttributes.BrokerOrderId, value: brokerOrderId }] : []),
    ]);
    this.published = { state, brokerOrderId: brokerOrderId ?? null };
  }

  /**
   * Publishes the state reached, once, right before the workflow waits (an activity, a timer, a signal, the end).
   * Before PUBLISH_ONCE_PATCH every state change was upserted where it happened, so one step could issue several
   * upserts between its other commands, as many as the transitions it went through; now a step issues at most
   * one, always right before the command it waits on.
   */
  private publish(): void {
    if (!this.publishOnce) return;
    const { state, brokerOrderId } = this.order;
    const last = this.published;
    if (last && last.state === state && last.brokerOrderId === (brokerOrderId ?? null)) return;
    this.upsertState();
  }

  /** Every wait of the workflow goes through here, so search attributes are published first. */
  private async waitOn<T>(next: () => Promise<T>): Promise<T> {
    this.publish();
    return next();
  }

  private continueAsNewDue(): boolean {
    const after = this.settings.continueAsNewAfterEvents;
    return workflowInfo().continueAsNewSuggested || (after !== undefined && workflowInfo().historyLength >= after);
  }

  private async continueAsNewNow(): Promise<never> {
    await this.waitOn(() => condition(allHandlersFinished));
    const { order, submitted, cancelRequested, cancelSent, raw, warnings, errorType, progress } = this;
    return continueAsNew<typeof orderWorkflow>({
      ...this.input,
      carried: { order, submitted, cancelRequested, cancelSent, raw, warnings, errorType, submit: progress },
    });
  }

  /** The cancel owed to the broker: sent once; sent again shortly when the broker could not be reached. */
  private async cancelAtBroker(brokerOrderId: string): Promise<void> {
    this.cancelSent = true;
    this.apply({ type: 'cancel_requested' });
    try {
      const result = await this.waitOn(() =>
        this.acts.cancelBrokerOrder({
          broker: this.broker,
          brokerOrderId,
          clientOrderId: this.clientOrderId,
          maxWaitMs: this.maxWaitMs,
        }),
      );
      this.applySnapshot(result.order);
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.apply({ type: 'cancel_rejected', reason: describe(err) });
      this.cancelSent = false;
      if (applicationFailureOf(err)?.nonRetryable && applicationFailureOf(err)?.type !== BROKER_WAIT_TOO_LONG) {
        // The broker refuses this cancel for good (unknown order, say): polling shows how the order ends.
        this.cancelRequested = null;
      } else {
        // The broker is unreachable or throttling: the cancel stays owed and is tried again shortly.
        await this.waitOn(() => condition(() => this.updates.length > 0, Math.min(this.pollMs, CANCEL_RETRY_MS)));
        this.applyPushed();
      }
    }
  }

  /** Waits for a pushed update, a cancel or the poll interval; polls the broker when nothing came. */
  private async pollOnce(): Promise<void> {
    const woke = await this.waitOn(() =>
      condition(() => this.updates.length > 0 || (this.cancelRequested !== null && !this.cancelSent), this.pollMs),
    );
    if (woke) return this.applyPushed();
    try {
      const snapshot = await this.waitOn(() =>
        this.acts.getBrokerOrder({
          broker: this.broker,
          clientOrderId: this.clientOrderId,
          brokerOrderId: this.order.brokerOrderId ?? null,
          maxWaitMs: this.maxWaitMs,
        }),
      );
      if (snapshot) this.applySnapshot(snapshot);
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('order poll failed; will poll again', { clientOrderId: this.clientOrderId, error: describe(err) });
    }
  }

  /**
   * Submits until the broker acknowledges, refuses, or the attempts run out, then resolves an unknown outcome by
   * lookup. Returns the broker's order, or null when the broker has none (and cannot get one any more).
   */
  private async submitWithAttempts(brokerOrder: LimitOrderToPlace): Promise<BrokerOrderSnapshot | null> {
    const { progress, settings } = this;
    while (!progress.stopped) {
      if (this.cancelRequested || progress.attempts >= settings.retry.maximumAttempts) {
        progress.stopped = true;
        break;
      }
      progress.attempts += 1;
      const startedAt = Date.now();
      try {
        const result = await this.waitOn(() =>
          this.submitter.submitOrder({
            broker: this.broker,
            order: brokerOrder,
            lookupFirst: progress.mayHaveReachedBroker,
            maxWaitMs: this.maxWaitMs,
          }),
        );
        return result.order;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const delayMs = this.afterSubmitFailure(err, startedAt);
        if (delayMs === null) break;
        if (progress.attempts >= settings.retry.maximumAttempts) continue;
        // A cancel (or the kill switch) ends the backoff at once.
        await this.waitOn(() => condition(() => this.cancelRequested !== null, delayMs));
        if (this.continueAsNewDue()) await this.continueAsNewNow();
      }
    }
    return this.resolveByLookup();
  }

  /** Records a failed submit attempt; returns the backoff before the next one, or null when attempts stop. */
  private afterSubmitFailure(err: unknown, startedAt: number): number | null {
    const { progress, settings, maxWaitMs } = this;
    const failure = applicationFailureOf(err);
    const details = brokerDetailsOf(failure);
    const decision = decideAfterSubmitFailure(
      {
        type: failure?.type ?? null,
        fromBroker: failure !== null && err instanceof ActivityFailure && failure.type !== 'Error',
        outcomeUnknown: details?.outcomeUnknown ?? false,
        retryAfterMs: details?.retryAfterMs ?? null,
      },
      progress.attempts,
      { initialIntervalMs: settings.retry.initialIntervalMs, backoffCoefficient: settings.retry.backoffCoefficient },
    );
    progress.lastError = { type: failure?.type ?? 'Error', message: describe(err) };
    if (decision.mayHaveReachedBroker) {
      progress.mayHaveReachedBroker = true;
      progress.lastReachingAttemptAt = startedAt;
    }
    if (decision.refused) {
      progress.refusal = {
        type: failure?.type ?? 'Error',
        message: failure?.message ?? describe(err),
        rejectReason: details?.rejectReason ?? null,
      };
      // The broker's own answer (masked by the adapter) is what an operator needs to see in `order status`.
      if (details?.body !== undefined) this.raw = { error: details.body };
    }
    log.warn('submit attempt failed', {
      clientOrderId: this.clientOrderId,
      attempt: progress.attempts,
      error: progress.lastError.message,
      mayHaveReachedBroker: decision.mayHaveReachedBroker,
      next: decision.next,
    });
    if (decision.next === SubmitNext.Stop) {
      progress.stopped = true;
      return null;
    }
    if (progress.attempts < settings.retry.maximumAttempts && decision.delayMs > maxWaitMs) {
      progress.lastError = {
        type: BROKER_WAIT_TOO_LONG,
        message: `next attempt would wait ${Math.round(decision.delayMs / 1000)} s, more than the ${maxWaitMs / 1000} s cap`,
      };
      progress.stopped = true;
      return null;
    }
    return decision.delayMs;
  }

  /** Looks the order up by client order id until it appears or the window for a late landing has passed. */
  private async resolveByLookup(): Promise<BrokerOrderSnapshot | null> {
    const { clientOrderId } = this;
    if (!this.progress.mayHaveReachedBroker) return null;
    for (;;) {
      let found: BrokerOrderSnapshot | null = null;
      let looked = false;
      const askedAt = Date.now();
      try {
        found = await this.waitOn(() =>
          this.lookup.getBrokerOrder({ broker: this.broker, clientOrderId, maxWaitMs: this.maxWaitMs }),
        );
        looked = true;
      } catch (err) {
        if (isCancellation(err)) throw err;
        // Credentials or a broken reply: the outcome stays unknown, and so does the order. Say so, keep asking.
        this.warn(`cannot resolve the submit outcome (${describe(err)}); trying again in ${LOOKUP_RETRY_MS / 1000} s`);
      }
      if (found) {
        log.info('order found at the broker after an unknown submit outcome', { clientOrderId });
        return found;
      }
      const deadline = this.resolvingUntil() ?? askedAt;
      // Only a lookup that began after the deadline proves the order will not appear any more.
      if (looked && askedAt >= deadline) return null;
      const waitMs = looked ? Math.max(1, Math.min(LOOKUP_INTERVAL_MS, deadline - Date.now())) : LOOKUP_RETRY_MS;
      await this.waitOn(() => condition(() => this.updates.length > 0, waitMs));
      const pushed = this.updates.splice(0).find((u) => u.clientOrderId === clientOrderId);
      if (pushed) return pushed;
      if (this.continueAsNewDue()) await this.continueAsNewNow();
    }
  }

  /** No order exists at the broker and none can appear: say how it ended, and why. */
  private concludeNotAtBroker(): void {
    const { progress, clientOrderId } = this;
    const tail = progress.mayHaveReachedBroker
      ? `; the broker showed no order ${clientOrderId} within ${this.windowSeconds} s of the last attempt`
      : '';
    if (progress.refusal) {
      this.errorType = progress.refusal.type;
      this.apply({ type: 'rejected', reason: `${progress.refusal.message}${tail}` });
    } else if (this.cancelRequested) {
      this.apply({ type: 'cancelled', reason: `${this.cancelRequested} (before the order reached the broker${tail})` });
    } else {
      this.errorType = progress.lastError?.type ?? 'Error';
      this.apply({
        type: 'failed',
        reason: `submit failed after ${progress.attempts} attempt(s): ${progress.lastError?.message ?? 'unknown error'}${tail}`,
      });
    }
  }

  private async finish(): Promise<OrderResult> {
    const { order, clientOrderId, request } = this;
    const notice: OrderTerminalNotice = {
      clientOrderId,
      workflowId: workflowInfo().workflowId,
      symbol: request.symbol,
      side: request.side,
      state: order.state,
      brokerOrderId: order.brokerOrderId ?? null,
      filledQuantity: order.filledQuantity,
      averageFillPrice: order.averageFillPrice,
      reason: order.reason ?? null,
      errorType: this.errorType,
    };
    this.publish();
    // Only an order that ended in the very state (and fill) the desk recorded skips the desk (checked before patched(), so
    // other orders record no marker); anything else, a fill the kill switch did not see say, is told as always.
    const told = this.deskHasAnswer;
    const deskKnows =
      told?.state === order.state && told.filledQuantity === order.filledQuantity && patched(DESK_HAS_ANSWER_PATCH);
    for (const target of [deskKnows ? undefined : this.input.deskWorkflowId, this.input.requesterWorkflowId]) {
      if (!target) continue;
      try {
        await getExternalWorkflowHandle(target).signal(orderTerminalSignal, notice);
      } catch (err) {
        // The requester may be gone (a monitor that was stopped); the order's own result still stands.
        log.warn('could not notify requester', { clientOrderId, target, error: describe(err) });
      }
    }
    await condition(allHandlersFinished);
    return this.status();
  }
}

function nowIso(): string {
  return new Date().toISOString();
}

function safeQuantity(q: unknown): number {
  return typeof q === 'number' && Number.isSafeInteger(q) && q > 0 ? q : 1;
}

function applicationFailureOf(err: unknown): ApplicationFailure | null {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause;
  if (err instanceof ApplicationFailure) return err;
  return null;
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The parts of BrokerErrorDetails (brokers/errors.ts) an activity attaches to its failure that the workflow reads. */
interface BrokerFailureDetails {
  readonly outcomeUnknown?: boolean;
  readonly retryAfterMs?: number | null;
  readonly rejectReason?: string | null;
  readonly body?: unknown;
}

function brokerDetailsOf(failure: ApplicationFailure | null): BrokerFailureDetails | null {
  const first: unknown = failure?.details?.[0];
  return first !== null && typeof first === 'object' ? first : null;
}

function describe(err: unknown): string {
  const failure = applicationFailureOf(err);
  if (failure) return `${failure.type ?? 'Error'}: ${failure.message}`;
  if (err instanceof Error) return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
  return String(err);
}
