/**
 * Every workflow task of the desk and its orders replays the whole history here (a worker without a workflow
 * cache), while placements arrive concurrently on a broker that is checked for configuration and orders end
 * under them. A command sequence that differs between the first run and a replay fails a workflow task, which
 * the harness turns into a failed file. It guards determinism in general; it did not reproduce the one case the
 * chaos bench found (a local activity awaited inside concurrent placeOrder updates that start children, replayed
 * after a workflow task timed out): that version passes here too, so that fix rests on the chaos bench.
 */
import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { createAlpacaBroker } from '../../src/brokers/alpaca/alpaca-broker';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { cancelAll, placeOrder } from '../../src/cli/orders';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { OrdersConfigSchema } from '../../src/domain/orders/config';
import { AlpacaStandIn } from '../support/alpaca-stand-in';
import { waitForOrder } from '../support/order-waits';
import { connectTestEnv, createTestWorker, uniqueTaskQueue, cliContext } from '../support/temporal-harness';

const settings = orderSettingsFromConfig(
  OrdersConfigSchema.parse({ pollIntervalSeconds: 1, retry: { maximumAttempts: 3, initialIntervalMs: 200 } }),
  3,
);

describe('desk and orders replay deterministically (no workflow cache: every task replays)', () => {
  let env: TestWorkflowEnvironment;
  let alpaca: AlpacaStandIn;
  let worker: Worker;
  let running: Promise<void>;
  let ctx: CliContext;
  const taskQueue = uniqueTaskQueue('desk-replay');

  beforeAll(async () => {
    env = await connectTestEnv();
    alpaca = await AlpacaStandIn.start({ buyingPower: '10000000' });
    const broker = createAlpacaBroker({ ...alpaca.config(1000) });
    worker = await createTestWorker(env, {
      taskQueue,
      maxCachedWorkflows: 0,
      deps: {
        // Alpaca is not paper: the desk asks the worker whether it is configured before placing.
        brokers: createBrokerRegistry({ overrides: { alpaca: broker }, env: {} }),
        audit: createMemoryAuditLog(),
      },
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

  it('concurrent placements, fills and a kill switch on one desk', async () => {
    const account = `acct-${randomUUID().slice(0, 8)}`;
    const symbols = ['AAPL', 'MSFT', 'NVDA', 'AMD', 'META', 'GOOG', 'INTC', 'ORCL'];
    const placed = await Promise.all(
      symbols.map((symbol) =>
        placeOrder(
          ctx,
          {
            symbol,
            side: 'buy',
            quantity: '10',
            referencePrice: '100.00',
            broker: 'alpaca',
            account,
            clientOrderId: `r-${randomUUID()}`,
          },
          settings,
        ),
      ),
    );
    await Promise.all(placed.map((p) => waitForOrder(ctx, p.clientOrderId, (s) => s.state === 'queued', 30_000)));
    // Half of them fill while more placements arrive; then the kill switch takes the rest.
    for (const p of placed.slice(0, 4)) {
      const o = alpaca.orderByClientId(p.clientOrderId);
      if (o) alpaca.fill(o.id, 10, '99.50');
    }
    const more = await Promise.all(
      ['TSLA', 'AMZN'].map((symbol) =>
        placeOrder(
          ctx,
          { symbol, side: 'sell', quantity: '5', referencePrice: '100.00', broker: 'alpaca', account },
          settings,
        ),
      ),
    );
    const result = await cancelAll(ctx, { account, broker: 'alpaca', reason: 'replay test', wait: true }, settings);
    for (const p of [...placed, ...more]) {
      const s = await waitForOrder(ctx, p.clientOrderId, (x) => ['filled', 'cancelled'].includes(x.state), 30_000);
      expect(['filled', 'cancelled']).toContain(s.state);
    }
    expect(Object.values(result.run?.results ?? {}).every((r) => r.outcome !== 'unconfirmed')).toBe(true);
  });
});
