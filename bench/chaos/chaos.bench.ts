/**
 * Chaos run for the order path (issue 11): a steady order workload on the Alpaca stand-in and on paper while
 * the real worker (`src/worker.ts`, its own process) is SIGKILLed every 5–20 s and 30 % of broker requests
 * fail transiently. At the end it checks what must hold whatever happens:
 *
 *   duplicates at the broker 0 · lost fills 0 · order workflows stuck 0 · workflows with a failed workflow
 *   task 0 · every order terminal and matching the broker · every monitor exit placed at the broker.
 *
 * Everything runs on 127.0.0.1 in this process except the worker and the Temporal dev server (SQLite file):
 *   - the Alpaca stand-in (test/support), faults injected through its own FaultScript (status 503, drop_reply,
 *     delay past the adapter timeout, reset, rate_limit with Retry-After);
 *   - the Polygon stand-in (src/dev) behind a fault proxy: it is the paper broker's market data, so its faults
 *     are the paper broker's faults. Workload symbols get faults on every route; monitor symbols only on
 *     last-nbbo (the paper broker's quote), so the monitors' own feed stays clean and their exit is decided;
 *   - the workload: orders through the CLI functions (placeOrder, the cancel signal, cancelAll + resetDesk),
 *     fills driven at the stand-in (Alpaca) or by prints through its limit (paper), and position monitors in
 *     auto-exit mode on synthetic sessions (src/dev/market-simulator.ts) whose exit must place a protective SELL.
 *
 * Run:  npm run bench:chaos [-- --quick] [--seed 1] [--kills 100 | --duration 1200] [--fault-rate 0.3]
 *                            [--monitors 2 | --no-monitors] [--cancel-all-every 30] [--order-interval-ms 1500]
 *                            [--settle 180] [--out bench/out/chaos.json]
 * Exit status: 0 when every invariant holds, 1 when one does not (or the run broke), 130 on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startMonitor } from '../../src/cli/monitor';
import { cancelAll, placeOrder, resetDesk } from '../../src/cli/orders';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { generateSyntheticSession, LIVE_TIMELINE } from '../../src/dev/market-simulator';
import { startPolygonStandIn, type PolygonStandIn } from '../../test/support/polygon-stand-in';
import { freePort, resolveTemporalCli, startDevServer } from '../../src/dev/temporal-dev-server';
import { ALWAYS_OPEN_SESSION, AppConfigSchema } from '../../src/domain/config';
import { OrdersConfigSchema } from '../../src/domain/orders/config';
import { isTerminalOrderState, type OrderState } from '../../src/domain/orders/order-state';
import { WorkflowIds } from '../../src/shared/contracts';
import { cancelOrderSignal, orderStatusQuery, type OrderStatus } from '../../src/workflows/order';
import { monitorStateQuery, stopMonitorSignal, type MonitorView } from '../../src/workflows/position-monitor';
import { AlpacaStandIn } from '../../test/support/alpaca-stand-in';
import { type Fault } from '../../test/support/broker-faults';
import { onCleanup, runBench } from '../support/bench-harness';
import { FaultInjector, FaultProxy, polygonRoute, Rng, startPidFileWatchdog, type ChaosFault } from './chaos-support';

// ── options ─────────────────────────────────────────────────────────────────────────────────────────

type Broker = 'alpaca' | 'paper';
const BROKERS: readonly Broker[] = ['alpaca', 'paper'];

interface Options {
  seed: number;
  kills: number;
  durationS: number | null;
  faultRate: number;
  killMinS: number;
  killMaxS: number;
  orderIntervalMs: number;
  cancelAllEvery: number;
  monitors: number;
  settleS: number;
  out: string;
  quick: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const has = (name: string) => argv.includes(`--${name}`);
  const num = (name: string, fallback: number, lo: number, hi: number): number => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v < lo || v > hi) throw new Error(`--${name} must be a number ${lo}–${hi}`);
    return v;
  };
  const known = new Set([
    'quick',
    'no-monitors',
    'seed',
    'kills',
    'duration',
    'fault-rate',
    'kill-min',
    'kill-max',
    'order-interval-ms',
    'cancel-all-every',
    'monitors',
    'settle',
    'out',
  ]);
  for (const a of argv) if (a.startsWith('--') && !known.has(a.slice(2))) throw new Error(`unknown option ${a}`);
  const quick = has('quick');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outIdx = argv.indexOf('--out');
  const o: Options = {
    seed: num('seed', 1, 0, 2 ** 31),
    kills: num('kills', quick ? 10 : 100, 1, 100_000),
    durationS: argv.includes('--duration') ? num('duration', 0, 10, 86_400) : null,
    faultRate: num('fault-rate', 0.3, 0, 1),
    killMinS: num('kill-min', 5, 1, 600),
    killMaxS: num('kill-max', 20, 1, 600),
    orderIntervalMs: num('order-interval-ms', 1500, 100, 60_000),
    cancelAllEvery: num('cancel-all-every', quick ? 20 : 40, 2, 100_000),
    monitors: has('no-monitors') ? 0 : num('monitors', 2, 0, 8),
    settleS: num('settle', quick ? 120 : 180, 10, 3600),
    out: outIdx >= 0 ? argv[outIdx + 1]! : path.join(ROOT, 'bench', 'out', `chaos-${stamp}.json`),
    quick,
  };
  if (o.killMaxS < o.killMinS) throw new Error('--kill-max must be ≥ --kill-min');
  return o;
}

const ROOT = path.resolve(__dirname, '..', '..');
const ACCOUNT = 'chaos';
/** Monitor exits go to their own desks, so a workload cancel-all never refuses a protective SELL. */
const EXIT_ACCOUNT = 'chaos-exit';
const MONITOR_SYMBOLS = ['TSLA', 'NFLX', 'COIN', 'SHOP', 'ROKU', 'SNAP', 'PLTR', 'UBER'];
const MONITOR_QUANTITY = 500;
/** The Alpaca adapter's timeout in the worker; delay faults outlast it. */
const ALPACA_TIMEOUT_MS = 3000;
/** The Polygon client's fixed timeout (src/market-data/polygon-rest.ts). */
const POLYGON_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (line: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(5)}s] ${line}\n`);

async function withTimeout<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const errText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 300);

// ── the worker, killed and restarted ────────────────────────────────────────────────────────────────

class WorkerSupervisor {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  readonly startMs: number[] = [];
  kills = 0;
  /** Exits nobody asked for (a crash of the worker itself is a finding, not chaos). */
  readonly unexpectedExits: string[] = [];
  private killing = false;
  private readonly logStream: fs.WriteStream;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly pidFile: string,
    logFile: string,
  ) {
    this.logStream = fs.createWriteStream(logFile, { flags: 'a' });
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns the real worker entry point and waits until it polls (as test/support/worker-process.ts does). */
  async start(): Promise<void> {
    const started = Date.now();
    // node with tsx's loader, not the tsx CLI: the CLI would run the worker in a child that survives SIGKILL.
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'worker.ts')], {
      cwd: ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    fs.writeFileSync(this.pidFile, String(child.pid ?? ''));
    let tail = '';
    let ready = false;
    const onData = (b: Buffer) => {
      this.logStream.write(b);
      if (!ready) {
        tail = (tail + b.toString()).slice(-20_000);
        ready = tail.includes('flowguard worker polling');
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (!this.killing) this.unexpectedExits.push(`exit ${code ?? signal} after ${Date.now() - started} ms`);
        this.logStream.write(`\n--- worker ${child.pid} exited (${code ?? signal}) ---\n`);
        resolve();
      }),
    );
    const deadline = Date.now() + 90_000;
    while (!ready) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`worker exited during start-up: ${tail.slice(-2000)}`);
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`worker did not poll within 90 s: ${tail.slice(-2000)}`);
      }
      await sleep(50);
    }
    this.startMs.push(Date.now() - started);
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.killing = true;
    this.child!.kill('SIGKILL');
    await this.exited;
    this.killing = false;
    this.kills++;
  }

  /** The graceful stop at the end (SIGTERM, SIGKILL after 15 s). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.killing = true;
    const child = this.child!;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
    fs.writeFileSync(this.pidFile, '');
    this.logStream.end();
  }

  /** Resolves when the current worker exits (a crash of its own ends the killer's wait early). */
  waitExit(): Promise<void> {
    return this.exited;
  }
}

// ── orders the workload placed ──────────────────────────────────────────────────────────────────────

type Fate = 'fill' | 'partial_then_fill' | 'partial_then_cancel' | 'cancel' | 'rest';
const FATE_WEIGHTS: Readonly<Record<Fate, number>> = {
  fill: 0.35,
  partial_then_fill: 0.1,
  partial_then_cancel: 0.1,
  cancel: 0.25,
  rest: 0.2,
};

interface Step {
  readonly kind: 'fill_all' | 'fill_half' | 'cancel';
  readonly at: number;
}

interface PlacedRecord {
  readonly cid: string;
  readonly broker: Broker;
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  readonly quantity: number;
  readonly referencePrice: string;
  readonly fate: Fate;
  limitPrice: string | null;
  placeError: string | null;
  readonly steps: Step[];
  readonly notes: string[];
}

/** A broker's view of one order, reduced to what the checks compare. */
interface BrokerOrderView {
  readonly brokerOrderId: string;
  readonly status: string;
  readonly quantity: number;
  readonly filled: number;
  readonly limitPrice: string;
  readonly side: string;
}

interface PaperFileOrder {
  brokerOrderId: string;
  clientOrderId: string;
  status: string;
  quantity: number;
  side: string;
  limitPrice: string;
  executions: { quantity: number }[];
}

/** Reads the paper broker's state file (written atomically by the worker, so a read never sees half of it). */
class PaperBook {
  private cache: { mtimeMs: number; orders: Record<string, PaperFileOrder> } | null = null;
  constructor(readonly file: string) {}

  orders(): Record<string, PaperFileOrder> {
    let mtimeMs: number;
    try {
      mtimeMs = fs.statSync(this.file).mtimeMs;
    } catch {
      return {};
    }
    if (this.cache?.mtimeMs !== mtimeMs) {
      try {
        const state = JSON.parse(fs.readFileSync(this.file, 'utf8')) as { orders: Record<string, PaperFileOrder> };
        this.cache = { mtimeMs, orders: state.orders };
      } catch {
        return this.cache?.orders ?? {};
      }
    }
    return this.cache.orders;
  }

  view(cid: string): BrokerOrderView | null {
    const o = this.orders()[cid];
    if (!o) return null;
    return {
      brokerOrderId: o.brokerOrderId,
      status: o.status,
      quantity: o.quantity,
      filled: o.executions.reduce((s, e) => s + e.quantity, 0),
      limitPrice: o.limitPrice,
      side: o.side,
    };
  }
}

const ALPACA_OPEN = new Set(['new', 'accepted', 'pending_new', 'partially_filled', 'accepted_for_bidding', 'held']);
const PAPER_OPEN = new Set(['new', 'partially_filled']);

function alpacaView(alpaca: AlpacaStandIn, cid: string): BrokerOrderView | null {
  const o = alpaca.orderByClientId(cid);
  if (!o) return null;
  return {
    brokerOrderId: o.id,
    status: o.status,
    quantity: Number(o.qty),
    filled: Number(o.filled_qty),
    limitPrice: o.limit_price,
    side: o.side,
  };
}

/** flowguard's state for a broker status (both brokers' vocabularies). */
function expectedState(status: string): OrderState | null {
  switch (status) {
    case 'new':
    case 'accepted':
    case 'pending_new':
    case 'accepted_for_bidding':
    case 'held':
      return 'queued';
    case 'partially_filled':
      return 'partially_filled';
    case 'filled':
      return 'filled';
    case 'canceled':
      return 'cancelled';
    case 'pending_cancel':
      return 'pending_cancel';
    case 'expired':
      return 'expired';
    case 'rejected':
      return 'rejected';
    default:
      return null;
  }
}

// ── the rig ─────────────────────────────────────────────────────────────────────────────────────────

interface Rig {
  readonly client: Client;
  readonly ctx: CliContext;
  readonly alpaca: AlpacaStandIn;
  readonly polygon: PolygonStandIn;
  readonly paper: PaperBook;
  readonly worker: WorkerSupervisor;
  readonly alpacaFaults: FaultInjector;
  readonly paperFaults: FaultInjector;
  readonly workDir: string;
}

async function startRig(opts: Options, workDir: string): Promise<Rig> {
  const [cli, port] = await Promise.all([resolveTemporalCli(), freePort()]);
  const server = await startDevServer({
    cli,
    port,
    headless: true,
    dbFile: path.join(workDir, 'temporal.sqlite'),
    watchdog: true,
  });
  onCleanup(() => server.stop());
  log(`Temporal dev server on ${server.address} (SQLite ${path.join(workDir, 'temporal.sqlite')})`);

  const alpaca = await AlpacaStandIn.start({ buyingPower: '1000000000000' });
  onCleanup(() => alpaca.close());
  // Faults come from seeded streams of their own, so the kill timing or the workload does not shift them.
  const alpacaFaults = new FaultInjector(opts.seed * 7 + 1, opts.faultRate, [
    ALPACA_TIMEOUT_MS + 500,
    ALPACA_TIMEOUT_MS + 3000,
  ]);
  const script = alpaca.faults;
  const scripted = script.take.bind(script);
  // The stand-in asks its FaultScript once per request: a scripted fault first, else the injector's pick, in
  // the stand-in's own fault vocabulary (so its request log records what was injected).
  script.take = (route: string): Fault | undefined => scripted(route) ?? toStandInFault(alpacaFaults.decide(route));

  const polygon = await startPolygonStandIn({ clock: { mode: 'replay', speed: 1 } });
  onCleanup(() => polygon.close());
  polygon.advanceTo(BigInt(Date.now()) * 1_000_000n);
  const paperFaults = new FaultInjector(opts.seed * 7 + 2, opts.faultRate, [
    POLYGON_TIMEOUT_MS + 500,
    POLYGON_TIMEOUT_MS + 2000,
  ]);
  const proxy = new FaultProxy(new URL(polygon.restUrl), (pathname) => {
    const { route, symbol } = polygonRoute(pathname);
    if (!symbol) return null;
    // Monitor symbols: only the paper broker's quote route, so the monitors' feed itself stays clean.
    if (MONITOR_SYMBOLS.includes(symbol) && route !== 'last-nbbo') return null;
    return paperFaults.decide(route);
  });
  await proxy.listen();
  onCleanup(() => proxy.close());

  log('bundling the workflows once, so each restarted worker starts without webpack...');
  const bundlePath = path.join(workDir, 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: QUIET });
  fs.writeFileSync(bundlePath, code);

  const dataDir = path.join(workDir, 'paper');
  fs.mkdirSync(dataDir, { recursive: true });
  const taskQueue = 'flowguard-chaos';
  const pidFile = path.join(workDir, 'worker.pid');
  startPidFileWatchdog(pidFile);
  const worker = new WorkerSupervisor(
    {
      ...process.env,
      NODE_OPTIONS: '',
      MALLOC_ARENA_MAX: '2',
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: taskQueue,
      FLOWGUARD_WORKFLOW_BUNDLE: bundlePath,
      FLOWGUARD_CONFIG: '',
      FLOWGUARD_DATA_DIR: dataDir,
      FLOWGUARD_METRICS_PORT: '0',
      // info: the start-up line 'flowguard worker polling' is how the bench knows the worker is up.
      FLOWGUARD_LOG_LEVEL: 'info',
      // The stand-ins are local: a real plan's 5 requests/s would throttle the paper broker and the monitors.
      FLOWGUARD_MARKET_DATA_RATE_LIMIT_PER_SECOND: '100',
      ALPACA_KEY_ID: alpaca.keyId,
      ALPACA_SECRET_KEY: alpaca.secretKey,
      ALPACA_BASE_URL: alpaca.baseUrl,
      ALPACA_TIMEOUT_MS: String(ALPACA_TIMEOUT_MS),
      POLYGON_API_KEY: polygon.apiKey,
      POLYGON_BASE_URL: proxy.url,
      POLYGON_WS_URL: polygon.wsUrl,
    },
    pidFile,
    path.join(workDir, 'worker.log'),
  );
  onCleanup(() => worker.stop());

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
  return {
    client,
    ctx,
    alpaca,
    polygon,
    paper: new PaperBook(path.join(dataDir, 'paper-broker.json')),
    worker,
    alpacaFaults,
    paperFaults,
    workDir,
  };
}

/** webpack's chatter would bury the bench's own lines. */
const QUIET = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

function toStandInFault(f: ChaosFault | null): Fault | undefined {
  switch (f?.kind) {
    case undefined:
      return undefined;
    case 'status_503':
      return { kind: 'status', status: 503, body: { code: 50310000, message: 'service unavailable' } };
    case 'drop_reply':
      return { kind: 'drop_reply' };
    case 'delay':
      return { kind: 'delay', ms: f.value };
    case 'reset':
      return { kind: 'reset' };
    case 'rate_limit':
      return { kind: 'rate_limit', retryAfterSeconds: f.value };
  }
}

// ── the workload ────────────────────────────────────────────────────────────────────────────────────

/** Order settings as a user gets them (retries, pricing), with a 5 s status poll so the run settles sooner. */
const ORDER_SETTINGS = orderSettingsFromConfig(OrdersConfigSchema.parse({ pollIntervalSeconds: 5 }));
/** Monitors as in the demo: 1 s polls, always in session; the protective SELL crosses to the bid. */
const MONITOR_CONFIG = AppConfigSchema.parse({
  marketData: { pollIntervalSeconds: 1, sessions: [ALWAYS_OPEN_SESSION], rateLimitPerSecond: 100 },
  orders: { pollIntervalSeconds: 2, sellOffset: '0' },
});

/** One fresh symbol per order (X + three letters), so prints and the desk's intent guard touch one order only. */
function workloadSymbol(n: number): string {
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return `X${a[Math.floor(n / 676) % 26]}${a[Math.floor(n / 26) % 26]}${a[n % 26]}`;
}

const cents = (price: string) => Math.round(Number(price) * 100);
const nowNs = () => BigInt(Date.now()) * 1_000_000n;

interface CancelAllRecord {
  readonly broker: Broker;
  readonly ms: number;
  readonly outcomes: Record<string, number>;
  readonly error: string | null;
}

interface MonitorRecord {
  readonly positionId: string;
  readonly symbol: string;
  readonly broker: Broker;
  readonly startedAt: number;
  readonly sessionEndsAt: number;
  error: string | null;
}

class Workload {
  readonly placed: PlacedRecord[] = [];
  readonly cancelAlls: CancelAllRecord[] = [];
  readonly monitors: MonitorRecord[] = [];
  private readonly halted = new Set<Broker>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly rng: Rng;
  private stopped = false;
  private tradeSeq = 0;

  constructor(
    private readonly rig: Rig,
    private readonly opts: Options,
  ) {
    this.rng = new Rng(opts.seed * 7 + 3);
  }

  stop(): void {
    this.stopped = true;
  }

  /** Places orders until stopped; starts a cancel-all every N orders and the monitors on their schedule. */
  async run(monitorStarts: readonly number[]): Promise<void> {
    const driver = this.driveSteps();
    let n = 0;
    const pendingMonitors = [...monitorStarts];
    while (!this.stopped) {
      while (pendingMonitors.length > 0 && Date.now() >= pendingMonitors[0]!) {
        pendingMonitors.shift();
        this.track(this.startMonitor(this.monitors.length));
      }
      const brokers = BROKERS.filter((b) => !this.halted.has(b));
      if (brokers.length > 0) {
        this.track(this.placeOne(n, this.rng.pick(brokers)));
        n++;
        if (n % this.opts.cancelAllEvery === 0) {
          const broker = BROKERS[(n / this.opts.cancelAllEvery) % 2]!;
          if (!this.halted.has(broker)) this.track(this.cancelAllOn(broker));
        }
      }
      await sleep(this.rng.int(this.opts.orderIntervalMs / 2, (this.opts.orderIntervalMs * 3) / 2));
    }
    await Promise.allSettled([...this.inFlight]);
    this.drivingUntil = Date.now() + this.opts.settleS * 1000;
    void driver;
  }

  /** The step driver keeps going through the settle phase (Alpaca exits still need their fill). */
  drivingUntil = Number.POSITIVE_INFINITY;

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async placeOne(n: number, broker: Broker): Promise<void> {
    const rng = this.rng;
    const symbol = workloadSymbol(n);
    const side = rng.next() < 0.5 ? 'buy' : 'sell';
    const quantity = rng.int(1, 10) * 10;
    const refCents = rng.int(2000, 30000);
    const referencePrice = (refCents / 100).toFixed(2);
    const fate = rng.weighted(FATE_WEIGHTS);
    const firstAt = Date.now() + rng.int(2000, 8000);
    const secondAt = firstAt + rng.int(3000, 10000);
    const steps: Step[] =
      fate === 'fill'
        ? [{ kind: 'fill_all', at: firstAt }]
        : fate === 'partial_then_fill'
          ? [
              { kind: 'fill_half', at: firstAt },
              { kind: 'fill_all', at: secondAt },
            ]
          : fate === 'partial_then_cancel'
            ? [
                { kind: 'fill_half', at: firstAt },
                { kind: 'cancel', at: secondAt },
              ]
            : fate === 'cancel'
              ? [{ kind: 'cancel', at: firstAt }]
              : [];
    const rec: PlacedRecord = {
      cid: `chaos-${this.opts.seed}-${n}-${broker}`,
      broker,
      symbol,
      side,
      quantity,
      referencePrice,
      fate,
      limitPrice: null,
      placeError: null,
      steps,
      notes: [],
    };
    this.placed.push(rec);
    if (broker === 'paper') {
      // A two-sided market 1 % wide around the reference: limits (±15/10 bps) rest until a print goes through.
      const bid = ((refCents * 0.99) / 100).toFixed(2);
      const ask = ((refCents * 1.01) / 100).toFixed(2);
      this.rig.polygon.publish(symbol, {
        quotes: [{ sip_timestamp: nowNs(), bid_price: Number(bid), ask_price: Number(ask), bid_size: 5, ask_size: 5 }],
      });
    }
    try {
      const placed = await withTimeout(
        `placeOrder ${rec.cid}`,
        90_000,
        placeOrder(
          this.rig.ctx,
          {
            symbol,
            side,
            quantity: String(quantity),
            referencePrice,
            clientOrderId: rec.cid,
            broker,
            account: ACCOUNT,
          },
          ORDER_SETTINGS,
        ),
      );
      rec.limitPrice = placed.limitPrice;
      if (placed.existing) rec.notes.push(`desk returned an existing order: ${placed.existing}`);
    } catch (err) {
      rec.placeError = errText(err);
    }
  }

  private async cancelAllOn(broker: Broker): Promise<void> {
    this.halted.add(broker);
    const started = Date.now();
    const outcomes: Record<string, number> = {};
    let error: string | null = null;
    try {
      const result = await cancelAll(
        this.rig.ctx,
        { broker, account: ACCOUNT, reason: 'chaos bench', wait: true, timeoutMs: 120_000 },
        ORDER_SETTINGS,
      );
      for (const r of Object.values(result.run?.results ?? {})) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    } catch (err) {
      error = errText(err);
    }
    const ms = Date.now() - started;
    // The kill switch stays engaged until reset: `flowguard kill-switch reset`.
    for (let attempt = 0; ; attempt++) {
      try {
        await withTimeout('resetDesk', 60_000, resetDesk(this.rig.ctx, { broker, account: ACCOUNT }, ORDER_SETTINGS));
        break;
      } catch (err) {
        if (attempt >= 5) {
          error = `${error ?? ''} reset failed: ${errText(err)}`;
          break;
        }
        await sleep(2000);
      }
    }
    this.cancelAlls.push({ broker, ms, outcomes, error });
    log(
      `cancel-all on ${broker}: ${JSON.stringify(outcomes)} in ${(ms / 1000).toFixed(1)} s${error ? ` (${error})` : ''}`,
    );
    this.halted.delete(broker);
  }

  private async startMonitor(i: number): Promise<void> {
    const symbol = MONITOR_SYMBOLS[i % MONITOR_SYMBOLS.length]!;
    const broker = BROKERS[(i + 1) % 2]!; // paper first, then Alpaca
    const anchorMs = Date.now();
    const session = generateSyntheticSession({ symbol, seed: this.opts.seed * 1000 + i, anchorMs });
    this.rig.polygon.loadScenario(symbol, { trades: session.trades, quotes: session.quotes });
    // Re-anchors the replay clock on the wall clock: history published now, the live part as it comes due.
    this.rig.polygon.advanceTo(session.anchorNs);
    const rec: MonitorRecord = {
      positionId: `chaos-${this.opts.seed}-m${i}-${symbol.toLowerCase()}`,
      symbol,
      broker,
      startedAt: anchorMs,
      sessionEndsAt: anchorMs + LIVE_TIMELINE.endMs,
      error: null,
    };
    this.monitors.push(rec);
    try {
      await withTimeout(
        `monitor ${rec.positionId}`,
        60_000,
        startMonitor(
          this.rig.ctx,
          {
            symbol,
            quantity: String(MONITOR_QUANTITY),
            entryPrice: '250.00',
            positionId: rec.positionId,
            autoExit: true,
            dataMode: 'poll',
            broker,
            account: EXIT_ACCOUNT,
          },
          MONITOR_CONFIG,
        ),
      );
      log(
        `monitor ${rec.positionId} started (auto-exit to ${broker}; session ends in ${LIVE_TIMELINE.endMs / 1000} s)`,
      );
    } catch (err) {
      rec.error = errText(err);
    }
  }

  /** Applies due fills and cancels: the market and the user acting on orders while the worker dies. */
  private async driveSteps(): Promise<void> {
    const cancelled = new Set<string>();
    const exitsFilled = new Set<string>();
    while (Date.now() < this.drivingUntil) {
      try {
        await this.driveOnce(cancelled, exitsFilled);
      } catch (err) {
        log(`step driver: ${errText(err)}`);
      }
      await sleep(250);
    }
  }

  private async driveOnce(cancelled: Set<string>, exitsFilled: Set<string>): Promise<void> {
    {
      const now = Date.now();
      for (const rec of this.placed) {
        const step = rec.steps[0];
        if (!step || step.at > now || rec.limitPrice === null) continue;
        if (step.kind === 'cancel') {
          rec.steps.shift();
          if (cancelled.has(rec.cid)) continue;
          cancelled.add(rec.cid);
          try {
            await this.rig.client.workflow
              .getHandle(WorkflowIds.order(rec.cid))
              .signal(cancelOrderSignal, { reason: 'chaos bench cancel' });
          } catch (err) {
            rec.notes.push(`cancel signal failed: ${errText(err)}`);
          }
          continue;
        }
        const view = rec.broker === 'alpaca' ? alpacaView(this.rig.alpaca, rec.cid) : this.rig.paper.view(rec.cid);
        if (!view) {
          // Not at the broker (yet): a submit still retrying. Try again for a minute, then let it be.
          if (now - step.at > 60_000) {
            rec.steps.length = 0;
            rec.notes.push('never seen at the broker while fills were due');
          }
          continue;
        }
        if (!(rec.broker === 'alpaca' ? ALPACA_OPEN : PAPER_OPEN).has(view.status)) {
          rec.steps.length = 0; // already terminal at the broker (a cancel or the kill switch got there first)
          continue;
        }
        const left = view.quantity - view.filled;
        const qty = step.kind === 'fill_all' ? left : Math.max(1, Math.floor(left / 2));
        rec.steps.shift();
        if (qty <= 0) continue;
        this.fill(rec.broker, rec.symbol, view, qty);
      }
      // Alpaca has no market here: the bench fills each protective SELL a moment after it rests.
      for (const m of this.monitors) {
        const cid = `exit-${m.positionId}`;
        if (m.broker !== 'alpaca' || exitsFilled.has(cid)) continue;
        const view = alpacaView(this.rig.alpaca, cid);
        if (view && ALPACA_OPEN.has(view.status)) {
          this.fill('alpaca', m.symbol, view, view.quantity - view.filled);
          exitsFilled.add(cid);
        }
      }
    }
  }

  private fill(broker: Broker, symbol: string, view: BrokerOrderView, qty: number): void {
    if (broker === 'alpaca') {
      try {
        this.rig.alpaca.fill(view.brokerOrderId, qty, view.limitPrice);
      } catch (err) {
        log(`stand-in refused a fill: ${errText(err)}`);
      }
      return;
    }
    // A print one cent through the limit fills a resting paper order for its size (src/brokers/paper/matching.ts).
    const through = cents(view.limitPrice) + (view.side === 'buy' ? -1 : 1);
    const ts = nowNs();
    this.rig.polygon.publish(symbol, {
      trades: [
        {
          price: through / 100,
          size: qty,
          sip_timestamp: ts,
          participant_timestamp: ts,
          exchange: 12,
          conditions: [],
          id: `chaos-${++this.tradeSeq}`,
          sequence_number: this.tradeSeq,
          tape: 3,
        },
      ],
    });
  }
}

// ── the end: settle, then check ─────────────────────────────────────────────────────────────────────

/** Asks every order the bench placed that is not terminal to cancel, so nothing should be left running. */
async function cancelEverythingOpen(rig: Rig, placed: readonly PlacedRecord[]): Promise<number> {
  let asked = 0;
  for (const rec of placed) {
    const handle = rig.client.workflow.getHandle(WorkflowIds.order(rec.cid));
    try {
      const desc = await handle.describe();
      if (desc.status.name !== 'RUNNING') continue;
      await handle.signal(cancelOrderSignal, { reason: 'chaos bench: end of run' });
      asked++;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) rec.notes.push(`final cancel failed: ${errText(err)}`);
    }
  }
  return asked;
}

async function runningOrderWorkflows(client: Client): Promise<number> {
  const r = await client.workflow.count(`WorkflowType = 'orderWorkflow' AND ExecutionStatus = 'Running'`);
  return r.count;
}

interface WorkflowRow {
  readonly workflowId: string;
  readonly type: string;
  readonly status: string;
}

async function listWorkflows(client: Client): Promise<WorkflowRow[]> {
  const rows: WorkflowRow[] = [];
  for await (const wf of client.workflow.list({ pageSize: 500 })) {
    rows.push({ workflowId: wf.workflowId, type: wf.type, status: wf.status.name });
  }
  return rows;
}

const UNHANDLED_COMMAND = temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND;

/** WorkflowTaskFailed events in a workflow's history, other than the benign UNHANDLED_COMMAND. */
async function failedTasks(client: Client, workflowId: string): Promise<{ count: number; first: string | null }> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  let count = 0;
  let first: string | null = null;
  for (const e of history.events ?? []) {
    const a = e.workflowTaskFailedEventAttributes;
    if (!a || a.cause === UNHANDLED_COMMAND) continue;
    count++;
    first ??= `${temporal.api.enums.v1.WorkflowTaskFailedCause[a.cause ?? 0] ?? a.cause}: ${(a.failure?.message ?? '').slice(0, 200)}`;
  }
  if (count > 0 && process.env.CHAOS_HISTORY_DIR) {
    // Kept for diagnosis: replay it with Worker.runReplayHistory against the bundle that failed.
    fs.mkdirSync(process.env.CHAOS_HISTORY_DIR, { recursive: true });
    const file = path.join(process.env.CHAOS_HISTORY_DIR, `${workflowId.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify(
        temporal.api.history.v1.History.toObject(history as temporal.api.history.v1.History, {
          longs: String,
          enums: String,
          bytes: String,
        }),
      ),
    );
  }
  return { count, first };
}

