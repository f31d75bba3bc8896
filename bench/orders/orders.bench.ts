/**
 * Order-path figures on a real Temporal dev server (started here, temporary SQLite database, 127.0.0.1 only),
 * one in-process worker and the Alpaca stand-in (plus the paper broker for one cancel-all row):
 *
 *   a. cancel-all end to end: cancelAll signal sent → every order confirmed terminal in the desk's results
 *      (observed through the desk query), for 25 and 100 open orders, a few repetitions;
 *   b. fill detection: stand-in fill → order state `filled` visible through the status query, by polling at the
 *      default interval and at 1 s, and on the event path (see FILL_MODES below);
 *   c. submission overhead: client call → the broker adapter receiving the submit, through `placeOrder` in
 *      process and through the spawned `flowguard order place`.
 *
 * Run: npm run bench:orders [-- --sections a,b,c --reps 3 --fill-orders 20 --submit-orders 50 --cli-orders 20 --fill-modes poll-default,poll-1s,event]
 * Everything it starts (server, worker, stand-in, child processes) is stopped before it exits.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { createAlpacaBroker } from '../../src/brokers/alpaca/alpaca-broker';
import { AlpacaTradeUpdatesStream } from '../../src/brokers/alpaca/stream';
import { type Broker, type BrokerOrderSnapshot, type LimitOrderToPlace } from '../../src/brokers/broker';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { MemoryPaperStore } from '../../src/brokers/paper/store';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { placeOrder, type PlaceOrderOptions } from '../../src/cli/orders';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { freePort, resolveTemporalCli, startDevServer, type DevServer } from '../../src/dev/temporal-dev-server';
import { type BrokerName } from '../../src/domain/orders/order-request';
import { DEFAULT_ORDERS_CONFIG, OrdersConfigSchema } from '../../src/domain/orders/config';
import { WorkflowIds } from '../../src/shared/contracts';
import { createWorker } from '../../src/worker';
import { cancelAllSignal, deskStateQuery } from '../../src/workflows/desk';
import * as orderWorkflows from '../../src/workflows/order';
import { orderStatusQuery, type OrderSettings } from '../../src/workflows/order';
import { AlpacaStandIn } from '../../test/support/alpaca-stand-in';
import { ScriptedMarket } from '../../test/support/scripted-market';
import { onCleanup, quantile, runBench } from '../support/bench-harness';

// ── arguments ───────────────────────────────────────────────────────────────────────────────────────

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1 || v > 1000) throw new Error(`--${name} must be an integer 1–1000`);
  return v;
}

/**
 * How a fill reaches the order workflow. 'event' is measured only while src/workflows/order.ts exports
 * brokerUpdateSignal: the bench itself listens to the stand-in's trade_updates stream (the real
 * AlpacaTradeUpdatesStream client) and pushes each update as a brokerUpdate signal. 'event-relay' only fills:
 * the desk's own relay (relayBrokerEvents activity) carries the update to the order workflow. Every other
 * mode and section runs with the relay off (settings.brokerEvents false), so it measures only what it names.
 */
const FILL_MODES = ['poll-default', 'poll-1s', 'event', 'event-relay'] as const;
type FillMode = (typeof FILL_MODES)[number];

const REPS = arg('reps', 3);
const sectionsArg = process.argv.indexOf('--sections');
/** a, b, c (default all): run a subset when iterating on one figure. */
const SECTIONS = new Set(sectionsArg >= 0 ? (process.argv[sectionsArg + 1] ?? '').split(',') : ['a', 'b', 'c']);
const FILL_ORDERS = arg('fill-orders', 20);
const SUBMIT_ORDERS = arg('submit-orders', 50);
const CLI_ORDERS = arg('cli-orders', 20);
const modesArg = process.argv.indexOf('--fill-modes');
const MODES: FillMode[] =
  modesArg >= 0
    ? (process.argv[modesArg + 1] ?? '').split(',').map((m) => {
        if (!(FILL_MODES as readonly string[]).includes(m)) throw new Error(`--fill-modes: unknown mode ${m}`);
        return m as FillMode;
      })
    : [...FILL_MODES];
if (process.argv.includes('--event-path') && !MODES.includes('event')) MODES.push('event');

const ROOT = path.resolve(__dirname, '..', '..');
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function settingsWith(pollIntervalSeconds: number, brokerEvents = false): OrderSettings {
  return orderSettingsFromConfig(
    OrdersConfigSchema.parse({
      pollIntervalSeconds,
      brokerEvents,
      retry: { maximumAttempts: 3, initialIntervalMs: 200 },
    }),
    10,
  );
}

