import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  type Broker,
  type BrokerName,
  type BrokerOrderSnapshot,
  type CancelResult,
  type LimitOrderToPlace,
} from '../brokers/broker';
import { type OrderUpdateStreamFactory } from '../brokers/order-updates';
import { isTerminalOrderState } from '../domain/orders/order-state';
import { submitIdempotently, type SubmitResolution } from '../brokers/submit-idempotently';
import { ValidationError } from '../domain/validation';
import { type FlowguardMetrics, unscrapedMetrics } from '../observability/flowguard-metrics';
import { type AuditLog, type AuditRecord } from './audit';
import { toActivityFailure } from './failures';
import { heartbeatWhileRunning } from './heartbeat';
import { brokerUpdateSignal, type HandedBrokerUpdate } from '../workflows/order';

/** Resolves a broker adapter by name; adapters are built once per worker from its environment. */
export interface BrokerRegistry {
  get(name: BrokerName): Broker;
  /** The broker's order-update stream; null (or absent) when it has none or none is configured. */
  orderUpdates?(name: BrokerName): OrderUpdateStreamFactory | null;
}

export interface BrokerActivityDeps {
  readonly brokers: BrokerRegistry;
  readonly audit: AuditLog;
  /** Broker call latency and outcome (flowguard_broker_call_duration_seconds). */
  readonly metrics?: FlowguardMetrics;
}

export interface SubmitOrderInput {
  readonly broker: BrokerName;
  readonly order: LimitOrderToPlace;
  /**
   * Look the order up by client order id before submitting: the order workflow sets it on every attempt after
   * one that may have reached the broker. Temporal's own retries of this activity always look first.
   */
  readonly lookupFirst?: boolean;
  /** Cap on a broker-advised wait, in ms (see ToActivityFailureOptions); default 60 s. */
  readonly maxWaitMs?: number;
}

export interface SubmitOrderResult {
  readonly order: BrokerOrderSnapshot;
  readonly resolution: SubmitResolution;
}

export interface BrokerOrderRef {
  readonly broker: BrokerName;
  readonly clientOrderId?: string | null;
  readonly brokerOrderId?: string | null;
  /** Cap on a broker-advised wait, in ms (see ToActivityFailureOptions); default 60 s. */
  readonly maxWaitMs?: number;
}

/** Whether this worker can reach a broker at all: `missing` names the variables to set when it cannot. */
export interface BrokerAvailability {
  readonly configured: boolean;
  readonly missing: string[];
  /** Each broken rule as `VARIABLE: rule`, null when configured. */
  readonly detail: string | null;
}

export interface CancelAndConfirmItem {
  readonly brokerOrderId: string;
  readonly clientOrderId: string | null;
  /**
   * The flowguard order workflow to hand the broker's answer to (a brokerUpdate signal) as soon as this order's
   * answer is in; absent for the broker's own orders. The outcome says whether the hand-off was delivered.
   */
  readonly orderWorkflowId?: string | null;
}

export interface CancelAndConfirmInput {
  readonly broker: BrokerName;
  readonly orders: readonly CancelAndConfirmItem[];
  readonly confirmWithinMs?: number;
  /**
   * The desk records each terminal answer itself: handed with `deskHasAnswer`, the order workflow then sends the
   * desk no terminal notice (HandedBrokerUpdate).
   */
  readonly deskHasAnswer?: boolean;
  readonly pollMs?: number;
  readonly concurrency?: number;
}

/**
 * Whether the order workflow took the broker's answer: refused (`delivered: false`) when it has closed or never
 * existed, or when Temporal could not be reached within a few tries; `error` says which.
 */
export type HandOff = { readonly delivered: true } | { readonly delivered: false; readonly error: string };

/**
 * The last state read after the cancel (terminal, or still open when unconfirmed), or why the cancel failed;
 * `handOff` for an item with an orderWorkflowId whose cancel was answered.
 */
export type CancelAndConfirmOutcome =
  | {
      readonly brokerOrderId: string;
      readonly ok: true;
      readonly order: BrokerOrderSnapshot;
      readonly handOff?: HandOff;
    }
  | { readonly brokerOrderId: string; readonly ok: false; readonly error: string };

/** Open orders without their raw payloads: the kill switch lists many, history stays small. */
export type OpenOrderSummary = Omit<BrokerOrderSnapshot, 'raw' | 'executions'>;