/** The order workflow's own account: its result when closed, its status query while running. */
async function orderView(
  client: Client,
  row: WorkflowRow,
): Promise<{ view: OrderStatus | null; error: string | null }> {
  const handle = client.workflow.getHandle(row.workflowId);
  try {
    if (row.status === 'COMPLETED')
      return { view: (await withTimeout('result', 8000, handle.result())) as OrderStatus, error: null };
    if (row.status === 'RUNNING')
      return { view: await withTimeout('status query', 8000, handle.query(orderStatusQuery)), error: null };
    return { view: null, error: `workflow ${row.status.toLowerCase()}` };
  } catch (err) {
    return { view: null, error: errText(err) };
  }
}

interface OrderCheck {
  readonly cid: string;
  readonly broker: string;
  readonly origin: 'workload' | 'monitor-exit' | 'unknown';
  readonly workflow: string;
  readonly state: string | null;
  readonly filled: number | null;
  readonly brokerStatus: string | null;
  readonly brokerFilled: number;
  readonly verdict: 'ok' | 'stuck' | 'mismatch' | 'unknown';
  readonly why: string | null;
  readonly failedTasks: number;
}

function judge(
  wfStatus: string | null,
  view: OrderStatus | null,
  viewError: string | null,
  broker: BrokerOrderView | null,
): { verdict: OrderCheck['verdict']; why: string | null } {
  const brokerFilled = broker?.filled ?? 0;
  if (wfStatus === null) {
    return broker
      ? { verdict: 'mismatch', why: `at the broker (${broker.status}) with no order workflow` }
      : { verdict: 'unknown', why: 'no workflow and nothing at the broker' };
  }
  if (!view) return { verdict: wfStatus === 'RUNNING' ? 'stuck' : 'unknown', why: viewError };
  if (wfStatus === 'RUNNING' || !isTerminalOrderState(view.state)) {
    return {
      verdict: 'stuck',
      why: `still ${view.state}${broker ? ` (broker: ${broker.status})` : ' (not at the broker)'}`,
    };
  }
  if (view.filledQuantity !== brokerFilled) {
    return { verdict: 'mismatch', why: `filled ${view.filledQuantity} at flowguard, ${brokerFilled} at the broker` };
  }
  if (!broker) {
    return view.state === 'filled'
      ? { verdict: 'mismatch', why: 'filled at flowguard, unknown to the broker' }
      : { verdict: 'ok', why: null };
  }
  const expected = expectedState(broker.status);
  // A cancelled order keeps its partial fills; flowguard may call it cancelled (filled quantities agree above).
  if (expected === view.state) return { verdict: 'ok', why: null };
  return { verdict: 'mismatch', why: `${view.state} at flowguard, ${broker.status} at the broker` };
}

