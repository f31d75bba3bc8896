/**
 * `npm run demo`: the whole product on embedded defaults, no API keys.
 *
 * Starts a Temporal dev server with its Web UI, a local market simulator serving a SYNTHETIC session in
 * Polygon's wire format (the Polygon stand-in), and the real worker (`src/worker.ts`) pointed at it; buys a
 * paper position through the desk, monitors it in auto-exit mode, prints alerts as they arrive and ends with
 * a summary and the Temporal UI links. Exits 1 when the scenario does not complete.
 *
 *   npm run demo                 run and stop everything afterwards
 *   npm run demo -- --keep       leave the server, UI, worker and simulator running to explore the UI
 *   npm run demo -- --seed 7     another synthetic session
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { reportError } from '../src/cli/io';
import { startMonitor, monitorStatus } from '../src/cli/monitor';
import { orderStatus, placeOrder } from '../src/cli/orders';
import { type CliContext } from '../src/cli/temporal';
import { orderSettingsFromConfig } from '../src/config/order-settings';
import { LIVE_TIMELINE, type PlantedPrint, type SessionPhase } from '../src/dev/market-simulator';
import {
  DEFAULT_DEV_PORTS,
  devServerArgs,
  devServerPorts,
  freePort,
  portFree,
  resolveTemporalCli,
  type DevServerPorts,
} from '../src/dev/temporal-dev-server';
import { WebhookReceiver, verifySignature } from '../src/dev/webhook-receiver';
import { ALWAYS_OPEN_SESSION, AppConfigSchema } from '../src/domain/config';
import { type FlowAlert } from '../src/domain/detectors/alerts';
import { Money } from '../src/domain/orders/money';
import { ValidationError } from '../src/domain/validation';
import { WorkflowIds } from '../src/shared/contracts';
import { deskWorkflow } from '../src/workflows/desk';
import { type OrderStatus } from '../src/workflows/order';
import { type MonitorView } from '../src/workflows/position-monitor';

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const NAMESPACE = 'default';
const TASK_QUEUE = 'flowguard';
const ACCOUNT = 'demo';

interface Options {
  keep: boolean;
  seed: number;
  symbol: string;
  quantity: number;
  dataMode: 'poll' | 'stream';
  /** Temporal gRPC / Web UI ports as asked for (--port/--ui-port, TEMPORAL_PORT/TEMPORAL_UI_PORT). */
  ports: DevServerPorts;
}

function parseOptions(argv: readonly string[]): Options {
  const portArgs: string[] = [];
  const o: Options = {
    keep: false,
    seed: 20_240_611,
    symbol: 'TSLA',
    quantity: 500,
    dataMode: 'poll',
    ports: devServerPorts([]),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--keep') o.keep = true;
    else if (arg === '--seed') o.seed = Number(value());
    else if (arg === '--symbol') o.symbol = value();
    else if (arg === '--quantity') o.quantity = Number(value());
    else if (arg === '--data-mode') o.dataMode = value() as Options['dataMode'];
    else if (arg === '--port' || arg === '--ui-port') portArgs.push(arg, value());
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(
        'usage: npm run demo -- [--keep] [--seed N] [--symbol TSLA] [--quantity 500] [--data-mode poll|stream]\n' +
          '                       [--port N] [--ui-port N]   Temporal gRPC / Web UI ports (default: TEMPORAL_PORT /\n' +
          '                       TEMPORAL_UI_PORT, else 7233 / 8233, else free ones)\n',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  if (!Number.isSafeInteger(o.seed)) throw new Error('--seed must be an integer');
  if (!Number.isSafeInteger(o.quantity) || o.quantity <= 0) throw new Error('--quantity must be a positive integer');
  if (!/^[A-Z]{1,5}$/.test(o.symbol)) throw new Error('--symbol must be 1–5 uppercase letters');
  if (o.dataMode !== 'poll' && o.dataMode !== 'stream') throw new Error('--data-mode must be poll or stream');
  o.ports = devServerPorts(portArgs);
  return o;
}

// ---- output ----

const t0 = Date.now();
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint('1');
const dim = paint('2');
const red = paint('31');
const green = paint('32');
const yellow = paint('33');
const cyan = paint('36');

function say(line: string): void {
  const elapsed = ((Date.now() - t0) / 1000).toFixed(1).padStart(5);
  process.stdout.write(`${dim(`[${elapsed}s]`)} ${line}\n`);
}

function money(value: Money): string {
  const abs = value.abs().toFixed(2);
  return value.isNegative() ? `-$${abs}` : `+$${abs}`;
}

// ---- processes ----

interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
}

const managed: Managed[] = [];
/** In-process notification receivers (closed with everything else; with --keep they end with the demo). */
const receivers: WebhookReceiver[] = [];

/** Spawns a process in its own process group with stdout+stderr in a log file (so it can outlive us with --keep). */
function spawnLogged(name: string, cmd: string, args: string[], log: string, env: NodeJS.ProcessEnv = {}): Managed {
  const fd = fs.openSync(log, 'a');
  const child = spawn(cmd, args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...env },
  });
  fs.closeSync(fd);
  const m = { name, child, log };
  managed.push(m);
  return m;
}

