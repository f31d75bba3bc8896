import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { type BrokerName, type BrokerOrderSnapshot } from '../brokers/broker';
import { BrokerUnauthorized, OrderNotFound } from '../brokers/errors';
import { type OrderUpdate, type OrderUpdateStreamFactory } from '../brokers/order-updates';
import { isTerminalOrderState } from '../domain/orders/order-state';
import { WorkflowIds } from '../shared/contracts';
import { positionsChangedSignal } from '../workflows/notifications';
import { brokerUpdateSignal } from '../workflows/order';
import { type BrokerActivityDeps } from './broker-activities';
import { toActivityFailure } from './failures';
import { errorMessage } from '../shared/error-message';

export interface RelayBrokerEventsInput {
  readonly broker: BrokerName;
  /** The desk's account label (logs); the stream belongs to the worker's credentials for this broker. */
  readonly account: string;
}

export interface RelayBrokerEventsResult {
  /** Why the relay ended without streaming (it only returns when there is no stream). */
  readonly reason: string;
}

/** Well inside the desk's 30 s heartbeat timeout, and the period of a retried reconciliation. */
export const RELAY_HEARTBEAT_MS = 5_000;

/** How long an ending relay waits for signals under way. */
const IDLE_GRACE_MS = 2_000;

interface RelayLog {
  info(message: string, attrs?: Record<string, unknown>): void;
  warn(message: string, attrs?: Record<string, unknown>): void;
}

export interface OrderEventRelayOptions {
  readonly broker: BrokerName;
  readonly deps: Pick<BrokerActivityDeps, 'brokers' | 'audit'>;
  readonly client: Pick<Client, 'workflow'>;
  readonly log: RelayLog;
  /** Told of every execution on the stream, flowguard's orders and foreign ones alike (the positions watch). */
  readonly onFill?: (symbol: string) => void;
}

/**
 * Pushes a broker's order updates to the order workflows (`order:<clientOrderId>`) as brokerUpdate signals.
 * Signals for one order go out one at a time, in the order the broker sent them. The broker's stream does not
 * replay what it sent while disconnected, so after every (re)connect `reconcile` reads the open orders by REST,
 * plus every order this relay last saw open (it may have closed during the gap), and signals each snapshot.
 */
export class OrderEventRelay {
  /** Orders seen open, clientOrderId → brokerOrderId: the ones a gap could have closed. */
  private readonly open = new Map<string, string>();
  private readonly chains = new Map<string, Promise<void>>();
  private reconciling: Promise<void> | null = null;
  /** A signal or a reconciliation failed for a reason other than an unknown workflow: reconcile again. */
  reconcileOwed = false;
  signalled = 0;

  constructor(private readonly options: OrderEventRelayOptions) {}

  /** One stream update. Orders without a client order id are not flowguard's and are skipped. */
  onUpdate(update: OrderUpdate): Promise<void> {
    if (update.execution) this.options.onFill?.(update.order.symbol);
    const cid = update.order.clientOrderId;
    if (!cid) return Promise.resolve();
    this.options.deps.audit.record({
      event: update.execution ? 'fill' : 'state_change',
      broker: this.options.broker,
      clientOrderId: cid,
      brokerOrderId: update.order.brokerOrderId,
      outcome: 'ok',
      state: update.order.state,
      filledQuantity: update.order.filledQuantity,
      detail: {
        source: 'stream',
        event: update.event,
        ...(update.execution
          ? {
              executionId: update.execution.id,
              quantity: update.execution.quantity,
              price: update.execution.price,
            }
          : {}),
      },
    });
    // The order object carries only the broker's cumulative figures, which stay authoritative. The execution
    // rides along so the order keeps it under its own id: the workflow's reconciler applies it only when it
    // accounts exactly for the gap between the cumulative quantity and what the order already holds.
    const snapshot: BrokerOrderSnapshot = update.execution
      ? { ...update.order, executions: [update.execution], executionsComplete: true }
      : update.order;
    return this.signal(snapshot);
  }

