import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { MemoryPaperStore } from '../../src/brokers/paper/store';
import { createBrokerRegistry } from '../../src/brokers/registry';
import {
  BrokerNotConfiguredError,
  cancelAll,
  deskState,
  OrderRefusedError,
  orderStatus,
  placeOrder,
  resetDesk,
  type PlaceOrderOptions,
} from '../../src/cli/orders';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { OrdersConfigSchema } from '../../src/domain/orders/config';
import { ValidationError } from '../../src/domain/validation';
import { cancelOrderSignal, type OrderStatus } from '../../src/workflows/order';
import { waitForOrder } from '../support/order-waits';
import { ScriptedMarket } from '../support/scripted-market';
import { connectTestEnv, createTestWorker, uniqueTaskQueue, cliContext } from '../support/temporal-harness';

const config = orderSettingsFromConfig(
  OrdersConfigSchema.parse({ pollIntervalSeconds: 1, retry: { maximumAttempts: 3, initialIntervalMs: 100 } }),
);

describe('orders on Temporal (paper broker)', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let ctx: CliContext;
  const market = new ScriptedMarket();
  const paper = new PaperBroker({
    store: new MemoryPaperStore(),
    marketPrices: market,
    marketTimeNs: () => market.nowNs(),
  });
  const audit = createMemoryAuditLog();
  const taskQueue = uniqueTaskQueue('orders');

  beforeAll(async () => {
    env = await connectTestEnv();
    worker = await createTestWorker(env, {
      taskQueue,
      // No broker variables at all: paper is embedded, Alpaca and Robinhood are unconfigured on this worker.
      deps: { brokers: createBrokerRegistry({ env: {}, overrides: { paper } }), audit },
    });
    running = worker.run();
    ctx = cliContext(env, taskQueue);
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  const account = () => `acct-${randomUUID().slice(0, 8)}`;
  const order = (over: Partial<PlaceOrderOptions> = {}): PlaceOrderOptions => ({
    symbol: 'TSLA',
    side: 'buy',
    quantity: '10',
    referencePrice: '250.30',
    clientOrderId: `t-${randomUUID()}`,
    ...over,
  });

  const waitForStatus = (id: string, done: (s: OrderStatus) => boolean, timeoutMs = 20_000) =>
    waitForOrder(ctx, id, done, timeoutMs);

  it('places a limit order priced by the domain (BUY 250.30 at 15 bps → 249.93) and follows it to queued', async () => {
    const acct = account();
    const placed = await placeOrder(ctx, order({ account: acct }), config);
    expect(placed.limitPrice).toBe('249.93');
    expect(placed.workflowId).toBe(`order:${placed.clientOrderId}`);
    const status = await waitForStatus(placed.clientOrderId, (s) => s.state === 'queued');
    expect(status).toMatchObject({
      symbol: 'TSLA',
      side: 'buy',
      quantity: 10,
      limitPrice: '249.93',
      remainingQuantity: 10,
    });
    expect(status.brokerOrderId).toEqual(expect.any(String));
    expect(audit.records.some((r) => r.event === 'submit' && r.clientOrderId === placed.clientOrderId)).toBe(true);
  });

  it('returns the existing order for the same client order id, and for the same intent only when the id was generated', async () => {
    const acct = account();
    const aapl = (over: Partial<PlaceOrderOptions> = {}) =>
      order({ account: acct, symbol: 'AAPL', referencePrice: '190.00', ...over });
    const first = await placeOrder(ctx, aapl(), config);
    expect(first.existing).toBeNull();
    const again = await placeOrder(ctx, aapl({ clientOrderId: first.clientOrderId }), config);
    expect(again).toMatchObject({ workflowId: first.workflowId, existing: 'same_client_order_id' });
    // The same id on a different order is the caller's mistake: refused, never answered with the other order.
    await expect(placeOrder(ctx, aapl({ clientOrderId: first.clientOrderId, quantity: '7' }), config)).rejects.toThrow(
      /already used by another open order \(buy 10 AAPL/,
    );

    // Issue 11 item 6: a 500-share order with its own new id, while the 10-share one is open, is a new order.
    const big = await placeOrder(ctx, aapl({ quantity: '500' }), config);
    expect(big.existing).toBeNull();
    expect(big.workflowId).not.toBe(first.workflowId);
    expect(big.workflowId).toBe(`order:${big.clientOrderId}`);
    expect(await orderStatus(ctx, big.clientOrderId)).toMatchObject({ quantity: 500, limitPrice: first.limitPrice });
    // So is one with its own id at the very same intent: the caller's id is its identity.
    const twin = await placeOrder(ctx, aapl(), config);
    expect(twin.existing).toBeNull();
    expect(await orderStatus(ctx, twin.clientOrderId)).toMatchObject({ quantity: 10 });

    // Without an id (one is generated): the same intent at another quantity is a new order...
    const five = await placeOrder(ctx, aapl({ clientOrderId: undefined, quantity: '5' }), config);
    expect(five.existing).toBeNull();
    expect(await orderStatus(ctx, five.clientOrderId)).toMatchObject({ quantity: 5 });
    // ...and at the same quantity returns the open order, flagged, with nothing new placed.
    const sameIntent = await placeOrder(ctx, aapl({ clientOrderId: undefined, quantity: '500' }), config);
    expect(sameIntent).toMatchObject({ workflowId: big.workflowId, existing: 'same_intent' });

    await waitForStatus(big.clientOrderId, (s) => s.state === 'queued');
    const submits = (id: string) => audit.records.filter((r) => r.event === 'submit' && r.clientOrderId === id);
    expect(submits(first.clientOrderId)).toHaveLength(1);
    expect(submits(big.clientOrderId)).toHaveLength(1);
    const desk = await deskState(ctx, 'paper', acct);
    expect(Object.keys(desk?.openOrders ?? {}).sort()).toEqual(
      [first.clientOrderId, big.clientOrderId, twin.clientOrderId, five.clientOrderId].sort(),
    );
  });

  it('refuses at once an order for a broker the worker has no configuration for, naming the variables', async () => {
    const acct = account();
    const id = `t-${randomUUID()}`;
    const started = Date.now();
    const refused = placeOrder(ctx, order({ account: acct, broker: 'alpaca', clientOrderId: id }), config);
    await expect(refused).rejects.toThrow(BrokerNotConfiguredError);
    await expect(refused).rejects.toThrow(
      /alpaca broker is not configured on the worker: set ALPACA_KEY_ID, ALPACA_SECRET_KEY/,
    );
    await expect(refused).rejects.toMatchObject({ missing: ['ALPACA_KEY_ID', 'ALPACA_SECRET_KEY'] });
    expect(Date.now() - started).toBeLessThan(5_000);
    // Nothing was registered or started: no order workflow, nothing open on the desk.
    await expect(orderStatus(ctx, id)).rejects.toThrow(`no order ${id}`);
    expect((await deskState(ctx, 'alpaca', acct))?.openOrders).toEqual({});
    await expect(placeOrder(ctx, order({ account: acct, broker: 'robinhood' }), config)).rejects.toThrow(
      /set ROBINHOOD_TOKEN, ROBINHOOD_ACCOUNT_NUMBER/,
    );
  });

  it('rejects invalid input before it reaches Temporal, naming the field', async () => {
    await expect(placeOrder(ctx, order({ quantity: '1.5' }), config)).rejects.toThrow(ValidationError);
    await expect(placeOrder(ctx, order({ symbol: 'tsla' }), config)).rejects.toThrow(/symbol/);
  });

  it('detects a fill by polling when the market trades through the limit, and notifies the desk', async () => {
    const acct = account();
    market.quote('MSFT', '410.00', '410.10');
    const placed = await placeOrder(
      ctx,
      order({ account: acct, symbol: 'MSFT', side: 'sell', quantity: '100', referencePrice: '410.00' }),
      config,
    );
    expect(placed.limitPrice).toBe('410.41'); // 410.00 × 1.0010 = 410.41
    await waitForStatus(placed.clientOrderId, (s) => s.state === 'queued');
    market.print('MSFT', '410.50', 500);
    const filled = await waitForStatus(placed.clientOrderId, (s) => s.state === 'filled');
    expect(filled).toMatchObject({ filledQuantity: 100, remainingQuantity: 0, averageFillPrice: '410.41' });
    // The order tells the desk after it reached its terminal state: the desk learns it a moment later.
    const deadline = Date.now() + 10_000;
    let desk = await deskState(ctx, 'paper', acct);
    while (desk?.openOrders[placed.clientOrderId] && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      desk = await deskState(ctx, 'paper', acct);
    }
    expect(desk?.openOrders[placed.clientOrderId]).toBeUndefined();
    expect(desk?.recent.find((n) => n.clientOrderId === placed.clientOrderId)?.state).toBe('filled');
  });

  it('cancels an order; a fill that raced the cancel is applied', async () => {
    const acct = account();
    const placed = await placeOrder(
      ctx,
      order({ account: acct, symbol: 'NVDA', referencePrice: '140.00', quantity: '50' }),
      config,
    );
    await waitForStatus(placed.clientOrderId, (s) => s.state === 'queued');
    // A print below the buy limit partly fills the order just as the cancel goes out.
    market.print('NVDA', '139.50', 20);
    await env.client.workflow.getHandle(placed.workflowId).signal(cancelOrderSignal, { reason: 'test' });
    const done = await waitForStatus(placed.clientOrderId, (s) => s.state === 'cancelled');
    expect(done.filledQuantity).toBe(20);
    expect(done.remainingQuantity).toBe(30);
  });

  it('kill switch: cancel-all confirms every open order, refuses new ones until reset', async () => {
    const acct = account();
    const symbols = ['AMD', 'INTC', 'META', 'GOOG', 'AMZN'];
    const placed = await Promise.all(
      symbols.map((symbol) =>
        placeOrder(ctx, order({ account: acct, symbol, referencePrice: '100.00', quantity: '10' }), config),
      ),
    );
    await Promise.all(placed.map((p) => waitForStatus(p.clientOrderId, (s) => s.state === 'queued')));
    // One order fills while the kill switch runs.
    market.print('AMD', '99.00', 10);
    const result = await cancelAll(ctx, { account: acct, reason: 'test kill switch', wait: true }, config);
    const outcomes = Object.fromEntries(
      Object.values(result.run?.results ?? {})
        .filter((r) => r.source === 'flowguard')
        .map((r) => [r.symbol, r.outcome]),
    );
    expect(Object.keys(outcomes).sort()).toEqual([...symbols].sort());
    for (const s of symbols) expect(['cancelled', 'filled']).toContain(outcomes[s]);
    for (const p of placed) {
      const s = await orderStatus(ctx, p.clientOrderId);
      expect(['cancelled', 'filled']).toContain(s.state);
    }
    await expect(placeOrder(ctx, order({ account: acct, symbol: 'ORCL' }), config)).rejects.toThrow(OrderRefusedError);
    const reset = await resetDesk(ctx, { account: acct }, config);
    expect(reset).toMatchObject({ killSwitchWasEngaged: true, breakerWasTripped: false });
    const after = await placeOrder(ctx, order({ account: acct, symbol: 'ORCL' }), config);
    expect(after.existing).toBeNull();
  });
});
