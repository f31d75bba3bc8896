import os from 'node:os';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities';
import { createAuditLog } from './activities/audit';
import { throttledFailureLog } from './brokers/paper/market-data-guard';
import { NO_MARKET_DATA } from './brokers/paper/market-price-source';
import { createBrokerRegistry } from './brokers/registry';
import { loadConfig } from './config/load-config';
import { connectionOptions, readTemporalEnv } from './config/temporal-env';
import { checkWorkerSettings, readWorkerEnv, watchedBrokersFromEnv } from './config/worker-env';
import { paperMarketFromEnv, polygonPriceSource } from './market-data/polygon-price-source';
import { polygonFromEnv, polygonStreamFromEnv } from './market-data/polygon-from-env';
import { reportError } from './cli/io';
import { temporalUnreachable } from './cli/temporal';
import { startPositionsWatch } from './cli/positions';
import { Client, Connection } from '@temporalio/client';
import { resolveDestinations } from './notifications/destinations';
import { NotificationSender } from './notifications/sender';
import { activityCorrelationInterceptor } from './observability/activity-correlation';
import { businessEventsInterceptor } from './observability/business-events';
import { startObservability } from './observability/runtime';

export interface FlowguardWorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly taskQueue: string;
  /** A pre-built bundle (tests, production image); without it the worker bundles src/workflows itself. */
  readonly workflowBundle?: WorkerOptions['workflowBundle'];
  readonly deps?: Partial<ActivityDeps>;
  readonly identity?: string;
  /** Activity slots; stream-mode monitors hold one each. Default: FLOWGUARD_MAX_CONCURRENT_ACTIVITIES (1000). */
  readonly maxConcurrentActivities?: number;
  /**
   * Workflows kept in the worker's cache (SDK default: about 10,000 within memory limits). Tests pass 0 to make
   * every workflow task replay the whole history, which turns any non-determinism into a failed task at once.
   */
  readonly maxCachedWorkflows?: number;
}

export async function createWorker(options: FlowguardWorkerOptions): Promise<Worker> {
  const identity = options.identity ?? `flowguard-worker@${os.hostname()}:${process.pid}`;
  const polygon =
    options.deps?.polygon ??
    polygonFromEnv(process.env, (limiter) => options.deps?.metrics?.trackRateLimiter('polygon', limiter));
  let brokers = options.deps?.brokers;
  if (!brokers) {
    // No Polygon key: paper gets no market source and its orders rest, rather than every submit failing. A
    // Polygon client handed in (tests, tools) is a configured source whatever the environment says.
    const paperMarket = options.deps?.polygon
      ? { marketPrices: polygonPriceSource(polygon, 'the Polygon client given to the worker') }
      : paperMarketFromEnv(process.env, polygon);
    const fillsAgainst = paperMarket.marketPrices?.description ?? NO_MARKET_DATA.description;
    const logger = Runtime.instance().logger;
    brokers = createBrokerRegistry({
      dataDir: process.env.FLOWGUARD_DATA_DIR || undefined,
      ...(paperMarket.marketPrices ? { marketPrices: paperMarket.marketPrices } : {}),
      onPaperMarketDataFailure: throttledFailureLog((fields, message) => {
        logger.warn(message, fields);
      }),
    });
    logger.info(`paper broker fills against ${fillsAgainst}`, { paperFillsAgainst: fillsAgainst });
  }
  // The shared WebSocket's liveness bound; the worker's start-up check has already validated the configuration.
  const config =
    options.deps?.streamLivenessMs !== undefined && options.deps.notifications ? null : await loadConfig(process.env);
  const streamLivenessMs = options.deps?.streamLivenessMs ?? config!.marketData.streamLivenessSeconds * 1000;
  // Destination URLs and secrets stay in this process: workflows hand the activity an event, never an address.
  const notifications =
    options.deps?.notifications ??
    new NotificationSender({ destinations: resolveDestinations(config!.notifications, process.env) });
  for (const [name, limiter] of notifications.limiters())
    options.deps?.metrics?.trackRateLimiter(`notify:${name}`, limiter);
  const deps: ActivityDeps = {
    workerIdentity: identity,
    streamLivenessMs,
    now: () => new Date(),
    polygon,
    // A client handed in (tests, tools) is configured; otherwise the key decides whether the calendar is asked for.
    polygonConfigured: options.deps?.polygon ? () => true : () => Boolean(process.env.POLYGON_API_KEY?.trim()),
    polygonStream: options.deps?.polygonStream ?? polygonStreamFromEnv(),
    brokers,
    audit: options.deps?.audit ?? createAuditLog(),
    notifications,
    ...options.deps,
  };
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    identity,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('./workflows') }),
    activities: createActivities(deps),
    // clientOrderId / positionId from activity inputs on every activity log line (src/observability).
    // Business events (order placed, alert) get one info line each as their activity ends.
    interceptors: { activity: [activityCorrelationInterceptor, businessEventsInterceptor] },
    // Lets in-flight activities (a broker submit, say) finish on SIGTERM instead of being abandoned.
    shutdownGraceTime: '10 seconds',
    // A workflow task queued for a worker that died waits this long before any other worker may take it (SDK
    // default 10 s). A monitor whose poll was lost stays blind for that long on top of its heartbeat timeout;
    // a busy live worker picks up its sticky tasks in milliseconds, so a short bound costs nothing in replays.
    stickyQueueScheduleToStartTimeout: '3 seconds',
    ...(options.maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows: options.maxCachedWorkflows }),
    maxConcurrentActivityTaskExecutions:
      options.maxConcurrentActivities ?? readWorkerEnv().FLOWGUARD_MAX_CONCURRENT_ACTIVITIES,
  });
}

