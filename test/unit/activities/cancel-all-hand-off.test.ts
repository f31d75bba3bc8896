/**
 * The kill switch's batch activity hands each flowguard order workflow the broker's answer itself, so the desk
 * writes no signal command per order. Here against the in-memory paper broker, with a client whose signals are
 * recorded (the order workflows' side is covered by the desk tests on a Temporal server).
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createMemoryAuditLog } from '../../../src/activities/audit';
import {
  createBrokerActivities,
  type CancelAndConfirmInput,
  type CancelAndConfirmOutcome,
} from '../../../src/activities/broker-activities';
import { type BrokerOrderSnapshot } from '../../../src/brokers/broker';
import { PaperBroker } from '../../../src/brokers/paper/paper-broker';
import { createBrokerRegistry } from '../../../src/brokers/registry';

/** Signals are recorded per workflow id; `closed` ones refuse like a completed workflow, `flaky` fail once. */
function recordingClient(closed: Set<string>, flaky: Set<string> = new Set()) {
  const signals: { workflowId: string; name: string; order: BrokerOrderSnapshot }[] = [];
  const client = {
    // What the worker does with its client around every activity (ties its calls to the activity's abort).
    withAbortSignal: <R>(_signal: AbortSignal, fn: () => R): R => fn(),
    workflow: {
      getHandle: (workflowId: string) => ({
        signal: async (def: { name: string }, order: BrokerOrderSnapshot) => {
          if (closed.has(workflowId)) {
            throw new WorkflowNotFoundError('workflow execution already completed', workflowId, undefined);
          }
          if (flaky.delete(workflowId)) throw new Error('14 UNAVAILABLE: connection reset');
          signals.push({ workflowId, name: def.name, order });
        },
      }),
    },
  };
  return { signals, client: client as unknown as Client };
}

async function openOrders(broker: PaperBroker, n: number) {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      broker.submitLimitOrder({
        clientOrderId: `h-${i}`,
        symbol: 'AAPL',
        side: 'buy',
        quantity: 1,
        limitPrice: '1.00',
        timeInForce: 'day',
      }),
    ),
  );
}

