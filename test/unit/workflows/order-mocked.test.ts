/**
 * The order workflow against a mocked broker,
 * on Temporal's time-skipping test server (test/support/mocked-workflows.ts): backoffs of minutes pass at once, so
 * exhaustion, throttling, cancel races and continue-as-new run in seconds. The real-server integration tests keep
 * the end-to-end paths. Every test checks that no workflow task failed, and every run's history is replayed from
 * scratch after the file's tests: any non-determinism fails the file.
 */
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import { prepareLimitOrder } from '../../../src/domain/orders/order-request';
import { WorkflowIds } from '../../../src/shared/contracts';
import {
  brokerUpdateSignal,
  cancelOrderSignal,
  orderStatusQuery,
  orderWorkflow,
  type OrderSettings,
} from '../../../src/workflows/order';
import { brokerFailure, settings, snapshot } from '../../support/mocked-broker';
import { useMockedWorkflows } from '../../support/mocked-workflows';

// Each test takes seconds alone; a machine shared with other builds can make that several times longer.
jest.setTimeout(180_000);

const h = useMockedWorkflows();
const { withWorker, until, runs, started } = h;

async function startOrder(taskQueue: string, over: Partial<OrderSettings> = {}, quantity = 10) {
  const clientOrderId = `c-${randomUUID().slice(0, 8)}`;
  const request = { symbol: 'AAPL', side: 'buy', quantity, referencePrice: '190.00', clientOrderId } as const;
  const prepared = prepareLimitOrder({ ...request, broker: 'paper' }, settings.pricing);
  const workflowId = WorkflowIds.order(clientOrderId);
  started.push({ workflowId });
  const handle = await h.env.client.workflow.start(orderWorkflow, {
    workflowId,
    taskQueue,
    args: [{ request: { ...request, broker: 'paper' }, prepared, settings: { ...settings, ...over } }],
  });
  return { handle, clientOrderId };
}

