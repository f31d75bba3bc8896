/**
 * The production topology of docker-compose.yml, run natively on loopback (no Docker engine needed): PostgreSQL
 * from Debian's package on a private data dir and port, the Temporal server, its schema tool and the Web UI built
 * from their Go modules (scripts/cluster-build.sh, pinned in tools/temporal-server), the namespace and search
 * attributes set up by the same deploy/temporal/*.sh the compose file runs, and N flowguard workers
 * (src/worker.ts, one process each, one workflow bundle built once for all).
 *
 * Used by `npm run cluster` (scripts/cluster.ts), the cluster failover tests and `npm run bench:cluster`.
 * Everything it starts is in `<dir>/pids.json` and stopped by `stop()`, by `stopRecorded(dir)` from another
 * process, or by a watchdog process when the owner dies without stopping (SIGKILL, crash).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { resolveTemporalCli } from '../src/dev/temporal-dev-server';

const ROOT = path.resolve(__dirname, '..');
const run = promisify(execFile);

/**
 * Each docker-compose.yml service and what runs in its place here. A unit test (deployment-files) fails when
 * the compose file's services and these keys differ, so the two descriptions of the topology stay in step.
 */
export const CLUSTER_SERVICES = {
  postgresql: 'PostgreSQL (Debian package; initdb + pg_ctl on a private data dir and port)',
  'temporal-schema': 'deploy/temporal/setup-schema.sh with temporal-sql-tool',
  temporal: 'temporal-server (go.temporal.io/server), all four services in one process',
  'temporal-setup': 'deploy/temporal/setup-namespace.sh with the temporal CLI',
  'temporal-ui': 'temporal-ui-server (github.com/temporalio/ui-server/v2)',
  worker: 'N × src/worker.ts',
} as const;

/** Loopback ports of one cluster. The Temporal services take `frontend` and fixed offsets from it. */
export interface ClusterPorts {
  readonly postgres: number;
  readonly frontend: number;
  readonly ui: number;
  /** Worker i serves /metrics on workerMetrics + i. */
  readonly workerMetrics: number;
}

/** What compose publishes (Temporal 7233, UI 8080) and, for PostgreSQL, a port no system cluster uses. */
export const DEFAULT_PORTS: ClusterPorts = { postgres: 55432, frontend: 7233, ui: 8080, workerMetrics: 9464 };

/** Offsets from the frontend's gRPC port (7233 → 7234, 7235, 7239, 7243 and 6933-6939: the server's samples). */
function serverPorts(frontend: number) {
  return {
    frontendHttp: frontend + 10,
    history: frontend + 1,
    matching: frontend + 2,
    worker: frontend + 6,
    membership: { frontend: frontend - 300, history: frontend - 299, matching: frontend - 298, worker: frontend - 294 },
    metrics: frontend + 767,
  };
}

function allPorts(p: ClusterPorts, workers: number): number[] {
  const s = serverPorts(p.frontend);
  return [
    p.postgres,
    p.frontend,
    p.ui,
    s.frontendHttp,
    s.history,
    s.matching,
    s.worker,
    ...Object.values(s.membership),
    s.metrics,
    ...Array.from({ length: workers }, (_, i) => p.workerMetrics + i),
  ];
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A block of free ports for a cluster that must not meet another (tests, benches). */
export async function findFreePorts(workers: number): Promise<ClusterPorts> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Temporal stores its services' ports in PostgreSQL as smallint (cluster_membership): all must be ≤ 32767.
    const base = 12_000 + Math.floor(Math.random() * 19_000);
    const ports: ClusterPorts = {
      postgres: base + 900,
      frontend: base + 400,
      ui: base + 901,
      workerMetrics: base + 910,
    };
    const free = await Promise.all(allPorts(ports, workers).map(portFree));
    if (free.every(Boolean)) return ports;
  }
  throw new Error('no block of free loopback ports found for the cluster');
}