  /** Signals the REST view of every open order and of every order last seen open. Never runs twice at once. */
  reconcile(why: string): Promise<void> {
    this.reconciling ??= this.reconcileOnce(why).finally(() => {
      this.reconciling = null;
    });
    return this.reconciling;
  }

  /** Resolves once every signal queued so far has been sent (or has failed). */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  private async reconcileOnce(why: string): Promise<void> {
    this.reconcileOwed = false;
    const { broker, deps } = this.options;
    const adapter = deps.brokers.get(broker);
    const started = performance.now();
    let listed: BrokerOrderSnapshot[];
    try {
      listed = await adapter.listOpenOrders();
      deps.audit.record({
        event: 'list_open',
        broker,
        outcome: 'ok',
        latencyMs: elapsed(started),
        detail: { count: listed.length, reason: why },
      });
    } catch (err) {
      this.reconcileOwed = true;
      deps.audit.record({
        event: 'list_open',
        broker,
        outcome: 'error',
        latencyMs: elapsed(started),
        error: errorOf(err),
      });
      this.options.log.warn('could not list open orders to reconcile; will try again', {
        broker,
        error: errorMessage(err),
      });
      return;
    }
    const ours = listed.filter((o) => o.clientOrderId !== null);
    const listedIds = new Set(ours.map((o) => o.clientOrderId));
    const gone = [...this.open.entries()].filter(([cid]) => !listedIds.has(cid));
    await Promise.all([
      ...ours.map((o) => this.signal(o)),
      ...gone.map(async ([cid, brokerOrderId]) => {
        const t0 = performance.now();
        try {
          const order = await adapter.getOrder(brokerOrderId);
          deps.audit.record({
            event: 'status',
            broker,
            clientOrderId: cid,
            brokerOrderId,
            outcome: 'ok',
            latencyMs: elapsed(t0),
            state: order.state,
            filledQuantity: order.filledQuantity,
            detail: { reason: why },
          });
          await this.signal(order);
        } catch (err) {
          deps.audit.record({
            event: 'status',
            broker,
            clientOrderId: cid,
            brokerOrderId,
            outcome: 'error',
            latencyMs: elapsed(t0),
            error: errorOf(err),
          });
          if (err instanceof OrderNotFound) this.open.delete(cid);
          else this.reconcileOwed = true;
        }
      }),
    ]);
    this.options.log.info('reconciled open orders by REST', {
      broker,
      reason: why,
      open: ours.length,
      gone: gone.length,
    });
  }

  private signal(snapshot: BrokerOrderSnapshot): Promise<void> {
    const cid = snapshot.clientOrderId;
    if (!cid) return Promise.resolve();
    if (isTerminalOrderState(snapshot.state)) this.open.delete(cid);
    else this.open.set(cid, snapshot.brokerOrderId);
    const previous = this.chains.get(cid) ?? Promise.resolve();
    const next = previous.then(() => this.send(cid, snapshot));
    this.chains.set(cid, next);
    void next.finally(() => {
      if (this.chains.get(cid) === next) this.chains.delete(cid);
    });
    return next;
  }

  private async send(cid: string, snapshot: BrokerOrderSnapshot): Promise<void> {
    try {
      await this.options.client.workflow.getHandle(WorkflowIds.order(cid)).signal(brokerUpdateSignal, snapshot);
      this.signalled++;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        // Not placed by flowguard (or its workflow has closed): nobody to tell.
        this.open.delete(cid);
        return;
      }
      // Temporal unreachable, say: the update is not lost for good, the next reconciliation re-reads it.
      this.reconcileOwed = true;
      this.options.log.warn('could not signal an order workflow; will reconcile', {
        clientOrderId: cid,
        error: errorMessage(err),
      });
    }
  }
}

/**
 * The event path for fills: a long-running activity the desk keeps running for a broker with an
 * order-update stream. It returns at once for brokers without one; otherwise it runs until cancelled,
 * heartbeating, and fails (to be retried by Temporal) when the first connection fails or authentication is
 * refused (BrokerUnauthorized, non-retryable).
 */
