/**
 * Position-monitor figures on a real Temporal dev server (started here, temporary SQLite database, 127.0.0.1
 * only), the Polygon stand-in (manual clock, in this process) and one flowguard worker in a child process
 * (bench/monitor/worker-process.ts, so its memory is measured alone):
 *
 *   1. alert latency: the stand-in publishes the decisive print → the alert is visible through the monitor's
 *      `state` query (queried every ~5 ms), in stream mode and in poll mode;
 *   2. concurrency: the same latency with N monitors live on distinct symbols (default N = 1, 100, 250, 500);
 *      the largest N whose p95 stays under 1 s;
 *   3. worker memory: VmRSS of the worker process (after a full GC) at each N, and the increment per 100.
 *
 * Each symbol's history (before the monitor starts) is one NBBO quote, bid 100.00 × ask 100.02, and two
 * 100-share prints inside the spread, all within the last few seconds — far short of a red_burst baseline.
 * The decisive event is one 15000-share print at the bid (seller-initiated by the quote rule), timestamped
 * now: exactly one large_seller (tape, warning) alert. Every sample checks that exactly that alert appeared.
 * Samples go to monitors that have not alerted yet where there are enough of them (the N = 1 level reuses
 * its one monitor; the exit rule then fires once, which adds no alert), after a random delay so the print
 * lands at a random phase of the poll timer.
 *
 * The worker's Polygon rate limiter is raised (RATE_PER_SECOND): N poll-mode monitors at a 1 s interval make
 * N × 2 REST requests per second, far above a real plan's 5/s.
 *
 * Run: npm run bench:monitor [-- --monitors 1,100,250,500 --samples 20 --modes stream,poll --max-minutes 12 --db sqlite|memory]
 * Everything it starts (server, worker process, stand-in, monitors) is stopped before it exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { startPolygonStandIn, type PolygonStandIn, type StandInRecord } from '../../test/support/polygon-stand-in';
import { freePort, resolveTemporalCli, startDevServer } from '../../src/dev/temporal-dev-server';
import { ALWAYS_OPEN_SESSION, AppConfigSchema } from '../../src/domain/config';
import { WorkflowIds } from '../../src/shared/contracts';
import {
  monitorStateQuery,
  positionMonitorWorkflow,
  type DataMode,
  type MonitorSettings,
  type MonitorView,
} from '../../src/workflows/position-monitor';
import { type FromWorker, type ToWorker, type WorkerProcessConfig } from './worker-process';
import { onCleanup, quantile, runBench } from '../support/bench-harness';

// ── arguments ───────────────────────────────────────────────────────────────────────────────────────

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function intArg(name: string, fallback: number, min: number, max: number): number {
  const raw = argValue(name);
  const v = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`--${name} must be an integer ${min}–${max}`);
  return v;
}

const LEVELS = (argValue('monitors') ?? '1,100,250,500').split(',').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 2000) throw new Error('--monitors must list integers 1–2000');
  return n;
});
LEVELS.sort((a, b) => a - b);
const SAMPLES = intArg('samples', 20, 1, 500);
const MODES = (argValue('modes') ?? 'stream,poll').split(',').map((m) => {
  if (m !== 'stream' && m !== 'poll') throw new Error(`--modes: unknown mode ${m} (stream, poll)`);
  return m;
});
const MAX_MINUTES = intArg('max-minutes', 12, 1, 120);
/** `--db memory` runs the dev server without its SQLite file, to see how much of a figure is persistence. */
const DB = argValue('db') ?? 'sqlite';
if (DB !== 'sqlite' && DB !== 'memory') throw new Error('--db must be sqlite or memory');
const POLL_INTERVAL_S = 1;
const MALLOC_ARENAS = process.env.MALLOC_ARENA_MAX ?? '2';
/** Smallest step between levels (in monitors) that gets a memory-per-100 figure. */
const MIN_MEMORY_STEP = 50;
const RATE_PER_SECOND = 100_000;
/** Activity slots of the worker (FLOWGUARD_MAX_CONCURRENT_ACTIVITIES default); each stream monitor holds one. */
const WORKER_ACTIVITY_SLOTS = 1000;

const ROOT = path.resolve(__dirname, '..', '..');
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const startedAt = Date.now();
const overTime = () => Date.now() - startedAt > MAX_MINUTES * 60_000;

