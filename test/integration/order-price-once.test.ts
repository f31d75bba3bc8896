/**
 * A limit price is computed once, by the desk. The order workflow submits the prepared order as it is and never
 * reprices it, so a pricing change deployed while an order is in flight (or between two of its runs) cannot move
 * its price or its identity away from what the broker holds.
 */
import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { OrdersConfigSchema } from '../../src/domain/orders/config';
import { prepareLimitOrder } from '../../src/domain/orders/order-request';
import { WorkflowIds } from '../../src/shared/contracts';
import { cancelOrderSignal, orderStatusQuery, orderWorkflow } from '../../src/workflows/order';
import { connectTestEnv, createTestWorker, uniqueTaskQueue } from '../support/temporal-harness';

describe('an order keeps the price the desk gave it', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const paper = PaperBroker.inMemory();
  const taskQueue = uniqueTaskQueue('price-once');

  beforeAll(async () => {
    env = await connectTestEnv();
    worker = await createTestWorker(env, {
      taskQueue,
      deps: { brokers: createBrokerRegistry({ overrides: { paper } }), audit: createMemoryAuditLog() },
    });
    running = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  it('across a pricing change and continue-as-new', async () => {
    const clientOrderId = `p-${randomUUID()}`;
    const request = { symbol: 'TSLA', side: 'buy', quantity: 10, referencePrice: '250.30', clientOrderId } as const;
    // Priced by the desk at 15 bps: 249.93.
    const before = OrdersConfigSchema.parse({ pollIntervalSeconds: 1 });
    const prepared = prepareLimitOrder({ ...request, broker: 'paper' }, orderSettingsFromConfig(before).pricing);
    expect(prepared.limitPrice).toBe('249.93');
    // Then the pricing changes (40 bps would give 249.30), and the order's later runs carry the new settings.
    const after = { ...orderSettingsFromConfig(OrdersConfigSchema.parse({ pollIntervalSeconds: 1, buyOffset: '40' })) };
    const handle = await env.client.workflow.start(orderWorkflow, {
      workflowId: WorkflowIds.order(clientOrderId),
      taskQueue,
      args: [
        { request: { ...request, broker: 'paper' }, prepared, settings: { ...after, continueAsNewAfterEvents: 15 } },
      ],
    });
    const deadline = Date.now() + 30_000;
    let runs = 0;
    while (runs < 3) {
      if (Date.now() > deadline) throw new Error('the order did not continue-as-new twice');
      runs = 0;
      for await (const _ of env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) runs += 1;
      await new Promise((r) => setTimeout(r, 200));
    }
    const status = await handle.query(orderStatusQuery);
    expect(status).toMatchObject({ state: 'queued', limitPrice: '249.93' });
    expect((await paper.getOrderByClientOrderId(clientOrderId))?.limitPrice).toBe('249.93');
    await handle.signal(cancelOrderSignal, {});
    expect((await handle.result()).state).toBe('cancelled');
  });
});
