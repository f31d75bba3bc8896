/**
 * The order workflow's unhappy paths, each driven for real on the dev server against the Alpaca stand-in:
 * exhausted submit retries, a submit that lands after flowguard gave up on it, broker refusals, throttles over
 * the cap, a cancel or the kill switch while a submit is backing off or being resolved, and continue-as-new in
 * every state. The harness fails the file if any of these workflows records a failed workflow task.
 */
import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { createAlpacaBroker } from '../../src/brokers/alpaca/alpaca-broker';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { cancelAll, placeOrder, type PlaceOrderOptions } from '../../src/cli/orders';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { OrdersConfigSchema, type OrdersConfigInput } from '../../src/domain/orders/config';
import { cancelOrderSignal, type OrderSettings, type OrderStatus } from '../../src/workflows/order';
import { AlpacaStandIn } from '../support/alpaca-stand-in';
import { waitForOrder } from '../support/order-waits';
import { connectTestEnv, createTestWorker, uniqueTaskQueue, cliContext } from '../support/temporal-harness';

const ADAPTER_TIMEOUT_MS = 1000;

function settingsWith(over: OrdersConfigInput = {}, extra: Partial<OrderSettings> = {}): OrderSettings {
  return {
    ...orderSettingsFromConfig(
      OrdersConfigSchema.parse({
        pollIntervalSeconds: 1,
        unknownOutcomeWindowSeconds: 6,
        retry: { maximumAttempts: 3, initialIntervalMs: 200 },
        ...over,
      }),
      3,
    ),
    ...extra,
  };
}

