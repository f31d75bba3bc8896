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
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BrokerOrderSnapshot, LimitOrderRequest } from '../brokers/broker';
import type { createBrokerActivities } from '../activities/broker-activities';
import { type OrderEvent, type OrderRecord } from '../domain/orders/order-machine';
import {
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
import { SearchAttributes } from '../shared/contracts';
import { orderMachine, orderRequests } from './lazy-domain';
import { orderTerminalSignal, type OrderTerminalNotice } from './notifications';

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
}

export interface OrderWorkflowInput {
  readonly request: OrderRequestInput & { readonly clientOrderId: string };
  /**
   * The order as the desk priced it (limit price, tick, intent key). Submitted as it is and never recomputed,
   * so a pricing change deployed while the order is in flight (or between two runs of it) cannot move its price
   * or its identity away from what the broker holds.
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
/** A broker update pushed by a stream listener (the event path); polling remains the fallback. */
export const brokerUpdateSignal = defineSignal<[BrokerOrderSnapshot]>('brokerUpdate');
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

/**
 * One order's life: validate and price it, submit it exactly once (the client order id is the broker's
 * idempotency key), follow fills from broker updates with polling as the fallback, honour cancels — a fill
 * that races the cancel is applied — and tell the desk and the requester how it ended.
 */
export async function orderWorkflow(input: OrderWorkflowInput): Promise<OrderResult> {
  const { request, settings } = input;
  const clientOrderId = request.clientOrderId;
  const broker = request.broker ?? 'paper';
  const retry = {
    maximumAttempts: settings.retry.maximumAttempts,
    initialInterval: settings.retry.initialIntervalMs,
    backoffCoefficient: settings.retry.backoffCoefficient,
    nonRetryableErrorTypes: [...settings.nonRetryableErrorTypes],
  };
  const startToCloseTimeout = settings.activityTimeoutSeconds * 1000;
  // Broker activities heartbeat while they wait on the broker: a worker lost mid-call is noticed in seconds.
  const heartbeatTimeout = BROKER_HEARTBEAT_TIMEOUT_MS;
  const maxWaitMs = (settings.maxBrokerWaitSeconds ?? DEFAULT_MAX_BROKER_WAIT_SECONDS) * 1000;
  const windowSeconds = settings.unknownOutcomeWindowSeconds ?? DEFAULT_UNKNOWN_OUTCOME_WINDOW_SECONDS;
  const acts = proxyActivities<BrokerActivities>({ startToCloseTimeout, heartbeatTimeout, retry });
  // The workflow decides between submit attempts (it must know which ones may have reached the broker, and a
  // cancel must be able to stop a backoff), so Temporal retries only failures that are not the broker's: a
  // worker that died mid-call, an unexpected exception. Those retries look the order up before submitting.
  const submitter = proxyActivities<BrokerActivities>({
    startToCloseTimeout,
    heartbeatTimeout,
    retry: {
      maximumAttempts: SUBMIT_INFRASTRUCTURE_ATTEMPTS,
      initialInterval: settings.retry.initialIntervalMs,
      backoffCoefficient: settings.retry.backoffCoefficient,
      nonRetryableErrorTypes: [...settings.nonRetryableErrorTypes, ...TRANSIENT_BROKER_ERROR_TYPES],
    },
  });
  // Resolving an unknown outcome must not give up while the broker is unreachable: the order may exist there.
  const lookup = proxyActivities<BrokerActivities>({
    startToCloseTimeout,
    heartbeatTimeout,
    retry: {
      initialInterval: settings.retry.initialIntervalMs,
      backoffCoefficient: settings.retry.backoffCoefficient,
      maximumInterval: LOOKUP_MAX_INTERVAL_MS,
      nonRetryableErrorTypes: [...settings.nonRetryableErrorTypes],
    },
  });

  let prepared: PreparedLimitOrder | null = null;
  let validationError: string | null = null;
  if (input.prepared) prepared = input.prepared;
  else {
    try {
      prepared = orderRequests().prepareLimitOrder({ ...request, broker }, input.pricing ?? settings.pricing);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      validationError = err.message;
    }
  }

  const carried = input.carried;
  let order: OrderRecord = carried?.order ?? orderMachine().newOrderRecord(safeQuantity(request.quantity), nowIso());
  let submitted = carried?.submitted ?? false;
  let cancelRequested: string | null = carried?.cancelRequested ?? null;
  let cancelSent = carried?.cancelSent ?? false;
  let raw: unknown = carried?.raw ?? null;
  let errorType: string | null = carried?.errorType ?? null;
  const warnings: string[] = [...(carried?.warnings ?? [])];
  const progress: SubmitProgress = carried?.submit ?? {
    attempts: 0,
    mayHaveReachedBroker: false,
    lastReachingAttemptAt: null,
    stopped: false,
    refusal: null,
    lastError: null,
  };
  const updates: BrokerOrderSnapshot[] = [];

  const resolvingUntil = (): number | null =>
    progress.mayHaveReachedBroker && progress.lastReachingAttemptAt !== null
      ? resolveDeadlineMs(progress.lastReachingAttemptAt, windowSeconds)
      : null;

  const status = (): OrderStatus => ({
    workflowId: workflowInfo().workflowId,
    clientOrderId,
    broker,
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
    cancelRequested,
    reason: order.reason ?? null,
    errorType,
    warnings,
    rejectReason: progress.refusal?.rejectReason ?? null,
    submit:
      submitted || progress.attempts === 0
        ? null
        : {
            attempts: progress.attempts,
            mayHaveReachedBroker: progress.mayHaveReachedBroker,
            resolvingUntil: progress.stopped && !isTerminalOrderState(order.state) ? isoOrNull(resolvingUntil()) : null,
            lastError: progress.lastError ? `${progress.lastError.type}: ${progress.lastError.message}` : null,
          },
    raw,
  });

  setHandler(orderStatusQuery, status);
  setHandler(cancelOrderSignal, ({ reason }) => {
    cancelRequested ??= reason?.trim() || 'cancel requested';
  });
  setHandler(brokerUpdateSignal, (snapshot) => {
    updates.push(snapshot);
  });

  function warn(w: string): void {
    warnings.push(w);
    if (warnings.length > WARNINGS_KEPT) warnings.splice(0, warnings.length - WARNINGS_KEPT);
    log.warn('order event needs attention', { clientOrderId, warning: w });
  }

  function apply(event: OrderEvent): void {
    const before = order.state;
    const result = orderMachine().applyOrderEvent(order, { ...event, at: event.at ?? nowIso() });
    order = result.order;
    for (const w of [result.warning, result.rejection?.reason]) if (w !== undefined) warn(w);
    if (order.state !== before) {
      log.info('order state changed', { clientOrderId, from: before, to: order.state, filled: order.filledQuantity });
      publishSearchAttributes();
    }
  }

  function applySnapshot(snapshot: BrokerOrderSnapshot): void {
    raw = snapshot.raw;
    apply({
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

  function publishSearchAttributes(): void {
    upsertSearchAttributes([
      { key: SearchAttributes.OrderState, value: order.state },
      ...(order.brokerOrderId ? [{ key: SearchAttributes.BrokerOrderId, value: order.brokerOrderId }] : []),
    ]);
  }

  function continueAsNewDue(): boolean {
    const after = settings.continueAsNewAfterEvents;
    return workflowInfo().continueAsNewSuggested || (after !== undefined && workflowInfo().historyLength >= after);
  }

  async function continueAsNewNow(): Promise<never> {
    await condition(allHandlersFinished);
    return continueAsNew<typeof orderWorkflow>({
      ...input,
      carried: { order, submitted, cancelRequested, cancelSent, raw, warnings, errorType, submit: progress },
    });
  }

  if (!carried) {
    upsertSearchAttributes([
      { key: SearchAttributes.Symbol, value: request.symbol },
      { key: SearchAttributes.OrderSide, value: request.side },
      { key: SearchAttributes.ClientOrderId, value: clientOrderId },
      { key: SearchAttributes.OrderState, value: order.state },
    ]);
  }

  if (!prepared) {
    errorType = 'ValidationError';
    apply({ type: 'rejected', reason: validationError ?? 'invalid order' });
    return finish();
  }

  if (!submitted && !isTerminalOrderState(order.state)) {
    const brokerOrder: LimitOrderRequest = {
      clientOrderId,
      symbol: prepared.symbol,
      side: prepared.side,
      quantity: prepared.quantity,
      limitPrice: prepared.limitPrice,
      timeInForce: prepared.timeInForce,
    };
    const found = await submitWithAttempts(brokerOrder);
    if (found) {
      submitted = true;
      if (order.state === 'pending_submit') apply({ type: 'submitted', brokerOrderId: found.brokerOrderId });
      applySnapshot(found);
    } else {
      concludeNotAtBroker();
      return finish();
    }
  }

  const pollMs = settings.pollIntervalSeconds * 1000;
  while (!isTerminalOrderState(order.state)) {
    if (continueAsNewDue()) await continueAsNewNow();
    if (cancelRequested && !cancelSent && order.brokerOrderId) {
      cancelSent = true;
      apply({ type: 'cancel_requested' });
      try {
        const result = await acts.cancelBrokerOrder({
          broker,
          brokerOrderId: order.brokerOrderId,
          clientOrderId,
          maxWaitMs,
        });
        applySnapshot(result.order);
      } catch (err) {
        if (isCancellation(err)) throw err;
        apply({ type: 'cancel_rejected', reason: describe(err) });
        cancelSent = false;
        if (applicationFailureOf(err)?.nonRetryable && applicationFailureOf(err)?.type !== BROKER_WAIT_TOO_LONG) {
          // The broker refuses this cancel for good (unknown order, say): polling shows how the order ends.
          cancelRequested = null;
        } else {
          // The broker is unreachable or throttling: the cancel stays owed and is tried again shortly.
          await condition(() => updates.length > 0, Math.min(pollMs, CANCEL_RETRY_MS));
          for (const snapshot of updates.splice(0)) applySnapshot(snapshot);
        }
      }
      continue;
    }
    const woke = await condition(() => updates.length > 0 || (cancelRequested !== null && !cancelSent), pollMs);
    if (woke) {
      for (const snapshot of updates.splice(0)) applySnapshot(snapshot);
      continue;
    }
    try {
      const snapshot = await acts.getBrokerOrder({
        broker,
        clientOrderId,
        brokerOrderId: order.brokerOrderId ?? null,
        maxWaitMs,
      });
      if (snapshot) applySnapshot(snapshot);
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('order poll failed; will poll again', { clientOrderId, error: describe(err) });
    }
  }
  return finish();

  /**
   * Submits until the broker acknowledges, refuses, or the attempts run out, then resolves an unknown outcome by
   * lookup. Returns the broker's order, or null when the broker has none (and cannot get one any more).
   */
  async function submitWithAttempts(brokerOrder: LimitOrderRequest): Promise<BrokerOrderSnapshot | null> {
    while (!progress.stopped) {
      if (cancelRequested || progress.attempts >= settings.retry.maximumAttempts) {
        progress.stopped = true;
        break;
      }
      progress.attempts += 1;
      const startedAt = Date.now();
      try {
        const result = await submitter.submitOrder({
          broker,
          order: brokerOrder,
          lookupFirst: progress.mayHaveReachedBroker,
          maxWaitMs,
        });
        return result.order;
      } catch (err) {
        if (isCancellation(err)) throw err;
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
          {
            initialIntervalMs: settings.retry.initialIntervalMs,
            backoffCoefficient: settings.retry.backoffCoefficient,
          },
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
          if (details?.body !== undefined) raw = { error: details.body };
        }
        log.warn('submit attempt failed', {
          clientOrderId,
          attempt: progress.attempts,
          error: progress.lastError.message,
          mayHaveReachedBroker: decision.mayHaveReachedBroker,
          next: decision.next,
        });
        if (decision.next === SubmitNext.Stop) {
          progress.stopped = true;
          break;
        }
        if (progress.attempts >= settings.retry.maximumAttempts) continue;
        if (decision.delayMs > maxWaitMs) {
          progress.lastError = {
            type: BROKER_WAIT_TOO_LONG,
            message: `next attempt would wait ${Math.round(decision.delayMs / 1000)} s, more than the ${maxWaitMs / 1000} s cap`,
          };
          progress.stopped = true;
          break;
        }
        // A cancel (or the kill switch) ends the backoff at once.
        await condition(() => cancelRequested !== null, decision.delayMs);
        if (continueAsNewDue()) await continueAsNewNow();
      }
    }
    return resolveByLookup();
  }

  /** Looks the order up by client order id until it appears or the window for a late landing has passed. */
  async function resolveByLookup(): Promise<BrokerOrderSnapshot | null> {
    if (!progress.mayHaveReachedBroker) return null;
    for (;;) {
      let found: BrokerOrderSnapshot | null = null;
      let looked = false;
      const askedAt = Date.now();
      try {
        found = await lookup.getBrokerOrder({ broker, clientOrderId, maxWaitMs });
        looked = true;
      } catch (err) {
        if (isCancellation(err)) throw err;
        // Credentials or a broken reply: the outcome stays unknown, and so does the order. Say so, keep asking.
        warn(`cannot resolve the submit outcome (${describe(err)}); trying again in ${LOOKUP_RETRY_MS / 1000} s`);
      }
      if (found) {
        log.info('order found at the broker after an unknown submit outcome', { clientOrderId });
        return found;
      }
      const deadline = resolvingUntil() ?? askedAt;
      // Only a lookup that began after the deadline proves the order will not appear any more.
      if (looked && askedAt >= deadline) return null;
      const waitMs = looked ? Math.max(1, Math.min(LOOKUP_INTERVAL_MS, deadline - Date.now())) : LOOKUP_RETRY_MS;
      await condition(() => updates.length > 0, waitMs);
      const pushed = updates.splice(0).find((u) => u.clientOrderId === clientOrderId);
      if (pushed) return pushed;
      if (continueAsNewDue()) await continueAsNewNow();
    }
  }

  /** No order exists at the broker and none can appear: say how it ended, and why. */
  function concludeNotAtBroker(): void {
    const tail = progress.mayHaveReachedBroker
      ? `; the broker showed no order ${clientOrderId} within ${windowSeconds} s of the last attempt`
      : '';
    if (progress.refusal) {
      errorType = progress.refusal.type;
      apply({ type: 'rejected', reason: `${progress.refusal.message}${tail}` });
    } else if (cancelRequested) {
      apply({ type: 'cancelled', reason: `${cancelRequested} (before the order reached the broker${tail})` });
    } else {
      errorType = progress.lastError?.type ?? 'Error';
      apply({
        type: 'failed',
        reason: `submit failed after ${progress.attempts} attempt(s): ${progress.lastError?.message ?? 'unknown error'}${tail}`,
      });
    }
  }

  async function finish(): Promise<OrderResult> {
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
      errorType,
    };
    for (const target of [input.deskWorkflowId, input.requesterWorkflowId]) {
      if (!target) continue;
      try {
        await getExternalWorkflowHandle(target).signal(orderTerminalSignal, notice);
      } catch (err) {
        // The requester may be gone (a monitor that was stopped); the order's own result still stands.
        log.warn('could not notify requester', { clientOrderId, target, error: describe(err) });
      }
    }
    await condition(allHandlersFinished);
    return status();
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