export interface ClusterOptions {
  /** State: PostgreSQL's data, config files, the workflow bundle, pids.json and logs/ (everything's log). */
  readonly dir: string;
  readonly workers: number;
  readonly ports?: ClusterPorts;
  readonly namespace?: string;
  /** Default: the environment's TEMPORAL_TASK_QUEUE, else flowguard's. */
  readonly taskQueue?: string;
  /** Start the Web UI server (default true). */
  readonly ui?: boolean;
  /** Added to every worker's environment (on top of this process's). */
  readonly workerEnv?: Readonly<Record<string, string>>;
  /** Temporal dynamic config, key → value (on top of eager activity dispatch, as the dev server has). */
  readonly dynamicConfig?: Readonly<Record<string, unknown>>;
  /** Progress lines ("postgres: ready on 127.0.0.1:55432"). */
  readonly log?: (line: string) => void;
  /** A workflow bundle built already (tests: jest cannot run webpack); default: bundled here into `dir`. */
  readonly workflowBundle?: string;
  /** Kill everything if this process dies without calling stop() (default true). */
  readonly watchdog?: boolean;
}

export interface ClusterWorker {
  readonly index: number;
  readonly child: ChildProcess;
  readonly identity: string;
  readonly metricsPort: number;
  readonly log: string;
  /** SIGKILL, the crash the failover tests are about; resolves when the process is gone. */
  kill(): Promise<void>;
  stop(): Promise<void>;
  alive(): boolean;
}

export interface Cluster {
  readonly address: string;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly uiUrl: string | undefined;
  readonly ports: ClusterPorts;
  readonly logsDir: string;
  readonly bundlePath: string;
  readonly binDir: string;
  readonly workers: ClusterWorker[];
  /** Starts one more worker (the next index; workers stay in index order) and waits until it polls. */
  addWorker(env?: Readonly<Record<string, string>>): Promise<ClusterWorker>;
  /** Stops the Temporal server (SIGKILL when `kill`, else SIGTERM) and starts it again; resolves when it answers. */
  restartServer(options?: { kill?: boolean }): Promise<number>;
  /** Stops workers, UI, server, then PostgreSQL. Data stays in `dir` unless `removeData`. */
  stop(options?: { removeData?: boolean }): Promise<void>;
}

interface Recorded {
  owner: number;
  /** Process groups (detached children): server, UI, workers. */
  groups: number[];
  /** PostgreSQL's data dir (stopped with pg_ctl, or SIGINT to the postmaster). */
  pgData?: string;
  address?: string;
  uiUrl?: string;
  ports?: ClusterPorts;
}

const pidsFile = (dir: string) => path.join(dir, 'pids.json');

