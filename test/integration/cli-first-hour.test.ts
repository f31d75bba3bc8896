/**
 * Small things a new user hits at once (issue 12 item 9), through the real `flowguard` binary against the run's
 * dev server: enum options in either case, an order that has already ended and a monitor that has already
 * stopped say how they ended, and a running position id cannot be restarted for another symbol.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { MemoryPaperStore } from '../../src/brokers/paper/store';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { orderStatusQuery, type OrderStatus } from '../../src/workflows/order';
import { runCli, type CliResult } from '../support/cli';
import { readIntegrationState } from '../support/integration-env';
import { ScriptedMarket } from '../support/scripted-market';
import { connectTestEnv, createTestWorker, uniqueTaskQueue } from '../support/temporal-harness';

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

describe('flowguard CLI: the first hour', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const market = new ScriptedMarket();
  const paper = new PaperBroker({
    store: new MemoryPaperStore(),
    marketPrices: market,
    marketTimeNs: () => market.nowNs(),
  });
  const taskQueue = uniqueTaskQueue('cli-first-hour');
  const state = readIntegrationState();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowguard-first-hour-'));
  // A session three days from today: the monitor waits outside it, with no market data asked for.
  const closedDay = WEEKDAYS[(new Date().getUTCDay() + 3) % 7]!;
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      marketData: {
        sessions: [{ name: 'elsewhen', start: '10:00', end: '11:00', timeZone: 'UTC', days: [closedDay] }],
      },
    }),
  );

  beforeAll(async () => {
    env = await connectTestEnv();
    worker = await createTestWorker(env, {
      taskQueue,
      deps: { brokers: createBrokerRegistry({ env: {}, overrides: { paper } }), audit: createMemoryAuditLog() },
    });
    running = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cliEnv = (account: string): NodeJS.ProcessEnv => ({
    TEMPORAL_ADDRESS: state.address,
    TEMPORAL_NAMESPACE: state.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    FLOWGUARD_ACCOUNT: account,
    FLOWGUARD_CONFIG: configFile,
    FLOWGUARD_ORDER_POLL_INTERVAL_SECONDS: '1',
  });
  const account = () => `first-${randomUUID().slice(0, 8)}`;

  function json<T>(r: CliResult): T {
    if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  async function waitForOrder(workflowId: string, states: readonly string[]): Promise<OrderStatus> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const s = await env.client.workflow.getHandle(workflowId).query(orderStatusQuery);
      if (states.includes(s.state)) return s;
      if (Date.now() > deadline) throw new Error(`${workflowId} stuck in ${s.state}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('--side SELL --broker PAPER --time-in-force DAY is accepted; cancelling the order again says it ended cancelled', async () => {
    const acct = account();
    const placed = json<{ workflowId: string; clientOrderId: string }>(
      await runCli(
        [
          'order',
          'place',
          '--symbol',
          'TSLA',
          '--side',
          'SELL',
          '--broker',
          'PAPER',
          '--time-in-force',
          'DAY',
          '--quantity',
          '5',
          '--reference-price',
          '250.00',
          '--json',
        ],
        cliEnv(acct),
      ),
    );
    const queued = await waitForOrder(placed.workflowId, ['queued']);
    expect(queued).toMatchObject({ side: 'sell', broker: 'paper' });

    const first = await runCli(['order', 'cancel', placed.clientOrderId], cliEnv(acct));
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toContain('cancel requested for');
    await waitForOrder(placed.workflowId, ['cancelled']);
    // Until the order's workflow has closed the answer may still come from the state; either way it says how.
    const again = await runCli(['order', 'cancel', placed.clientOrderId], cliEnv(acct));
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(again.stdout).toBe(
      `order ${placed.clientOrderId} has already ended: cancelled, cancel reason: cancel requested from the CLI; nothing to cancel\n`,
    );
    expect(again.stdout).not.toContain('already completed');
  });

  it('an order over the configured maximum size or notional is refused naming the setting (exit 2, nothing placed)', async () => {
    const acct = account();
    const huge = await runCli(
      ['order', 'place', '--symbol', 'TSLA', '--side', 'buy', '--quantity', '1000000000', '--reference-price', '250'],
      cliEnv(acct),
    );
    expect(huge).toMatchObject({ code: 2, stdout: '' });
    expect(huge.stderr).toContain(
      'invalid input: quantity: 1000000000 shares is more than the largest order allowed, 100000 shares (orders.maxQuantity, FLOWGUARD_ORDER_MAX_QUANTITY)',
    );

    const notional = await runCli(
      ['order', 'place', '--symbol', 'TSLA', '--side', 'buy', '--quantity', '100', '--reference-price', '250'],
      { ...cliEnv(acct), FLOWGUARD_ORDER_MAX_NOTIONAL: '20000' },
    );
    expect(notional).toMatchObject({ code: 2, stdout: '' });
    expect(notional.stderr).toContain(
      'invalid input: notional: 100 × 249.63 = $24,963 is more than the largest order allowed, $20,000',
    );
    expect((await paper.listOpenOrders()).filter((o) => o.quantity === 1_000_000_000 || o.quantity === 100)).toEqual(
      [],
    );
  });

  it('monitor start --position-id X with another symbol than X watches is an error; stopping it twice says how it ended', async () => {
    const acct = account();
    const positionId = `first-${randomUUID().slice(0, 8)}`;
    const started = await runCli(
      [
        'monitor',
        'start',
        '--symbol',
        'TSLA',
        '--quantity',
        '10',
        '--position-id',
        positionId,
        '--data-mode',
        'POLL',
        '--json',
      ],
      cliEnv(acct),
    );
    expect(json<{ positionId: string }>(started).positionId).toBe(positionId);

    // The same id and symbol again is the documented no-op; another symbol is refused.
    const same = await runCli(
      ['monitor', 'start', '--symbol', 'TSLA', '--quantity', '10', '--position-id', positionId],
      cliEnv(acct),
    );
    expect(same.code).toBe(0);
    const other = await runCli(
      ['monitor', 'start', '--symbol', 'AAPL', '--quantity', '10', '--position-id', positionId],
      cliEnv(acct),
    );
    expect(other).toMatchObject({ code: 2, stdout: '' });
    expect(other.stderr).toContain(`invalid input: --position-id: ${positionId} is already monitoring TSLA, not AAPL`);

    const stop = await runCli(['monitor', 'stop', positionId, '--reason', 'first hour'], cliEnv(acct));
    expect(stop).toMatchObject({ code: 0, stdout: `stop requested for ${positionId}\n` });
    const handle = env.client.workflow.getHandle(`position:${positionId}`);
    await handle.result();
    const again = await runCli(['monitor', 'stop', positionId], cliEnv(acct));
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(again.stdout).toBe(
      `monitor ${positionId} has already ended: stopped (workflow completed); nothing to stop\n`,
    );

    // Once it has ended, the id may watch another symbol.
    const reused = await runCli(
      ['monitor', 'start', '--symbol', 'AAPL', '--quantity', '1', '--position-id', positionId],
      cliEnv(acct),
    );
    expect(reused.code).toBe(0);
    await runCli(['monitor', 'stop', positionId], cliEnv(acct));
  });
});