interface Figures {
  readonly run: Record<string, unknown>;
  readonly invariants: Record<string, { readonly value: number; readonly ok: boolean }>;
  readonly details: Record<string, unknown>;
}

async function computeFigures(
  rig: Rig,
  w: Workload,
  opts: Options,
  runInfo: Record<string, unknown>,
): Promise<Figures> {
  const rows = await listWorkflows(rig.client);
  const orderRows = new Map(rows.filter((r) => r.type === 'orderWorkflow').map((r) => [r.workflowId, r]));
  const placedByCid = new Map(w.placed.map((p) => [p.cid, p]));
  const exitCids = new Map(w.monitors.map((m) => [`exit-${m.positionId}`, m]));

  // Every client order id anyone could have created: placed, at either broker, or with an order workflow.
  const alpacaOrders = rig.alpaca.orders();
  const paperOrders = rig.paper.orders();
  const cids = new Set<string>([
    ...placedByCid.keys(),
    ...alpacaOrders.map((o) => o.client_order_id),
    ...Object.keys(paperOrders),
    ...[...orderRows.keys()].map((id) => id.replace(/^order:/, '')),
  ]);

  // Duplicates: more than one broker order for one client order id, or a broker order nobody asked for.
  const perCid = new Map<string, number>();
  for (const o of alpacaOrders) perCid.set(o.client_order_id, (perCid.get(o.client_order_id) ?? 0) + 1);
  const extraSameId = [...perCid.values()].reduce((s, n) => s + Math.max(0, n - 1), 0);
  const bothBrokers = Object.keys(paperOrders).filter((c) => perCid.has(c));
  const foreign = [...alpacaOrders.map((o) => o.client_order_id), ...Object.keys(paperOrders)].filter(
    (c) => !placedByCid.has(c) && !exitCids.has(c),
  );
  const duplicates = extraSameId + bothBrokers.length + foreign.length;

  const checks: OrderCheck[] = [];
  let lostShares = 0;
  let lostOrders = 0;
  let phantomShares = 0;
  const wftFailed: { workflowId: string; count: number; first: string | null }[] = [];
  for (const row of rows) {
    const f = await failedTasks(rig.client, row.workflowId).catch(() => ({ count: 0, first: null }));
    if (f.count > 0) wftFailed.push({ workflowId: row.workflowId, ...f });
  }
  const failedById = new Map(wftFailed.map((f) => [f.workflowId, f.count]));

  for (const cid of cids) {
    const rec = placedByCid.get(cid);
    const broker: string =
      rec?.broker ??
      (perCid.has(cid) ? 'alpaca' : paperOrders[cid] ? 'paper' : (exitCids.get(cid)?.broker ?? 'unknown'));
    const bview = broker === 'alpaca' ? alpacaView(rig.alpaca, cid) : broker === 'paper' ? rig.paper.view(cid) : null;
    const row = orderRows.get(WorkflowIds.order(cid)) ?? null;
    const { view, error } = row ? await orderView(rig.client, row) : { view: null, error: 'no order workflow' };
    const { verdict, why } = judge(row?.status ?? null, view, error, bview);
    const brokerFilled = bview?.filled ?? 0;
    const wfFilled = view?.filledQuantity ?? 0;
    if (brokerFilled > wfFilled) {
      lostShares += brokerFilled - wfFilled;
      lostOrders++;
    }
    if (view && wfFilled > brokerFilled) phantomShares += wfFilled - brokerFilled;
    // A placement that failed and left nothing anywhere is the desk refusing or timing out: not an order.
    if (!row && !bview && rec?.placeError) continue;
    checks.push({
      cid,
      broker,
      origin: rec ? 'workload' : exitCids.has(cid) ? 'monitor-exit' : 'unknown',
      workflow: row?.status ?? 'none',
      state: view?.state ?? null,
      filled: view?.filledQuantity ?? null,
      brokerStatus: bview?.status ?? null,
      brokerFilled,
      verdict,
      why,
      failedTasks: row ? (failedById.get(row.workflowId) ?? 0) : 0,
    });
  }

  // Monitors: the exit each must produce, and what the broker has.
  const monitorChecks = [];
  for (const m of w.monitors) {
    const id = WorkflowIds.position(m.positionId);
    let mv: MonitorView | null = null;
    let error: string | null = m.error;
    try {
      mv = await withTimeout('monitor query', 15_000, rig.client.workflow.getHandle(id).query(monitorStateQuery));
    } catch (err) {
      error ??= errText(err);
    }
    const cid = `exit-${m.positionId}`;
    const bview = m.broker === 'alpaca' ? alpacaView(rig.alpaca, cid) : rig.paper.view(cid);
    monitorChecks.push({
      positionId: m.positionId,
      symbol: m.symbol,
      broker: m.broker,
      state: mv?.state ?? null,
      alerts: mv?.alertTotal ?? null,
      exitSignal: mv?.exitSignal ? mv.exitSignal.rule : null,
      exitOrder: mv?.exitOrder ? `${mv.exitOrder.state}, filled ${mv.exitOrder.filledQuantity}` : null,
      exitAtBroker: bview ? `${bview.status}, filled ${bview.filled}/${bview.quantity}` : null,
      placed: bview !== null,
      filled: bview !== null && bview.filled === bview.quantity,
      error,
    });
  }

  const count = (v: OrderCheck['verdict']) => checks.filter((c) => c.verdict === v).length;
  const byBroker = (b: Broker) => w.placed.filter((p) => p.broker === b);
  const tally = (xs: readonly string[]) =>
    xs.reduce<Record<string, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});
  const exitsExpected = w.monitors.filter((m) => m.error === null).length;
  const exitsPlaced = monitorChecks.filter((m) => m.placed).length;
  const invariants = {
    'duplicates at the broker': { value: duplicates, ok: duplicates === 0 },
    'lost fills (orders)': { value: lostOrders, ok: lostOrders === 0 },
    'order workflows stuck': { value: count('stuck'), ok: count('stuck') === 0 },
    'workflows with failed workflow tasks': { value: wftFailed.length, ok: wftFailed.length === 0 },
    'orders disagreeing with the broker': { value: count('mismatch'), ok: count('mismatch') === 0 },
    'orders with no workflow account': { value: count('unknown'), ok: count('unknown') === 0 },
    'monitor exits missing at the broker': { value: exitsExpected - exitsPlaced, ok: exitsPlaced === exitsExpected },
  };
  return {
    run: {
      ...runInfo,
      seed: opts.seed,
      faultRate: opts.faultRate,
      kills: rig.worker.kills,
      workerStartMs: summary(rig.worker.startMs),
      unexpectedWorkerExits: rig.worker.unexpectedExits,
      ordersPlaced: { alpaca: byBroker('alpaca').length, paper: byBroker('paper').length },
      placementErrors: w.placed.filter((p) => p.placeError).length,
      // Placed a moment after a cancel-all engaged the kill switch: refused, as the desk must.
      refusedByKillSwitch: w.placed.filter((p) => p.placeError?.startsWith('OrderRefusedError')).length,
      fates: tally(w.placed.map((p) => p.fate)),
      faultsInjected: {
        alpaca: {
          requests: rig.alpacaFaults.requests,
          faults: rig.alpacaFaults.total(),
          byRouteAndKind: rig.alpacaFaults.injected,
        },
        paperMarketData: {
          requests: rig.paperFaults.requests,
          faults: rig.paperFaults.total(),
          byRouteAndKind: rig.paperFaults.injected,
        },
      },
      // More submits than orders: retries and lookups the client order id made harmless.
      alpacaSubmitRequests: rig.alpaca.requestsFor('POST /v2/orders').length,
      alpacaOrdersCreated: rig.alpaca.ordersCreated,
      cancelAlls: w.cancelAlls,
      orderVerdicts: tally(checks.map((c) => c.verdict)),
      finalStates: tally(checks.map((c) => `${c.broker}:${c.state ?? c.workflow}`)),
      lostShares,
      phantomShares,
      monitorExits: {
        expected: exitsExpected,
        placed: exitsPlaced,
        filled: monitorChecks.filter((m) => m.filled).length,
      },
    },
    invariants,
    details: {
      problems: checks.filter((c) => c.verdict !== 'ok'),
      workflowsWithFailedTasks: wftFailed,
      duplicates: { sameClientOrderId: extraSameId, atBothBrokers: bothBrokers, foreign },
      monitors: monitorChecks,
      placementErrors: w.placed.filter((p) => p.placeError).map((p) => ({ cid: p.cid, error: p.placeError })),
      notes: w.placed.filter((p) => p.notes.length > 0).map((p) => ({ cid: p.cid, notes: p.notes })),
    },
  };
}