describe('order workflow under broker faults (Alpaca stand-in)', () => {
  let env: TestWorkflowEnvironment;
  let alpaca: AlpacaStandIn;
  let worker: Worker;
  let running: Promise<void>;
  let ctx: CliContext;
  const audit = createMemoryAuditLog();
  const taskQueue = uniqueTaskQueue('order-faults');

  beforeAll(async () => {
    env = await connectTestEnv();
    alpaca = await AlpacaStandIn.start({ buyingPower: '1000000' });
    const broker = createAlpacaBroker({
      keyId: alpaca.keyId,
      secretKey: alpaca.secretKey,
      baseUrl: alpaca.baseUrl,
      timeoutMs: ADAPTER_TIMEOUT_MS,
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

  beforeEach(() => {
    alpaca.faults.clear();
  });

  // Each test trades its own symbol, so per-symbol stand-in state and faults never leak between tests.
  const order = (symbol: string, over: Partial<PlaceOrderOptions> = {}): PlaceOrderOptions => ({
    symbol,
    side: 'buy',
    quantity: '10',
    referencePrice: '100.00',
    broker: 'alpaca',
    account: `acct-${randomUUID().slice(0, 8)}`,
    clientOrderId: `t-${randomUUID()}`,
    ...over,
  });
  const atBroker = (clientOrderId: string) => alpaca.orders().filter((o) => o.client_order_id === clientOrderId);
  const submits = (clientOrderId: string) =>
    alpaca
      .requestsFor('POST /v2/orders')
      .filter((r) => (r.body as { client_order_id?: string } | undefined)?.client_order_id === clientOrderId);
  const terminal = (s: OrderStatus) => ['filled', 'cancelled', 'rejected', 'expired', 'failed'].includes(s.state);

  /** Runs of one workflow id, oldest first, to see continue-as-new happen. */
  async function runsOf(workflowId: string): Promise<string[]> {
    const statuses: string[] = [];
    for await (const wf of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      statuses.push(wf.status.name);
    }
    return statuses;
  }

  it('503 on every submit attempt: no wedge; status stays queryable while the outcome is resolved, then failed', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'status', status: 503 }, 3);
    const placed = await placeOrder(ctx, order('AAA'), settingsWith());
    const resolving = await waitForOrder(ctx, placed.clientOrderId, (s) => s.submit?.resolvingUntil != null, 15_000);
    expect(resolving).toMatchObject({ state: 'pending_submit', submit: { attempts: 3, mayHaveReachedBroker: true } });
    const done = await waitForOrder(ctx, placed.clientOrderId, terminal, 30_000);
    expect(done).toMatchObject({ state: 'failed', errorType: 'BrokerUnavailable' });
    expect(done.reason).toMatch(/showed no order .* within 6 s/);
    expect(submits(placed.clientOrderId)).toHaveLength(3);
    expect(atBroker(placed.clientOrderId)).toHaveLength(0);
  });

  it('a submit that lands after the attempts ran out is adopted and followed, never orphaned', async () => {
    // The first POST is processed 4 s late (the adapter gave up after 1 s); the next two answer 503, so the
    // attempts run out at about 1.6 s and the order lands while its outcome is being resolved.
    alpaca.faults.next('POST /v2/orders', { kind: 'delay', ms: 4000 });
    alpaca.faults.next('POST /v2/orders', { kind: 'status', status: 503 }, 2);
    const placed = await placeOrder(ctx, order('BBB'), settingsWith());
    const queued = await waitForOrder(ctx, placed.clientOrderId, (s) => s.state === 'queued', 30_000);
    const created = atBroker(placed.clientOrderId);
    expect(created).toHaveLength(1);
    expect(queued.brokerOrderId).toBe(created[0]?.id);
    alpaca.fill(created[0]!.id, 10, '99.80');
    const filled = await waitForOrder(ctx, placed.clientOrderId, (s) => s.state === 'filled', 20_000);
    expect(filled).toMatchObject({ filledQuantity: 10, averageFillPrice: '99.8' });
  });

  it('a refusal the broker states (403 buying power) is a rejection at once, without retries', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'insufficient_buying_power' });
    const placed = await placeOrder(ctx, order('CCC'), settingsWith());
    const done = await waitForOrder(ctx, placed.clientOrderId, terminal, 15_000);
    expect(done).toMatchObject({ state: 'rejected', errorType: 'InsufficientFunds' });
    expect(submits(placed.clientOrderId)).toHaveLength(1);
  });

  it('a pattern-day-trading refusal is a rejection with its reason and the broker answer, not a credentials error', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'refusal', refusal: 'pattern_day_trading' });
    const placed = await placeOrder(ctx, order('PDT'), settingsWith());
    const done = await waitForOrder(ctx, placed.clientOrderId, terminal, 15_000);
    expect(done).toMatchObject({ state: 'rejected', errorType: 'OrderRejected', rejectReason: 'pattern_day_trading' });
    expect(JSON.stringify(done.raw)).toMatch(/40310100/);
    expect(submits(placed.clientOrderId)).toHaveLength(1);
  });

  it('a throttle within the cap is honoured; one over the cap ends the attempts with BrokerWaitTooLong', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'rate_limit', retryAfterSeconds: 1 });
    const ok = await placeOrder(ctx, order('DDD'), settingsWith());
    await waitForOrder(ctx, ok.clientOrderId, (s) => s.state === 'queued', 15_000);
    expect(submits(ok.clientOrderId)).toHaveLength(2);

    // Robinhood has asked for 1,154,515 s; Temporal would have scheduled the retry 13 days out.
    alpaca.faults.next('POST /v2/orders', { kind: 'rate_limit', retryAfterSeconds: 1_154_515 });
    const started = Date.now();
    const placed = await placeOrder(ctx, order('EEE'), settingsWith({ maxBrokerWaitSeconds: 30 }));
    const done = await waitForOrder(ctx, placed.clientOrderId, terminal, 15_000);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(done).toMatchObject({ state: 'failed', errorType: 'BrokerWaitTooLong' });
    expect(done.reason).toMatch(/asked to wait 1154515 s .* more than the 30 s cap/);
    expect(submits(placed.clientOrderId)).toHaveLength(1);
    expect(atBroker(placed.clientOrderId)).toHaveLength(0);
  });

  it('a cancel during a throttle backoff stops the submit: nothing reached the broker, so nothing is sent', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'rate_limit', retryAfterSeconds: 40 });
    const placed = await placeOrder(ctx, order('FFF'), settingsWith());
    await waitForOrder(ctx, placed.clientOrderId, (s) => s.submit?.attempts === 1, 10_000);
    await env.client.workflow.getHandle(placed.workflowId).signal(cancelOrderSignal, { reason: 'changed my mind' });
    const done = await waitForOrder(ctx, placed.clientOrderId, terminal, 10_000);
    expect(done.state).toBe('cancelled');
    expect(done.reason).toMatch(/before the order reached the broker/);
    expect(submits(placed.clientOrderId)).toHaveLength(1);
    expect(atBroker(placed.clientOrderId)).toHaveLength(0);
  });

  it('a cancel while an unknown outcome is resolved finds the order that landed late and cancels it', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'delay', ms: 5000 });
    alpaca.faults.next('POST /v2/orders', { kind: 'status', status: 503 }, 2);
    const placed = await placeOrder(ctx, order('GGG'), settingsWith());
    await waitForOrder(ctx, placed.clientOrderId, (s) => s.submit?.resolvingUntil != null, 15_000);
    await env.client.workflow.getHandle(placed.workflowId).signal(cancelOrderSignal, { reason: 'flatten' });
    const done = await waitForOrder(ctx, placed.clientOrderId, terminal, 30_000);
    expect(done.state).toBe('cancelled');
    const created = atBroker(placed.clientOrderId);
    expect(created).toHaveLength(1);
    expect(created[0]?.status).toBe('canceled');
    // No submit after the cancel arrived: it only looked the order up.
    expect(submits(placed.clientOrderId)).toHaveLength(3);
  });

  it('the kill switch finishes within its bound while an order is backing off, and that order ends cancelled', async () => {
    const account = `acct-${randomUUID().slice(0, 8)}`;
    alpaca.faults.next('POST /v2/orders', { kind: 'rate_limit', retryAfterSeconds: 45 });
    const placed = await placeOrder(ctx, order('HHH', { account }), settingsWith());
    await waitForOrder(ctx, placed.clientOrderId, (s) => s.submit?.attempts === 1, 10_000);
    const started = Date.now();
    const result = await cancelAll(ctx, { account, broker: 'alpaca', reason: 'test', wait: true }, settingsWith());
    expect(Date.now() - started).toBeLessThan(35_000);
    expect(result.run?.results[placed.clientOrderId]?.outcome).toBe('cancelled');
    const done = await waitForOrder(ctx, placed.clientOrderId, terminal, 5_000);
    expect(done.state).toBe('cancelled');
    expect(atBroker(placed.clientOrderId)).toHaveLength(0);
  });

  it('the kill switch while an unknown outcome is resolved: the late order is found and cancelled within the bound', async () => {
    const account = `acct-${randomUUID().slice(0, 8)}`;
    alpaca.faults.next('POST /v2/orders', { kind: 'delay', ms: 5000 });
    alpaca.faults.next('POST /v2/orders', { kind: 'status', status: 503 }, 2);
    const placed = await placeOrder(ctx, order('LLL', { account }), settingsWith());
    await waitForOrder(ctx, placed.clientOrderId, (s) => s.submit?.resolvingUntil != null, 15_000);
    const started = Date.now();
    const result = await cancelAll(ctx, { account, broker: 'alpaca', reason: 'test', wait: true }, settingsWith());
    expect(Date.now() - started).toBeLessThan(35_000);
    expect(result.run?.results[placed.clientOrderId]?.outcome).toBe('cancelled');
    const created = atBroker(placed.clientOrderId);
    expect(created).toHaveLength(1);
    expect(created[0]?.status).toBe('canceled');
    expect(submits(placed.clientOrderId)).toHaveLength(3);
  });

  it('continues-as-new while resolving an unknown outcome, and still adopts the order after', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'delay', ms: 6000 });
    alpaca.faults.next('POST /v2/orders', { kind: 'status', status: 503 }, 2);
    const placed = await placeOrder(
      ctx,
      order('III'),
      settingsWith({ unknownOutcomeWindowSeconds: 20 }, { continueAsNewAfterEvents: 20 }),
    );
    const queued = await waitForOrder(ctx, placed.clientOrderId, (s) => s.state === 'queued', 40_000);
    expect(queued.brokerOrderId).toBe(atBroker(placed.clientOrderId)[0]?.id);
    expect(await runsOf(placed.workflowId)).toContain('CONTINUED_AS_NEW');
    await env.client.workflow.getHandle(placed.workflowId).signal(cancelOrderSignal, {});
    await waitForOrder(ctx, placed.clientOrderId, (s) => s.state === 'cancelled', 20_000);
  });

  it('continues-as-new while backing off before a retry', async () => {
    alpaca.faults.next('POST /v2/orders', { kind: 'rate_limit', retryAfterSeconds: 8 });
    const placed = await placeOrder(ctx, order('JJJ'), settingsWith({}, { continueAsNewAfterEvents: 10 }));
    await waitForOrder(ctx, placed.clientOrderId, (s) => s.state === 'queued', 30_000);
    expect(await runsOf(placed.workflowId)).toContain('CONTINUED_AS_NEW');
    expect(atBroker(placed.clientOrderId)).toHaveLength(1);
    await env.client.workflow.getHandle(placed.workflowId).signal(cancelOrderSignal, {});
    await waitForOrder(ctx, placed.clientOrderId, (s) => s.state === 'cancelled', 20_000);
  });

  it('continues-as-new in queued, partially_filled and pending_cancel without losing fills or the owed cancel', async () => {
    const placed = await placeOrder(
      ctx,
      order('KKK', { quantity: '100' }),
      settingsWith({}, { continueAsNewAfterEvents: 25 }),
    );
    await waitForOrder(ctx, placed.clientOrderId, (s) => s.state === 'queued', 15_000);
    const id = atBroker(placed.clientOrderId)[0]!.id;
    const runsAfter = async (n: number) => {
      const deadline = Date.now() + 30_000;
      while ((await runsOf(placed.workflowId)).length < n) {
        if (Date.now() > deadline) throw new Error(`fewer than ${n} runs of ${placed.workflowId}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    await runsAfter(2); // queued → new run
    alpaca.fill(id, 30, '99.90');
    await waitForOrder(ctx, placed.clientOrderId, (s) => s.state === 'partially_filled', 15_000);
    const before = (await runsOf(placed.workflowId)).length;
    await runsAfter(before + 1); // partially_filled → new run
    // The broker cannot take the cancel for a while: the order waits in pending_cancel, across a new run.
    alpaca.faults.always('DELETE /v2/orders/:id', { kind: 'status', status: 503 });
    await env.client.workflow.getHandle(placed.workflowId).signal(cancelOrderSignal, { reason: 'flatten' });
    await waitForOrder(ctx, placed.clientOrderId, (s) => s.state === 'pending_cancel' || s.cancelRequested !== null);
    const pending = (await runsOf(placed.workflowId)).length;
    await runsAfter(pending + 1);
    alpaca.faults.clear();
    const done = await waitForOrder(ctx, placed.clientOrderId, (s) => s.state === 'cancelled', 30_000);
    expect(done).toMatchObject({ filledQuantity: 30, averageFillPrice: '99.9', remainingQuantity: 70 });
    expect(alpaca.order(id).status).toBe('canceled');
  });
});
