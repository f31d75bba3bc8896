import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { createRobinhoodBroker } from '../../src/brokers/robinhood/robinhood-broker';
import { placeOrder, type PlaceOrderOptions } from '../../src/cli/orders';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { OrdersConfigSchema } from '../../src/domain/orders/config';
import { type OrderStatus } from '../../src/workflows/order';
import { waitForOrder } from '../support/order-waits';
import { RobinhoodStandIn } from '../support/robinhood-stand-in';
import { connectTestEnv, createTestWorker, uniqueTaskQueue, cliContext } from '../support/temporal-harness';

const settings = orderSettingsFromConfig(
  OrdersConfigSchema.parse({ pollIntervalSeconds: 1, retry: { maximumAttempts: 3, initialIntervalMs: 200 } }),
  3,
);

describe('orders on Temporal against the Robinhood stand-in', () => {
  let env: TestWorkflowEnvironment;
  let robinhood: RobinhoodStandIn;
  let worker: Worker;
  let running: Promise<void>;
  let ctx: CliContext;
  const taskQueue = uniqueTaskQueue('robinhood');

  beforeAll(async () => {
    env = await connectTestEnv();
    robinhood = await RobinhoodStandIn.start();
    worker = await createTestWorker(env, {
      taskQueue,
      deps: {
        brokers: createBrokerRegistry({ overrides: { robinhood: createRobinhoodBroker(robinhood.config(1000)) } }),
        audit: createMemoryAuditLog(),
      },
    });
    running = worker.run();
    ctx = cliContext(env, taskQueue);
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await robinhood?.close();
    await env?.teardown();
  });

  const order = (over: Partial<PlaceOrderOptions> = {}): PlaceOrderOptions => ({
    symbol: 'TSLA',
    side: 'buy',
    quantity: '5',
    referencePrice: '250.30',
    broker: 'robinhood',
    account: `acct-${randomUUID().slice(0, 8)}`,
    clientOrderId: `t-${randomUUID()}`,
    ...over,
  });

  const waitForStatus = (id: string, done: (s: OrderStatus) => boolean, timeoutMs = 30_000) =>
    waitForOrder(ctx, id, done, timeoutMs);

  it('"ref_id already exists" on a submit resolves to the existing order: one order at the broker', async () => {
    // The stand-in creates the order (as a lost earlier attempt would have) and answers that the ref_id exists.
    robinhood.faults.next('POST /orders/', { kind: 'ref_id_exists' });
    const before = robinhood.ordersCreated;
    const placed = await placeOrder(ctx, order(), settings);
    const status = await waitForStatus(
      placed.clientOrderId,
      (s) => s.brokerOrderId !== null && s.state !== 'pending_submit',
    );
    expect(robinhood.ordersCreated - before).toBe(1);
    expect(['queued', 'partially_filled', 'filled']).toContain(status.state);
  });

  it('throttling ("Expected available in N seconds") is honoured, then the order goes through once', async () => {
    robinhood.faults.next('POST /orders/', { kind: 'throttle', seconds: 2 });
    const started = Date.now();
    const before = robinhood.ordersCreated;
    const placed = await placeOrder(ctx, order({ symbol: 'AAPL', referencePrice: '190.00' }), settings);
    await waitForStatus(placed.clientOrderId, (s) => s.brokerOrderId !== null && s.state !== 'pending_submit');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(robinhood.ordersCreated - before).toBe(1);
  });
});
