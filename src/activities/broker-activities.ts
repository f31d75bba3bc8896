import { Context } from '@temporalio/activity';
import {
  type Broker,
  type BrokerName,
  type BrokerOrderSnapshot,
  type CancelResult,
  type LimitOrderRequest,
} from '../brokers/broker';
import { type OrderUpdateStreamFactory } from '../brokers/order-updates';
import { submitIdempotently, type SubmitResolution } from '../brokers/submit-idempotently';
import { ValidationError } from '../domain/validation';
import { type FlowguardMetrics, unscrapedMetrics } from '../observability/flowguard-metrics';
import { type AuditLog, type AuditRecord } from './audit';
import { toActivityFailure } from './failures';
import { heartbeatWhileRunning } from './heartbeat';

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
  readonly order: LimitOrderRequest;
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

  return {
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

    async listOpenBrokerOrders({ broker }: { readonly broker: BrokerName }): Promise<OpenOrderSummary[]> {
      return audited(
        { event: 'list_open', broker },
        async () => (await brokers.get(broker).listOpenOrders()).map(({ raw: _raw, executions: _e, ...rest }) => rest),
        (orders) => ({ detail: { count: orders.length } }),
      );
    },
  };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
