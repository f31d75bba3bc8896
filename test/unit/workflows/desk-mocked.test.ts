/**
 * The desk workflow (and the order workflows it starts) against a mocked broker,
 * on Temporal's time-skipping test server (test/support/mocked-workflows.ts): backoffs of minutes pass at once, so
 * exhaustion, throttling, cancel races and continue-as-new run in seconds. The real-server integration tests keep
 * the end-to-end paths. Every run's history is replayed after the file: any non-determinism fails it (see
 * MockedWorkflowsOptions.replay).
 */
import { randomUUID } from 'node:crypto';
import { type WorkflowHandle } from '@temporalio/client';
import type { BrokerOrderSnapshot } from '../../../src/brokers/broker';
import { prepareLimitOrder } from '../../../src/domain/orders/order-request';
import { WorkflowIds } from '../../../src/shared/contracts';
import {
  cancelAllSignal,
  deskStateQuery,
  deskWorkflow,
  placeOrderUpdate,
  resetUpdate,
  type DeskInput,
} from '../../../src/workflows/desk';
import { brokerUpdateSignal, orderStatusQuery } from '../../../src/workflows/order';
import { brokerFailure, settings, snapshot } from '../../support/mocked-broker';
import { useMockedWorkflows, type Mocks } from '../../support/mocked-workflows';

// Each test takes seconds alone; a machine shared with other builds can make that several times longer.
jest.setTimeout(180_000);

const h = useMockedWorkflows();
const { withWorker, until, runs, started } = h;

