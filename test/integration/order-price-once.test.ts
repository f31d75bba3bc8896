/**
 * A limit price is computed once, by its caller (the CLI), outside any workflow: the desk checks the prepared order
 * without pricing it, and the order workflow submits it as it is and never reprices it, so a pricing change deployed
 * while an order is in flight (or between two of its runs) cannot move its price or its identity away from what the
 * broker holds.
 */
import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { OrdersConfigSchema } from '../../src/domain/orders/config';
import type * as orderRequests from '../../src/domain/orders/order-request';
import type * as Client from '../../src/client';
import type * as CliOrders from '../../src/cli/orders';
import type * as CliTemporal from '../../src/cli/temporal';
import { prepareLimitOrder } from '../../src/domain/orders/order-request';
import { deskStartOptions } from '../../src/cli/orders';
import { WorkflowIds } from '../../src/shared/contracts';
import { deskWorkflow } from '../../src/workflows/desk';
import { cancelOrderSignal, orderStatusQuery, orderWorkflow } from '../../src/workflows/order';
import { readIntegrationState } from '../support/integration-env';
import { cliContext, connectTestEnv, createTestWorker, uniqueTaskQueue } from '../support/temporal-harness';

// Counts the CLI's pricing: every call of the domain's prepareLimitOrder made in this process by a copy of the CLI
// loaded after this mock (`cli()`; the harness loaded the worker's own copy before it). The workflows run in their
// own sandbox with their own copy of the module, so a price computed there is caught by the desk's pricing below.
jest.mock('../../src/domain/orders/order-request', () => {
  const actual = jest.requireActual<typeof orderRequests>('../../src/domain/orders/order-request');
  return { ...actual, prepareLimitOrder: jest.fn(actual.prepareLimitOrder) };
});

/** A fresh copy of the CLI, its Temporal client and the counted pricing, connected as a user's shell would be. */
function cli(taskQueue: string) {
  let loaded!: {
    main: typeof Client.main;
    placeOrder: typeof CliOrders.placeOrder;
    withTemporal: typeof CliTemporal.withTemporal;
    pricings: jest.MockedFunction<typeof orderRequests.prepareLimitOrder>;
  };
  jest.isolateModules(() => {
    /* eslint-disable @typescript-eslint/no-require-imports -- a copy loaded after the mock is the point */
    loaded = {
      main: (require('../../src/client') as typeof Client).main,
      placeOrder: (require('../../src/cli/orders') as typeof CliOrders).placeOrder,
      withTemporal: (require('../../src/cli/temporal') as typeof CliTemporal).withTemporal,
      pricings: (require('../../src/domain/orders/order-request') as typeof orderRequests)
        .prepareLimitOrder as jest.MockedFunction<typeof orderRequests.prepareLimitOrder>,
    };
    /* eslint-enable @typescript-eslint/no-require-imports */
  });
  // One mock for the file: calls made before (this file's own pricing) are not the CLI's.
  loaded.pricings.mockClear();
  const state = readIntegrationState();
  Object.assign(process.env, {
    TEMPORAL_ADDRESS: state.address,
    TEMPORAL_NAMESPACE: state.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
  });
  return loaded;
}

describe('an order keeps the price it was given', () => {
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

  /** A desk of this account whose own pricing refuses every order: any limit it computed is beyond 0.0001%. */
  async function refusingDesk(account: string) {
    // Past the configuration's own check (it refuses such a file): a desk no pricing can get an order through.
    const valid = orderSettingsFromConfig(OrdersConfigSchema.parse({ pollIntervalSeconds: 1 }));
    const settings = { ...valid, pricing: { ...valid.pricing, maxSlippagePct: '0.0001' } };
    const ctx = cliContext(env, taskQueue);
    await env.client.workflow.start(deskWorkflow, deskStartOptions(ctx, 'paper', account, settings));
    return ctx;
  }

  it('placeOrder prices once, in the caller; the desk and the order workflow price nothing', async () => {
    const account = `once-${randomUUID().slice(0, 8)}`;
    await refusingDesk(account);
    const settings = orderSettingsFromConfig(OrdersConfigSchema.parse({ pollIntervalSeconds: 1 }));
    const { placeOrder, withTemporal, pricings } = cli(taskQueue);
    const placed = await withTemporal((ctx) =>
      placeOrder(ctx, { symbol: 'TSLA', side: 'buy', quantity: '10', referencePrice: '250.30', account }, settings, {
        maxQuantity: 1000,
        maxNotional: '1000000',
      }),
    );
    expect(pricings).toHaveBeenCalledTimes(1);
    expect(placed).toMatchObject({ limitPrice: '249.93', existing: null });
    await held(placed.clientOrderId, placed.workflowId, '249.93');
  });

  it('`flowguard order place` prices once before it connects and prints the price the broker holds', async () => {
    const account = `once-${randomUUID().slice(0, 8)}`;
    await refusingDesk(account);
    const { main, pricings } = cli(taskQueue);
    const out: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    try {
      await main([
        'node',
        'flowguard',
        'order',
        'place',
        '--symbol',
        'TSLA',
        '--side',
        'buy',
        '--quantity',
        '10',
        '--reference-price',
        '250.30',
        '--account',
        account,
        '--json',
      ]);
    } finally {
      write.mockRestore();
    }
    expect(process.exitCode).toBe(0);
    process.exitCode = undefined;
    expect(pricings).toHaveBeenCalledTimes(1);
    const placed = JSON.parse(out.join('')) as { clientOrderId: string; workflowId: string; limitPrice: string };
    expect(placed.limitPrice).toBe('249.93');
    await held(placed.clientOrderId, placed.workflowId, '249.93');
  });

  /** The broker holds the order at `limitPrice`, its workflow shows it queued at that price; then it is cancelled. */
  async function held(clientOrderId: string, workflowId: string, limitPrice: string): Promise<void> {
    await waitFor(async () => (await paper.getOrderByClientOrderId(clientOrderId))?.limitPrice === limitPrice);
    const order = env.client.workflow.getHandle(workflowId);
    expect(await order.query(orderStatusQuery)).toMatchObject({ state: 'queued', limitPrice });
    await order.signal(cancelOrderSignal, {});
    expect((await order.result()).state).toBe('cancelled');
  }
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}