export function createBrokerEventActivities(
  deps: Pick<BrokerActivityDeps, 'brokers' | 'audit' | 'metrics'> & {
    /** Silence after which the stream's link is dropped and reconnected (marketData.streamLivenessSeconds). */
    readonly streamLivenessMs?: number;
  },
) {
  return {
    async relayBrokerEvents({ broker, account }: RelayBrokerEventsInput): Promise<RelayBrokerEventsResult> {
      const ctx = Context.current();
      let factory: OrderUpdateStreamFactory | null;
      try {
        factory = deps.brokers.orderUpdates?.(broker) ?? null;
      } catch (err) {
        throw toActivityFailure(err);
      }
      if (!factory) return { reason: `${broker}: no order-update stream configured; orders are polled` };

      const wake = positionsWaker(ctx.client, broker, account, ctx.log);
      const relay = new OrderEventRelay({ broker, deps, client: ctx.client, log: ctx.log, onFill: wake });
      let fail: (err: Error) => void = () => undefined;
      const fatal = new Promise<never>((_, reject) => {
        fail = reject;
      });
      fatal.catch(() => undefined); // observed through the races below; never an unhandled rejection
      const stream = factory({
        onUpdate: (update) => relay.onUpdate(update),
        onReconnect: () => relay.reconcile('reconnect'),
        ...(deps.streamLivenessMs !== undefined ? { livenessTimeoutMs: deps.streamLivenessMs } : {}),
        // Logged through onError as well (the stream reports the drop as BrokerUnavailable).
        onLivenessDrop: () => deps.metrics?.streamLivenessDrops.inc({ stream: broker }),
        onError: (err) => {
          // A refused authentication after a reconnect ends the stream for good: end the activity with it.
          if (err instanceof BrokerUnauthorized) fail(err);
          else ctx.log.warn('order-update stream trouble', { broker, account, error: err.message });
        },
      });
      const beat = setInterval(() => {
        ctx.heartbeat({ signalled: relay.signalled });
        if (relay.reconcileOwed) void relay.reconcile('retry');
      }, RELAY_HEARTBEAT_MS);
      ctx.heartbeat({ signalled: 0 });
      try {
        await Promise.race([stream.start(), ctx.cancelled, fatal]);
        ctx.log.info('relaying broker order updates', { broker, account });
        await Promise.race([relay.reconcile('connect'), ctx.cancelled, fatal]);
        // Runs until the desk cancels it (continue-as-new, shutdown) or the stream is refused for good.
        return await Promise.race([ctx.cancelled, fatal]);
      } catch (err) {
        throw toActivityFailure(err);
      } finally {
        clearInterval(beat);
        await stream.close();
        // Signals already under way get a moment to land; the next run's reconciliation covers the rest.
        await Promise.race([relay.idle(), new Promise((r) => setTimeout(r, IDLE_GRACE_MS).unref())]);
      }
    },
  };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

function errorOf(err: unknown): { type: string; message: string } {
  return err instanceof Error ? { type: err.name, message: err.message } : { type: 'Error', message: String(err) };
}

/** At most one positionsChanged a second to the account's positions watch; a burst of fills needs one sync. */
const POSITIONS_WAKE_MS = 1_000;

/**
 * A fill on the broker's stream wakes the account's positions watch (`positions:<broker>:<account>`) at once,
 * partial fills and orders placed outside flowguard included; without a watch running nothing happens.
 */
function positionsWaker(
  client: Pick<Client, 'workflow'>,
  broker: BrokerName,
  account: string,
  log: RelayLog,
): (symbol: string) => void {
  let last = 0;
  let pending: NodeJS.Timeout | null = null;
  const symbols = new Set<string>();
  const send = () => {
    pending = null;
    last = Date.now();
    const symbol = [...symbols].join(',');
    symbols.clear();
    client.workflow
      .getHandle(WorkflowIds.positions(broker, account))
      .signal(positionsChangedSignal, { symbol, reason: `fill on the ${broker} stream` })
      .catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError))
          log.warn('could not wake the positions watch', { broker, account, error: errorMessage(err) });
      });
  };
  return (symbol) => {
    symbols.add(symbol);
    if (pending) return;
    pending = setTimeout(send, Math.max(0, last + POSITIONS_WAKE_MS - Date.now()));
  };
}