describe('cancelAndConfirmBrokerOrders hands each order workflow its answer', () => {
  it('signals every answered order once, reports a closed workflow as not delivered, leaves broker orders alone', async () => {
    const paper = PaperBroker.inMemory();
    const acts = createBrokerActivities({
      brokers: createBrokerRegistry({ overrides: { paper } }),
      audit: createMemoryAuditLog(),
    });
    const [a, b, c, d] = await openOrders(paper, 4);
    const { signals, client } = recordingClient(new Set(['order:h-1']), new Set(['order:h-3']));
    const env = new MockActivityEnvironment({}, { client });
    const outcomes: CancelAndConfirmOutcome[] = await env.run(
      (i: CancelAndConfirmInput) => acts.cancelAndConfirmBrokerOrders(i),
      {
        broker: 'paper' as const,
        orders: [
          { brokerOrderId: a!.brokerOrderId, clientOrderId: 'h-0', orderWorkflowId: 'order:h-0' },
          { brokerOrderId: b!.brokerOrderId, clientOrderId: 'h-1', orderWorkflowId: 'order:h-1' },
          // The broker's own order (no flowguard workflow): cancelled, nobody to tell.
          { brokerOrderId: c!.brokerOrderId, clientOrderId: 'h-2' },
          // Temporal unreachable once: tried again.
          { brokerOrderId: d!.brokerOrderId, clientOrderId: 'h-3', orderWorkflowId: 'order:h-3' },
        ],
        confirmWithinMs: 5_000,
      },
    );
    expect(outcomes.map((o) => (o.ok ? [o.order.state, o.handOff ?? null] : o.error))).toEqual([
      ['cancelled', { delivered: true }],
      ['cancelled', { delivered: false, error: 'workflow execution already completed' }],
      ['cancelled', null],
      ['cancelled', { delivered: true }],
    ]);
    expect(signals.map((s) => [s.workflowId, s.name, s.order.state])).toEqual(
      expect.arrayContaining([
        ['order:h-0', 'brokerUpdate', 'cancelled'],
        ['order:h-3', 'brokerUpdate', 'cancelled'],
      ]),
    );
    expect(signals).toHaveLength(2);

    // A retry of the whole activity (worker lost mid-run) hands the same terminal answer again: the broker
    // answers not-cancellable with the order's state, and the order machine ignores a repeated terminal state.
    const again: CancelAndConfirmOutcome[] = await env.run(
      (i: CancelAndConfirmInput) => acts.cancelAndConfirmBrokerOrders(i),
      {
        broker: 'paper' as const,
        orders: [{ brokerOrderId: a!.brokerOrderId, clientOrderId: 'h-0', orderWorkflowId: 'order:h-0' }],
        confirmWithinMs: 5_000,
      },
    );
    expect(again).toMatchObject([{ ok: true, order: { state: 'cancelled' }, handOff: { delivered: true } }]);
    expect(signals.filter((s) => s.workflowId === 'order:h-0')).toHaveLength(2);
  });

  it('an attempt retried after a missed heartbeat reads back the orders whose cancel was taken, never cancels them twice', async () => {
    const paper = PaperBroker.inMemory();
    const acts = createBrokerActivities({
      brokers: createBrokerRegistry({ overrides: { paper } }),
      audit: createMemoryAuditLog(),
    });
    const [a, b] = await openOrders(paper, 2);
    const cancels: string[] = [];
    const cancelOrder = paper.cancelOrder.bind(paper);
    paper.cancelOrder = (id: string) => {
      cancels.push(id);
      return cancelOrder(id);
    };
    const input = {
      broker: 'paper' as const,
      orders: [
        { brokerOrderId: a!.brokerOrderId, clientOrderId: 'h-0' },
        { brokerOrderId: b!.brokerOrderId, clientOrderId: 'h-1' },
      ],
      confirmWithinMs: 5_000,
    };
    // The first attempt's cancel of `a` was taken (it is in the heartbeat details), then the attempt timed out.
    await cancelOrder(a!.brokerOrderId);
    const { client } = recordingClient(new Set());
    const retry = new MockActivityEnvironment(
      { attempt: 2, heartbeatDetails: { cancelled: [a!.brokerOrderId] } },
      { client },
    );
    const outcomes: CancelAndConfirmOutcome[] = await retry.run(
      (i: CancelAndConfirmInput) => acts.cancelAndConfirmBrokerOrders(i),
      input,
    );
    expect(outcomes.map((o) => o.ok && o.order.state)).toEqual(['cancelled', 'cancelled']);
    expect(cancels).toEqual([b!.brokerOrderId]);

    // What it beats while it runs is that progress, for the attempt after it.
    const [c] = await openOrders(paper, 1);
    const beats: unknown[] = [];
    // A hand-off that takes a while keeps the attempt alive past one heartbeat interval after the cancel.
    const slowClient = {
      withAbortSignal: <R>(_signal: AbortSignal, fn: () => R): R => fn(),
      workflow: { getHandle: () => ({ signal: () => new Promise((r) => setTimeout(r, 1_500)) }) },
    } as unknown as Client;
    const slow = new MockActivityEnvironment({}, { client: slowClient });
    slow.on('heartbeat', (d: unknown) => beats.push(d));
    await slow.run((i: CancelAndConfirmInput) => acts.cancelAndConfirmBrokerOrders(i), {
      ...input,
      orders: [{ brokerOrderId: c!.brokerOrderId, clientOrderId: 'h-c', orderWorkflowId: 'order:h-c' }],
    });
    expect(beats).toContainEqual({ cancelled: [c!.brokerOrderId] });
  });
});