function readRecorded(dir: string): Recorded | undefined {
  try {
    return JSON.parse(fs.readFileSync(pidsFile(dir), 'utf8')) as Recorded;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

function postmasterPid(pgData: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(pgData, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops what another process recorded in `<dir>/pids.json` (`npm run cluster -- stop`): SIGTERM to its owner
 * (which then stops everything in order), and whatever is still running 15 s later is killed here.
 */
export async function stopRecorded(dir: string, log: (line: string) => void = () => undefined): Promise<boolean> {
  const rec = readRecorded(dir);
  if (!rec) return false;
  if (alive(rec.owner) && rec.owner !== process.pid) {
    log(`asking the cluster (pid ${rec.owner}) to stop...`);
    process.kill(rec.owner, 'SIGTERM');
    for (const deadline = Date.now() + 15_000; alive(rec.owner) && Date.now() < deadline;) await sleep(200);
  }
  for (const pid of rec.groups) if (alive(pid)) killGroup(pid, 'SIGKILL');
  const pm = rec.pgData ? postmasterPid(rec.pgData) : undefined;
  if (pm && alive(pm)) {
    log('stopping PostgreSQL...');
    process.kill(pm, 'SIGINT');
    for (const deadline = Date.now() + 15_000; alive(pm) && Date.now() < deadline;) await sleep(200);
  }
  fs.rmSync(pidsFile(dir), { force: true });
  return true;
}

/** The owner's state, if a cluster recorded in `dir` is running. */
export function runningCluster(dir: string): Recorded | undefined {
  const rec = readRecorded(dir);
  return rec && alive(rec.owner) ? rec : undefined;
}

/** Path of the Go binaries, built on first use (minutes; progress on stderr). */
export async function clusterBinaries(): Promise<string> {
  const child = spawn('bash', [path.join(ROOT, 'scripts', 'cluster-build.sh')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`scripts/cluster-build.sh exited ${code ?? 'on a signal'} (its reason is above)`);
  return out.trim();
}

/**
 * Why a cluster cannot start here without a build or a package install, or null when it can start in seconds:
 * the Go binaries are cached and PostgreSQL is installed (or installable: root with apt-get).
 */
export function clusterUnavailable(): string | null {
  if (!clusterBinariesCached()) return 'the cluster binaries are not built (scripts/cluster-build.sh)';
  if (findPgBin()) return null;
  const canInstall = process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  return canInstall ? null : 'PostgreSQL is not installed and cannot be installed here (needs root and apt-get)';
}

/** True when the Go binaries are built already (nothing to compile): the cluster starts in seconds. */
export function clusterBinariesCached(): boolean {
  return (
    spawnSync('bash', [path.join(ROOT, 'scripts', 'cluster-build.sh'), '--check'], { stdio: 'ignore' }).status === 0
  );
}

// ── PostgreSQL ───────────────────────────────────────────────────────────────────────────────────────

interface Postgres {
  readonly bin: string;
  /** Runs a PostgreSQL tool as the data dir's owner (the postgres user when we are root; postgres refuses root). */
  as(cmd: string, args: string[]): Promise<string>;
  readonly owner: { uid: number; gid: number } | undefined;
}

function findPgBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return undefined;
  const versions = fs
    .readdirSync(base)
    .filter((v) => fs.existsSync(path.join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], 'bin') : undefined;
}

async function ensurePostgres(log: (line: string) => void): Promise<Postgres> {
  let bin = findPgBin();
  if (!bin) {
    const root = process.getuid?.() === 0;
    if (!root || spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) {
      throw new Error(
        'PostgreSQL is not installed and cannot be installed here (needs root and apt-get): install the ' +
          "'postgresql' package (Debian/Ubuntu), or run the stack with 'docker compose up'",
      );
    }
    log("postgres: installing Debian's postgresql package (apt-get, about a minute)...");
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update', '-qq'], { env, maxBuffer: 64 << 20 }).catch(() => undefined);
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'], {
      env,
      maxBuffer: 64 << 20,
    });
    bin = findPgBin();
    if (!bin) throw new Error('apt-get installed postgresql but no /usr/lib/postgresql/*/bin/pg_ctl was found');
  }
  const pgBin = bin;
  if (process.getuid?.() === 0) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (id.status !== 0) throw new Error("running as root but there is no 'postgres' user (the package creates it)");
    return {
      bin: pgBin,
      owner: { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) },
      as: async (cmd, args) =>
        (await run('runuser', ['-u', 'postgres', '--', path.join(pgBin, cmd), ...args], { maxBuffer: 16 << 20 }))
          .stdout,
    };
  }
  return {
    bin: pgBin,
    owner: undefined,
    as: async (cmd, args) => (await run(path.join(pgBin, cmd), args, { maxBuffer: 16 << 20 })).stdout,
  };
}

function chown(p: string, owner: Postgres['owner']): void {
  if (owner) fs.chownSync(p, owner.uid, owner.gid);
}

// ── the cluster ──────────────────────────────────────────────────────────────────────────────────────