describe('order workflow, mocked broker', () => {
  it('throttle: waits out the broker-advised delays (skipped), then submits once and follows the fill', async () => {
    let submits = 0;
    /** Workflow time of each submit attempt (the server's clock, skipped). */
    const at: number[] = [];
    const result = await withWorker(
      {
        submitOrder: async ({ order }: { order: { clientOrderId: string } }) => {
          submits += 1;
          at.push(Context.current().info.currentAttemptScheduledTimestampMs);
          if (submits < 3) throw brokerFailure('BrokerRateLimited', { retryAfterMs: 40_000 });
          return { order: snapshot({ clientOrderId: order.clientOrderId }) };
        },
        getBrokerOrder: async ({ clientOrderId }: { clientOrderId: string }) =>
          snapshot({ clientOrderId, state: 'filled', filledQuantity: 10, averageFillPrice: '189.70' }),
      },
      async (taskQueue) => (await startOrder(taskQueue)).handle.result(),
    );
    expect(submits).toBe(3);
    // The broker's 40 s, not the order's own back-off (1 s doubling).
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(40_000);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(40_000);
    expect(result).toMatchObject({ state: 'filled', filledQuantity: 10, submit: null });
  });

  it('exhaustion: a broker that never answers ends the order failed after the configured attempts', async () => {
    let submits = 0;
    const result = await withWorker(
      {
        submitOrder: async () => {
          submits += 1;
          throw brokerFailure('BrokerUnavailable', { outcomeUnknown: false });
        },
      },
      async (taskQueue) => (await startOrder(taskQueue)).handle.result(),
    );
    expect(submits).toBe(3);
    expect(result).toMatchObject({ state: 'failed', errorType: 'BrokerUnavailable' });
    expect(result.reason).toMatch(/submit failed after 3 attempt/);
  });

  it('cancel race: a partial fill pushed and a cancel sent while a poll is out; the poll answers the fill', async () => {
    let release: () => void = () => undefined;
    const pollOut = new Promise<void>((r) => (release = r));
    let polled: () => void = () => undefined;
    const pollStarted = new Promise<void>((r) => (polled = r));
    const result = await withWorker(
      {
        submitOrder: async ({ order }: { order: { clientOrderId: string } }) => ({
          order: snapshot({ clientOrderId: order.clientOrderId }),
        }),
        getBrokerOrder: async ({ clientOrderId }: { clientOrderId: string }) => {
          polled();
          await pollOut;
          return snapshot({ clientOrderId, state: 'partially_filled', filledQuantity: 4, averageFillPrice: '189.70' });
        },
        cancelBrokerOrder: async ({ clientOrderId }: { clientOrderId: string }) => ({
          order: snapshot({ clientOrderId, state: 'cancelled', filledQuantity: 4, averageFillPrice: '189.70' }),
        }),
      },
      async (taskQueue) => {
        const { handle, clientOrderId } = await startOrder(taskQueue);
        await until(
          () => handle.query(orderStatusQuery),
          (s) => s.state === 'queued',
        );
        await h.sleep(5000);
        await pollStarted;
        const partial = snapshot({
          clientOrderId,
          state: 'partially_filled',
          filledQuantity: 4,
          averageFillPrice: '189.70',
        });
        await handle.signal(brokerUpdateSignal, partial);
        await handle.signal(cancelOrderSignal, { reason: 'race' });
        release();
        return handle.result();
      },
    );
    expect(result).toMatchObject({ state: 'cancelled', filledQuantity: 4, cancelRequested: 'race' });
  });

  it('continues-as-new while backing off, in queued, partially_filled and pending_cancel, losing nothing', async () => {
    let submits = 0;
    let polls = 0;
    let cancels = 0;
    const result = await withWorker(
      {
        submitOrder: async ({ order }: { order: { clientOrderId: string } }) => {
          submits += 1;
          if (submits === 1) throw brokerFailure('BrokerRateLimited', { retryAfterMs: 30_000 });
          return { order: snapshot({ clientOrderId: order.clientOrderId }) };
        },
        getBrokerOrder: async ({ clientOrderId }: { clientOrderId: string }) => {
          polls += 1;
          const filled = polls < 3 ? 0 : 4;
          return snapshot({
            clientOrderId,
            state: filled ? 'partially_filled' : 'queued',
            filledQuantity: filled,
            averageFillPrice: filled ? '189.70' : null,
          });
        },
        cancelBrokerOrder: async () => {
          cancels += 1;
          throw brokerFailure('BrokerUnavailable');
        },
      },
      async (taskQueue) => {
        const { handle, clientOrderId } = await startOrder(taskQueue, { continueAsNewAfterEvents: 12 });
        // The third poll reports the partial fill.
        await until(
          async () => polls,
          (n) => n >= 4,
          5000,
        );
        await handle.signal(cancelOrderSignal, { reason: 'stop it' });
        // Each cancel is tried (three activity attempts) and owed again 5 s later.
        await until(
          async () => cancels,
          (n) => n >= 6,
          2000,
        );
        // The cancel fails at the broker and stays owed across runs; the broker's own cancel ends it.
        await h.sleep(30_000);
        await handle.signal(
          brokerUpdateSignal,
          snapshot({ clientOrderId, state: 'cancelled', filledQuantity: 4, averageFillPrice: '189.70' }),
        );
        const final = await handle.result();
        return { final, runs: await runs(handle) };
      },
    );
    expect(submits).toBe(2);
    expect(result.runs).toBeGreaterThanOrEqual(3);
    expect(result.final).toMatchObject({ state: 'cancelled', filledQuantity: 4, cancelRequested: 'stop it' });
  });
  it('replay: an order that priced itself (started before the desk prepared orders) breaks when pricing changes; a prepared one does not', async () => {
    // What the chaos run met: an order replayed by code whose pricing refuses (or moves) what the original run
    // priced takes another path, and its first different command is a search-attribute upsert.
    const activities = {
      submitOrder: async ({ order }: { order: { clientOrderId: string } }) => ({
        order: snapshot({ clientOrderId: order.clientOrderId }),
      }),
      getBrokerOrder: async ({ clientOrderId }: { clientOrderId: string }) =>
        snapshot({ clientOrderId, state: 'filled', filledQuantity: 10, averageFillPrice: '189.70' }),
    };
    const histories = await withWorker(activities, async (taskQueue) => {
      const prepared = await startOrder(taskQueue);
      const clientOrderId = `legacy-${randomUUID().slice(0, 8)}`;
      const request = { symbol: 'AAPL', side: 'buy', quantity: 10, referencePrice: '190.00', clientOrderId } as const;
      const workflowId = WorkflowIds.order(clientOrderId);
      started.push({ workflowId });
      const legacy = await h.env.client.workflow.start(orderWorkflow, {
        workflowId,
        taskQueue,
        args: [{ request: { ...request, broker: 'paper' }, pricing: settings.pricing, settings }],
      });
      await prepared.handle.result();
      await legacy.result();
      return { prepared: await prepared.handle.fetchHistory(), legacy: await legacy.fetchHistory() };
    });
    /** The pricing of today refuses what was priced then (simulated on the recorded input: a price it rejects). */
    const repriced = (history: typeof histories.legacy) => {
      const payload = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
      const input = JSON.parse(Buffer.from(payload.data!).toString()) as { request: { referencePrice: string } };
      input.request.referencePrice = '-1';
      payload.data = Buffer.from(JSON.stringify(input));
      return history;
    };
    await expect(
      Worker.runReplayHistory({ workflowBundle: h.bundle }, repriced(histories.prepared)),
    ).resolves.toBeUndefined();
    await expect(Worker.runReplayHistory({ workflowBundle: h.bundle }, repriced(histories.legacy))).rejects.toThrow(
      /UpsertWorkflowSearchAttributesMachine does not handle HistoryEvent\(id: \d+, ActivityTaskScheduled\)/,
    );
  });

  it('harness: a run terminated with its submit out holds the clock until the harness gives that lock back', async () => {
    let release: () => void = () => undefined;
    const submitOut = new Promise<void>((r) => (release = r));
    let submitted: () => void = () => undefined;
    const submitStarted = new Promise<void>((r) => (submitted = r));
    const given = await withWorker(
      {
        submitOrder: async () => {
          submitted();
          await submitOut;
          throw brokerFailure('BrokerUnavailable');
        },
      },
      async (taskQueue) => {
        const { handle } = await startOrder(taskQueue);
        await submitStarted;
        await handle.terminate('closed with its submit out');
        // What the test server does (see test/support/mocked-workflows.ts): 0.5 s of workflow time take 0.5 s (a
        // skipping clock returns in milliseconds).
        const t0 = Date.now();
        await h.env.sleep(500);
        const heldMs = Date.now() - t0;
        const n = await h.releaseLeftLocks();
        // An hour of workflow time, skipped (bounded, so that a held clock fails here instead of hanging).
        const hour = await h.env.connection
          .withDeadline(Date.now() + 20_000, () => h.env.sleep(60 * 60_000))
          .then(
            () => 'skipped',
            () => 'held',
          );
        release();
        return { heldMs, n, hour };
      },
    );
    expect(given.heldMs).toBeGreaterThanOrEqual(450);
    expect(given.n).toBe(1);
    expect(given.hour).toBe('skipped');
  });
});
