import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { createAlpacaBroker } from '../../src/brokers/alpaca/alpaca-broker';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { deskState, OrderRefusedError, placeOrder, resetDesk, type PlaceOrderOptions } from '../../src/cli/orders';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { OrdersConfigSchema } from '../../src/domain/orders/config';
import { cancelOrderSignal } from '../../src/workflows/order';
import { AlpacaStandIn } from '../support/alpaca-stand-in';
import { waitForOrder } from '../support/order-waits';
import { connectTestEnv, createTestWorker, uniqueTaskQueue, cliContext } from '../support/temporal-harness';
import { startWorkerProcess } from '../support/worker-process';

// Short broker timeouts so retries and crash recovery happen within a test's time.
const settings = orderSettingsFromConfig(
  OrdersConfigSchema.parse({ pollIntervalSeconds: 1, retry: { maximumAttempts: 3, initialIntervalMs: 200 } }),
  3,
);

describe('orders on Temporal against the Alpaca stand-in', () => {
  let env: TestWorkflowEnvironment;
  let alpaca: AlpacaStandIn;
  let worker: Worker;
  let running: Promise<void>;
  let ctx: CliContext;
  const audit = createMemoryAuditLog();
  const taskQueue = uniqueTaskQueue('alpaca');

  beforeAll(async () => {
    env = await connectTestEnv();
    alpaca = await AlpacaStandIn.start({ buyingPower: '100000' });
    const broker = createAlpacaBroker({
      keyId: alpaca.keyId,
      secretKey: alpaca.secretKey,
      baseUrl: alpaca.baseUrl,
      timeoutMs: 1000,
    });
    worker = await createTestWorker(env, {
      taskQueue,
      deps: { brokers: createBrokerRegistry({ overrides: { alpaca: broker } }), audit },
    });
    running = worker.run();
    ctx = cliContext(env, taskQueue);
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await alpaca?.close();
    await env?.teardown();
  });

  const order = (over: Partial<PlaceOrderOptions> = {}): PlaceOrderOptions => ({
    symbol: 'TSLA',
    side: 'buy',
    quantity: '10',
    referencePrice: '250.30',
    broker: 'alpaca',
    account: `acct-${randomUUID().slice(0, 8)}`,
    clientOrderId: `t-${randomUUID()}`,
    ...over,
  });

  const waitForStatus = waitForOrder;

  const created = (clientOrderId: string) => alpaca.orders().filter((o) => o.client_order_id === clientOrderId);

  it('submit reply lost: the order is found by client order id, never submitted twice', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'drop_reply' });
    const placed = await placeOrder(ctx, order(), settings);
    const status = await waitForStatus(ctx, placed.clientOrderId, (s) => s.state === 'queued');
    expect(created(placed.clientOrderId)).toHaveLength(1);
    expect(status.brokerOrderId).toBe(created(placed.clientOrderId)[0]?.id);
  });

  it('429 with Retry-After is honoured before the retry', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'rate_limit', retryAfterSeconds: 2 });
    const started = Date.now();
    const placed = await placeOrder(ctx, order({ symbol: 'AAPL', referencePrice: '190.00' }), settings);
    await waitForStatus(ctx, placed.clientOrderId, (s) => s.state === 'queued');
    // Without the hint the retry would come after the 200 ms initial interval.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(created(placed.clientOrderId)).toHaveLength(1);
  });

  it('insufficient buying power: no retry, the breaker trips, the next order is refused, reset lets orders through', async () => {
    const account = `acct-${randomUUID().slice(0, 8)}`;
    const before = alpaca.requestsFor('POST /v2/orders').length;
    // 1000 × 249.93 is beyond the stand-in's 100 000 buying power.
    const placed = await placeOrder(ctx, order({ account, quantity: '1000' }), settings);
    const rejected = await waitForStatus(ctx, placed.clientOrderId, (s) => s.state === 'rejected');
    expect(rejected.errorType).toBe('InsufficientFunds');
    expect(alpaca.requestsFor('POST /v2/orders').length - before).toBe(1);
    // The order tells the desk as it closes; the breaker is tripped once the desk has heard.
    const deadline = Date.now() + 10_000;
    while (!(await deskState(ctx, 'alpaca', account))?.breaker) {
      if (Date.now() > deadline) throw new Error('breaker never tripped');
      await new Promise((r) => setTimeout(r, 50));
    }

    await expect(
      placeOrder(ctx, order({ account, symbol: 'MSFT', referencePrice: '410.00' }), settings),
    ).rejects.toThrow(OrderRefusedError);
    const reset = await resetDesk(ctx, { broker: 'alpaca', account }, settings);
    expect(reset).toMatchObject({ breakerWasTripped: true, killSwitchWasEngaged: false });
    const next = await placeOrder(ctx, order({ account, symbol: 'MSFT', referencePrice: '410.00' }), settings);
    await waitForStatus(ctx, next.clientOrderId, (s) => s.state === 'queued');
  });

  it('a fill that arrives during a pending cancel is applied', async () => {
    const placed = await placeOrder(ctx, order({ symbol: 'NVDA', referencePrice: '140.00', quantity: '50' }), settings);
    await waitForStatus(ctx, placed.clientOrderId, (s) => s.state === 'queued');
    alpaca.faults.next('DELETE /v2/orders/:id', { kind: 'fill_during_cancel', fill: 20, price: '139.80' });
    await env.client.workflow.getHandle(placed.workflowId).signal(cancelOrderSignal, { reason: 'test' });
    const done = await waitForStatus(ctx, placed.clientOrderId, (s) => s.state === 'cancelled');
    expect(done).toMatchObject({ filledQuantity: 20, remainingQuantity: 30, averageFillPrice: '139.8' });
  });

  it('worker killed after the broker accepted the order but before the workflow recorded it: exactly one broker order', async () => {
    const queue = uniqueTaskQueue('alpaca-crash');
    const crashCtx: CliContext = { ...ctx, env: { ...ctx.env, TEMPORAL_TASK_QUEUE: queue } };
    const workerEnv = {
      TEMPORAL_TASK_QUEUE: queue,
      ALPACA_KEY_ID: alpaca.keyId,
      ALPACA_SECRET_KEY: alpaca.secretKey,
      ALPACA_BASE_URL: alpaca.baseUrl,
      ALPACA_TIMEOUT_MS: '2000',
    };
    const first = await startWorkerProcess(workerEnv);
    // The stand-in takes the request, waits, then creates the order: the worker dies in between.
    alpaca.faults.next('POST /v2/orders', { kind: 'delay', ms: 1500 });
    const before = alpaca.requestsFor('POST /v2/orders').length;
    const placed = await placeOrder(crashCtx, order({ symbol: 'AMD', referencePrice: '120.00' }), settings);
    const deadline = Date.now() + 20_000;
    while (alpaca.requestsFor('POST /v2/orders').length === before) {
      if (Date.now() > deadline) throw new Error(`submit never reached the broker: ${first.output()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await first.kill();
    while (created(placed.clientOrderId).length === 0) await new Promise((r) => setTimeout(r, 50));

    const second = await startWorkerProcess(workerEnv);
    try {
      const status = await waitForStatus(crashCtx, placed.clientOrderId, (s) => s.state === 'queued');
      expect(created(placed.clientOrderId)).toHaveLength(1);
      expect(status.brokerOrderId).toBe(created(placed.clientOrderId)[0]?.id);
    } finally {
      await second.stop();
    }
  });
});
