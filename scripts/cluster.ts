/**
 * `npm run cluster [-- --workers N]`: docker-compose.yml's topology without containers (Temporal on PostgreSQL,
 * the Web UI, N flowguard workers), on loopback, in the foreground until Ctrl-C or `npm run cluster -- stop`.
 * See scripts/cluster-topology.ts for what runs where.
 *
 *   npm run cluster                         1 worker; Temporal on 127.0.0.1:7233, UI on :8080, PostgreSQL on :55432
 *   npm run cluster -- --workers 3          three workers (metrics on :9464, :9465, :9466)
 *   npm run cluster -- --ports auto         a free block of ports instead (printed)
 *   npm run cluster -- --no-ui              without the Web UI server
 *   npm run cluster -- --dir DIR            state and logs elsewhere (default .data/cluster)
 *   npm run cluster -- stop                 stops the cluster started from the same --dir
 *   npm run cluster -- stop --wipe          ...and deletes its data (PostgreSQL included)
 *
 * Workers get this shell's environment (.env is not read: export what you need, e.g. POLYGON_API_KEY), with
 * TEMPORAL_ADDRESS/NAMESPACE/TASK_QUEUE and FLOWGUARD_METRICS_PORT set for the cluster. Exit codes: 0 stopped
 * cleanly, 1 failed to start (the reason is printed, logs stay in DIR/logs), 2 bad arguments.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_PORTS, findFreePorts, startCluster, stopRecorded, type Cluster } from './cluster-topology';

interface Args {
  readonly command: 'start' | 'stop';
  readonly workers: number;
  readonly ports: 'default' | 'auto';
  readonly ui: boolean;
  readonly dir: string;
  readonly wipe: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Args {
  let command: Args['command'] = 'start';
  let workers = 1;
  let ports: Args['ports'] = 'default';
  let ui = true;
  let wipe = false;
  let dir = path.resolve(__dirname, '..', '.data', 'cluster');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === 'stop' || a === 'start') command = a;
    else if (a === '--workers') {
      workers = Number(value());
      if (!Number.isInteger(workers) || workers < 0 || workers > 16) {
        throw new UsageError('--workers must be an integer 0-16');
      }
    } else if (a === '--ports') {
      const v = value();
      if (v !== 'default' && v !== 'auto') throw new UsageError('--ports must be default or auto');
      ports = v;
    } else if (a === '--no-ui') ui = false;
    else if (a === '--wipe') wipe = true;
    else if (a === '--dir') dir = path.resolve(value());
    else throw new UsageError(`unknown argument ${a} (see the top of scripts/cluster.ts)`);
  }
  return { command, workers, ports, ui, dir, wipe };
}

const say = (line: string) => console.log(`cluster: ${line}`);

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`cluster: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (args.command === 'stop') {
    const stopped = await stopRecorded(args.dir, say);
    say(stopped ? `stopped (${args.dir})` : `nothing running from ${args.dir}`);
    if (args.wipe) {
      fs.rmSync(args.dir, { recursive: true, force: true });
      say(`removed ${args.dir}`);
    }
    return 0;
  }

  const ports = args.ports === 'auto' ? await findFreePorts(args.workers) : DEFAULT_PORTS;
  say(`starting in ${args.dir} (logs: ${path.join(args.dir, 'logs')}); the first run builds the Temporal server`);
  const started: { cluster?: Cluster } = {};
  let stopping: Promise<void> | undefined;
  const stop = (why: string) => {
    stopping ??= (async () => {
      say(`${why}: stopping workers, UI, Temporal and PostgreSQL...`);
      await started.cluster?.stop();
      say('stopped');
    })();
    return stopping;
  };
  process.once('SIGINT', () => void stop('SIGINT').then(() => process.exit(0)));
  process.once('SIGTERM', () => void stop('SIGTERM').then(() => process.exit(0)));

  // A Ctrl-C before this resolves exits with the cluster half-started: the watchdog stops what was running.
  const cluster = await startCluster({ dir: args.dir, workers: args.workers, ports, ui: args.ui, log: say });
  started.cluster = cluster;
  const lines = [
    `Temporal (PostgreSQL)   ${cluster.address}   namespace '${cluster.namespace}', task queue '${cluster.taskQueue}'`,
    `Web UI                  ${cluster.uiUrl ?? 'off (--no-ui)'}`,
    `PostgreSQL              127.0.0.1:${cluster.ports.postgres}   user temporal, databases temporal + temporal_visibility`,
    ...cluster.workers.map(
      (w) =>
        `worker ${w.index + 1}                pid ${w.child.pid}   metrics http://127.0.0.1:${w.metricsPort}/metrics`,
    ),
    `logs                    ${cluster.logsDir}`,
  ];
  console.log(`\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
  say(
    `up. Try: TEMPORAL_ADDRESS=${cluster.address} npx flowguard health` +
      `   Ctrl-C or 'npm run cluster -- stop' stops everything.`,
  );
  // A worker that dies is reported (the others carry on: that is the point of several).
  for (const w of cluster.workers) {
    w.child.once('exit', (code, signal) => {
      if (!stopping) say(`worker ${w.index + 1} (pid ${w.child.pid}) exited (${signal ?? code}); see ${w.log}`);
    });
  }
  await new Promise(() => undefined);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`cluster: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
