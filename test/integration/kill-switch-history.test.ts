/**
 * What one kill switch costs the desk's history. The desk used to confirm each cancel by polling from the
 * workflow (a timer and an activity per read, up to 60 per order); one heartbeating activity now cancels and
 * confirms every order at the broker, and hands each order workflow its answer itself (the desk signalled each
 * one: two more events per order, plus the workflow tasks their results woke, 212 events under load).
 */
import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { cancelAll, placeOrder } from '../../src/cli/orders';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { OrdersConfigSchema } from '../../src/domain/orders/config';
import { WorkflowIds } from '../../src/shared/contracts';
import { waitForOrder } from '../support/order-waits';
import { connectTestEnv, createTestWorker, uniqueTaskQueue, cliContext } from '../support/temporal-harness';

const settings = orderSettingsFromConfig(OrdersConfigSchema.parse({ pollIntervalSeconds: 5 }), 3);

describe('kill switch history cost', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let ctx: CliContext;
  const taskQueue = uniqueTaskQueue('kill-history');

  beforeAll(async () => {
    env = await connectTestEnv();
    worker = await createTestWorker(env, {
      taskQueue,
      deps: {
        brokers: createBrokerRegistry({ overrides: { paper: PaperBroker.inMemory() } }),
        audit: createMemoryAuditLog(),
      },
    });
    running = worker.run();
    ctx = cliContext(env, taskQueue);
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  it('one cancel-all of 25 open orders adds fewer than 200 events to the desk history', async () => {
    const account = `acct-${randomUUID().slice(0, 8)}`;
    const placed = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        placeOrder(
          ctx,
          { symbol: 'AAPL', side: 'buy', quantity: String(i + 1), referencePrice: '190.00', account },
          settings,
        ),
      ),
    );
    await Promise.all(placed.map((p) => waitForOrder(ctx, p.clientOrderId, (s) => s.state === 'queued')));
    const deskId = WorkflowIds.desk('paper', account);
    // The dev server suggests continue-as-new early in tests: count the events of every run of the desk.
    const byType = new Map<string, number>();
    const totalEvents = async (tally = false) => {
      let n = 0;
      for await (const run of env.client.workflow.list({ query: `WorkflowId = '${deskId}'` })) {
        for (const e of (await env.client.workflow.getHandle(deskId, run.runId).fetchHistory()).events ?? []) {
          n += 1;
          if (tally) byType.set(String(e.eventType), (byType.get(String(e.eventType)) ?? 0) + 1);
          else byType.set(String(e.eventType), (byType.get(String(e.eventType)) ?? 0) - 1);
        }
      }
      return n;
    };
    const before = await totalEvents();
    const result = await cancelAll(ctx, { account, reason: 'history cost', wait: true }, settings);
    const outcomes = Object.values(result.run?.results ?? {}).map((r) => r.outcome);
    expect(outcomes.filter((o) => o === 'cancelled')).toHaveLength(25);
    // The order workflows' terminal notices arrive as signals after the run: count once they are all in.
    await Promise.all(placed.map((p) => waitForOrder(ctx, p.clientOrderId, (s) => s.state === 'cancelled')));
    await new Promise((r) => setTimeout(r, 1000));
    const added = (await totalEvents(true)) - before;
    const kinds = [...byType].filter(([, n]) => n > 0).map(([t, n]) => `${t}=${n}`);
    console.log(`kill switch of 25 orders added ${added} events to the desk's history: ${kinds.join(' ')}`);
    expect(added).toBeLessThan(200);
  });
});
