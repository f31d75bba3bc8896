/**
 * The desk, order and monitor workflows against mocked activities, on Temporal's time-skipping test server
 * (test/support/time-skipping.ts): backoffs of minutes pass at once, so exhaustion, throttling, cancel races and
 * continue-as-new in each state run in seconds. The real-server integration tests keep the end-to-end paths.
 *
 * Every worker here keeps no workflow in its cache, so each workflow task replays the whole history: any
 * non-determinism fails a task, and every test checks that none did.
 */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createOrderActivities, type PrepareOrderInput } from '../../../src/activities/order-activities';
import type { BrokerOrderSnapshot } from '../../../src/brokers/broker';
import { orderSettingsFromConfig } from '../../../src/config/order-settings';
import { type TradingSession } from '../../../src/domain/config';
import { DetectorConfigSchema } from '../../../src/domain/detectors/config';
import { OrdersConfigSchema } from '../../../src/domain/orders/config';
import { prepareLimitOrder } from '../../../src/domain/orders/order-request';
import { SearchAttributes, WorkflowIds } from '../../../src/shared/contracts';
import {
  cancelAllSignal,
  deskStateQuery,
  deskWorkflow,
  placeOrderSignal,
  placeOrderUpdate,
  resetUpdate,
  type DeskInput,
} from '../../../src/workflows/desk';
import {
  brokerUpdateSignal,
  cancelOrderSignal,
  orderStatusQuery,
  orderWorkflow,
  type OrderSettings,
} from '../../../src/workflows/order';
import {
  monitorStateQuery,
  positionMonitorWorkflow,
  stopMonitorSignal,
  type MonitorSettings,
  type PositionMonitorInput,
} from '../../../src/workflows/position-monitor';
import { createTimeSkippingEnv } from '../../support/time-skipping';

const orderActivities = createOrderActivities();

// Each test takes 1–20 s alone; a machine shared with other builds can make that several times longer.
jest.setTimeout(180_000);

type Mocks = Record<string, (...args: never[]) => Promise<unknown>>;

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
const started: { workflowId: string }[] = [];

beforeAll(async () => {
  // One after the other: the test server's JVM must answer within 5 s, and webpack would compete for the CPU.
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../../src/workflows'),
    logger: quietLogger(),
  });
  await registerSearchAttributes();
});

async function registerSearchAttributes(): Promise<void> {
  const { IndexedValueType } = temporal.api.enums.v1;
  const types: Record<string, number> = {
    KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
    BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  };
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(Object.values(SearchAttributes).map((k) => [k.name, types[k.type]!])),
  });
}

afterAll(teardown);

function quietLogger() {
  const noop = () => undefined;
  return { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };
}