export function createBrokerActivities({ brokers, audit, metrics = unscrapedMetrics() }: BrokerActivityDeps) {
  async function audited<T>(
    base: Omit<AuditRecord, 'outcome' | 'latencyMs' | 'attempt' | 'workflowId'>,
    call: () => Promise<T>,
    describe: (result: T) => Partial<AuditRecord>,
    maxBrokerWaitMs?: number,
  ): Promise<T> {
    const info = Context.current().info;
    const started = performance.now();
    // A worker that dies mid-call is noticed within the caller's heartbeat timeout: the kill switch and a
    // submit are not held for the whole start-to-close timeout.
    const stopHeartbeat = heartbeatWhileRunning();
    const common = { ...base, workflowId: info.workflowExecution?.workflowId, attempt: info.attempt };
    try {
      const result = await metrics.timeBrokerCall(base.broker, base.event, call);
      audit.record({ ...common, ...describe(result), outcome: 'ok', latencyMs: elapsed(started) });
      return result;
    } catch (err) {
      const error =
        err instanceof Error ? { type: err.name, message: err.message } : { type: 'Error', message: String(err) };
      audit.record({ ...common, outcome: 'error', latencyMs: elapsed(started), error });
      throw toActivityFailure(err, maxBrokerWaitMs === undefined ? {} : { maxBrokerWaitMs });
    } finally {
      stopHeartbeat();
    }
  }

  const activities = {
    /**
     * The worker's view of a broker, for the desk to refuse at once what this worker cannot place (a local
     * activity: the answer is about the worker that runs the desk). Adapters are built from the environment
     * without any network call, and a missing or malformed variable fails that build with a ValidationError
     * naming it; other errors are not about configuration and propagate.
     */
    async brokerAvailability({ broker }: { readonly broker: BrokerName }): Promise<BrokerAvailability> {
      try {
        brokers.get(broker);
        return { configured: true, missing: [], detail: null };
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        return { configured: false, missing: err.issues.map((i) => i.field), detail: err.message };
      }
    },

    /**
     * Places the order exactly once: the client order id is the idempotency key, and a retry looks the order
     * up before submitting again (an earlier attempt may have created it and lost the reply).
     */
    async submitOrder({ broker, order, lookupFirst: asked, maxWaitMs }: SubmitOrderInput): Promise<SubmitOrderResult> {
      const lookupFirst = asked === true || Context.current().info.attempt > 1;
      return audited(
        { event: 'submit', broker, clientOrderId: order.clientOrderId },
        () => submitIdempotently(brokers.get(broker), order, { lookupFirst }),
        (r) => ({
          brokerOrderId: r.order.brokerOrderId,
          state: r.order.state,
          filledQuantity: r.order.filledQuantity,
          detail: { resolution: r.resolution, limitPrice: order.limitPrice, symbol: order.symbol, side: order.side },
        }),
        maxWaitMs,
      );
    },

    /** The broker's current view of one order; null when the broker has never seen it. */
    async getBrokerOrder(ref: BrokerOrderRef): Promise<BrokerOrderSnapshot | null> {
      return audited(
        { event: 'status', broker: ref.broker, clientOrderId: ref.clientOrderId, brokerOrderId: ref.brokerOrderId },
        async () => {
          const adapter = brokers.get(ref.broker);
          if (ref.brokerOrderId) return adapter.getOrder(ref.brokerOrderId);
          if (ref.clientOrderId) return adapter.getOrderByClientOrderId(ref.clientOrderId);
          return null;
        },
        (o) => (o ? { brokerOrderId: o.brokerOrderId, state: o.state, filledQuantity: o.filledQuantity } : {}),
        ref.maxWaitMs,
      );
    },

    async cancelBrokerOrder(ref: BrokerOrderRef & { readonly brokerOrderId: string }): Promise<CancelResult> {
      return audited(
        { event: 'cancel', broker: ref.broker, clientOrderId: ref.clientOrderId, brokerOrderId: ref.brokerOrderId },
        () => brokers.get(ref.broker).cancelOrder(ref.brokerOrderId),
        (r) => ({ state: r.order.state, filledQuantity: r.order.filledQuantity, detail: { outcome: r.outcome } }),
        ref.maxWaitMs,
      );
    },

    /**
     * The kill switch at the broker: cancels every listed order (a few at a time), then reads each back until
     * the broker shows it terminal or `confirmWithinMs` (default 30 s) has passed, all inside one heartbeating
     * activity. Confirming from the desk wrote a timer and an activity per read into its history (up to 60 per
     * order); this writes one activity per kill switch. Per-order failures come back as data, after transient
     * ones were retried within the bound; a retry of the whole activity is safe (a cancelled order answers
     * not-cancellable with its terminal state).
     *
     * Each answered order's workflow (`orderWorkflowId`) is handed the answer here, by the worker's client, the
     * moment it is known: the desk then writes no signal command per order (two events each, plus the workflow
     * tasks their results wake). Handing it again on a retry is harmless: the order machine ignores a snapshot
     * in the state the order is already in, and a workflow that has closed refuses it (reported as not delivered).
     */
    async cancelAndConfirmBrokerOrders(input: CancelAndConfirmInput): Promise<CancelAndConfirmOutcome[]> {
      const ctx = Context.current();
      // Orders whose cancel the broker took, kept in the heartbeat: an attempt retried after a missed heartbeat
      // (a worker lost, or one too busy to beat in time) only reads those back instead of cancelling them again.
      const previous = ctx.info.heartbeatDetails as CancelProgress | undefined;
      const taken = new Set(Array.isArray(previous?.cancelled) ? previous.cancelled : []);
      const stopHeartbeat = heartbeatWhileRunning((): CancelProgress => ({ cancelled: [...taken] }));
      const deadline = Date.now() + (input.confirmWithinMs ?? DEFAULT_CONFIRM_WITHIN_MS);
      const pollMs = input.pollMs ?? CONFIRM_POLL_MS;
      const one = async (item: CancelAndConfirmItem): Promise<CancelAndConfirmOutcome> => {
        const ref = { broker: input.broker, brokerOrderId: item.brokerOrderId, clientOrderId: item.clientOrderId };
        let order: BrokerOrderSnapshot | null = null;
        let lastError: unknown = null;
        if (taken.has(item.brokerOrderId)) {
          try {
            order = await activities.getBrokerOrder({ broker: input.broker, brokerOrderId: item.brokerOrderId });
          } catch (err) {
            lastError = err; // read failed: cancelling again below is still safe, only less tidy
          }
        }
        for (let attempt = 1; order === null && attempt <= CANCEL_ATTEMPTS && Date.now() < deadline; attempt++) {
          try {
            order = (await activities.cancelBrokerOrder(ref)).order;
            taken.add(item.brokerOrderId);
          } catch (err) {
            lastError = err;
            if ((err as { nonRetryable?: boolean }).nonRetryable === true) break;
            await ctx.sleep(CANCEL_RETRY_MS * attempt);
          }
        }
        if (order === null) return { brokerOrderId: item.brokerOrderId, ok: false, error: describeError(lastError) };
        while (!isTerminalOrderState(order.state) && Date.now() < deadline) {
          await ctx.sleep(pollMs);
          try {
            order =
              (await activities.getBrokerOrder({ broker: input.broker, brokerOrderId: item.brokerOrderId })) ?? order;
          } catch (err) {
            // A read that fails leaves the last answer standing: the cancel itself was taken.
            if ((err as { nonRetryable?: boolean }).nonRetryable === true) break;
          }
        }
        if (!item.orderWorkflowId) return { brokerOrderId: item.brokerOrderId, ok: true, order };
        const handed: HandedBrokerUpdate =
          input.deskHasAnswer === true && isTerminalOrderState(order.state) ? { ...order, deskHasAnswer: true } : order;
        const handOff = await handOrderItsAnswer(ctx.client, item.orderWorkflowId, handed, (ms) => ctx.sleep(ms));
        if (!handOff.delivered) {
          ctx.log.warn('could not hand the cancel result to an order workflow', {
            workflowId: item.orderWorkflowId,
            error: handOff.error,
          });
        }
        return { brokerOrderId: item.brokerOrderId, ok: true, order, handOff };
      };
      try {
        return await mapWithConcurrency(input.orders, input.concurrency ?? CANCEL_CONCURRENCY, one);
      } finally {
        stopHeartbeat();
      }
    },

    async listOpenBrokerOrders({ broker }: { readonly broker: BrokerName }): Promise<OpenOrderSummary[]> {
      return audited(
        { event: 'list_open', broker },
        async () => (await brokers.get(broker).listOpenOrders()).map(({ raw: _raw, executions: _e, ...rest }) => rest),
        (orders) => ({ detail: { count: orders.length } }),
      );
    },
  };
  return activities;
}