const config = AppConfigSchema.parse({
  marketData: { pollIntervalSeconds: POLL_INTERVAL_S, sessions: [ALWAYS_OPEN_SESSION] },
});
const LARGE_PRINT = 15_000;
if (LARGE_PRINT < config.detectors.largeOrderSize || LARGE_PRINT >= 2 * config.detectors.largeOrderSize) {
  throw new Error('the decisive print must be one warning-level large_seller under the default configuration');
}

// ── statistics ──────────────────────────────────────────────────────────────────────────────────────

function fmtMs(ms: number): string {
  if (Number.isNaN(ms)) return '-';
  if (!Number.isFinite(ms)) return 'timeout';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 100 ? 1 : 0)} ms`;
}

const mb = (bytes: number) => bytes / (1024 * 1024);

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

// ── results ─────────────────────────────────────────────────────────────────────────────────────────

interface LevelResult {
  readonly mode: DataMode;
  readonly n: number;
  readonly live: number;
  readonly latencies: number[];
  readonly misses: number;
  readonly unexpected: number;
  readonly rssMb: number | null;
  readonly heapMb: number | null;
  readonly queryRttMs: number;
  /** Poll mode: REST requests/s served idle / while sampling / wanted (2 per live monitor); stream: open WebSockets. */
  readonly load: string;
  readonly note?: string;
}
const results: LevelResult[] = [];
const notes: string[] = [];

const p95Of = (r: LevelResult) =>
  quantile(
    [...r.latencies].sort((a, b) => a - b),
    0.95,
  );
const latencyGoalMs = (mode: DataMode) => (mode === 'stream' ? 100 : POLL_INTERVAL_S * 1000 + 250);
/** A level sustains its N when every monitor went live and p95 stays under 1 s. */
const sustains = (r: LevelResult) => r.live === r.n && r.latencies.length > 0 && p95Of(r) < 1000;

function printTable(): void {
  const header = ['mode', 'monitors', 'live', 'samples', 'p50', 'p95', 'max', 'goal p95', 'verdict', 'worker RSS'];
  header.push('heap', 'query RTT', 'load');
  const body = results.map((r) => {
    const s = [...r.latencies].sort((a, b) => a - b);
    const goal = latencyGoalMs(r.mode);
    const p95 = quantile(s, 0.95);
    const verdict = s.length === 0 ? '-' : p95 < goal ? 'meets' : 'MISSES';
    return [
      r.mode,
      String(r.n),
      String(r.live),
      `${s.length}${r.misses ? ` (+${r.misses} lost)` : ''}`,
      fmtMs(quantile(s, 0.5)),
      fmtMs(p95),
      fmtMs(s[s.length - 1] ?? NaN),
      `< ${goal} ms`,
      verdict,
      r.rssMb === null ? '-' : `${r.rssMb.toFixed(0)} MB`,
      r.heapMb === null ? '-' : `${r.heapMb.toFixed(0)} MB`,
      fmtMs(r.queryRttMs),
      r.load,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const b of body) process.stdout.write(`${line(b)}\n`);

  process.stdout.write('\n');
  for (const mode of MODES) {
    const rows = results.filter((r) => r.mode === mode);
    if (rows.length === 0) continue;
    const best = rows.filter(sustains).reduce((m, r) => Math.max(m, r.n), 0);
    const tried = rows.reduce((m, r) => Math.max(m, r.n), 0);
    process.stdout.write(
      `${mode}: largest N with every monitor live and p95 < 1 s: ${best || 'none'} (tried up to ${tried}; goal ≥ 500) — ${best >= 500 ? 'meets' : 'MISSES'}\n`,
    );
    const mem = new Map(rows.filter((r) => r.rssMb !== null).map((r) => [r.n, r.rssMb!]));
    const steps: string[] = [];
    const ns = [...mem.keys()].sort((a, b) => a - b);
    for (let i = 1; i < ns.length; i++) {
      // RSS moves by tens of MB on its own (GC timing, allocator): a per-100 slope from a small step is noise.
      if (ns[i]! - ns[i - 1]! < MIN_MEMORY_STEP) continue;
      const per100 = ((mem.get(ns[i]!)! - mem.get(ns[i - 1]!)!) * 100) / (ns[i]! - ns[i - 1]!);
      steps.push(`${ns[i - 1]}→${ns[i]}: ${per100.toFixed(1)} MB/100 ${per100 < 50 ? 'meets' : 'MISSES'}`);
    }
    if (steps.length > 0)
      process.stdout.write(`${mode}: worker RSS per 100 monitors (goal < 50 MB): ${steps.join('; ')}\n`);
  }
  const rowNotes = results.filter((r) => r.note).map((r) => `* ${r.mode} N=${r.n}: ${r.note}`);
  const all = [...rowNotes, ...notes.map((n) => `* ${n}`)];
  if (all.length > 0) process.stdout.write(`\n${all.join('\n')}\n`);
}

// ── the rig ─────────────────────────────────────────────────────────────────────────────────────────

interface Rig {
  readonly address: string;
  readonly client: Client;
  readonly polygon: PolygonStandIn;
  readonly bundlePath: string;
  readonly tempDir: string;
}

const quietLogger = new DefaultLogger('WARN');

async function startRig(): Promise<Rig> {
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowguard-bench-monitor-'));
  onCleanup(async () => fs.rmSync(tempDir, { recursive: true, force: true }));
  const [cli, port] = await Promise.all([resolveTemporalCli(), freePort()]);
  process.stderr.write('starting the dev server and bundling workflows...\n');
  const [server, bundle] = await Promise.all([
    startDevServer({
      cli,
      port,
      headless: true,
      ...(DB === 'sqlite' ? { dbFile: path.join(tempDir, 'temporal.sqlite') } : {}),
      watchdog: true,
    }),
    bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quietLogger }),
  ]);
  onCleanup(() => server.stop());
  const bundlePath = path.join(tempDir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);
  const polygon = await startPolygonStandIn({ clock: { mode: 'manual' } });
  onCleanup(() => polygon.close());
  const connection = await Connection.connect({ address: server.address });
  onCleanup(() => connection.close());
  return {
    address: server.address,
    client: new Client({ connection, namespace: 'default' }),
    polygon,
    bundlePath,
    tempDir,
  };
}

interface WorkerProcess {
  readonly pid: number;
  memory(): Promise<{ vmRss: number; heapUsed: number }>;
  stop(): Promise<void>;
  logTail(): string;
}

/** Spawns bench/monitor/worker-process.ts (node + tsx loader, --expose-gc) and waits for it to poll. */
async function startWorkerProcess(rig: Rig, taskQueue: string): Promise<WorkerProcess> {
  const logFile = path.join(rig.tempDir, `worker-${taskQueue}.log`);
  const log = fs.openSync(logFile, 'a');
  const cfg: WorkerProcessConfig = {
    address: rig.address,
    taskQueue,
    bundlePath: rig.bundlePath,
    restUrl: rig.polygon.restUrl,
    wsUrl: rig.polygon.wsUrl,
    apiKey: rig.polygon.apiKey,
    ratePerSecond: RATE_PER_SECOND,
  };
  const child: ChildProcess = fork(path.join(__dirname, 'worker-process.ts'), [JSON.stringify(cfg)], {
    cwd: ROOT,
    execArgv: ['--expose-gc', '--import', 'tsx'],
    // As the worker is deployed (Dockerfile, npm run worker); set MALLOC_ARENA_MAX to compare.
    env: { ...process.env, NODE_OPTIONS: '', MALLOC_ARENA_MAX: MALLOC_ARENAS },
    stdio: ['ignore', log, log, 'ipc'],
  });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const logTail = () => {
    try {
      return fs.readFileSync(logFile, 'utf8').slice(-3000);
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) child.send({ type: 'stop' } satisfies ToWorker);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  onCleanup(stop);
  const waiters: ((m: FromWorker) => void)[] = [];
  child.on('message', (m: FromWorker) => waiters.shift()?.(m));
  const next = (timeoutMs: number) =>
    Promise.race([
      new Promise<FromWorker>((resolve) => waiters.push(resolve)),
      exited.then(() => {
        throw new Error(`worker process exited: ${logTail()}`);
      }),
      sleep(timeoutMs).then(() => {
        throw new Error(`worker process did not answer in ${timeoutMs} ms: ${logTail()}`);
      }),
    ]);
  const ready = await next(120_000);
  if (ready.type !== 'ready') throw new Error(`worker process: ${ready.type === 'error' ? ready.message : ready.type}`);
  const pid = ready.pid;
  return {
    pid,
    logTail,
    stop,
    async memory() {
      child.send({ type: 'memory' } satisfies ToWorker);
      const m = await next(30_000);
      if (m.type !== 'memory') throw new Error(`worker process answered ${m.type} to a memory request`);
      return { vmRss: vmRssBytes(pid), heapUsed: m.heapUsed };
    },
  };
}

function vmRssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb[1]) * 1024;
}

// ── market data ─────────────────────────────────────────────────────────────────────────────────────

let sequence = 1_000_000;
const lastNs = new Map<string, bigint>();

/** Wall-clock nanoseconds, strictly increasing per symbol (and a millisecond apart, the WebSocket's unit). */
function stamp(symbol: string, atMs: number): bigint {
  const ns = BigInt(Math.floor(atMs)) * 1_000_000n + BigInt(sequence % 1000) * 1000n;
  const prev = lastNs.get(symbol);
  const ts = prev !== undefined && ns <= prev + 1_000_000n ? prev + 1_000_000n : ns;
  lastNs.set(symbol, ts);
  return ts;
}

function trade(symbol: string, atMs: number, price: number, size: number): StandInRecord {
  const ts = stamp(symbol, atMs);
  const seq = sequence++;
  return {
    conditions: [0],
    exchange: 4,
    id: String(seq),
    participant_timestamp: ts,
    price,
    sequence_number: seq,
    sip_timestamp: ts,
    size,
    tape: 1,
  };
}

function quote(symbol: string, atMs: number): StandInRecord {
  const ts = stamp(symbol, atMs);
  const seq = sequence++;
  return {
    ask_exchange: 11,
    ask_price: 100.02,
    ask_size: 500,
    bid_exchange: 12,
    bid_price: 100,
    bid_size: 500,
    participant_timestamp: ts,
    sequence_number: seq,
    sip_timestamp: ts,
    tape: 1,
  };
}

/** Distinct symbols per mode: S/P then three letters (17576 per mode). */
function symbolFor(mode: DataMode, i: number): string {
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return `${mode === 'stream' ? 'S' : 'P'}${a[Math.floor(i / 676) % 26]}${a[Math.floor(i / 26) % 26]}${a[i % 26]}`;
}

// ── monitors ────────────────────────────────────────────────────────────────────────────────────────

interface Monitor {
  readonly symbol: string;
  readonly handle: WorkflowHandle<typeof positionMonitorWorkflow>;
  alerts: number;
  live: boolean;
}

function settings(): MonitorSettings {
  return {
    detectors: config.detectors,
    pollIntervalSeconds: POLL_INTERVAL_S,
    sessions: config.marketData.sessions,
    staleCheck: true,
    exit: { broker: 'paper', account: 'bench', pricing: orderSettingsFromConfig(config.orders).pricing },
  };
}

async function startMonitors(
  rig: Rig,
  mode: DataMode,
  taskQueue: string,
  runId: string,
  from: number,
  to: number,
): Promise<Monitor[]> {
  const indexes = Array.from({ length: to - from }, (_, k) => from + k);
  const nowMs = Date.now();
  for (const i of indexes) {
    const symbol = symbolFor(mode, i);
    rig.polygon.loadScenario(symbol, {
      quotes: [quote(symbol, nowMs - 5000)],
      trades: [trade(symbol, nowMs - 4000, 100.01, 100), trade(symbol, nowMs - 3000, 100.01, 100)],
    });
  }
  rig.polygon.advanceTo(BigInt(Date.now()) * 1_000_000n);
  return mapLimit(indexes, 20, async (i) => {
    const symbol = symbolFor(mode, i);
    const positionId = `bench-${runId}-${i}`;
    const handle = await rig.client.workflow.start(positionMonitorWorkflow, {
      workflowId: WorkflowIds.position(positionId),
      taskQueue,
      args: [{ positionId, symbol, quantity: 100, mode: 'alert', dataMode: mode, settings: settings() }],
    });
    return { symbol, handle, alerts: 0, live: false };
  });
}

/** Queries every monitor not yet live until all are, or until the live count stops growing for `stallMs`. */
async function waitLive(monitors: readonly Monitor[], stallMs: number): Promise<number> {
  let best = monitors.filter((m) => m.live).length;
  let progressAt = Date.now();
  const hardDeadline = Date.now() + 600_000;
  while (best < monitors.length && Date.now() - progressAt < stallMs && Date.now() < hardDeadline) {
    await mapLimit(
      monitors.filter((m) => !m.live),
      20,
      async (m) => {
        try {
          const v = await m.handle.query(monitorStateQuery);
          m.live = v.live && v.state === 'monitoring';
        } catch {
          /* not started yet, or a query timeout under load: asked again next round */
        }
      },
    );
    const live = monitors.filter((m) => m.live).length;
    if (live > best) {
      best = live;
      progressAt = Date.now();
    }
    if (best < monitors.length) await sleep(500);
  }
  return best;
}

interface Sample {
  readonly latencyMs: number;
  readonly expected: boolean;
  readonly rtts: number[];
}

/** Publishes one decisive print to `m` and queries every ~5 ms until the alert count rises. */
async function sample(rig: Rig, m: Monitor, mode: DataMode): Promise<Sample> {
  const before = await m.handle.query(monitorStateQuery);
  let expected = before.alertTotal === m.alerts;
  if (!expected)
    process.stderr.write(`  ${m.symbol}: ${before.alertTotal} alerts before the print, expected ${m.alerts}\n`);
  const t0 = now();
  const print = trade(m.symbol, Date.now(), 100, LARGE_PRINT);
  rig.polygon.publish(m.symbol, { trades: [print] });
  const rtts: number[] = [];
  const timeoutMs = mode === 'stream' ? 10_000 : POLL_INTERVAL_S * 1000 * 5 + 10_000;
  let view: MonitorView | null = null;
  for (let i = 0; i < 100_000; i++) {
    const q0 = now();
    const v = await m.handle.query(monitorStateQuery);
    const q1 = now();
    rtts.push(q1 - q0);
    if (v.alertTotal > before.alertTotal) {
      view = v;
      break;
    }
    if (q1 - t0 > timeoutMs) break;
    await sleep(Math.max(0, 5 - (now() - q0)));
  }
  if (!view) return { latencyMs: Infinity, expected: false, rtts };

  const latencyMs = now() - t0;
  m.alerts = view.alertTotal;
  const fresh = view.alerts.slice(-(view.alertTotal - before.alertTotal));
  const a = fresh[0];
  const ns = BigInt(print.sip_timestamp as bigint);
  // WebSocket prints carry milliseconds; REST ones the exact nanoseconds.
  const sameTime = a
    ? mode === 'stream'
      ? BigInt(a.timestampNs) / 1_000_000n === ns / 1_000_000n
      : a.timestampNs === ns.toString()
    : false;
  expected &&=
    fresh.length === 1 &&
    a !== undefined &&
    a.kind === 'large_seller' &&
    a.source === 'tape' &&
    a.severity === 'warning' &&
    Number(a.price) === 100 &&
    a.size === LARGE_PRINT &&
    sameTime;
  if (!expected) process.stderr.write(`  unexpected alerts on ${m.symbol}: ${JSON.stringify(fresh)}\n`);
  return { latencyMs, expected, rtts };
}

async function runMode(rig: Rig, mode: DataMode): Promise<void> {
  const taskQueue = `bench-monitor-${mode}-${randomUUID().slice(0, 8)}`;
  const runId = `${mode}-${randomUUID().slice(0, 6)}`;
  process.stderr.write(`[${mode}] starting the worker process...\n`);
  const worker = await startWorkerProcess(rig, taskQueue);
  const monitors: Monitor[] = [];
  const used = new Set<Monitor>();
  // Monitors are terminated (not stopped by signal): a stream monitor's stop waits for its activity to see the
  // cancellation on a heartbeat, which is throttled to tens of seconds.
  let terminated = false;
  const terminateAll = async () => {
    if (terminated) return;
    terminated = true;
    await mapLimit(monitors, 20, (m) => m.handle.terminate('bench done').catch(() => undefined));
  };
  onCleanup(terminateAll);
  try {
    for (const n of LEVELS) {
      if (overTime()) {
        notes.push(`${mode} N=${n}: skipped, --max-minutes ${MAX_MINUTES} reached`);
        continue;
      }
      process.stderr.write(`[${mode}] N=${n}: starting ${n - monitors.length} monitors...\n`);
      monitors.push(...(await startMonitors(rig, mode, taskQueue, runId, monitors.length, n)));
      const live = await waitLive(monitors, 30_000);
      let note: string | undefined;
      if (live < n) {
        note = `only ${live}/${n} monitors went live (no progress for 30 s)`;
        if (mode === 'stream' && live >= WORKER_ACTIVITY_SLOTS) {
          note += `: each stream monitor holds an activity slot for its lifetime and the worker has ${WORKER_ACTIVITY_SLOTS} (FLOWGUARD_MAX_CONCURRENT_ACTIVITIES)`;
        }
      }
      // Settle, and measure the poll rate the worker sustains with nobody querying.
      const idleFrom = rig.polygon.requestCount();
      const idleStart = Date.now();
      await sleep(5000);
      const idleRate = (rig.polygon.requestCount() - idleFrom) / ((Date.now() - idleStart) / 1000);
      const mem = await worker.memory();
      process.stderr.write(
        `[${mode}] N=${n}: ${live}/${n} live, worker RSS ${mb(mem.vmRss).toFixed(0)} MB, heap ${mb(mem.heapUsed).toFixed(0)} MB\n`,
      );

      // Samples: monitors that have not alerted yet first, at random.
      const candidates = monitors.filter((m) => m.live);
      const fresh = shuffle(candidates.filter((m) => !used.has(m)));
      const order = fresh.length >= SAMPLES ? fresh.slice(0, SAMPLES) : [...fresh, ...candidates];
      const latencies: number[] = [];
      const rtts: number[] = [];
      let misses = 0;
      let unexpected = 0;
      const requestsBefore = rig.polygon.requestCount();
      const windowStart = Date.now();
      for (let i = 0; i < SAMPLES && order.length > 0; i++) {
        const m = order[i % order.length]!;
        used.add(m);
        // A random phase against the poll timer (and the stream's 1 s loop) for every print.
        await sleep(Math.random() * (mode === 'poll' ? POLL_INTERVAL_S * 1000 : 200));
        const s = await sample(rig, m, mode);
        rtts.push(...s.rtts);
        if (!Number.isFinite(s.latencyMs)) {
          misses++;
          // A lost alert leaves the monitor's count unknown: do not sample it again.
          m.live = false;
          if (misses >= 3) {
            note = `${note ? `${note}; ` : ''}stopped after 3 alerts not seen within the timeout`;
            break;
          }
          continue;
        }
        latencies.push(s.latencyMs);
        if (!s.expected) unexpected++;
      }
      const seconds = (Date.now() - windowStart) / 1000;
      const load =
        mode === 'poll'
          ? `${idleRate.toFixed(0)} / ${((rig.polygon.requestCount() - requestsBefore) / seconds).toFixed(0)} of ${2 * live} REST req/s`
          : `${rig.polygon.connectionCount()} WebSockets`;
      rig.polygon.clearRequests();
      if (unexpected > 0)
        note = `${note ? `${note}; ` : ''}${unexpected} samples raised other alerts than one large_seller`;
      const result: LevelResult = {
        mode,
        n,
        live,
        latencies,
        misses,
        unexpected,
        rssMb: mb(mem.vmRss),
        heapMb: mb(mem.heapUsed),
        queryRttMs: quantile(
          [...rtts].sort((a, b) => a - b),
          0.5,
        ),
        load,
        ...(note ? { note } : {}),
      };
      results.push(result);
      process.stderr.write(
        `  done: ${mode} N=${n}: p50 ${fmtMs(
          quantile(
            [...latencies].sort((a, b) => a - b),
            0.5,
          ),
        )}, p95 ${fmtMs(p95Of(result))}\n`,
      );
      // Past the point of keeping up, bigger N only costs time.
      if ((live < n || misses >= 3 || p95Of(result) > 5000) && n < LEVELS[LEVELS.length - 1]!) {
        notes.push(`${mode}: larger N not attempted after N=${n}`);
        break;
      }
    }
  } finally {
    process.stderr.write(`[${mode}] terminating ${monitors.length} monitors and stopping the worker...\n`);
    await terminateAll();
    await worker.stop();
  }
}

// ── main ────────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const rig = await startRig();
  process.stderr.write(`rig up on ${rig.address} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
  for (const mode of MODES) await runMode(rig, mode);
  notes.push(
    `worker Polygon REST limiter raised to ${RATE_PER_SECOND}/s for this bench (a real plan allows ~5/s: ` +
      `${POLL_INTERVAL_S} s polling of N symbols needs N × 2 requests/s)`,
    'latency = publish at the stand-in → alertTotal increased in a `state` query response (queried every ~5 ms; query RTT shown)',
    'load (poll) = Polygon REST requests/s the stand-in served with nobody querying / while sampling / of the 2 per monitor per second a 1 s interval asks for',
    'worker RSS = VmRSS of the worker process after a full GC, every monitor live and idle; heap = V8 heapUsed',
  );
  printTable();
  process.stdout.write(
    `\n${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, node ${process.version}; ` +
      `dev server persistence ${DB}; worker MALLOC_ARENA_MAX=${MALLOC_ARENAS}; samples ${SAMPLES} per level; total ${((Date.now() - startedAt) / 1000).toFixed(0)} s\n`,
  );
}

runBench(main, () => {
  if (results.length > 0) printTable();
});