function alive(m: Managed): boolean {
  return m.child.exitCode === null && m.child.signalCode === null;
}

function killGroup(m: Managed, signal: NodeJS.Signals): void {
  if (!m.child.pid || !alive(m)) return;
  try {
    process.kill(-m.child.pid, signal);
  } catch {
    try {
      m.child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

async function stopAll(): Promise<void> {
  // Worker first (it drains in-flight activities), then the simulator, the server last.
  for (const m of [...managed].reverse()) {
    if (!alive(m)) continue;
    killGroup(m, 'SIGTERM');
    const exited = new Promise<void>((resolve) => m.child.once('exit', () => resolve()));
    const timer = setTimeout(() => killGroup(m, 'SIGKILL'), 12_000);
    await exited;
    clearTimeout(timer);
  }
  for (const r of receivers.splice(0)) await r.close();
}

/**
 * A detached watcher that kills every process group we started once this process is gone without cleaning
 * up (Ctrl-C twice, SIGKILL, a crash), so an interrupted demo never leaves servers behind.
 */
function startWatchdog(pids: readonly number[]): ChildProcess {
  const script = `
    const [owner, ...groups] = process.argv.slice(1).map(Number);
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    const timer = setInterval(() => {
      if (alive(owner)) return;
      clearInterval(timer);
      for (const g of groups) { try { process.kill(-g, 'SIGTERM'); } catch {} }
      setTimeout(() => { for (const g of groups) { try { process.kill(-g, 'SIGKILL'); } catch {} } process.exit(0); }, 12000);
    }, 300);`;
  const dog = spawn(process.execPath, ['-e', script, String(process.pid), ...pids.map(String)], {
    detached: true,
    stdio: 'ignore',
  });
  dog.unref();
  return dog;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function exitedError(m: Managed): Error {
  return new Error(
    `${m.name} exited (${m.child.exitCode ?? m.child.signalCode}); last lines of ${m.log}:\n${tail(m.log)}`,
  );
}

// ---- the demo ----

interface SimulatorReady {
  readonly symbol: string;
  readonly restUrl: string;
  readonly wsUrl: string;
  readonly anchorNs: string;
  readonly endNs: string;
  readonly trades: number;
  readonly quotes: number;
  readonly phases: readonly SessionPhase[];
  readonly planted: readonly PlantedPrint[];
}

function alertLine(a: FlowAlert): string {
  const sev = a.severity === 'critical' ? red(a.severity.toUpperCase()) : yellow(a.severity.toUpperCase());
  const source = 'source' in a ? `/${a.source}` : '';
  return `${bold('ALERT')} ${sev} ${a.kind}${source} @ ${a.price}: ${a.rule}`;
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const runId = randomBytes(3).toString('hex');
  const positionId = `${opts.symbol.toLowerCase()}-demo-${runId}`;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowguard-demo-'));

  process.stdout.write(
    `${bold('flowguard demo')} — ${yellow('SYNTHETIC market data')} (seeded generator, seed ${opts.seed}; not a recording, no API keys)\n` +
      dim(`work dir ${workDir}\n\n`),
  );

  let cleanedUp = false;
  const cleanup = async () => {
    if (cleanedUp) return;
    cleanedUp = true;
    await stopAll();
    fs.rmSync(workDir, { recursive: true, force: true });
  };
  const onSignal = () => {
    process.stdout.write('\ninterrupted: stopping everything the demo started...\n');
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let connection: Connection | undefined;
  try {
    // 1. Temporal dev server with the Web UI.
    const cli = await resolveTemporalCli();
    let { port, uiPort } = opts.ports;
    const { explicit } = opts.ports;
    // Ports asked for are used as given or refused; the defaults give way to free ports, announced.
    for (const [p, named, what] of [
      [port, explicit.port, '--port / TEMPORAL_PORT'],
      [uiPort, explicit.uiPort, '--ui-port / TEMPORAL_UI_PORT'],
    ] as const) {
      if (named && !(await portFree(p))) throw new Error(`port ${p} (${what}) is already in use; choose another`);
    }
    if (!explicit.port && !(await portFree(port))) {
      port = await freePort();
      say(yellow(`${DEFAULT_DEV_PORTS.port} is busy (another Temporal server?): using gRPC port ${port} instead`));
    }
    if (!explicit.uiPort && !(await portFree(uiPort))) {
      uiPort = await freePort();
      say(yellow(`${DEFAULT_DEV_PORTS.uiPort} is busy: using Web UI port ${uiPort} instead`));
    }
    const address = `127.0.0.1:${port}`;
    const ui = `http://127.0.0.1:${uiPort}`;
    const server = spawnLogged(
      'temporal dev server',
      cli,
      devServerArgs({ cli, port, uiPort, dbFile: path.join(workDir, 'temporal.sqlite'), logLevel: 'warn' }),
      path.join(workDir, 'temporal.log'),
    );
    const simPort = await freePort();
    const metricsPort = await freePort();
    const apiKey = `demo-${randomBytes(8).toString('hex')}`;
    // A local webhook receiver stands in for Slack/Discord/ntfy: the worker signs what it sends with this secret.
    const hook = await WebhookReceiver.start();
    receivers.push(hook);
    const hookSecret = randomBytes(16).toString('hex');
    const worker = spawnLogged('worker', TSX, ['src/worker.ts'], path.join(workDir, 'worker.log'), {
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: NAMESPACE,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      POLYGON_API_KEY: apiKey,
      POLYGON_BASE_URL: `http://127.0.0.1:${simPort}`,
      POLYGON_WS_URL: `ws://127.0.0.1:${simPort}`,
      FLOWGUARD_DATA_DIR: workDir,
      FLOWGUARD_METRICS_HOST: '127.0.0.1',
      FLOWGUARD_METRICS_PORT: String(metricsPort),
      FLOWGUARD_LOG_LEVEL: 'info',
      FLOWGUARD_NOTIFY_WEBHOOK_URL: `${hook.url}/flowguard`,
      FLOWGUARD_NOTIFY_WEBHOOK_SECRET: hookSecret,
    });
    if (!opts.keep) startWatchdog([server.child.pid!, worker.child.pid!]);

    connection = await until('the Temporal dev server', 60_000, async () => {
      if (!alive(server)) throw exitedError(server);
      const c = await Connection.connect({ address, connectTimeout: 1000 });
      await c.workflowService.getSystemInfo({});
      return c;
    }).catch((err: unknown) => {
      if (!alive(server)) throw exitedError(server);
      throw err;
    });
    await until('the Temporal Web UI', 30_000, async () => ((await fetch(ui)).ok ? true : undefined));
    say(`Temporal dev server on ${address}, Web UI ${cyan(ui)}`);

    const client = new Client({ connection, namespace: NAMESPACE });
    const ctx: CliContext = {
      client,
      env: {
        TEMPORAL_ADDRESS: address,
        TEMPORAL_NAMESPACE: NAMESPACE,
        TEMPORAL_TASK_QUEUE: TASK_QUEUE,
        TEMPORAL_TLS: false,
      },
    };

    // 2. The real worker process: bundles the workflows, then polls.
    say('starting the worker (src/worker.ts; bundles the workflow code on start)...');
    await until('the worker to poll its task queue', 180_000, async () => {
      if (!alive(worker)) throw exitedError(worker);
      const res = await connection!.workflowService.describeTaskQueue({
        namespace: NAMESPACE,
        taskQueue: { name: TASK_QUEUE, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      return (res.pollers?.length ?? 0) > 0 ? true : undefined;
    }).catch((err: unknown) => {
      if (!alive(worker)) throw exitedError(worker);
      throw err;
    });
    say(`worker polling task queue '${TASK_QUEUE}' (metrics http://127.0.0.1:${metricsPort}/metrics)`);

    // 3. The market simulator, anchored now: 7 minutes of history at once, the rest live.
    const simLog = path.join(workDir, 'simulator.log');
    const simulator = spawnLogged(
      'market simulator',
      TSX,
      [
        'src/dev/market-simulator.ts',
        '--port',
        String(simPort),
        '--key',
        apiKey,
        '--symbol',
        opts.symbol,
        '--seed',
        String(opts.seed),
      ],
      simLog,
    );
    if (!opts.keep) startWatchdog([simulator.child.pid!]);
    const ready = await until('the market simulator', 60_000, async () => {
      if (!alive(simulator)) throw exitedError(simulator);
      const line = fs
        .readFileSync(simLog, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('{"ready":true'));
      return line ? (JSON.parse(line) as SimulatorReady) : undefined;
    });
    const anchorMs = Number(BigInt(ready.anchorNs) / 1_000_000n);
    const endMs = Number(BigInt(ready.endNs) / 1_000_000n);
    say(
      `market simulator on ${ready.restUrl} (Polygon REST + WebSocket wire format): ${yellow('SYNTHETIC')} ${opts.symbol} session, ` +
        `${ready.trades} trades / ${ready.quotes} quotes; 7 min of history published, ${LIVE_TIMELINE.endMs / 1000} s live from now`,
    );

    // 4. A paper position: a BUY through the desk that crosses to the ask.
    const config = AppConfigSchema.parse({
      marketData: { pollIntervalSeconds: 1, sessions: [ALWAYS_OPEN_SESSION] },
      // The protective SELL crosses to the bid (sell offset 0) so it fills in a falling market.
      orders: { pollIntervalSeconds: 1, sellOffset: '0' },
    });
    const orderSettings = orderSettingsFromConfig(config.orders);
    await client.workflow.start(deskWorkflow, {
      workflowId: WorkflowIds.desk('paper', ACCOUNT),
      taskQueue: TASK_QUEUE,
      workflowIdConflictPolicy: 'USE_EXISTING',
      args: [{ broker: 'paper', account: ACCOUNT, settings: orderSettings }],
      staticSummary: `paper desk '${ACCOUNT}': order registry, kill switch, circuit breaker`,
      staticDetails: 'Started by `npm run demo`. Every order of the account enters through this workflow.',
    });
    const nbbo = await until('an NBBO from the simulator', 10_000, async () => {
      const res = await fetch(`${ready.restUrl}/v2/last/nbbo/${opts.symbol}?apiKey=${apiKey}`);
      const body = (await res.json()) as { results?: { p?: number; P?: number } };
      return body.results?.P ? { bid: String(body.results.p), ask: String(body.results.P) } : undefined;
    });
    const entryId = `entry-${positionId}`;
    const entry = await placeOrder(
      ctx,
      {
        symbol: opts.symbol,
        side: 'buy',
        quantity: String(opts.quantity),
        referencePrice: nbbo.ask,
        offsetMode: 'bps',
        offset: '0',
        clientOrderId: entryId,
        broker: 'paper',
        account: ACCOUNT,
      },
      orderSettings,
    );
    say(
      `BUY ${opts.quantity} ${opts.symbol} limit ${entry.limitPrice} (the ask) placed through the desk: ${entry.workflowId}`,
    );
    const bought = await until('the entry order to fill', 30_000, async () => {
      const s = await orderStatus(ctx, entryId);
      if (s.state === 'filled') return s;
      if (['cancelled', 'rejected', 'expired', 'failed'].includes(s.state))
        throw new Error(`entry order ${s.state}: ${s.reason}`);
      return undefined;
    });
    say(green(`position open: ${bought.filledQuantity} ${opts.symbol} @ ${bought.averageFillPrice} (paper fill)`));

    // 5. The monitor, auto-exit.
    const started = await startMonitor(
      ctx,
      {
        symbol: opts.symbol,
        quantity: String(bought.filledQuantity),
        entryPrice: bought.averageFillPrice!,
        positionId,
        autoExit: true,
        dataMode: opts.dataMode,
        broker: 'paper',
        account: ACCOUNT,
      },
      config,
    );
    say(`monitor started: ${started.workflowId} (auto-exit, ${opts.dataMode} every 1 s)`);

    // 6. Progress until the session ends.
    const result = await watch(ctx, positionId, ready, apiKey, anchorMs, endMs);

    // 7. Summary.
    const lastTrade = await fetch(`${ready.restUrl}/v2/last/trade/${opts.symbol}?apiKey=${apiKey}`).then(
      async (r) => ((await r.json()) as { results?: { p?: number } }).results?.p,
    );
    // The protective exit's outcome is the last notification; it follows the fill by a workflow task or two.
    await until('the protective-exit notification', 10_000, async () =>
      hook.accepted().some((r) => (r.json as { kind?: string }).kind === 'protective_exit') ? true : undefined,
    ).catch(() => undefined);
    const ok = printSummary({
      opts,
      ui,
      positionId,
      entry: bought,
      view: result.view,
      exitOrder: result.exitOrder,
      lastPrice: lastTrade === undefined ? null : String(lastTrade),
      notifications: { url: hook.url, received: hook.accepted(), secret: hookSecret },
    });

    await connection.close();
    connection = undefined;
    if (opts.keep) {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      const pids = managed.filter(alive).map((m) => `-${m.child.pid}`);
      process.stdout.write(
        `\n${bold('--keep')}: the Temporal server + UI, the worker and the market simulator keep running (the simulator's tape has ended).\n` +
          `  logs and database: ${workDir}\n` +
          `  stop them with:    kill -TERM -- ${pids.join(' ')} && rm -rf ${workDir}\n`,
      );
      for (const m of managed) m.child.unref();
    } else {
      say('stopping the worker, the simulator and the Temporal server (use --keep to explore the UI afterwards)');
      await cleanup();
    }
    say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`\n${red('demo failed:')} ${err instanceof Error ? err.message : String(err)}\n`);
    for (const m of managed) process.stderr.write(dim(`  ${m.name} log: ${m.log}\n`));
    const keepLogs = path.join(ROOT, '.data', `demo-failure-${runId}`);
    try {
      fs.mkdirSync(keepLogs, { recursive: true });
      for (const m of managed) fs.copyFileSync(m.log, path.join(keepLogs, path.basename(m.log)));
      process.stderr.write(`  logs copied to ${keepLogs}\n`);
    } catch {
      /* best effort */
    }
    await connection?.close().catch(() => undefined);
    await cleanup();
    return 1;
  }
}

/** The simulator's last trade and NBBO, read like any Polygon client would. */
async function readTape(restUrl: string, apiKey: string, symbol: string) {
  const get = async (route: string) =>
    (
      (await (await fetch(`${restUrl}/v2/last/${route}/${symbol}?apiKey=${apiKey}`)).json()) as {
        results?: Record<string, number>;
      }
    ).results;
  const [trade, quote] = await Promise.all([get('trade'), get('nbbo')]);
  if (!trade || !quote) return null;
  return { last: trade.p, bid: quote.p, ask: quote.P, bidSize: quote.s, askSize: quote.S };
}

interface WatchResult {
  readonly view: MonitorView;
  readonly exitOrder: OrderStatus | null;
}

/** Prints state changes, alerts, the exit signal and the exit order as they happen; bounded by the session's end. */
async function watch(
  ctx: CliContext,
  positionId: string,
  ready: SimulatorReady,
  apiKey: string,
  anchorMs: number,
  endMs: number,
): Promise<WatchResult> {
  const deadline = endMs + 25_000;
  let state = '';
  let printedAlerts = 0;
  let live = false;
  let exitAnnounced = false;
  let exitOrderState = '';
  let exitOrder: OrderStatus | null = null;
  let phase = -1;
  let lastTape = 0;
  let view: MonitorView | null = null;
  for (;;) {
    const now = Date.now();
    const offset = now - anchorMs;
    const nextPhase = ready.phases.findIndex((p) => p.name !== 'history' && offset >= p.fromMs && offset < p.toMs);
    if (nextPhase > phase) {
      phase = nextPhase;
      const p = ready.phases[phase]!;
      say(dim(`[synthetic tape] ${p.name}: ${p.description}`));
    }
    view = await monitorStatus(ctx, positionId).catch(() => view);
    if (now - lastTape >= 10_000) {
      lastTape = now;
      const tape = await readTape(ready.restUrl, apiKey, ready.symbol).catch(() => null);
      if (tape)
        say(
          dim(
            `[synthetic tape] last ${tape.last} · NBBO ${tape.bid} × ${tape.ask} (${tape.bidSize} × ${tape.askSize})` +
              (view && !view.exitOrder?.state.startsWith('fill')
                ? ` · monitor has seen ${view.dataHealth.tradesSeen} trades, ${view.dataHealth.quotesSeen} quotes (data ${view.dataHealth.freshness})`
                : ''),
          ),
        );
    }
    if (view) {
      if (view.state !== state) {
        say(`monitor state: ${state ? `${state} → ` : ''}${bold(view.state)}`);
        state = view.state;
      }
      if (!live && view.live) {
        live = true;
        say(
          `baseline backfilled from history (${view.dataHealth.tradesSeen} trades, ${view.dataHealth.quotesSeen} quotes); alerts are live`,
        );
      }
      if (view.alertTotal > printedAlerts) {
        const fresh = view.alerts.slice(-(view.alertTotal - printedAlerts));
        for (const a of fresh) say(alertLine(a));
        printedAlerts = view.alertTotal;
      }
      if (view.exitSignal && !exitAnnounced) {
        exitAnnounced = true;
        say(red(bold(`EXIT SIGNAL (${view.exitSignal.reason}): ${view.exitSignal.rule}`)));
      }
      if (view.exitOrder && view.exitOrder.state !== exitOrderState) {
        exitOrderState = view.exitOrder.state;
        exitOrder = await orderStatus(ctx, view.exitOrder.clientOrderId).catch(() => exitOrder);
        const limit = exitOrder?.limitPrice ? ` limit ${exitOrder.limitPrice}` : '';
        const fill =
          view.exitOrder.filledQuantity > 0
            ? `, filled ${view.exitOrder.filledQuantity} @ ${view.exitOrder.averageFillPrice}`
            : '';
        const line = `protective SELL ${view.exitOrder.quantity} ${view.symbol}${limit} (reference bid ${view.exitOrder.referencePrice}): ${view.exitOrder.state}${fill}`;
        say(view.exitOrder.state === 'filled' ? green(line) : line);
      }
    }
    const filled = view?.exitOrder?.state === 'filled';
    if (filled && now >= endMs + 500) break;
    if (now > deadline) break;
    if (!filled && view?.exitOrder && ['cancelled', 'rejected', 'expired', 'failed'].includes(view.exitOrder.state))
      break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!view) throw new Error(`the monitor ${positionId} never answered a query`);
  if (view.exitOrder) exitOrder = await orderStatus(ctx, view.exitOrder.clientOrderId).catch(() => exitOrder);
  return { view, exitOrder };
}

function printSummary(input: {
  opts: Options;
  ui: string;
  positionId: string;
  entry: OrderStatus;
  view: MonitorView;
  exitOrder: OrderStatus | null;
  lastPrice: string | null;
  notifications: { url: string; received: ReturnType<WebhookReceiver['accepted']>; secret: string };
}): boolean {
  const { opts, ui, positionId, entry, view, exitOrder, lastPrice, notifications } = input;
  const out: string[] = [];
  const line = (s = '') => out.push(s);
  line();
  line(bold(`== Summary — ${yellow('SYNTHETIC')} session (seed ${opts.seed}), paper broker`));
  line(
    `position       ${entry.filledQuantity} ${opts.symbol} bought @ ${entry.averageFillPrice} (order ${entry.clientOrderId})`,
  );
  line(`alerts         ${view.alertTotal}`);
  for (const a of view.alerts) {
    const size = 'size' in a && a.size !== undefined ? `, ${a.size} sh` : '';
    line(`  ${a.severity.padEnd(8)} ${a.kind}${'source' in a ? `/${a.source}` : ''} @ ${a.price}${size}: ${a.rule}`);
  }
  line(
    `exit signal    ${view.exitSignal ? `${view.exitSignal.reason}: ${view.exitSignal.rule}` : red('none — the scenario did not complete')}`,
  );
  const filled = exitOrder?.state === 'filled' && exitOrder.averageFillPrice !== null;
  if (exitOrder) {
    line(
      `protective SELL ${exitOrder.clientOrderId}: ${filled ? green('filled') : red(exitOrder.state)} ${exitOrder.filledQuantity}/${exitOrder.quantity}` +
        `${exitOrder.averageFillPrice ? ` @ ${exitOrder.averageFillPrice}` : ''} (limit ${exitOrder.limitPrice}, reference bid ${exitOrder.referencePrice}, sell offset 0)`,
    );
  } else line(`protective SELL ${red('none placed')}`);
  if (filled && entry.averageFillPrice && lastPrice) {
    const qty = exitOrder.filledQuantity;
    const entryPx = new Money(entry.averageFillPrice);
    const exitPnl = new Money(exitOrder.averageFillPrice).minus(entryPx).times(qty);
    const holdPnl = new Money(lastPrice).minus(entryPx).times(qty);
    line(
      `P&L            exited: ${money(exitPnl)}  (${exitOrder.averageFillPrice} − ${entry.averageFillPrice}) × ${qty}`,
    );
    line(`               held to the end of the session (last ${lastPrice}): ${money(holdPnl)}`);
    line(`               ${bold(`the exit saved ${money(exitPnl.minus(holdPnl))} against holding`)}`);
  }
  const sent = notifications.received;
  const signed = sent.filter((r) => verifySignature(r, notifications.secret)).length;
  line(
    `notifications  ${sent.length} received by the local webhook ${notifications.url} (${signed}/${sent.length} with a valid HMAC-SHA256 signature; FLOWGUARD_NOTIFY_* sends them to Slack, Discord or ntfy instead)`,
  );
  for (const r of sent) {
    const e = r.json as { severity: string; kind: string; title: string };
    line(`  ${e.severity.padEnd(8)} ${e.kind.padEnd(15)} ${e.title}`);
  }
  const wf = (id: string) => `${ui}/namespaces/${NAMESPACE}/workflows/${encodeURIComponent(id)}`;
  line();
  line(bold('Temporal UI'));
  line(`  monitor      ${cyan(wf(WorkflowIds.position(positionId)))}`);
  if (exitOrder) line(`  exit order   ${cyan(wf(exitOrder.workflowId))}`);
  line(`  entry order  ${cyan(wf(entry.workflowId))}`);
  line(`  desk         ${cyan(wf(WorkflowIds.desk('paper', ACCOUNT)))}`);
  line(
    `  by symbol    ${cyan(`${ui}/namespaces/${NAMESPACE}/workflows?query=${encodeURIComponent(`Symbol="${opts.symbol}"`)}`)}`,
  );
  process.stdout.write(`${out.join('\n')}\n\n`);
  const ok = view.exitSignal !== null && filled;
  if (!ok) process.stderr.write(red('the scenario did not complete: no exit signal or no filled protective SELL\n'));
  return ok;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // A bad option or port is invalid input (exit 2), as in the CLI; anything else is the demo failing.
    if (err instanceof ValidationError) process.exit(reportError(err));
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