/** Runs `body` with a worker on a fresh task queue serving the mocked activities; checks no workflow task failed. */
async function withWorker<T>(activities: Mocks, body: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `mocked-${randomUUID().slice(0, 8)}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    // Monitors and the desk send notifications (fire and forget): delivered nowhere, as with none configured.
    activities: {
      sendNotification: async ({ event }: { event: { key: string } }) => ({
        key: event.key,
        delivered: [],
        filtered: [],
      }),
      // Monitors read the exchange calendar at session checks: none, as without a Polygon key.
      marketCalendar: async () => null,
      // Monitors fetch the intraday volume curve once (patched monitor-volume-profile): none here.
      fetchVolumeProfile: async () => null,
      // Pricing is pure: the real activity (monitors price their protective exit with it).
      prepareOrder: (input: PrepareOrderInput) => orderActivities.prepareOrder(input),
      ...activities,
    },
    maxCachedWorkflows: 0,
  });
  started.length = 0;
  const result = await worker.runUntil(async () => {
    try {
      return await body(taskQueue);
    } finally {
      // Desks and monitors run until stopped: end them, or their pending tasks would hold the test server's
      // clock still for every later test (time skips only while no task is outstanding).
      await Promise.all(
        started.map(({ workflowId }) =>
          env.client.workflow
            .getHandle(workflowId)
            .terminate('test over')
            .catch(() => undefined),
        ),
      );
    }
  });
  for (const { workflowId } of started) {
    const events = (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const failed = events.filter((e) => e.workflowTaskFailedEventAttributes);
    expect({
      workflowId,
      failedTasks: failed.map((e) => e.workflowTaskFailedEventAttributes?.failure?.message),
    }).toEqual({ workflowId, failedTasks: [] });
  }
  return result;
}

const settings: OrderSettings = {
  ...orderSettingsFromConfig(OrdersConfigSchema.parse({ pollIntervalSeconds: 5 }), 3),
  retry: { maximumAttempts: 3, initialIntervalMs: 1000, backoffCoefficient: 2 },
};

function snapshot(
  over: Partial<BrokerOrderSnapshot> & Pick<BrokerOrderSnapshot, 'clientOrderId'>,
): BrokerOrderSnapshot {
  return {
    broker: 'paper',
    brokerOrderId: `b-${over.clientOrderId}`,
    symbol: 'AAPL',
    side: 'buy',
    quantity: 10,
    limitPrice: '189.72',
    state: 'queued',
    brokerStatus: 'new',
    filledQuantity: 0,
    averageFillPrice: null,
    executions: [],
    executionsComplete: true,
    rejectReason: null,
    updatedAt: '2026-01-05T15:00:00.000Z',
    raw: null,
    ...over,
  };
}

function brokerFailure(type: string, details: Record<string, unknown> = {}, nonRetryable = false) {
  return ApplicationFailure.create({ message: `${type} from the mock`, type, nonRetryable, details: [details] });
}

async function startOrder(taskQueue: string, over: Partial<OrderSettings> = {}, quantity = 10) {
  const clientOrderId = `c-${randomUUID().slice(0, 8)}`;
  const request = { symbol: 'AAPL', side: 'buy', quantity, referencePrice: '190.00', clientOrderId } as const;
  const prepared = prepareLimitOrder({ ...request, broker: 'paper' }, settings.pricing);
  const workflowId = WorkflowIds.order(clientOrderId);
  started.push({ workflowId });
  const handle = await env.client.workflow.start(orderWorkflow, {
    workflowId,
    taskQueue,
    args: [{ request: { ...request, broker: 'paper' }, prepared, settings: { ...settings, ...over } }],
  });
  return { handle, clientOrderId };
}

let testGeneration = 0;
afterEach(() => {
  testGeneration += 1;
});

/**
 * Lets workflow time pass (skipped, `skipMs` a step) until `check` holds. A read that does not answer within 3 s
 * counts as not yet (the test server can leave a query to a run that is continuing-as-new unanswered). Stops
 * with the test that started it, so a failed test cannot go on skipping time under the next one.
 */
async function until<T>(read: () => Promise<T>, check: (v: T) => boolean, skipMs = 1000): Promise<T> {
  const generation = testGeneration;
  for (let i = 0; i < 300 && generation === testGeneration; i++) {
    // The deadline ends the call itself too: a read left behind must not outlive the server it was sent to.
    const v = await Promise.race([
      env.connection.withDeadline(Date.now() + READ_DEADLINE_MS, read),
      new Promise<typeof NOT_YET>((r) => setTimeout(() => r(NOT_YET), READ_DEADLINE_MS)),
    ]).catch((): typeof NOT_YET => NOT_YET);
    if (process.env.MOCKED_DEBUG) console.log(JSON.stringify(v)?.slice(0, 200));
    if (v !== NOT_YET && check(v)) return v;
    await env.sleep(skipMs);
  }
  throw new Error('condition not reached');
}
const NOT_YET = Symbol('not yet');
const READ_DEADLINE_MS = 3000;

/** Tears the server down once reads left behind by `until` have met their deadline. */
async function teardown(): Promise<void> {
  await new Promise((r) => setTimeout(r, READ_DEADLINE_MS + 500));
  await env?.teardown();
}

async function runs(handle: WorkflowHandle): Promise<number> {
  let n = 0;
  let runId: string | undefined = (await handle.describe()).runId;
  // Walk back through the chain of runs by their first event's continuedExecutionRunId.
  while (runId) {
    n += 1;
    const history = await env.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return n;
}

describe('order workflow, mocked broker', () => {
  it('throttle: waits out the broker-advised delays (skipped), then submits once and follows the fill', async () => {
    let submits = 0;
    const result = await withWorker(
      {
        submitOrder: async ({ order }: { order: { clientOrderId: string } }) => {
          submits += 1;
          if (submits < 3) throw brokerFailure('BrokerRateLimited', { retryAfterMs: 40_000 });
          return { order: snapshot({ clientOrderId: order.clientOrderId }) };
        },
        getBrokerOrder: async ({ clientOrderId }: { clientOrderId: string }) =>
          snapshot({ clientOrderId, state: 'filled', filledQuantity: 10, averageFillPrice: '189.70' }),
      },
      async (taskQueue) => (await startOrder(taskQueue)).handle.result(),
    );
    expect(submits).toBe(3);
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
        await env.sleep(5000);
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
        await env.sleep(30_000);
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
      const legacy = await env.client.workflow.start(orderWorkflow, {
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
      Worker.runReplayHistory({ workflowBundle: bundle }, repriced(histories.prepared)),
    ).resolves.toBeUndefined();
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, repriced(histories.legacy))).rejects.toThrow(
      /UpsertWorkflowSearchAttributesMachine does not handle HistoryEvent\(id: \d+, ActivityTaskScheduled\)/,
    );
  });
});

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
        }: {
          orders: { brokerOrderId: string; clientOrderId: string | null; orderWorkflowId?: string | null }[];
        }) => cancelAndConfirm(orders),
      } satisfies Mocks,
    };
  }

  async function startDesk(taskQueue: string, input: DeskInput) {
    const workflowId = WorkflowIds.desk(input.broker, input.account);
    started.push({ workflowId });
    return env.client.workflow.start(deskWorkflow, { workflowId, taskQueue, args: [input] });
  }

  /** An order as the CLI sends it: priced once, by the caller, with the test's pricing (AAPL 190.00 → 189.72). */
  function prepared(quantity: number) {
    const clientOrderId = `d-${randomUUID().slice(0, 8)}`;
    const request = { symbol: 'AAPL', side: 'buy', quantity, referencePrice: '190.00', clientOrderId } as const;
    return { ...prepareLimitOrder({ ...request, broker: 'paper' }, settings.pricing), clientOrderId };
  }

  async function place(desk: WorkflowHandle, quantity: number) {
    const placed = await desk.executeUpdate(placeOrderUpdate, { args: [{ prepared: prepared(quantity) }] });
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
      const status = await env.client.workflow.getHandle(placed.workflowId).query(orderStatusQuery);
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
    const broker = restingBroker(async (orders) =>
      Promise.all(
        orders.map(async (o) => {
          const order = { ...broker.open.get(o.brokerOrderId)!, state: 'cancelled' as const };
          if (!o.orderWorkflowId) return { brokerOrderId: o.brokerOrderId, ok: true, order };
          await env.client.workflow.getHandle(o.orderWorkflowId).signal(brokerUpdateSignal, order);
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
      await Promise.all(placed.map((p) => env.client.workflow.getHandle(p.workflowId).result()));
      expect(handedTo.sort()).toEqual(placed.map((p) => p.workflowId).sort());
      return after;
    });
    expect(Object.values(view.cancelAll!.results).map((r) => r.outcome)).toEqual([
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
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
      const order = await env.client.workflow.getHandle(placed.workflowId).result();
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
      for (const q of [1, 2, 3, 4]) await place(desk, q);
      expect(await runs(desk)).toBeGreaterThanOrEqual(2);
      const open = await desk.query(deskStateQuery);
      expect(Object.keys(open.openOrders)).toHaveLength(4);
      await desk.signal(cancelAllSignal, { reason: 'carried' });
      await until(
        () => desk.query(deskStateQuery),
        (v) => v.cancelAll?.completedAt != null,
      );
      for (let i = 0; i < 3; i++) await desk.query(deskStateQuery).then(() => env.sleep(1000));
      const later = await desk.query(deskStateQuery);
      expect(later.killSwitch?.reason).toBe('carried');
      expect(later.cancelAllCount).toBe(1);
      await expect(place(desk, 9)).rejects.toMatchObject({
        cause: { message: expect.stringMatching(/kill switch engaged/) },
      });
    });
  });
});

describe('position monitor workflow, mocked market data', () => {
  // A fresh server for each test: a test leaves the server's clock in a state where the next one's waits can stall
  // (seen after the desk tests, and between monitor tests once monitors read the exchange calendar; each test
  // passes alone). A JVM start costs a few seconds; a stalled clock cost the whole file.
  beforeEach(async () => {
    await teardown();
    env = await createTimeSkippingEnv();
    await registerSearchAttributes();
  });

  const ALWAYS: TradingSession = {
    name: 'always',
    days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
    start: '00:00',
    end: '24:00',
    timeZone: 'UTC',
  };
  const monitorSettings = (sessions: readonly TradingSession[] = [ALWAYS]): MonitorSettings => ({
    detectors: DetectorConfigSchema.parse({}),
    // Time skipping does not skip the polls due meanwhile: a long interval keeps skipped hours cheap.
    pollIntervalSeconds: 30,
    sessions,
    staleCheck: false,
    exit: { broker: 'paper', account: 'main', pricing: settings.pricing },
  });
  const cursor = (n: number) => ({ sipTimestamp: String(n), seenAtTimestamp: [] });
  let polls = 0;
  const pollResult = (over: Record<string, unknown> = {}) => {
    polls += 1;
    return {
      alerts: [],
      exitSignal: null,
      detectorState: { polls },
      cursors: { trades: cursor(polls), quotes: cursor(polls) },
      live: polls > 1,
      truncated: false,
      fetched: { trades: 1, quotes: 1, requests: 2 },
      lastTrade: { price: '100.00', size: 1, timestampNs: String(polls) },
      lastQuote: null,
      stats: { trades: 1, quotes: 1 },
      freshness: 'ok',
      lagMs: 0,
      late: 0,
      ...over,
    };
  };

  async function startMonitor(taskQueue: string, over: Partial<PositionMonitorInput> = {}) {
    const positionId = `m-${randomUUID().slice(0, 8)}`;
    const workflowId = WorkflowIds.position(positionId);
    started.push({ workflowId });
    return env.client.workflow.start(positionMonitorWorkflow, {
      workflowId,
      taskQueue,
      args: [
        {
          positionId,
          symbol: 'AAPL',
          quantity: 100,
          mode: 'alert',
          dataMode: 'poll',
          settings: monitorSettings(),
          ...over,
        },
      ],
    });
  }

  beforeEach(() => {
    polls = 0;
  });

  it('exhaustion and throttle: a rate-limited source backs off as data_error, an unauthorized key pauses 15 min, both recover', async () => {
    let calls = 0;
    const seen: string[] = [];
    await withWorker(
      {
        pollMarketData: async () => {
          calls += 1;
          if (calls <= 5) throw brokerFailure('PolygonRateLimited', {});
          if (calls === 6) throw brokerFailure('PolygonUnauthorized', {}, true);
          return pollResult();
        },
      },
      async (taskQueue) => {
        const monitor = await startMonitor(taskQueue);
        for (const state of ['data_error', 'unauthorized', 'monitoring'] as const) {
          const v = await until(
            () => monitor.query(monitorStateQuery),
            (s) => s.state === state,
            5000,
          );
          seen.push(v.state);
        }
        const v = await monitor.query(monitorStateQuery);
        expect(v.healthAlerts.filter((a) => a.severity === 'critical')).toHaveLength(1);
        await monitor.signal(stopMonitorSignal, {});
        expect((await monitor.result()).state).toBe('stopped');
      },
    );
    expect(seen).toEqual(['data_error', 'unauthorized', 'monitoring']);
    expect(calls).toBeGreaterThanOrEqual(7);
  });

  it('outside its session: shows the session and next open time, names the timer, then starts at the open', async () => {
    // The test server's clock, which earlier tests have moved on.
    const now = new Date(await env.currentTimeMs());
    const hh = (h: number) => String(h % 24).padStart(2, '0');
    // A session that opens two hours from now and lasts an hour (UTC, every day).
    const session = {
      name: 'later',
      days: ALWAYS.days,
      start: `${hh(now.getUTCHours() + 2)}:00`,
      end: `${hh(now.getUTCHours() + 3)}:00`,
      timeZone: 'UTC',
    };
    await withWorker({ pollMarketData: async () => pollResult() }, async (taskQueue) => {
      const monitor = await startMonitor(taskQueue, { settings: monitorSettings([session]) });
      const waiting = await until(
        () => monitor.query(monitorStateQuery),
        (s) => s.state === 'outside_session',
        100,
      );
      expect(waiting.sessionWait?.sessions).toEqual(['later']);
      expect(Date.parse(waiting.sessionWait!.nextOpenAt!)).toBeGreaterThan(now.getTime() + 60 * 60_000);
      // The UI's summary of the run (its current details) says the same; the timer carries it as its summary.
      const metadata = await monitor.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(metadata.currentDetails).toMatch(/^AAPL: outside session \(later\): next open 20\d\d-/);
      // Straight to a minute after the open: the monitor's timer fires and it starts reading.
      await env.sleep(Date.parse(waiting.sessionWait!.nextOpenAt!) - (await env.currentTimeMs()) + 60_000);
      const open = await until(
        () => monitor.query(monitorStateQuery),
        (s) => s.state === 'monitoring',
        1000,
      );
      expect(open.sessionWait).toBeNull();
      await monitor.signal(stopMonitorSignal, {});
      await monitor.result();
    });
  });

  it('continues-as-new in backfilling, monitoring and exit_failed without losing alerts, health or the exit', async () => {
    const alert = { kind: 'red_burst', severity: 'critical', rule: 'mock', timestampNs: '1', source: 'trades' };
    const exitSignal = { timestampNs: '1', reason: 'red_burst', rule: 'mock' };
    const states: string[] = [];
    await withWorker(
      {
        pollMarketData: async () => pollResult(polls === 3 ? { alerts: [alert], exitSignal } : {}),
        latestPrices: async () => ({ lastTrade: null, lastQuote: null }),
      },
      async (taskQueue) => {
        // Auto-exit with no desk running: the exit fails (exit_failed) and the monitor keeps watching.
        const monitor = await startMonitor(taskQueue, {
          mode: 'auto-exit',
          // 12 + the first run's calendar read (marker, activity, workflow task, state) + its volume-curve fetch after the
          // first poll (marker, activity, workflow task): less and it continues as new before backfilling is seen.
          continueAsNewAfterEvents: 32,
          settings: { ...monitorSettings(), pollIntervalSeconds: 5 },
        });
        for (const state of ['backfilling', 'monitoring', 'exit_failed'] as const) {
          states.push(
            (
              await until(
                () => monitor.query(monitorStateQuery),
                (s) => s.state === state,
                1000,
              )
            ).state,
          );
        }
        const runIds = new Set<string>();
        await until(
          async () => runIds.add((await monitor.describe()).runId).size,
          (n) => n >= 3,
          5000,
        );
        const v = await until(
          () => monitor.query(monitorStateQuery),
          () => true,
        );
        expect(v).toMatchObject({ state: 'exit_failed', alertTotal: 1, exitSignal: { rule: 'mock' } });
        expect(v.exitOrder?.reason).toMatch(/desk .* is not running/);
        expect(v.dataHealth.polls).toBeGreaterThan(3);
        // Stopped in its latest run: the stop ends the run it reaches, whichever that is.
        await monitor.signal(stopMonitorSignal, {});
        await until(
          () => monitor.query(monitorStateQuery),
          (s) => s.state === 'stopped',
        );
      },
    );
    expect(states).toEqual(['backfilling', 'monitoring', 'exit_failed']);
  });

  it("replay: an auto-exit monitor's protective SELL keeps its price when pricing changes; a desk-priced raw request does not", async () => {
    const alert = { kind: 'red_burst', severity: 'critical', rule: 'mock', timestampNs: '1', source: 'trades' };
    const exitSignal = { timestampNs: '1', reason: 'red_burst', rule: 'mock' };
    const submitted: { clientOrderId: string; limitPrice: string }[] = [];
    const startDesk = async (taskQueue: string, account: string) => {
      const workflowId = WorkflowIds.desk('paper', account);
      started.push({ workflowId });
      return env.client.workflow.start(deskWorkflow, {
        workflowId,
        taskQueue,
        args: [{ broker: 'paper', account, settings } satisfies DeskInput],
      });
    };
    const histories = await withWorker(
      {
        pollMarketData: async () => pollResult(polls === 3 ? { alerts: [alert], exitSignal } : {}),
        latestPrices: async () => ({ lastTrade: null, lastQuote: null }),
        submitOrder: async ({ order }: { order: { clientOrderId: string; limitPrice: string } }) => {
          submitted.push(order);
          started.push({ workflowId: WorkflowIds.order(order.clientOrderId) });
          return { order: snapshot({ ...order, side: 'sell', quantity: 100 }) };
        },
        getBrokerOrder: async ({ clientOrderId }: { clientOrderId: string }) =>
          snapshot({ clientOrderId, side: 'sell', quantity: 100 }),
      },
      async (taskQueue) => {
        const desk = await startDesk(taskQueue, 'main');
        const monitor = await startMonitor(taskQueue, {
          mode: 'auto-exit',
          settings: { ...monitorSettings(), pollIntervalSeconds: 5 },
        });
        await until(
          async () => submitted.length,
          (n) => n === 1,
        );
        const book = await desk.query(deskStateQuery);
        // What a monitor started before 'monitor-exit-prepared' signalled: a raw request the desk prices.
        const legacyDesk = await startDesk(taskQueue, 'legacy');
        const raw = { symbol: 'AAPL', side: 'sell', quantity: 100, referencePrice: '100.00', broker: 'paper' } as const;
        await legacyDesk.signal(placeOrderSignal, {
          request: { ...raw, clientOrderId: `exit-legacy-${randomUUID().slice(0, 6)}` },
          pricing: settings.pricing,
        });
        await until(
          async () => submitted.length,
          (n) => n === 2,
        );
        return {
          book,
          monitor: await monitor.fetchHistory(),
          desk: await desk.fetchHistory(),
          legacyDesk: await legacyDesk.fetchHistory(),
        };
      },
    );
    type History = typeof histories.desk;
    type HistoryEvent = NonNullable<History['events']>[number];
    type Pricing = { maxSlippagePct: string };
    /** The parts of a recorded workflow input or placeOrder signal this test reads or rewrites. */
    interface Recorded {
      settings?: { pricing: Pricing; exit?: { pricing: Pricing } };
      pricing?: Pricing;
      request?: unknown;
      prepared?: { clientOrderId: string; limitPrice: string };
    }
    const payloadOf = (e: HistoryEvent) => {
      const attrs = e.workflowExecutionStartedEventAttributes ?? e.workflowExecutionSignaledEventAttributes;
      return attrs!.input!.payloads![0]!;
    };
    const read = (e: HistoryEvent) => JSON.parse(Buffer.from(payloadOf(e).data!).toString()) as Recorded;
    const rewrite = (history: History, match: (e: HistoryEvent) => boolean, edit: (v: Recorded) => void) => {
      const e = history.events!.find(match)!;
      const value = read(e);
      edit(value);
      payloadOf(e).data = Buffer.from(JSON.stringify(value));
      return history;
    };
    const placeSignal = (e: HistoryEvent) => e.workflowExecutionSignaledEventAttributes?.signalName === 'placeOrder';
    const started0 = (e: HistoryEvent) => e.workflowExecutionStartedEventAttributes != null;
    /** Today's pricing refuses what was priced then (simulated on the recorded config: a tiny slippage bound). */
    const refusing = (pricing: Pricing | undefined) => {
      pricing!.maxSlippagePct = '0.0001';
    };

    // One price from the monitor's activity to the broker: the desk was sent it prepared and booked it as sent.
    const sent = read(histories.desk.events!.find(placeSignal)!);
    expect(sent.request).toBeUndefined();
    expect(sent.prepared).toMatchObject({ side: 'sell', quantity: 100, referencePrice: '100.00' });
    const { clientOrderId, limitPrice } = sent.prepared!;
    expect(submitted[0]).toMatchObject({ clientOrderId, limitPrice });
    expect(histories.book.openOrders[clientOrderId]).toMatchObject({ limitPrice });
    expect(JSON.stringify(histories.monitor.events)).toContain('prepareOrder');

    // Replayed by code whose pricing now refuses it: the monitor reuses its recorded price, the desk prices nothing.
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: bundle },
        rewrite(histories.monitor, started0, (input) => refusing(input.settings?.exit?.pricing)),
      ),
    ).resolves.toBeUndefined();
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: bundle },
        rewrite(histories.desk, started0, (input) => refusing(input.settings?.pricing)),
      ),
    ).resolves.toBeUndefined();
    // The same change breaks a desk that priced the raw request in its handler: it refuses on replay what it placed.
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: bundle },
        rewrite(histories.legacyDesk, placeSignal, (req) => refusing(req.pricing)),
      ),
    ).rejects.toThrow(/[Nn]ondeterminism|does not handle/);
  });

  it('a stop that arrives while a poll is out, with continue-as-new due, ends the run instead of being dropped', async () => {
    let calls = 0;
    // The first poll is the one after which the volume curve is fetched: a stopped monitor must not start it.
    let profileFetches = 0;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inPoll!: () => void;
    const pollOut = new Promise<void>((r) => (inPoll = r));
    await withWorker(
      {
        pollMarketData: async () => {
          calls += 1;
          if (calls === 1) {
            inPoll();
            await held;
          }
          return pollResult();
        },
        latestPrices: async () => ({ lastTrade: null, lastQuote: null }),
        fetchVolumeProfile: async () => {
          profileFetches += 1;
          return null;
        },
      },
      async (taskQueue) => {
        // Due after the first poll: without the rule the run continued as new and the next one never heard the stop.
        const monitor = await startMonitor(taskQueue, { continueAsNewAfterEvents: 1 });
        await pollOut;
        await monitor.signal(stopMonitorSignal, { reason: 'closing the trade' });
        release();
        await until(
          () => monitor.query(monitorStateQuery),
          (s) => s.state === 'stopped',
        );
        expect((await monitor.describe()).runId).toBe(monitor.firstExecutionRunId);
        expect(calls).toBe(1);
        expect(profileFetches).toBe(0);
      },
    );
  });

  describe('exchange calendar (issue 13 item 4)', () => {
    /** The UTC date (YYYY-MM-DD) and HH:MM of an instant: the calendars below use the ALWAYS session's zone. */
    const utc = (ms: number) => ({
      date: new Date(ms).toISOString().slice(0, 10),
      hhmm: new Date(ms).toISOString().slice(11, 16),
    });

    it('a holiday today: waits until the next open without polling, says why, then polls', async () => {
      // From midday UTC: earlier tests leave the test server's clock at any hour, and a start just before midnight
      // would see "today" end before the monitor reads its calendar.
      const start = await env.currentTimeMs();
      const day = 86_400_000;
      await env.sleep((Math.floor(start / day) + 1) * day + day / 2 - start);
      const now = await env.currentTimeMs();
      const today = utc(now).date;
      const calendar = { timeZone: 'UTC', closed: { [today]: 'Test Day' }, earlyCloses: {} };
      let calendarReads = 0;
      await withWorker(
        {
          marketCalendar: async () => {
            calendarReads += 1;
            return calendar;
          },
          pollMarketData: async () => pollResult(),
        },
        async (taskQueue) => {
          const monitor = await startMonitor(taskQueue);
          const waiting = await until(
            () => monitor.query(monitorStateQuery),
            (s) => s.state === 'outside_session',
            100,
          );
          const tomorrow = Date.parse(`${today}T00:00:00Z`) + 86_400_000;
          expect(waiting.sessionWait).toEqual({
            sessions: ['always'],
            nextOpenAt: new Date(tomorrow).toISOString(),
            reason: 'holiday (Test Day)',
          });
          const metadata = await monitor.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
          expect(metadata.currentDetails).toMatch(/^AAPL: holiday \(Test Day\), outside session \(always\)/);
          await env.sleep(60 * 60_000);
          expect(polls).toBe(0);
          // Past the holiday: one timer fired, the monitor reads the market.
          await env.sleep(tomorrow - (await env.currentTimeMs()) + 60_000);
          await until(
            () => monitor.query(monitorStateQuery),
            (s) => s.state === 'monitoring',
            1000,
          );
          expect(polls).toBeGreaterThan(0);
          // Read once on the holiday, at most once more on the next New York day.
          expect(calendarReads).toBeGreaterThanOrEqual(1);
          expect(calendarReads).toBeLessThanOrEqual(2);
          await monitor.signal(stopMonitorSignal, {});
          await monitor.result();
        },
      );
    });

    it('an early close: polls until the close, then stops polling until the next session', async () => {
      const now = await env.currentTimeMs();
      // Three whole minutes ahead: a few polls (every 30 s) before the close.
      const cut = Math.ceil(now / 60_000) * 60_000 + 3 * 60_000;
      const { date, hhmm } = utc(cut);
      const calendar = { timeZone: 'UTC', closed: {}, earlyCloses: { [date]: { close: hhmm, name: 'Half Day' } } };
      await withWorker(
        { marketCalendar: async () => calendar, pollMarketData: async () => pollResult() },
        async (taskQueue) => {
          const monitor = await startMonitor(taskQueue);
          await until(
            () => monitor.query(monitorStateQuery),
            (s) => s.state === 'monitoring',
            1000,
          );
          const closed = await until(
            () => monitor.query(monitorStateQuery),
            (s) => s.state === 'outside_session',
            10_000,
          );
          expect(await env.currentTimeMs()).toBeGreaterThanOrEqual(cut);
          expect(closed.sessionWait?.reason).toBe(`early close ${hhmm} (Half Day)`);
          expect(closed.sessionWait?.nextOpenAt).toBe(
            new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString(),
          );
          const pollsAtClose = polls;
          expect(pollsAtClose).toBeGreaterThan(0);
          await env.sleep(30 * 60_000);
          expect(polls).toBe(pollsAtClose);
          await monitor.signal(stopMonitorSignal, {});
          await monitor.result();
        },
      );
    });

    it('a failing calendar activity never stops the monitor: configured sessions apply, noted in data health', async () => {
      let calendarReads = 0;
      await withWorker(
        {
          marketCalendar: async () => {
            calendarReads += 1;
            throw brokerFailure('PolygonUnavailable', {});
          },
          pollMarketData: async () => pollResult(),
        },
        async (taskQueue) => {
          const monitor = await startMonitor(taskQueue);
          const v = await until(
            () => monitor.query(monitorStateQuery),
            (s) => s.state === 'monitoring' && polls > 2,
            1000,
          );
          expect(v.dataHealth.calendarError).toMatch(/PolygonUnavailable from the mock/);
          // Three attempts, then not again within the hour.
          expect(calendarReads).toBe(3);
          await monitor.signal(stopMonitorSignal, {});
          await monitor.result();
        },
      );
    });
  });

  it('fetches the intraday volume curve once, passes it to every poll, carries it across continue-as-new; a failed fetch is retried after continue-as-new', async () => {
    const profile = { days: 3, perMinute: '~au' };
    let fetches = 0;
    const given: unknown[] = [];
    await withWorker(
      {
        fetchVolumeProfile: async ({ days }: { days: number }) => {
          fetches += 1;
          expect(days).toBe(10);
          if (fetches <= 3) throw brokerFailure('PolygonUnavailable', {});
          return profile;
        },
        pollMarketData: async (input: { volumeProfile?: unknown }) => {
          given.push(input.volumeProfile ?? null);
          return pollResult();
        },
      },
      async (taskQueue) => {
        const monitor = await startMonitor(taskQueue, {
          continueAsNewAfterEvents: 30,
          settings: { ...monitorSettings(), pollIntervalSeconds: 5 },
        });
        const runIds = new Set<string>();
        await until(
          async () => runIds.add((await monitor.describe()).runId).size,
          (n) => n >= 3,
          5000,
        );
        await monitor.signal(stopMonitorSignal, {});
        await until(
          () => monitor.query(monitorStateQuery),
          (s) => s.state === 'stopped',
        );
      },
    );
    // Three failed attempts in the first run after its first poll (it goes on without a curve), one success in
    // the second run, none after.
    expect(fetches).toBe(4);
    expect(given.slice(0, 2)).toEqual([null, null]);
    expect(given.at(-1)).toEqual(profile);
    const first = given.findIndex((g) => g !== null);
    expect(given.slice(first).every((g) => JSON.stringify(g) === JSON.stringify(profile))).toBe(true);
  });
});
