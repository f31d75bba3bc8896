import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { placeOrder, type PlaceOrderOptions } from '../../src/cli/orders';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { OrdersConfigSchema } from '../../src/domain/orders/config';
import { type OrderStatus } from '../../src/workflows/order';
import { AlpacaStandIn } from '../support/alpaca-stand-in';
import { waitForOrder } from '../support/order-waits';
import { connectTestEnv, createTestWorker, uniqueTaskQueue, cliContext } from '../support/temporal-harness';

// Polling every 300 s: within these tests only the event path (stream or its REST reconciliation) can see a fill.
const settings = orderSettingsFromConfig(
  OrdersConfigSchema.parse({ pollIntervalSeconds: 300, retry: { maximumAttempts: 3, initialIntervalMs: 200 } }),
  3,
);
/** "Within a couple of seconds" of the broker's update. */
const EVENT_DEADLINE_MS = 3_000;

describe('fills on the event path: Alpaca trade_updates → desk relay → order workflow', () => {
  let env: TestWorkflowEnvironment;
  let alpaca: AlpacaStandIn;
  let worker: Worker;
  let running: Promise<void>;
  let ctx: CliContext;
  const audit = createMemoryAuditLog();
  const taskQueue = uniqueTaskQueue('fill-events');
  // One desk (one relay, one stream connection) for the whole file, as in production.
  const account = `acct-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    env = await connectTestEnv();
    alpaca = await AlpacaStandIn.start({ buyingPower: '10000000' });
    worker = await createTestWorker(env, {
      taskQueue,
      deps: { brokers: createBrokerRegistry({ alpacaConfig: alpaca.config(1000) }), audit },
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
    quantity: '100',
    referencePrice: '250.30',
    broker: 'alpaca',
    account,
    clientOrderId: `ev-${randomUUID()}`,
    ...over,
  });

  const waitForStatus = (id: string, done: (s: OrderStatus) => boolean, timeoutMs: number) =>
    waitForOrder(ctx, id, done, timeoutMs);

  async function waitFor(what: string, probe: () => boolean, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Places an order and waits until it is queued and the relay's stream is listening. */
  async function placeQueued(over: Partial<PlaceOrderOptions> = {}) {
    const placed = await placeOrder(ctx, order(over), settings);
    await waitForStatus(placed.clientOrderId, (s) => s.state === 'queued', 15_000);
    await waitFor('the relay to listen on trade_updates', () => alpaca.streamListeners === 1);
    const atBroker = alpaca.orderByClientId(placed.clientOrderId);
    if (!atBroker) throw new Error('order not at the stand-in');
    return { placed, brokerId: atBroker.id };
  }

  it('a partial fill then the final fill reach the order workflow from the stream, with exact quantities and average', async () => {
    const { placed, brokerId } = await placeQueued();
    const statusCallsBefore = alpaca.requestsFor('GET /v2/orders/:id').length;

    const execA = alpaca.fill(brokerId, 40, '249.90');
    const partial = await waitForStatus(placed.clientOrderId, (s) => s.state === 'partially_filled', EVENT_DEADLINE_MS);
    expect(partial).toMatchObject({ filledQuantity: 40, remainingQuantity: 60, averageFillPrice: '249.9' });

    const execB = alpaca.fill(brokerId, 60, '249.85');
    const filled = await waitForStatus(placed.clientOrderId, (s) => s.state === 'filled', EVENT_DEADLINE_MS);
    // (40 × 249.90 + 60 × 249.85) / 100 = 249.87
    expect(filled).toMatchObject({ filledQuantity: 100, remainingQuantity: 0, averageFillPrice: '249.87' });
    // The executions arrived under the broker's own ids: no lump "reconciled" fill, no warnings.
    expect(filled.warnings).toEqual([]);
    // Nobody polled this order: the stream alone carried both fills.
    expect(alpaca.requestsFor('GET /v2/orders/:id').length).toBe(statusCallsBefore);
    const fills = audit.records.filter((r) => r.event === 'fill' && r.clientOrderId === placed.clientOrderId);
    expect(fills.map((r) => (r.detail as { executionId: string }).executionId)).toEqual([execA, execB]);
  });

  it('a fill made while the stream is down is seen after the reconnect, by REST reconciliation', async () => {
    const { placed: partialOrder, brokerId: partialId } = await placeQueued({
      symbol: 'AAPL',
      referencePrice: '190.00',
    });
    const { placed: fullOrder, brokerId: fullId } = await placeQueued({ symbol: 'MSFT', referencePrice: '410.00' });
    const listsBefore = alpaca.requestsFor('GET /v2/orders').length;

    alpaca.dropStreamConnections();
    // Both fills happen while nobody listens: Alpaca never replays them.
    alpaca.fill(partialId, 30, '189.70');
    alpaca.fill(fullId, 100, '409.40');
    expect(alpaca.streamListeners).toBe(0);

    // The relay reconnects (500 ms back-off), lists the open orders and looks up the ones that closed meanwhile.
    const partial = await waitForStatus(
      partialOrder.clientOrderId,
      (s) => s.state === 'partially_filled',
      EVENT_DEADLINE_MS + 1_000,
    );
    expect(partial).toMatchObject({ filledQuantity: 30, remainingQuantity: 70, averageFillPrice: '189.7' });
    const full = await waitForStatus(fullOrder.clientOrderId, (s) => s.state === 'filled', EVENT_DEADLINE_MS + 1_000);
    expect(full).toMatchObject({ filledQuantity: 100, remainingQuantity: 0, averageFillPrice: '409.4' });
    expect(alpaca.streamListeners).toBe(1);
    expect(alpaca.requestsFor('GET /v2/orders').length).toBeGreaterThan(listsBefore);

    // And the reconnected stream carries the next fill again.
    alpaca.fill(partialId, 70, '189.80');
    const done = await waitForStatus(partialOrder.clientOrderId, (s) => s.state === 'filled', EVENT_DEADLINE_MS);
    // (30 × 189.70 + 70 × 189.80) / 100 = 189.77
    expect(done).toMatchObject({ filledQuantity: 100, averageFillPrice: '189.77' });
  });

  it('updates for orders flowguard did not place are ignored and the relay keeps going', async () => {
    const { placed, brokerId } = await placeQueued({ symbol: 'NVDA', referencePrice: '140.00' });
    // A foreign order on the same account (placed by hand, say): its updates find no workflow to signal.
    const res = await fetch(`${alpaca.baseUrl}/v2/orders`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'apca-api-key-id': alpaca.keyId,
        'apca-api-secret-key': alpaca.secretKey,
      },
      body: JSON.stringify({
        symbol: 'AMD',
        qty: '5',
        side: 'buy',
        type: 'limit',
        time_in_force: 'day',
        limit_price: '120.00',
        client_order_id: `manual-${randomUUID()}`,
      }),
    });
    const foreign = (await res.json()) as { id: string };
    alpaca.fill(foreign.id, 5, '119.95');

    alpaca.fill(brokerId, 100, '139.90');
    const filled = await waitForStatus(placed.clientOrderId, (s) => s.state === 'filled', EVENT_DEADLINE_MS);
    expect(filled).toMatchObject({ filledQuantity: 100, averageFillPrice: '139.9' });
    expect(alpaca.streamListeners).toBe(1);
  });
});