async function main(): Promise<void> {
  const env = readTemporalEnv();
  // Before anything starts: an invalid setting is exit 2 naming it, not a worker that polls and fails later.
  await checkWorkerSettings();
  // Before the first connection: installs Temporal's Runtime (logs into pino, Core metrics) and /metrics.
  const observability = await startObservability();
  const { logger, metrics } = observability;
  // Until the worker runs, Temporal's Runtime holds SIGINT/SIGTERM for workers that do not exist yet: without
  // this, Ctrl-C during the connection or the workflow bundle did nothing.
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`flowguard worker: ${signal} before the worker started; exiting\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    let connection: NativeConnection;
    try {
      connection = await NativeConnection.connect(connectionOptions(env));
    } catch (err) {
      throw temporalUnreachable(env.TEMPORAL_ADDRESS, err);
    }
    try {
      const worker = await createWorker({
        connection,
        namespace: env.TEMPORAL_NAMESPACE,
        taskQueue: env.TEMPORAL_TASK_QUEUE,
        ...(process.env.FLOWGUARD_WORKFLOW_BUNDLE
          ? { workflowBundle: { codePath: process.env.FLOWGUARD_WORKFLOW_BUNDLE } }
          : {}),
        deps: { metrics },
      });
      metrics.workerInfo.set(
        { identity: worker.options.identity, task_queue: env.TEMPORAL_TASK_QUEUE, namespace: env.TEMPORAL_NAMESPACE },
        1,
      );
      logger.info(
        {
          taskQueue: env.TEMPORAL_TASK_QUEUE,
          namespace: env.TEMPORAL_NAMESPACE,
          metrics: observability.metricsServer?.url ?? 'off',
        },
        `flowguard worker polling task queue '${env.TEMPORAL_TASK_QUEUE}' on ${env.TEMPORAL_ADDRESS} (namespace '${env.TEMPORAL_NAMESPACE}')`,
      );
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
      const running = worker.run();
      // A watch that cannot be started is logged, not fatal: the worker serves orders and monitors regardless, and
      // the next worker start (or `flowguard positions watch`) tries again.
      await startConfiguredWatches(env).catch((err: unknown) => {
        logger.error({ err }, 'FLOWGUARD_POSITIONS_WATCH: could not start the positions watch');
      });
      await running;
    } finally {
      await connection.close();
    }
  } finally {
    await observability.close();
  }
}

/**
 * FLOWGUARD_POSITIONS_WATCH=alpaca[,robinhood,...]: the worker starts each broker's positions watch for
 * FLOWGUARD_ACCOUNT (or finds it running: the id is per account, so every worker of a fleet may ask).
 */
async function startConfiguredWatches(env: ReturnType<typeof readTemporalEnv>): Promise<void> {
  const brokers = watchedBrokersFromEnv(process.env);
  if (brokers.length === 0) return;
  const connection = await Connection.connect(connectionOptions(env));
  try {
    const ctx = { client: new Client({ connection, namespace: env.TEMPORAL_NAMESPACE }), env };
    const config = await loadConfig(process.env);
    for (const broker of brokers) {
      const { workflowId } = await startPositionsWatch(ctx, { broker }, config);
      Runtime.instance().logger.info(`positions watch ${workflowId} running (FLOWGUARD_POSITIONS_WATCH)`, {
        workflowId,
      });
    }
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().then(
    // Explicit exits: anything native left behind (Core's runtime, its exporter) must not keep a failed or
    // finished worker alive.
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => process.exit(reportError(err)),
  );
}
