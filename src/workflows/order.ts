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
import type { BrokerOrderSnapshot } from '../brokers/broker';
import type { createBrokerActivities } from '../activities/broker-activities';
import { type OrderEvent, type OrderRecord } from '../domain/orders/order-machine';
import {
  type OrderPricingConfig,
  type OrderRequestInput,
  type PreparedLimitOrder,
} from '../domain/orders/order-request';
import { isTerminalOrderState, type OrderState } from '../domain/orders/order-state';
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
}

export interface OrderWorkflowInput {
  readonly request: OrderRequestInput & { readonly clientOrderId: string };
  readonly pricing: OrderPricingConfig;
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
  /** The broker's last payload for this order, secrets and account numbers masked. */
  readonly raw: unknown;
}

export type OrderResult = OrderStatus;

export const cancelOrderSignal = defineSignal<[{ readonly reason?: string }]>('cancelOrder');
/** A broker update pushed by a stream listener (the event path); polling remains the fallback. */
export const brokerUpdateSignal = defineSignal<[BrokerOrderSnapshot]>('brokerUpdate');
export const orderStatusQuery = defineQuery<OrderStatus>('status');

const WARNINGS_KEPT = 10;
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
  const acts = proxyActivities<BrokerActivities>({ startToCloseTimeout, retry });
  // Resolving an unknown submit outcome must not give up: the order may exist at the broker.
  const lookup = proxyActivities<BrokerActivities>({
    startToCloseTimeout,
    retry: { ...retry, maximumAttempts: 0, maximumInterval: '1 minute' },
  });

  let prepared: PreparedLimitOrder | null = null;
  let validationError: string | null = null;
  try {
    prepared = orderRequests().prepareLimitOrder({ ...request, broker }, input.pricing);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    validationError = err.message;
  }

  const carried = input.carried;
  let order: OrderRecord = carried?.order ?? orderMachine().newOrderRecord(safeQuantity(request.quantity), nowIso());
  let submitted = carried?.submitted ?? false;
  let cancelRequested: string | null = carried?.cancelRequested ?? null;
  let cancelSent = carried?.cancelSent ?? false;
  let raw: unknown = carried?.raw ?? null;
  let errorType: string | null = carried?.errorType ?? null;
  const warnings: string[] = [...(carried?.warnings ?? [])];
  const updates: BrokerOrderSnapshot[] = [];

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
    raw,
  });

  setHandler(orderStatusQuery, status);
  setHandler(cancelOrderSignal, ({ reason }) => {
    cancelRequested ??= reason?.trim() || 'cancel requested';
  });
  setHandler(brokerUpdateSignal, (snapshot) => {
    updates.push(snapshot);
  });

  function apply(event: OrderEvent): void {
    const before = order.state;
    const result = orderMachine().applyOrderEvent(order, { ...event, at: event.at ?? nowIso() });
    order = result.order;
    for (const w of [result.warning, result.rejection?.reason]) {
      if (w === undefined) continue;
      warnings.push(w);
      if (warnings.length > WARNINGS_KEPT) warnings.splice(0, warnings.length - WARNINGS_KEPT);
      log.warn('order event needs attention', { clientOrderId, warning: w });
    }
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

  if (!submitted) {
    if (cancelRequested) {
      // Cancelled before anything reached the broker: nothing to undo there.
      apply({ type: 'cancelled', reason: cancelRequested });
      return finish();
    }
    try {
      const result = await acts.submitOrder({
        broker,
        order: {
          clientOrderId,
          symbol: prepared.symbol,
          side: prepared.side,
          quantity: prepared.quantity,
          limitPrice: prepared.limitPrice,
          timeInForce: prepared.timeInForce,
        },
      });
      submitted = true;
      apply({ type: 'submitted', brokerOrderId: result.order.brokerOrderId });
      applySnapshot(result.order);
    } catch (err) {
      if (isCancellation(err)) throw err;
      const failure = applicationFailureOf(err);
      if (failure?.nonRetryable) {
        errorType = failure.type ?? 'Error';
        apply({ type: 'rejected', reason: failure.message });
        return finish();
      }
      // Retries ran out on a transient error: the request may still have created the order.
      const found = await lookup.getBrokerOrder({ broker, clientOrderId });
      submitted = true;
      if (found) applySnapshot(found);
      else {
        errorType = failure?.type ?? 'Error';
        apply({ type: 'failed', reason: `submit failed and the broker has no such order: ${describe(err)}` });
      }
    }
  }

  const pollMs = settings.pollIntervalSeconds * 1000;
  while (!isTerminalOrderState(order.state)) {
    if (cancelRequested && !cancelSent && order.brokerOrderId) {
      cancelSent = true;
      apply({ type: 'cancel_requested' });
      try {
        const result = await acts.cancelBrokerOrder({ broker, brokerOrderId: order.brokerOrderId, clientOrderId });
        applySnapshot(result.order);
      } catch (err) {
        if (isCancellation(err)) throw err;
        apply({ type: 'cancel_rejected', reason: describe(err) });
        cancelSent = false;
        if (applicationFailureOf(err)?.nonRetryable) {
          // The broker refuses this cancel for good (unknown order, say): polling shows how the order ends.
          cancelRequested = null;
        } else {
          // The broker is unreachable: the cancel stays owed and is tried again shortly.
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
      const snapshot = await acts.getBrokerOrder({ broker, clientOrderId, brokerOrderId: order.brokerOrderId ?? null });
      if (snapshot) applySnapshot(snapshot);
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('order poll failed; will poll again', { clientOrderId, error: describe(err) });
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof orderWorkflow>({
        ...input,
        carried: { order, submitted, cancelRequested, cancelSent, raw, warnings, errorType },
      });
    }
  }
  return finish();

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

function describe(err: unknown): string {
  const failure = applicationFailureOf(err);
  if (failure) return `${failure.type ?? 'Error'}: ${failure.message}`;
  if (err instanceof Error) return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
  return String(err);
}