function summary(xs: readonly number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, min: s[0] ?? null, median: s[Math.floor(s.length / 2)] ?? null, max: s[s.length - 1] ?? null };
}

function cancelAllLine(runs: readonly CancelAllRecord[]): string {
  const outcomes: Record<string, number> = {};
  for (const r of runs) for (const [k, n] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + n;
  const slowest = Math.max(0, ...runs.map((r) => r.ms));
  const errors = runs.filter((r) => r.error).length;
  return `${runs.length} (slowest ${(slowest / 1000).toFixed(1)} s, errors ${errors}; orders ${JSON.stringify(outcomes)})`;
}

function printFigures(f: Figures): void {
  const r = f.run;
  const placed = r.ordersPlaced as { alpaca: number; paper: number };
  const faults = r.faultsInjected as Record<string, { requests: number; faults: number }>;
  const exits = r.monitorExits as { expected: number; placed: number; filled: number };
  const lines: [string, string][] = [
    ['seed / fault rate', `${String(r.seed)} / ${String(r.faultRate)}`],
    [
      'run time',
      `${String(r.runSeconds)} s (workload ${String(r.workloadSeconds)} s, settle ${String(r.settleSeconds)} s)`,
    ],
    ['worker SIGKILLs', String(r.kills)],
    ['worker start (ms)', JSON.stringify(r.workerStartMs)],
    ['unexpected worker exits', String((r.unexpectedWorkerExits as string[]).length)],
    [
      'orders placed',
      `alpaca ${placed.alpaca}, paper ${placed.paper} (refused by the kill switch ${String(r.refusedByKillSwitch)}, ` +
        `other placement errors ${Number(r.placementErrors) - Number(r.refusedByKillSwitch)})`,
    ],
    ['faults injected (alpaca)', `${faults.alpaca!.faults} of ${faults.alpaca!.requests} requests`],
    [
      'faults injected (paper data)',
      `${faults.paperMarketData!.faults} of ${faults.paperMarketData!.requests} requests`,
    ],
    ['cancel-alls', cancelAllLine(r.cancelAlls as CancelAllRecord[])],
    ['order verdicts', JSON.stringify(r.orderVerdicts)],
    ['lost / phantom shares', `${String(r.lostShares)} / ${String(r.phantomShares)}`],
    ['monitor exits', `expected ${exits.expected}, at the broker ${exits.placed}, filled ${exits.filled}`],
  ];
  const w = Math.max(...lines.map(([k]) => k.length), ...Object.keys(f.invariants).map((k) => k.length));
  process.stdout.write('\nchaos run\n');
  for (const [k, v] of lines) process.stdout.write(`  ${k.padEnd(w)}  ${v}\n`);
  process.stdout.write('\ninvariants\n');
  for (const [k, v] of Object.entries(f.invariants)) {
    process.stdout.write(`  ${k.padEnd(w)}  ${String(v.value).padStart(5)}  ${v.ok ? 'ok' : 'VIOLATED'}\n`);
  }
  const problems = (f.details.problems as OrderCheck[]).slice(0, 15);
  if (problems.length > 0) {
    process.stdout.write('\nfirst problems (all in the JSON)\n');
    for (const p of problems)
      process.stdout.write(`  ${p.verdict.padEnd(8)} ${p.broker.padEnd(6)} ${p.cid}: ${p.why ?? ''}\n`);
  }
  const wft = (
    f.details.workflowsWithFailedTasks as { workflowId: string; count: number; first: string | null }[]
  ).slice(0, 5);
  for (const x of wft) process.stdout.write(`  task-failed ${x.workflowId} ×${x.count}: ${x.first ?? ''}\n`);
}

// ── main ────────────────────────────────────────────────────────────────────────────────────────────

let figuresPrinted = false;

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowguard-chaos-'));
  const logDir = opts.out.replace(/\.json$/, '');
  onCleanup(async () => {
    // Keep the worker log next to the figures; the database and bundle go.
    fs.mkdirSync(logDir, { recursive: true });
    for (const f of ['worker.log']) {
      if (fs.existsSync(path.join(workDir, f))) fs.copyFileSync(path.join(workDir, f), path.join(logDir, f));
    }
    fs.rmSync(workDir, { recursive: true, force: true });
  });
  log(
    `chaos: seed ${opts.seed}, ${opts.durationS ? `${opts.durationS} s` : `${opts.kills} kills`} every ${opts.killMinS}–${opts.killMaxS} s, ` +
      `${opts.faultRate * 100} % broker faults, ${opts.monitors} monitor(s)`,
  );
  const rig = await startRig(opts, workDir);
  await rig.worker.start();
  log(`worker polling (first start ${rig.worker.startMs[0]} ms)`);

  // The workload's length is known only roughly (kills × mean interval): monitors start early enough that
  // each session (70 s) ends before the workload stops.
  const meanKillMs = ((opts.killMinS + opts.killMaxS) / 2) * 1000;
  const plannedMs = opts.durationS ? opts.durationS * 1000 : opts.kills * (meanKillMs + 5000);
  const lastStart = Math.max(0, plannedMs - LIVE_TIMELINE.endMs - 20_000);
  const monitorStarts = Array.from(
    { length: opts.monitors },
    (_, i) => Date.now() + 3000 + (opts.monitors > 1 ? (i * lastStart) / (opts.monitors - 1) : 0),
  );

  rig.alpacaFaults.enabled = true;
  rig.paperFaults.enabled = true;
  const workload = new Workload(rig, opts);
  const workloadDone = workload.run(monitorStarts);
  const workloadStarted = Date.now();

  // The killer: SIGKILL after a seeded 5–20 s of polling, restart at once.
  const killRng = new Rng(opts.seed * 7 + 4);
  const endAt = opts.durationS ? workloadStarted + opts.durationS * 1000 : Number.POSITIVE_INFINITY;
  let lastProgress = Date.now();
  while (opts.durationS ? Date.now() < endAt : rig.worker.kills < opts.kills) {
    if (!rig.worker.running) await rig.worker.start();
    const wait = killRng.int(opts.killMinS * 1000, opts.killMaxS * 1000);
    await Promise.race([sleep(Math.min(wait, Math.max(0, endAt - Date.now()))), rig.worker.waitExit()]);
    if (Date.now() >= endAt) break;
    await rig.worker.kill();
    if (Date.now() - lastProgress > 15_000) {
      lastProgress = Date.now();
      const placed = workload.placed.length;
      log(
        `kills ${rig.worker.kills}, orders ${placed}, faults alpaca ${rig.alpacaFaults.total()}/${rig.alpacaFaults.requests} ` +
          `paper ${rig.paperFaults.total()}/${rig.paperFaults.requests}, cancel-alls ${workload.cancelAlls.length}`,
      );
    }
  }
  // Monitors still inside their session get to finish it (their exit is part of the workload).
  const sessionsEnd = Math.max(0, ...workload.monitors.map((m) => m.sessionEndsAt));
  workload.stop();
  if (!rig.worker.running) await rig.worker.start();
  await workloadDone;
  const workloadSeconds = Math.round((Date.now() - workloadStarted) / 1000);
  log(`workload stopped after ${workloadSeconds} s and ${rig.worker.kills} kills; faults off, one worker from here on`);

  // Settle: no faults, one worker left alone, every open order asked to cancel, until nothing runs or the deadline.
  rig.alpacaFaults.enabled = false;
  rig.paperFaults.enabled = false;
  const settleStarted = Date.now();
  const settleDeadline = settleStarted + opts.settleS * 1000;
  if (sessionsEnd > Date.now()) await sleep(Math.min(sessionsEnd - Date.now(), settleDeadline - Date.now()));
  const asked = await cancelEverythingOpen(rig, workload.placed);
  log(`asked ${asked} open order(s) to cancel; waiting up to ${opts.settleS} s for every order workflow to end`);
  let running = -1;
  while (Date.now() < settleDeadline) {
    running = await runningOrderWorkflows(rig.client).catch(() => -1);
    if (running === 0) break;
    await sleep(2000);
  }
  const settleSeconds = Math.round((Date.now() - settleStarted) / 1000);
  log(`settled after ${settleSeconds} s (${running} order workflow(s) still running); checking...`);
  workload.drivingUntil = 0;

  const figures = await computeFigures(rig, workload, opts, {
    runSeconds: Math.round((Date.now() - t0) / 1000),
    workloadSeconds,
    settleSeconds,
    cpus: os.cpus().length,
    node: process.version,
  });
  for (const m of workload.monitors) {
    await rig.client.workflow
      .getHandle(WorkflowIds.position(m.positionId))
      .signal(stopMonitorSignal, { reason: 'chaos bench: end of run' })
      .catch(() => undefined);
  }
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, `${JSON.stringify(figures, null, 2)}\n`);
  printFigures(figures);
  figuresPrinted = true;
  process.stdout.write(`\nfigures: ${opts.out}\nworker log: ${path.join(logDir, 'worker.log')}\n`);
  const violated = Object.entries(figures.invariants).filter(([, v]) => !v.ok);
  if (violated.length > 0) {
    const err = new Error(`invariants violated: ${violated.map(([k, v]) => `${k} = ${v.value}`).join(', ')}`);
    err.stack = err.message; // a verdict, not a crash: no stack trace
    throw err;
  }
}

runBench(main, () => {
  if (!figuresPrinted) process.stderr.write('no figures: the run did not reach its checks\n');
});