const TEMPORAL_DB_USER = 'temporal';

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const log = options.log ?? (() => undefined);
  const dir = path.resolve(options.dir);
  const ports = options.ports ?? DEFAULT_PORTS;
  const namespace = options.namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default';
  const taskQueue = options.taskQueue ?? (process.env.TEMPORAL_TASK_QUEUE || 'flowguard');
  const dbPassword = process.env.POSTGRES_PASSWORD || 'temporal';
  const logsDir = path.join(dir, 'logs');
  fs.mkdirSync(logsDir, { recursive: true });
  if (runningCluster(dir)) throw new Error(`a cluster is already running from ${dir} (npm run cluster -- stop)`);

  const busy: number[] = [];
  for (const p of allPorts(ports, options.workers)) if (!(await portFree(p))) busy.push(p);
  if (busy.length > 0) {
    throw new Error(`ports in use on 127.0.0.1: ${busy.join(', ')} (another cluster or dev server?)`);
  }

  const recorded: Recorded = { owner: process.pid, groups: [], ports };
  const record = () => fs.writeFileSync(pidsFile(dir), JSON.stringify(recorded));
  record();
  if (options.watchdog !== false) startWatchdog(dir);

  const children: ChildProcess[] = [];
  const workers: ClusterWorker[] = [];
  let server: ChildProcess | undefined;
  let ui: ChildProcess | undefined;
  let pg: Postgres | undefined;
  const pgData = path.join(dir, 'postgres');

  const stop = async (stopOptions: { removeData?: boolean } = {}) => {
    await Promise.all(workers.map((w) => w.stop()));
    for (const child of [ui, server]) if (child) await stopChild(child, 10_000);
    if (pg && fs.existsSync(path.join(pgData, 'postmaster.pid'))) {
      await pg.as('pg_ctl', ['stop', '-D', pgData, '-m', 'fast', '-w']).catch(() => undefined);
    }
    fs.rmSync(pidsFile(dir), { force: true });
    if (stopOptions.removeData) fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    const started = Date.now();
    const since = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    // The slow parts first and side by side: the Go build (minutes the first time), PostgreSQL, the bundle.
    const binDirP = clusterBinaries();
    const bundlePath = options.workflowBundle ?? path.join(dir, 'workflow-bundle.js');
    const bundleP = options.workflowBundle
      ? Promise.resolve()
      : bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), logger: quietLogger }).then(
          ({ code }) => fs.writeFileSync(bundlePath, code),
        );
    const cliP = resolveTemporalCli();

    // PostgreSQL: a private cluster owned by postgres (its data dir, socket dir and log too).
    pg = await ensurePostgres(log);
    const sockDir = path.join(dir, 'pg-socket');
    const pgLog = path.join(logsDir, 'postgresql.log');
    for (const d of [pgData, sockDir]) {
      fs.mkdirSync(d, { recursive: true, mode: 0o700 });
      chown(d, pg.owner);
    }
    if (!fs.existsSync(pgLog)) fs.writeFileSync(pgLog, '');
    chown(pgLog, pg.owner);
    // postgres must reach its data dir: the cluster dir (mkdtemp makes it 0700) opens to traversal.
    if (pg.owner) fs.chmodSync(dir, fs.statSync(dir).mode | 0o711);
    if (!fs.existsSync(path.join(pgData, 'PG_VERSION'))) {
      log(`postgres: initdb ${pgData}`);
      await pg.as('initdb', ['-D', pgData, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256']);
    }
    recorded.pgData = pgData;
    record();
    await pg.as('pg_ctl', [
      'start',
      '-D',
      pgData,
      '-l',
      pgLog,
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${ports.postgres} -c listen_addresses=127.0.0.1 -k ${sockDir}`,
    ]);
    // The Temporal role needs LOGIN CREATEDB only (temporal-sql-tool creates its two databases).
    const psql = (sql: string) =>
      pg!.as('psql', ['-h', sockDir, '-p', String(ports.postgres), '-U', 'postgres', '-d', 'postgres', '-tAc', sql]);
    const exists = (await psql(`SELECT 1 FROM pg_roles WHERE rolname = '${TEMPORAL_DB_USER}'`)).trim() === '1';
    const pw = dbPassword.replace(/'/g, "''");
    await psql(
      exists
        ? `ALTER ROLE ${TEMPORAL_DB_USER} LOGIN CREATEDB PASSWORD '${pw}'`
        : `CREATE ROLE ${TEMPORAL_DB_USER} LOGIN CREATEDB PASSWORD '${pw}'`,
    );
    log(`postgres: ready on 127.0.0.1:${ports.postgres} (${pg.bin.split('/').slice(-2, -1)[0]}; ${since()})`);

    const binDir = await binDirP;
    log(`temporal: binaries in ${binDir}`);
    const pathEnv = `${binDir}:${process.env.PATH ?? ''}`;

    // Schema: the same script as compose's temporal-schema service.
    await runLogged(
      'sh',
      [path.join(ROOT, 'deploy', 'temporal', 'setup-schema.sh')],
      path.join(logsDir, 'temporal-schema.log'),
      {
        PATH: pathEnv,
        POSTGRES_SEEDS: '127.0.0.1',
        DB_PORT: String(ports.postgres),
        POSTGRES_USER: TEMPORAL_DB_USER,
        POSTGRES_PWD: dbPassword,
      },
    );
    log(`temporal: schema ready (${since()})`);

    // The server.
    const configFile = path.join(dir, 'temporal-server.yaml');
    const dynamicFile = path.join(dir, 'dynamicconfig.yaml');
    fs.writeFileSync(configFile, serverConfig(ports, dbPassword, dynamicFile));
    fs.writeFileSync(dynamicFile, dynamicConfigYaml(options.dynamicConfig ?? {}));
    const address = `127.0.0.1:${ports.frontend}`;
    const startServer = async () => {
      const child = spawnLogged(
        path.join(binDir, 'temporal-server'),
        ['--config-file', configFile, '--allow-no-auth', 'start'],
        path.join(logsDir, 'temporal-server.log'),
        {},
      );
      children.push(child);
      recorded.groups.push(child.pid!);
      record();
      await waitForServer(address, child, 60_000).catch((err: unknown) => {
        throw new Error(`${String(err)}: ${tail(path.join(logsDir, 'temporal-server.log'))}`);
      });
      return child;
    };
    server = await startServer();
    recorded.address = address;
    record();
    log(`temporal: server on ${address} (${since()})`);

    // Namespace + search attributes: compose's temporal-setup script.
    const cli = await cliP;
    await runLogged(
      'sh',
      [path.join(ROOT, 'deploy', 'temporal', 'setup-namespace.sh')],
      path.join(logsDir, 'temporal-setup.log'),
      { PATH: `${path.dirname(cli)}:${pathEnv}`, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace },
    );
    log(`temporal: namespace '${namespace}' and search attributes ready (${since()})`);

    let uiUrl: string | undefined;
    if (options.ui !== false) {
      const uiRoot = path.join(dir, 'ui');
      fs.mkdirSync(path.join(uiRoot, 'config'), { recursive: true });
      fs.writeFileSync(path.join(uiRoot, 'config', 'development.yaml'), uiConfig(ports, address, namespace));
      ui = spawnLogged(
        path.join(binDir, 'temporal-ui-server'),
        ['--root', uiRoot, '--env', 'development', 'start'],
        path.join(logsDir, 'temporal-ui.log'),
        {},
      );
      children.push(ui);
      recorded.groups.push(ui.pid!);
      uiUrl = `http://127.0.0.1:${ports.ui}`;
      recorded.uiUrl = uiUrl;
      record();
      await waitForHttp(uiUrl, ui, 30_000);
      log(`temporal-ui: ${uiUrl} (${since()})`);
    }

    await bundleP;
    let nextIndex = 0;
    const addWorker = async (env: Readonly<Record<string, string>> = {}): Promise<ClusterWorker> => {
      const worker = await startWorkerProcess({
        index: nextIndex++,
        address,
        namespace,
        taskQueue,
        bundlePath,
        metricsPortBase: ports.workerMetrics,
        logsDir,
        env: {
          // One data dir for the cluster's workers (the paper broker's book; see README: one worker for paper).
          FLOWGUARD_DATA_DIR: process.env.FLOWGUARD_DATA_DIR || path.join(dir, 'data'),
          ...options.workerEnv,
          ...env,
        },
        onSpawn: (child) => {
          children.push(child);
          recorded.groups.push(child.pid!);
          record();
        },
      });
      workers.push(worker);
      workers.sort((a, b) => a.index - b.index);
      return worker;
    };
    // Side by side: each worker's start is mostly loading code and connecting, not this machine's CPU alone.
    await Promise.all(
      Array.from({ length: options.workers }, async () => {
        const w = await addWorker();
        log(
          `worker ${w.index + 1}: polling '${taskQueue}' (pid ${w.child.pid}, metrics :${w.metricsPort}, ${since()})`,
        );
      }),
    );

    const restartServer = async ({ kill = false } = {}) => {
      const t0 = Date.now();
      if (server) {
        if (kill) {
          killGroup(server.pid!, 'SIGKILL');
          await new Promise<void>((resolve) =>
            server!.exitCode !== null || server!.signalCode !== null
              ? resolve()
              : server!.once('exit', () => resolve()),
          );
        } else await stopChild(server, 20_000);
        recorded.groups = recorded.groups.filter((p) => p !== server!.pid);
      }
      server = await startServer();
      return Date.now() - t0;
    };

    return {
      address,
      namespace,
      taskQueue,
      uiUrl,
      ports,
      logsDir,
      bundlePath,
      binDir,
      workers,
      addWorker,
      restartServer,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface WorkerProcessOptions {
  readonly index: number;
  readonly address: string;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly bundlePath: string;
  /** Worker i serves /metrics on metricsPortBase + i. */
  readonly metricsPortBase: number;
  /** Its log: logsDir/worker-<index + 1>.log. */
  readonly logsDir: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Called with the process as soon as it is spawned (to record its pid before waiting). */
  readonly onSpawn?: (child: ChildProcess) => void;
}

/**
 * One flowguard worker process (src/worker.ts) on `address`, in its own process group; resolves once it polls
 * its task queue (the worker's start-up log line). Used by the cluster and by bench:cluster's dev-server rows.
 */
export async function startWorkerProcess(o: WorkerProcessOptions): Promise<ClusterWorker> {
  const metricsPort = o.metricsPortBase + o.index;
  const workerLog = path.join(o.logsDir, `worker-${o.index + 1}.log`);
  // node with tsx's loader, not the tsx CLI: the CLI runs the script in a child of its own, and a SIGKILL
  // would then hit the wrapper and orphan the worker instead of crashing it.
  const child = spawnLogged(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'worker.ts')], workerLog, {
    NODE_OPTIONS: '',
    MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
    TEMPORAL_ADDRESS: o.address,
    TEMPORAL_NAMESPACE: o.namespace,
    TEMPORAL_TASK_QUEUE: o.taskQueue,
    FLOWGUARD_WORKFLOW_BUNDLE: o.bundlePath,
    FLOWGUARD_METRICS_PORT: String(metricsPort),
    ...o.env,
  });
  o.onSpawn?.(child);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const deadline = Date.now() + 120_000;
  while (!fs.readFileSync(workerLog, 'utf8').includes('flowguard worker polling')) {
    if (child.exitCode !== null) {
      throw new Error(`worker ${o.index + 1} exited with ${child.exitCode}: ${tail(workerLog)}`);
    }
    if (Date.now() > deadline) {
      killGroup(child.pid!, 'SIGKILL');
      throw new Error(`worker ${o.index + 1} did not start: ${tail(workerLog)}`);
    }
    await sleep(100);
  }
  const worker: ClusterWorker = {
    index: o.index,
    child,
    // What src/worker.ts calls itself: the identity Temporal records on every activity a worker started.
    identity: `flowguard-worker@${os.hostname()}:${child.pid}`,
    metricsPort,
    log: workerLog,
    alive: () => child.exitCode === null && child.signalCode === null,
    kill: async () => {
      if (worker.alive()) killGroup(child.pid!, 'SIGKILL');
      await exited;
    },
    stop: async () => {
      if (!worker.alive()) return;
      // SIGTERM lets in-flight activities finish (shutdownGraceTime 10 s); killed if still there after 20 s.
      await stopChild(child, 20_000);
    },
  };
  return worker;
}

function serverConfig(ports: ClusterPorts, password: string, dynamicFile: string): string {
  const s = serverPorts(ports.frontend);
  const store = (db: string, maxConns: number) => `
      sql:
        pluginName: postgres12
        databaseName: ${db}
        connectAddr: 127.0.0.1:${ports.postgres}
        connectProtocol: tcp
        user: ${TEMPORAL_DB_USER}
        password: ${JSON.stringify(password)}
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: 1h`;
  const service = (grpc: number, membership: number, http?: number) => `
    rpc:
      grpcPort: ${grpc}
      membershipPort: ${membership}
      bindOnLocalHost: true${http ? `\n      httpPort: ${http}` : ''}`;
  return `# Written by scripts/cluster-topology.ts: Temporal on PostgreSQL, every service on loopback.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:${store('temporal', 20)}
    postgres-visibility:${store('temporal_visibility', 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  metrics:
    prometheus:
      framework: tally
      timerType: histogram
      listenAddress: 127.0.0.1:${s.metrics}
services:
  frontend:${service(ports.frontend, s.membership.frontend, s.frontendHttp)}
  history:${service(s.history, s.membership.history)}
  matching:${service(s.matching, s.membership.matching)}
  worker:${service(s.worker, s.membership.worker)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:${ports.frontend}
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: ${dynamicFile}
  pollInterval: 10s
`;
}

function dynamicConfigYaml(extra: Readonly<Record<string, unknown>>): string {
  // Eager activity dispatch, as the dev server runs it (src/dev/temporal-dev-server.ts): an order's submit
  // reaches the broker one server hop sooner.
  const values: Record<string, unknown> = { 'system.enableActivityEagerExecution': true, ...extra };
  return Object.entries(values)
    .map(([key, value]) => `${key}:\n  - value: ${JSON.stringify(value)}\n`)
    .join('');
}

function uiConfig(ports: ClusterPorts, address: string, namespace: string): string {
  return `temporalGrpcAddress: ${address}
host: 127.0.0.1
port: ${ports.ui}
enableUi: true
defaultNamespace: ${namespace}
disableNewsFetch: true
cors:
  allowOrigins:
    - http://127.0.0.1:${ports.ui}
`;
}

function spawnLogged(
  cmd: string,
  args: string[],
  logFile: string,
  env: Readonly<Record<string, string>>,
): ChildProcess {
  const fd = fs.openSync(logFile, 'a');
  try {
    // Detached: its own process group, so a stop or the watchdog takes its children along.
    return spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
}

async function runLogged(cmd: string, args: string[], logFile: string, env: Readonly<Record<string, string>>) {
  const child = spawnLogged(cmd, args, logFile, env);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${path.basename(args[0] ?? cmd)} failed (exit ${code}): ${tail(logFile)}`);
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child.pid!, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function waitForServer(address: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`temporal-server exited with ${child.exitCode} (see its log)`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch {
      if (Date.now() > deadline) throw new Error(`temporal-server did not answer on ${address} in time`);
      await sleep(100);
    }
  }
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: the process exited with ${child.exitCode} (see its log)`);
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer in time`);
    await sleep(200);
  }
}

function tail(file: string, lines = 15): string {
  try {
    // The server's JSON lines carry whole stack traces: the head of each line says what failed.
    return fs
      .readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(-lines)
      .map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l))
      .join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A tiny detached process that, once the owner is gone without having removed pids.json (SIGKILL, crash), kills
 * every recorded process group and stops PostgreSQL (SIGINT to the postmaster: a fast shutdown).
 */
function startWatchdog(dir: string): void {
  const script = `
    const fs = require('node:fs');
    const [file, owner] = [process.argv[1], Number(process.argv[2])];
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    const read = () => { try { return JSON.parse(fs.readFileSync(file, 'utf8')); } catch { return undefined; } };
    const timer = setInterval(() => {
      const rec = read();
      if (!rec || rec.owner !== owner) process.exit(0);
      if (alive(owner)) return;
      clearInterval(timer);
      for (const pid of rec.groups) { try { process.kill(-pid, 'SIGKILL'); } catch {} }
      if (rec.pgData) {
        try {
          const pm = Number(fs.readFileSync(rec.pgData + '/postmaster.pid', 'utf8').split('\\n')[0]);
          if (pm > 0) process.kill(pm, 'SIGINT');
        } catch {}
      }
      try { fs.rmSync(file); } catch {}
      process.exit(0);
    }, 300);`;
  const dog = spawn(process.execPath, ['-e', script, pidsFile(dir), String(process.pid)], {
    detached: true,
    stdio: 'ignore',
  });
  dog.unref();
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
