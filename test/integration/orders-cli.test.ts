/**
 * The order commands end to end, as a user runs them: the real `flowguard` binary in a child process, talking to
 * the run's Temporal dev server, with a worker (paper broker on scripted market data) in this process.
 */
import { randomUUID } from 'node:crypto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { MemoryPaperStore } from '../../src/brokers/paper/store';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { type CancelAllEntry } from '../../src/workflows/desk';
import { orderStatusQuery, type OrderStatus } from '../../src/workflows/order';
import { runCli, type CliResult } from '../support/cli';
import { readIntegrationState } from '../support/integration-env';
import { ScriptedMarket } from '../support/scripted-market';
import { connectTestEnv, createTestWorker, uniqueTaskQueue } from '../support/temporal-harness';

describe('flowguard order CLI end to end', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const market = new ScriptedMarket();
  const paper = new PaperBroker({
    store: new MemoryPaperStore(),
    marketPrices: market,
    marketTimeNs: () => market.nowNs(),
  });
  const audit = createMemoryAuditLog();
  const taskQueue = uniqueTaskQueue('orders-cli');
  const state = readIntegrationState();

  beforeAll(async () => {
    env = await connectTestEnv();
    worker = await createTestWorker(env, {
      taskQueue,
      // No broker variables: paper is embedded, Alpaca is unconfigured on this worker.
      deps: { brokers: createBrokerRegistry({ env: {}, overrides: { paper } }), audit },
    });
    running = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  /** The environment a user would export; a fresh desk account per test keeps tests apart. */
  const cliEnv = (account: string): NodeJS.ProcessEnv => ({
    TEMPORAL_ADDRESS: state.address,
    TEMPORAL_NAMESPACE: state.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    FLOWGUARD_ACCOUNT: account,
    FLOWGUARD_CONFIG: '',
    FLOWGUARD_ORDER_POLL_INTERVAL_SECONDS: '1',
    FLOWGUARD_ORDER_RETRY_INITIAL_INTERVAL_MS: '100',
  });
  const newAccount = () => `cli-${randomUUID().slice(0, 8)}`;

  // The defaults give way to any option the test passes (the CLI refuses an option given twice).
  const place = (account: string, ...extra: string[]) => {
    const defaults: Record<string, string> = {
      '--symbol': 'TSLA',
      '--side': 'buy',
      '--quantity': '10',
      '--reference-price': '250.30',
    };
    const base = Object.entries(defaults).flatMap(([flag, value]) => (extra.includes(flag) ? [] : [flag, value]));
    return runCli(['order', 'place', ...base, ...extra], cliEnv(account));
  };

  function json<T>(r: CliResult): T {
    if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  async function waitForState(workflowId: string, states: readonly string[], timeoutMs = 20_000): Promise<OrderStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await env.client.workflow.getHandle(workflowId).query(orderStatusQuery);
      if (states.includes(s.state)) return s;
      if (Date.now() > deadline) throw new Error(`${workflowId} stuck in ${s.state}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  interface Placed {
    workflowId: string;
    clientOrderId: string;
    limitPrice: string;
    state: string;
    existing: boolean;
    existingMatch?: string;
  }

  it('order place --json prints exactly workflowId, clientOrderId, limitPrice, state and existing; the same client order id returns the same order', async () => {
    const account = newAccount();
    const first = await place(account, '--json');
    expect(first.stderr).toBe('');
    const placed = json<Placed>(first);
    expect(Object.keys(placed).sort()).toEqual(['clientOrderId', 'existing', 'limitPrice', 'state', 'workflowId']);
    expect(placed.existing).toBe(false);
    expect(placed.limitPrice).toBe('249.93');
    expect(placed.workflowId).toBe(`order:${placed.clientOrderId}`);
    expect(['pending_submit', 'queued']).toContain(placed.state);

    const id = `cli-${randomUUID()}`;
    const a = json<Placed>(
      await place(account, '--symbol', 'AAPL', '--reference-price', '190.00', '--client-order-id', id, '--json'),
    );
    const b = json<Placed>(
      await place(account, '--symbol', 'AAPL', '--reference-price', '190.00', '--client-order-id', id, '--json'),
    );
    expect(a.clientOrderId).toBe(id);
    expect(b.workflowId).toBe(a.workflowId);
    expect(b).toMatchObject({ existing: true, existingMatch: 'same_client_order_id' });
    await waitForState(a.workflowId, ['queued']);
    expect(audit.records.filter((r) => r.event === 'submit' && r.clientOrderId === id)).toHaveLength(1);
    expect((await paper.listOpenOrders()).filter((o) => o.clientOrderId === id)).toHaveLength(1);

    // Without --json: the order's line, then one saying that nothing new was placed.
    const human = await place(account, '--symbol', 'AAPL', '--reference-price', '190.00', '--client-order-id', id);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      new RegExp(
        `^${id} \\w+ limit 189\\.72 — workflow order:${id} \\(existing order: same client order id\\)\\n` +
          'an order with the same client order id is already open: returned it, nothing new was placed\\n$',
      ),
    );
  });

  it('issue 11 item 6: an explicit new client order id is a new order; a generated one returns the same intent, flagged', async () => {
    const account = newAccount();
    const small = json<Placed>(await place(account, '--json'));
    // A 500-share order with its own id, at the symbol, side and limit of the open 10-share one.
    const id = `cli-${randomUUID()}`;
    const big = json<Placed>(await place(account, '--quantity', '500', '--client-order-id', id, '--json'));
    expect(big).toMatchObject({ clientOrderId: id, workflowId: `order:${id}`, existing: false });
    expect(big.limitPrice).toBe(small.limitPrice);
    const status = await runCli(['order', 'status', id, '--json'], cliEnv(account));
    expect(status.code).toBe(0);
    expect(json<OrderStatus>(status)).toMatchObject({ clientOrderId: id, quantity: 500 });

    // No id given (one is generated): a different quantity is a new order, the same quantity returns the open one.
    const other = json<Placed>(await place(account, '--quantity', '7', '--json'));
    expect(other.existing).toBe(false);
    const again = json<Placed>(await place(account, '--json'));
    expect(again).toMatchObject({
      workflowId: small.workflowId,
      clientOrderId: small.clientOrderId,
      existing: true,
      existingMatch: 'same_intent',
    });
    const human = await place(account);
    expect(human).toMatchObject({ code: 0, stderr: '' });
    expect(human.stdout).toContain(
      'an order with the same symbol, side, quantity and limit price is already open: returned it, nothing new was placed\n',
    );
    await waitForState(small.workflowId, ['queued']);
    expect(audit.records.filter((r) => r.event === 'submit' && r.clientOrderId === small.clientOrderId)).toHaveLength(
      1,
    );
  });

  it('issue 11 item 7: --broker alpaca on a worker without Alpaca keys exits 1 at once, naming the variables', async () => {
    const account = newAccount();
    const id = `cli-${randomUUID()}`;
    const r = await place(account, '--broker', 'alpaca', '--client-order-id', id, '--json');
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(
      /^error: order refused: the alpaca broker is not configured on the worker: set ALPACA_KEY_ID, ALPACA_SECRET_KEY in the worker's environment/m,
    );
    const status = await runCli(['order', 'status', id], cliEnv(account));
    expect(status.code).toBe(2);
    expect(status.stderr).toMatch(`no order ${id}`);
  });

  it.each([
    ['--quantity 1.5', ['--quantity', '1.5'], /^invalid input: quantity: must be a positive integer$/m],
    ['--quantity 0', ['--quantity', '0'], /^invalid input: quantity: must be a positive integer$/m],
    ['--symbol tsla', ['--symbol', 'tsla'], /^invalid input: symbol: must be uppercase \(TSLA\)$/m],
    ['--reference-price -5', ['--reference-price', '-5'], /^invalid input: referencePrice: /m],
    ['--side hold', ['--side', 'hold'], /^invalid input: side: must be buy or sell$/m],
    [
      '--type market (limit orders only)',
      ['--type', 'market'],
      /^invalid input: type: market orders are not supported: use a limit order$/m,
    ],
    ['--type stop', ['--type', 'stop'], /^invalid input: type: stop orders are not supported: use a limit order$/m],
  ])('invalid input %s → exit 2, the field named on stderr, nothing on stdout', async (_name, extra, message) => {
    const account = newAccount();
    const submits = () => audit.records.filter((x) => x.event === 'submit').length;
    const before = submits();
    const r = await place(account, ...extra, '--json');
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(message);
    expect(submits()).toBe(before);
  });

  it('order status by client order id and by workflow id; order cancel; orders list --open', async () => {
    const account = newAccount();
    const keep = json<Placed>(await place(account, '--symbol', 'MSFT', '--reference-price', '410.00', '--json'));
    const drop = json<Placed>(await place(account, '--symbol', 'NVDA', '--reference-price', '140.00', '--json'));
    await waitForState(keep.workflowId, ['queued']);
    await waitForState(drop.workflowId, ['queued']);

    const byClient = json<OrderStatus>(
      await runCli(['order', 'status', keep.clientOrderId, '--json'], cliEnv(account)),
    );
    const byWorkflow = json<OrderStatus>(await runCli(['order', 'status', keep.workflowId, '--json'], cliEnv(account)));
    expect(byClient).toMatchObject({
      workflowId: keep.workflowId,
      clientOrderId: keep.clientOrderId,
      symbol: 'MSFT',
      side: 'buy',
      quantity: 10,
      limitPrice: '409.39',
      state: 'queued',
      filledQuantity: 0,
      remainingQuantity: 10,
      broker: 'paper',
    });
    expect(byClient.brokerOrderId).toEqual(expect.stringMatching(/^paper-/));
    expect(byClient.raw).toEqual(expect.objectContaining({ clientOrderId: keep.clientOrderId }));
    expect(byWorkflow).toEqual(byClient);

    const human = await runCli(['order', 'status', keep.clientOrderId], cliEnv(account));
    expect(human.stdout).toMatch(new RegExp(`^${keep.clientOrderId} MSFT buy 10 @ 409\\.39: queued, filled 0`));

    const unknown = await runCli(['order', 'status', 'no-such-order', '--json'], cliEnv(account));
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toMatch(/invalid input: order: no order no-such-order/);

    const cancel = await runCli(['order', 'cancel', drop.clientOrderId, '--reason', 'cli test'], cliEnv(account));
    expect(cancel).toMatchObject({ code: 0, stderr: '' });
    expect(cancel.stdout).toMatch(/cancel requested for/);
    await waitForState(drop.workflowId, ['cancelled']);
    const cancelled = json<OrderStatus>(await runCli(['order', 'status', drop.workflowId, '--json'], cliEnv(account)));
    expect(cancelled).toMatchObject({ state: 'cancelled', cancelRequested: 'cli test', remainingQuantity: 10 });

    // Visibility is eventually consistent: the open list must converge to "keep in, drop out" within a bound.
    let ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const list = json<{ orders: { workflowId: string; state: string; status: string }[] }>(
        await runCli(['orders', 'list', '--open', '--json'], cliEnv(account)),
      );
      ids = list.orders.map((o) => o.workflowId);
      const mine = list.orders.find((o) => o.workflowId === keep.workflowId);
      if (mine?.state === 'queued' && !ids.includes(drop.workflowId)) {
        expect(mine.status).toBe('RUNNING');
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(ids).toContain(keep.workflowId);
    expect(ids).not.toContain(drop.workflowId);
  });

  it('cancel-all --wait --json reports every order; placements are refused until kill-switch reset says what it reset', async () => {
    const account = newAccount();
    const orders = [];
    for (const [symbol, ref] of [
      ['AMD', '120.00'],
      ['INTC', '30.00'],
      ['META', '600.00'],
    ] as const) {
      orders.push(json<Placed>(await place(account, '--symbol', symbol, '--reference-price', ref, '--json')));
    }
    for (const o of orders) await waitForState(o.workflowId, ['queued']);
    // A print below INTC's limit fills 4 of its 10 shares; the status poll (1 s) picks it up.
    market.print('INTC', '29.90', 4);
    await waitForState(orders[1]!.workflowId, ['partially_filled']);

    const killed = await runCli(['cancel-all', '--wait', '--json', '--reason', 'cli kill'], cliEnv(account));
    const body = json<{ broker: string; signalled: boolean; results: CancelAllEntry[] }>(killed);
    expect(body).toMatchObject({ broker: 'paper', signalled: true });
    // The paper broker is one account for the whole file: open orders other tests left there are the broker's.
    const ours = body.results.filter((r) => r.source === 'flowguard');
    for (const r of body.results.filter((x) => x.source !== 'flowguard')) {
      expect(r).toMatchObject({ source: 'broker', outcome: 'cancelled' });
    }
    const outcomes = new Map(ours.map((r) => [r.clientOrderId, r]));
    expect([...outcomes.keys()].sort()).toEqual(orders.map((o) => o.clientOrderId).sort());
    expect(outcomes.get(orders[0]!.clientOrderId)).toMatchObject({
      source: 'flowguard',
      symbol: 'AMD',
      outcome: 'cancelled',
    });
    expect(outcomes.get(orders[1]!.clientOrderId)).toMatchObject({
      symbol: 'INTC',
      outcome: 'partially_filled_then_cancelled',
      filledQuantity: 4,
    });
    expect(outcomes.get(orders[2]!.clientOrderId)).toMatchObject({ symbol: 'META', outcome: 'cancelled' });

    const refused = await place(account, '--symbol', 'GOOG', '--reference-price', '170.00', '--json');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^error: order refused: kill switch engaged .*kill-switch reset/m);

    const reset = await runCli(['kill-switch', 'reset'], cliEnv(account));
    expect(reset).toMatchObject({ code: 0, stderr: '' });
    expect(reset.stdout).toBe('desk:paper: kill switch released; circuit breaker was not tripped\n');
    const resetAgain = json<Record<string, unknown>>(await runCli(['kill-switch', 'reset', '--json'], cliEnv(account)));
    expect(resetAgain).toEqual({
      broker: 'paper',
      killSwitchWasEngaged: false,
      breakerWasTripped: false,
      breakerReason: null,
    });

    const after = json<Placed>(await place(account, '--symbol', 'GOOG', '--reference-price', '170.00', '--json'));
    await waitForState(after.workflowId, ['queued']);
  });

  it('cancel-all without --json lists one line per order; with nothing open it still engages the kill switch', async () => {
    const account = newAccount();
    const o = json<Placed>(await place(account, '--symbol', 'ORCL', '--reference-price', '150.00', '--json'));
    await waitForState(o.workflowId, ['queued']);
    const r = await runCli(['cancel-all', '--wait'], cliEnv(account));
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(
      "cancel-all sent to the paper desk; new orders are refused until 'flowguard kill-switch reset'",
    );
    expect(r.stdout).toMatch(new RegExp(`^  ${o.clientOrderId}  ORCL  cancelled$`, 'm'));

    const empty = newAccount();
    const none = json<{ results: { source: string }[] }>(
      await runCli(['cancel-all', '--wait', '--json'], cliEnv(empty)),
    );
    expect(none.results.filter((r) => r.source === 'flowguard')).toEqual([]);
    const refused = await place(empty, '--json');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused/);
  });
});