describe('desk workflow, mocked broker', () => {
  const deskInput = (account: string, over: Partial<DeskInput> = {}): DeskInput => ({
    broker: 'paper',
    account,
    settings,
    ...over,
  });
  /** Orders rest at the broker until cancelled; `cancelAndConfirm` decides how the kill switch's batch goes. */
  function restingBroker(
    cancelAndConfirm: (
      ids: { brokerOrderId: string; clientOrderId: string | null; orderWorkflowId?: string | null }[],
      deskHasAnswer: boolean,
    ) => Promise<unknown>,
  ) {
    const open = new Map<string, BrokerOrderSnapshot>();
    return {
      open,
      activities: {
        submitOrder: async ({ order }: { order: { clientOrderId: string; quantity: number; limitPrice: string } }) => {
          const s = snapshot({
            clientOrderId: order.clientOrderId,
            quantity: order.quantity,
            limitPrice: order.limitPrice,
          });
          open.set(s.brokerOrderId, s);
          return { order: s };
        },
        getBrokerOrder: async ({ clientOrderId }: { clientOrderId: string }) =>
          open.get(`b-${clientOrderId}`) ?? snapshot({ clientOrderId, state: 'cancelled' }),
        cancelBrokerOrder: async ({ brokerOrderId }: { brokerOrderId: string }) => {
          const s = { ...open.get(brokerOrderId)!, state: 'cancelled' as const };
          open.delete(brokerOrderId);
          return { order: s };
        },
        listOpenBrokerOrders: async () => [...open.values()].map(({ raw: _r, executions: _e, ...rest }) => rest),
        cancelAndConfirmBrokerOrders: async ({
          orders,
          deskHasAnswer,
        }: {
          orders: { brokerOrderId: string; clientOrderId: string | null; orderWorkflowId?: string | null }[];
          deskHasAnswer?: boolean;
        }) => cancelAndConfirm(orders, deskHasAnswer === true),
      } satisfies Mocks,
    };
  }

  async function startDesk(taskQueue: string, input: DeskInput) {
    const workflowId = WorkflowIds.desk(input.broker, input.account);
    started.push({ workflowId });
    return h.env.client.workflow.start(deskWorkflow, { workflowId, taskQueue, args: [input] });
  }

  /** An order as the CLI sends it: priced once, by the caller, with the test's pricing (AAPL 190.00 → 189.72). */
  function prepared(quantity: number) {
    const clientOrderId = `d-${randomUUID().slice(0, 8)}`;
    const request = { symbol: 'AAPL', side: 'buy', quantity, referencePrice: '190.00', clientOrderId } as const;
    return { ...prepareLimitOrder({ ...request, broker: 'paper' }, settings.pricing), clientOrderId };
  }

  async function place(desk: WorkflowHandle, quantity: number | ReturnType<typeof prepared>) {
    const order = typeof quantity === 'number' ? prepared(quantity) : quantity;
    const placed = await desk.executeUpdate(placeOrderUpdate, { args: [{ prepared: order }] });
    started.push({ workflowId: placed.workflowId });
    return placed;
  }

  it('price once: the desk places the order its caller priced and prices nothing (its own pricing refuses all)', async () => {
    const broker = restingBroker(async () => []);
    await withWorker(broker.activities, async (taskQueue) => {
      // Every limit this pricing computes is further from the reference than 0.0001%: a desk or order workflow
      // that priced an order again (in the validator, the handler or after continue-as-new) would refuse it.
      const refusing = { ...settings, pricing: { ...settings.pricing, maxSlippagePct: '0.0001' } };
      const desk = await startDesk(taskQueue, deskInput(`p-${randomUUID().slice(0, 6)}`, { settings: refusing }));
      // And priced by another pricing code than this worker's (as before a deploy that changed it): its own
      // offset (15 bps) would give 189.72 today, so pricing it again from its fields would move it too.
      const order = { ...prepared(10), limitPrice: '189.80', intentKey: 'AAPL:buy:189.8:10' };
      const placed = await desk.executeUpdate(placeOrderUpdate, { args: [{ prepared: order }] });
      started.push({ workflowId: placed.workflowId });
      expect(placed).toMatchObject({ clientOrderId: order.clientOrderId, limitPrice: '189.80', existing: null });
      const submitted = await until(
        async () => [...broker.open.values()],
        (open) => open.length === 1,
      );
      expect(submitted[0]).toMatchObject({ clientOrderId: order.clientOrderId, limitPrice: '189.80' });
      const status = await h.env.client.workflow.getHandle(placed.workflowId).query(orderStatusQuery);
      expect(status).toMatchObject({ state: 'queued', limitPrice: '189.80', referencePrice: '190.00' });

      // A prepared order that pricing could not have produced is refused before it is accepted, naming the field.
      const refusal = (field: RegExp) => ({
        cause: { type: 'ValidationError', message: expect.stringMatching(field) },
      });
      const aboveReference = { ...prepared(10), limitPrice: '190.05', intentKey: 'AAPL:buy:190.05:10' };
      await expect(
        desk.executeUpdate(placeOrderUpdate, { args: [{ prepared: aboveReference }] }),
      ).rejects.toMatchObject(refusal(/prepared\.limitPrice: a buy limit must not be above referencePrice 190\.00/));
      await expect(
        desk.executeUpdate(placeOrderUpdate, { args: [{ prepared: { ...prepared(10), intentKey: 'AAPL:buy:1:10' } }] }),
      ).rejects.toMatchObject(refusal(/prepared\.intentKey/));
      // A raw request (the monitor's signal, older clients) is priced by the desk, once, in the handler: this
      // desk's pricing refuses it, and the accepted update fails with the same kind of error.
      const raw = {
        symbol: 'AAPL',
        side: 'buy',
        quantity: 10,
        referencePrice: '190.00',
        clientOrderId: 'raw-1',
      } as const;
      await expect(desk.executeUpdate(placeOrderUpdate, { args: [{ request: raw }] })).rejects.toMatchObject(
        refusal(/limitPrice: must be within maxSlippagePct 0\.0001%/),
      );
      expect(broker.open.size).toBe(1);
      expect(Object.keys((await desk.query(deskStateQuery)).openOrders)).toEqual([order.clientOrderId]);
    });
  });

  it('order limits: the desk refuses an order over orders.maxQuantity or maxNotional before anything starts', async () => {
    const broker = restingBroker(async () => []);
    await withWorker(broker.activities, async (taskQueue) => {
      const desk = await startDesk(taskQueue, deskInput(`l-${randomUUID().slice(0, 6)}`));
      const refusal = (rule: RegExp) => ({ cause: { type: 'ValidationError', message: expect.stringMatching(rule) } });
      await expect(place(desk, 100_001)).rejects.toMatchObject(refusal(/FLOWGUARD_ORDER_MAX_QUANTITY/));
      // 60,000 × ~$190 is over $10,000,000.
      await expect(place(desk, 60_000)).rejects.toMatchObject(refusal(/FLOWGUARD_ORDER_MAX_NOTIONAL/));
      expect(broker.open.size).toBe(0);
      await place(desk, 100);
      expect(Object.keys((await desk.query(deskStateQuery)).openOrders)).toHaveLength(1);
    });
  });

  it('kill switch: one batch cancels every open order, later placements are refused until reset', async () => {
    // As the real activity does: each order workflow is handed its answer by the activity, not by the desk.
    const handedTo: string[] = [];
    const broker = restingBroker(async (orders, deskHasAnswer) =>
      Promise.all(
        orders.map(async (o) => {
          const order = { ...broker.open.get(o.brokerOrderId)!, state: 'cancelled' as const };
          if (!o.orderWorkflowId) return { brokerOrderId: o.brokerOrderId, ok: true, order };
          await h.env.client.workflow
            .getHandle(o.orderWorkflowId)
            .signal(brokerUpdateSignal, { ...order, ...(deskHasAnswer ? { deskHasAnswer } : {}) });
          handedTo.push(o.orderWorkflowId);
          return { brokerOrderId: o.brokerOrderId, ok: true, order, handOff: { delivered: true } };
        }),
      ),
    );
    const view = await withWorker(broker.activities, async (taskQueue) => {
      const desk = await startDesk(taskQueue, deskInput(`k-${randomUUID().slice(0, 6)}`));
      const placed = await Promise.all([1, 2, 3].map((q) => place(desk, q)));
      await until(
        () => desk.query(deskStateQuery),
        () => broker.open.size === 3,
      );
      await desk.signal(cancelAllSignal, { reason: 'test' });
      const after = await until(
        () => desk.query(deskStateQuery),
        (v) => v.cancelAll?.completedAt != null,
      );
      await expect(place(desk, 4)).rejects.toMatchObject({
        cause: { message: expect.stringMatching(/kill switch engaged/) },
      });
      await desk.executeUpdate(resetUpdate);
      await until(
        () => desk.query(deskStateQuery),
        (v) => Object.keys(v.openOrders).length === 0,
      );
      // One at a time: each result() unlocks the test server's clock once and locks it again; two at once make it
      // refuse the second unlock (a lock counter below zero) and can leave the counter off by one.
      for (const p of placed) await h.env.client.workflow.getHandle(p.workflowId).result();
      expect(handedTo.sort()).toEqual(placed.map((p) => p.workflowId).sort());
      // The desk closed them from the batch's answers: no order workflow sent it a terminal notice.
      expect(after.openOrders).toEqual({});
      const signals = ((await desk.fetchHistory()).events ?? []).map(
        (e) => e.workflowExecutionSignaledEventAttributes?.signalName,
      );
      expect(signals.filter((n) => n === 'orderTerminal')).toEqual([]);
      return after;
    });
    expect(Object.values(view.cancelAll!.results).map((r) => r.outcome)).toEqual([
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
  });

  it('killed worker: the batch handed its answers over, then failed for good; the desk reads the closed orders at the broker', async () => {
    const broker = restingBroker(async (orders, deskHasAnswer) => {
      for (const o of orders) {
        const order = { ...broker.open.get(o.brokerOrderId)!, state: 'cancelled' as const };
        broker.open.delete(o.brokerOrderId);
        await h.env.client.workflow
          .getHandle(o.orderWorkflowId!)
          .signal(brokerUpdateSignal, { ...order, deskHasAnswer });
      }
      // The answers are out, the attempt dies before it reports them (and no retry is left).
      throw brokerFailure('WorkerLost', {}, true);
    });
    const view = await withWorker(broker.activities, async (taskQueue) => {
      const desk = await startDesk(taskQueue, deskInput(`w-${randomUUID().slice(0, 6)}`));
      await Promise.all([1, 2].map((q) => place(desk, q)));
      await until(
        () => desk.query(deskStateQuery),
        () => broker.open.size === 2,
      );
      await desk.signal(cancelAllSignal, {});
      return until(
        () => desk.query(deskStateQuery),
        (v) => v.cancelAll?.completedAt != null,
      );
    });
    expect(Object.values(view.cancelAll!.results).map((r) => r.outcome)).toEqual(['cancelled', 'cancelled']);
    expect(view.openOrders).toEqual({});
  });

  it('exhaustion: the batch cancel fails, each order workflow takes its cancel over and the run settles', async () => {
    const broker = restingBroker(async () => {
      throw brokerFailure('BrokerUnavailable', {}, true);
    });
    const view = await withWorker(broker.activities, async (taskQueue) => {
      const desk = await startDesk(taskQueue, deskInput(`x-${randomUUID().slice(0, 6)}`));
      await Promise.all([1, 2].map((q) => place(desk, q)));
      await until(
        () => desk.query(deskStateQuery),
        () => broker.open.size === 2,
      );
      await desk.signal(cancelAllSignal, {});
      return until(
        () => desk.query(deskStateQuery),
        (v) => v.cancelAll?.completedAt != null,
      );
    });
    expect(Object.values(view.cancelAll!.results).map((r) => r.outcome)).toEqual(['cancelled', 'cancelled']);
  });

  it('cancel race: the kill switch while a submit is in flight cancels the order right after its submit', async () => {
    let release: () => void = () => undefined;
    const submitHeld = new Promise<void>((r) => (release = r));
    const broker = restingBroker(async () => []);
    const submit = broker.activities.submitOrder;
    broker.activities.submitOrder = async (input) => {
      await submitHeld;
      return submit(input);
    };
    const view = await withWorker(broker.activities, async (taskQueue) => {
      const desk = await startDesk(taskQueue, deskInput(`r-${randomUUID().slice(0, 6)}`));
      const placed = await place(desk, 5);
      await desk.signal(cancelAllSignal, { reason: 'race' });
      await new Promise((r) => setTimeout(r, 300));
      release();
      const order = await h.env.client.workflow.getHandle(placed.workflowId).result();
      expect(order).toMatchObject({ state: 'cancelled', cancelRequested: 'cancel-all: race' });
      return until(
        () => desk.query(deskStateQuery),
        (v) => v.cancelAll?.completedAt != null,
      );
    });
    expect(Object.values(view.cancelAll!.results)[0]).toMatchObject({ outcome: 'cancelled' });
  });

  it('continues-as-new with open orders and the latched kill switch, and keeps both', async () => {
    const broker = restingBroker(async () => {
      throw brokerFailure('BrokerUnavailable', {}, true);
    });
    await withWorker(broker.activities, async (taskQueue) => {
      const desk = await startDesk(
        taskQueue,
        deskInput(`n-${randomUUID().slice(0, 6)}`, { continueAsNewAfterEvents: 20 }),
      );
      const firstOrder = prepared(1);
      const first = await place(desk, firstOrder);
      for (const q of [2, 3, 4]) await place(desk, q);
      expect(await runs(desk)).toBeGreaterThanOrEqual(2);
      const open = await desk.query(deskStateQuery);
      expect(Object.keys(open.openOrders)).toHaveLength(4);
      // The duplicate guard crossed it too: the first run's order, sent again (a retried call), is that order, and the
      // book still holds all four.
      const again = await place(desk, firstOrder);
      expect(again).toMatchObject({ workflowId: first.workflowId, existing: 'same_client_order_id' });
      const book = await desk.query(deskStateQuery);
      expect(Object.keys(book.openOrders).sort()).toEqual(Object.keys(open.openOrders).sort());
      expect(book.openOrders[firstOrder.clientOrderId]).toMatchObject({ workflowId: first.workflowId });
      await desk.signal(cancelAllSignal, { reason: 'carried' });
      await until(
        () => desk.query(deskStateQuery),
        (v) => v.cancelAll?.completedAt != null,
      );
      // The cancel-all run takes the desk past its budget: a run that starts with the latch in its input.
      const startedWith = async () => {
        const [startEvent] = (await desk.fetchHistory()).events ?? [];
        const payload = startEvent?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
        return payload?.data ? (JSON.parse(Buffer.from(payload.data).toString()) as DeskInput) : null;
      };
      await until(startedWith, (input) => input?.state?.killSwitch?.reason === 'carried');
      const later = await desk.query(deskStateQuery);
      expect(later.killSwitch?.reason).toBe('carried');
      expect(later.cancelAllCount).toBe(1);
      await expect(place(desk, 9)).rejects.toMatchObject({
        cause: { message: expect.stringMatching(/kill switch engaged/) },
      });
    });
  });
});