async function until<T>(what: string, timeoutMs: number, everyMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ── statistics and the table ────────────────────────────────────────────────────────────────────────

interface Row {
  readonly name: string;
  readonly n: number;
  readonly cols: readonly [string, number][];
  readonly goal?: { readonly label: string; readonly stat: string; readonly limitMs: number };
  readonly note?: string;
}
const rows: Row[] = [];

function summarise(name: string, samples: number[], kind: 'minmax' | 'pct', goal?: Row['goal'], note?: string): void {
  const s = [...samples].sort((a, b) => a - b);
  const cols: [string, number][] =
    kind === 'minmax'
      ? [
          ['min', s[0] ?? NaN],
          ['median', quantile(s, 0.5)],
          ['max', s[s.length - 1] ?? NaN],
        ]
      : [
          ['p50', quantile(s, 0.5)],
          ['p95', quantile(s, 0.95)],
          ['max', s[s.length - 1] ?? NaN],
        ];
  rows.push({ name, n: s.length, cols, ...(goal ? { goal } : {}), ...(note ? { note } : {}) });
  process.stderr.write(`  done: ${name} (${cols.map(([k, v]) => `${k} ${fmt(v)}`).join(', ')})\n`);
}

function fmt(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 100 ? 1 : 0)} ms`;
}

function printTable(): void {
  const header = ['measurement', 'n', 'stat 1', 'stat 2', 'stat 3', 'goal', 'verdict'];
  const body = rows.map((r) => {
    const verdict = r.goal
      ? (r.cols.find(([k]) => k === r.goal!.stat)?.[1] ?? NaN) < r.goal.limitMs
        ? 'meets'
        : 'MISSES'
      : '';
    return [r.name, String(r.n), ...r.cols.map(([k, v]) => `${k} ${fmt(v)}`), r.goal?.label ?? '', verdict];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  process.stdout.write(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const b of body) process.stdout.write(`${line(b)}\n`);
  const notes = rows.filter((r) => r.note);
  if (notes.length > 0) process.stdout.write(`\n${notes.map((r) => `* ${r.name}: ${r.note}`).join('\n')}\n`);
}

// ── the rig ─────────────────────────────────────────────────────────────────────────────────────────

/** Records when the adapter is asked to submit (same process and clock as the in-process client). */
class ArrivalRecordingBroker implements Broker {
  readonly arrivals = new Map<string, number>();
  constructor(private readonly inner: Broker) {}
  get name() {
    return this.inner.name;
  }
  submitLimitOrder(req: LimitOrderToPlace): Promise<BrokerOrderSnapshot> {
    if (!this.arrivals.has(req.clientOrderId)) this.arrivals.set(req.clientOrderId, now());
    return this.inner.submitLimitOrder(req);
  }
  getOrderByClientOrderId(id: string) {
    return this.inner.getOrderByClientOrderId(id);
  }
  getOrder(id: string) {
    return this.inner.getOrder(id);
  }
  listOpenOrders() {
    return this.inner.listOpenOrders();
  }
  cancelOrder(id: string) {
    return this.inner.cancelOrder(id);
  }
  ping() {
    return this.inner.ping();
  }
}

interface Rig {
  readonly server: DevServer;
  readonly client: Client;
  readonly ctx: CliContext;
  readonly alpaca: AlpacaStandIn;
  readonly alpacaBroker: ArrivalRecordingBroker;
  readonly market: ScriptedMarket;
  readonly taskQueue: string;
}

async function startRig(): Promise<Rig> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowguard-bench-'));
  onCleanup(async () => fs.rmSync(tempDir, { recursive: true, force: true }));
  const [cli, port] = await Promise.all([resolveTemporalCli(), freePort()]);
  const server = await startDevServer({
    cli,
    port,
    headless: true,
    dbFile: path.join(tempDir, 'temporal.sqlite'),
    watchdog: true,
  });
  onCleanup(() => server.stop());
  const alpaca = await AlpacaStandIn.start({ buyingPower: '1000000000' });
  onCleanup(() => alpaca.close());
  const alpacaBroker = new ArrivalRecordingBroker(
    createAlpacaBroker({ keyId: alpaca.keyId, secretKey: alpaca.secretKey, baseUrl: alpaca.baseUrl, timeoutMs: 5000 }),
  );
  const market = new ScriptedMarket();
  const paper = new PaperBroker({
    store: new MemoryPaperStore(),
    marketPrices: market,
    marketTimeNs: () => market.nowNs(),
  });

  const taskQueue = `bench-${randomUUID().slice(0, 8)}`;
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  onCleanup(() => nativeConnection.close());
  process.stderr.write('bundling workflows and starting the worker...\n');
  const worker: Worker = await createWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    deps: {
      // The stand-in's config gives the registry a trade_updates stream for the desk's relay (event-relay mode).
      brokers: createBrokerRegistry({ overrides: { alpaca: alpacaBroker, paper }, alpacaConfig: alpaca.config(5000) }),
      audit: createMemoryAuditLog(),
    },
  });
  const running = worker.run();
  onCleanup(async () => {
    worker.shutdown();
    await running;
  });
  const connection = await Connection.connect({ address: server.address });
  onCleanup(() => connection.close());
  const client = new Client({ connection, namespace: 'default' });
  const ctx: CliContext = {
    client,
    env: {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: taskQueue,
      TEMPORAL_TLS: false,
    },
  };
  return { server, client, ctx, alpaca, alpacaBroker, market, taskQueue };
}

const SYMBOLS = ['TSLA', 'AAPL', 'MSFT', 'NVDA', 'AMD', 'META', 'GOOG', 'AMZN', 'INTC', 'ORCL'];

/** `count` distinct intents (symbol × reference price) on a fresh desk, placed 20 at a time, all confirmed queued. */
async function placeOpenOrders(rig: Rig, broker: BrokerName, account: string, count: number, settings: OrderSettings) {
  const opts: PlaceOrderOptions[] = Array.from({ length: count }, (_, i) => ({
    symbol: SYMBOLS[i % SYMBOLS.length]!,
    side: 'buy',
    quantity: '10',
    referencePrice: `${100 + Math.floor(i / SYMBOLS.length)}.00`,
    clientOrderId: `bench-${randomUUID()}`,
    broker,
    account,
  }));
  const placed = [];
  for (let i = 0; i < opts.length; i += 20) {
    placed.push(...(await Promise.all(opts.slice(i, i + 20).map((o) => placeOrder(rig.ctx, o, settings)))));
  }
  if (placed.some((p) => p.existing !== null)) throw new Error('bench orders collided with an existing intent');
  for (const p of placed) {
    await until(`${p.clientOrderId} queued`, 30_000, 50, async () => {
      const s = await rig.client.workflow.getHandle(p.workflowId).query(orderStatusQuery);
      return s.state === 'queued' ? s : null;
    });
  }
  return placed;
}

// ── a. cancel-all ───────────────────────────────────────────────────────────────────────────────────

async function benchCancelAll(rig: Rig, broker: BrokerName, count: number): Promise<void> {
  // No status polling during the measurement: cancel-all alone is timed.
  const settings = settingsWith(300);
  const samples: number[] = [];
  const inDesk: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const account = `bench-ca-${randomUUID().slice(0, 8)}`;
    await placeOpenOrders(rig, broker, account, count, settings);
    const desk = rig.client.workflow.getHandle(WorkflowIds.desk(broker, account));
    const before = (await desk.query(deskStateQuery)).cancelAllCount;
    const t0 = now();
    await desk.signal(cancelAllSignal, { reason: 'bench' });
    const run = await until('cancel-all completion', 120_000, 10, async () => {
      const r = (await desk.query(deskStateQuery)).cancelAll;
      return r && r.id > before && r.completedAt ? r : null;
    });
    samples.push(now() - t0);
    inDesk.push(Date.parse(run.completedAt!) - Date.parse(run.requestedAt));
    if (process.argv.includes('--trace')) await traceDesk(desk, Date.parse(run.requestedAt));
    const results = Object.values(run.results);
    const bad = results.filter((r) => r.outcome !== 'cancelled');
    if (results.length !== count || bad.length > 0) {
      throw new Error(
        `cancel-all(${count}) on ${broker}: ${results.length} results, not cancelled: ${JSON.stringify(bad)}`,
      );
    }
  }
  summarise(
    `a. cancel-all(${count}), ${broker}`,
    samples,
    'minmax',
    count <= 25 ? { label: 'median < 1 s', stat: 'median', limitMs: 1000 } : undefined,
  );
  summarise(
    `a. cancel-all(${count}), ${broker}, inside the desk`,
    inDesk,
    'minmax',
    undefined,
    "the desk's own requestedAt → completedAt (workflow task times): excludes signal delivery and the query",
  );
}

/** `--trace`: the desk's history during the cancel-all, grouped by event type, to see where the time goes. */
async function traceDesk(desk: ReturnType<Client['workflow']['getHandle']>, fromMs: number): Promise<void> {
  const history = await desk.fetchHistory();
  const rows: string[] = [];
  for (const e of history.events ?? []) {
    const t = e.eventTime?.seconds
      ? Number(e.eventTime.seconds) * 1000 + Math.floor((e.eventTime.nanos ?? 0) / 1e6)
      : 0;
    if (t < fromMs - 5) continue;
    rows.push(`${String(t - fromMs).padStart(6)} ms  ${String(e.eventType)}`);
  }
  process.stderr.write(`desk history since cancelAll:\n${rows.join('\n')}\n`);
}

// ── b. fill detection ───────────────────────────────────────────────────────────────────────────────

async function benchFillDetection(rig: Rig, mode: FillMode): Promise<void> {
  const eventPath = mode === 'event' || mode === 'event-relay';
  if (mode === 'event' && !('brokerUpdateSignal' in orderWorkflows)) {
    rows.push({
      name: 'b. fill → filled, event path',
      n: 0,
      cols: [],
      note: 'skipped: src/workflows/order.ts has no brokerUpdateSignal',
    });
    return;
  }
  const poll = mode === 'poll-1s' ? 1 : mode === 'poll-default' ? DEFAULT_ORDERS_CONFIG.pollIntervalSeconds : 300;
  const settings = settingsWith(poll, mode === 'event-relay');
  const account = `bench-fill-${randomUUID().slice(0, 8)}`;

  let stream: AlpacaTradeUpdatesStream | null = null;
  if (mode === 'event') {
    stream = new AlpacaTradeUpdatesStream({
      config: rig.alpaca.config(),
      onUpdate: async (update) => {
        const cid = update.order.clientOrderId;
        if (!cid || (update.event !== 'fill' && update.event !== 'partial_fill')) return;
        await rig.client.workflow
          .getHandle(WorkflowIds.order(cid))
          .signal(orderWorkflows.brokerUpdateSignal, update.order);
      },
      onError: (err) => process.stderr.write(`stream: ${err.message}\n`),
    });
    await stream.start();
  }
  try {
    const placed = await placeOpenOrders(rig, 'alpaca', account, FILL_ORDERS, settings);
    if (mode === 'event-relay') {
      // The desk starts its relay with its first run; fills before it listens would be seen by its REST
      // reconciliation instead, which is not what this row measures.
      await until('the desk relay listening on trade_updates', 30_000, 20, async () =>
        Promise.resolve(rig.alpaca.streamListeners > 0 ? true : null),
      );
    }
    // Fills spread evenly over one poll interval, so each lands at a different phase of its order's poll timer.
    const spreadMs = (eventPath ? 2 : poll) * 1000;
    const filledAt = new Map<string, number>();
    const seenAt = new Map<string, number>();
    const appliedAt = new Map<string, number>();
    const start = now();
    const deadline = Date.now() + spreadMs + poll * 1000 + 30_000;
    const next = placed.map((p, i) => ({ p, at: start + (i * spreadMs) / placed.length }));
    while (seenAt.size < placed.length) {
      if (Date.now() > deadline)
        throw new Error(`fill detection (${mode}): ${seenAt.size}/${placed.length} seen in time`);
      for (const f of next) {
        if (!filledAt.has(f.p.clientOrderId) && now() >= f.at) {
          const o = rig.alpaca.orderByClientId(f.p.clientOrderId);
          if (!o) throw new Error(`stand-in lost ${f.p.clientOrderId}`);
          filledAt.set(f.p.clientOrderId, now());
          rig.alpaca.fill(o.id, 10, f.p.limitPrice);
        }
      }
      const pending = placed.filter((p) => filledAt.has(p.clientOrderId) && !seenAt.has(p.clientOrderId));
      await Promise.all(
        pending.map(async (p) => {
          const s = await rig.client.workflow.getHandle(p.workflowId).query(orderStatusQuery);
          if (s.state === 'filled') {
            seenAt.set(p.clientOrderId, now());
            // updatedAt is the workflow-task time at which the fill was applied (before any query saw it).
            if (s.updatedAt) appliedAt.set(p.clientOrderId, Date.parse(s.updatedAt));
          }
        }),
      );
      await sleep(20);
    }
    const visible = placed.map((p) => seenAt.get(p.clientOrderId)! - filledAt.get(p.clientOrderId)!);
    const applied = [...appliedAt.entries()].map(([cid, t]) => t - filledAt.get(cid)!);
    const label =
      mode === 'event'
        ? 'event path (bench-driven: stand-in trade_updates stream → brokerUpdate signal sent by this bench)'
        : mode === 'event-relay'
          ? 'event path (the desk relay: stand-in trade_updates → relayBrokerEvents → brokerUpdate signal)'
          : `polling every ${poll} s`;
    const goal = eventPath ? { label: 'p95 < 1 s', stat: 'p95', limitMs: 1000 } : undefined;
    summarise(
      `b. fill → filled visible, ${label}`,
      visible,
      'pct',
      goal,
      'observed by status queries every ~20 ms + query time',
    );
    summarise(
      `b. fill → filled applied, ${label}`,
      applied,
      'pct',
      goal,
      'from the status updatedAt (workflow task time, ms precision)',
    );
  } finally {
    await stream?.close();
  }
}

// ── c. submission overhead ──────────────────────────────────────────────────────────────────────────

async function benchSubmission(rig: Rig): Promise<void> {
  const settings = settingsWith(300);
  const account = `bench-sub-${randomUUID().slice(0, 8)}`;
  // Warm up the desk and the connection so the first sample does not carry the desk's start.
  await placeOpenOrders(rig, 'alpaca', account, 1, settings);
  const api: number[] = [];
  for (let i = 0; i < SUBMIT_ORDERS; i++) {
    const clientOrderId = `bench-sub-${randomUUID()}`;
    const t0 = now();
    await placeOrder(
      rig.ctx,
      {
        symbol: SYMBOLS[i % SYMBOLS.length]!,
        side: 'buy',
        quantity: '1',
        referencePrice: `${200 + i}.00`,
        clientOrderId,
        broker: 'alpaca',
        account,
      },
      settings,
    );
    const arrived = await until(
      'submit arrival',
      30_000,
      2,
      async () => rig.alpacaBroker.arrivals.get(clientOrderId) ?? null,
    );
    api.push(arrived - t0);
  }
  summarise('c. placeOrder() → broker receives submit', api, 'pct', {
    label: 'p95 < 100 ms',
    stat: 'p95',
    limitMs: 100,
  });

  const cliSamples: number[] = [];
  const env = {
    ...process.env,
    NODE_OPTIONS: '',
    TEMPORAL_ADDRESS: rig.server.address,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: rig.taskQueue,
    FLOWGUARD_ACCOUNT: account,
    FLOWGUARD_CONFIG: '',
    FLOWGUARD_ORDER_POLL_INTERVAL_SECONDS: '300',
  };
  for (let i = 0; i < CLI_ORDERS; i++) {
    const clientOrderId = `bench-cli-${randomUUID()}`;
    const args = ['order', 'place', '--broker', 'alpaca', '--symbol', SYMBOLS[i % SYMBOLS.length]!, '--side', 'sell'];
    args.push('--quantity', '1', '--reference-price', `${300 + i}.00`, '--client-order-id', clientOrderId, '--json');
    const t0 = now();
    const code = await new Promise<number>((resolve) => {
      execFile(process.execPath, [path.join(ROOT, 'bin', 'flowguard.js'), ...args], { env, timeout: 60_000 }, (err) =>
        resolve(err ? (typeof err.code === 'number' ? err.code : 1) : 0),
      );
    });
    if (code !== 0) throw new Error(`flowguard order place exited ${code}`);
    // The CLI returns once the desk started the order workflow; the submit may reach the broker just after.
    const arrived = await until(`CLI order ${clientOrderId} at the broker`, 30_000, 2, async () =>
      Promise.resolve(rig.alpacaBroker.arrivals.get(clientOrderId) ?? null),
    );
    cliSamples.push(arrived - t0);
  }
  summarise(
    'c. spawned `flowguard order place` → broker receives submit',
    cliSamples,
    'pct',
    undefined,
    'includes Node + tsx start-up of the CLI process',
  );
}

// ── main ────────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const started = Date.now();
  const rig = await startRig();
  process.stderr.write(`rig up on ${rig.server.address} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  if (SECTIONS.has('a')) {
    await benchCancelAll(rig, 'alpaca', 25);
    await benchCancelAll(rig, 'paper', 25);
    await benchCancelAll(rig, 'alpaca', 100);
  }
  if (SECTIONS.has('b')) for (const mode of MODES) await benchFillDetection(rig, mode);
  if (SECTIONS.has('c')) await benchSubmission(rig);
  printTable();
  process.stdout.write(
    `\n${os.cpus().length} CPUs, node ${process.version}; reps ${REPS}; total ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
  );
}

runBench(main, () => {
  if (rows.length > 0) printTable();
});