/** Heartbeat details of cancelAndConfirmBrokerOrders: broker order ids whose cancel the broker accepted. */
interface CancelProgress {
  readonly cancelled: readonly string[];
}

/** How long the kill switch waits for the broker to show a cancelled order terminal. */
const DEFAULT_CONFIRM_WITHIN_MS = 30_000;
const CONFIRM_POLL_MS = 500;
/** Cancels in flight at once: 25 orders confirm in a few round trips without bursting past a rate limit. */
const CANCEL_CONCURRENCY = 8;
const CANCEL_ATTEMPTS = 3;
const CANCEL_RETRY_MS = 250;

const HAND_OFF_ATTEMPTS = 3;

/**
 * Signals one order workflow the broker's answer. A closed or unknown workflow refuses at once; any other failure
 * (Temporal unreachable) is tried HAND_OFF_ATTEMPTS times, then reported: the order workflow's own poll still
 * learns the answer, and the kill switch's results say which workflows were not reached.
 */
async function handOrderItsAnswer(
  client: Pick<Client, 'workflow'>,
  workflowId: string,
  order: HandedBrokerUpdate,
  sleep: (ms: number) => Promise<void>,
): Promise<HandOff> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.workflow.getHandle(workflowId).signal(brokerUpdateSignal, order);
      return { delivered: true };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || attempt >= HAND_OFF_ATTEMPTS) {
        return { delivered: false, error: describeError(err) };
      }
      await sleep(CANCEL_RETRY_MS * attempt);
    }
  }
}

/** Runs `fn` over `items` with at most `limit` at a time; results keep the items' order. */
async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return err === null ? 'no answer within the bound' : JSON.stringify(err);
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
