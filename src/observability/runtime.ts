/**
 * Process-wide observability for the worker: the shared pino logger, Temporal's Runtime (SDK, Core, workflow
 * and activity logs forwarded into that logger; Core's Prometheus exporter on a loopback port) and the
 * /metrics server. Call once, before the first Temporal connection is made.
 */
import net from 'node:net';
import { type LogLevel } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import { createFlowguardMetrics, type FlowguardMetrics } from './flowguard-metrics';
import { createLogger, type Logger, setRootLogger } from './logger';
import { type MetricsServer, startMetricsServer } from './metrics-server';
import { type LogLevelName, type ObservabilityEnv, readObservabilityEnv } from './observability-env';
import { orderTransitionObserver } from './order-metrics';
import { PinoTemporalLogger } from './temporal-logging';

export interface Observability {
  readonly logger: Logger;
  readonly metrics: FlowguardMetrics;
  readonly env: ObservabilityEnv;
  /** Undefined when FLOWGUARD_METRICS_PORT is 0. */
  readonly metricsServer?: MetricsServer;
  /** Where Core's own exporter listens (re-exported by metricsServer). */
  readonly temporalMetricsUrl?: string;
  close(): Promise<void>;
}

export interface ObservabilityOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Default: createLogger() from the environment. */
  readonly logger?: Logger;
}

/** Core's log filter for a pino level: Core has no fatal/silent, so those keep errors only. */
export function coreLogLevel(level: LogLevelName): LogLevel {
  const map: Record<LogLevelName, LogLevel> = {
    trace: 'TRACE',
    debug: 'DEBUG',
    info: 'INFO',
    warn: 'WARN',
    error: 'ERROR',
    fatal: 'ERROR',
    silent: 'ERROR',
  };
  return map[level];
}

/**
 * A port the worker must listen on is taken (another worker, a leftover process). Exit 1 with the variable to
 * change, instead of the raw EADDRINUSE after which the half-started runtime kept the process alive.
 */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  constructor(
    readonly variable: string,
    readonly port: number,
    host: string,
  ) {
    super(
      `${variable}: port ${port} on ${host} is already in use (another flowguard worker?); ` +
        `set ${variable} to a free port${variable === 'FLOWGUARD_METRICS_PORT' ? ', or to 0 to turn metrics off' : ''}`,
    );
  }
}

export async function startObservability(options: ObservabilityOptions = {}): Promise<Observability> {
  const env = readObservabilityEnv(options.env);
  const logger = options.logger ?? createLogger({ level: env.FLOWGUARD_LOG_LEVEL, ...pick(options) });
  setRootLogger(logger);
  const metrics = createFlowguardMetrics();

  const metricsOn = env.FLOWGUARD_METRICS_PORT !== 0;
  let temporalPort: number | undefined;
  if (metricsOn) {
    if (env.FLOWGUARD_TEMPORAL_METRICS_PORT === 0) temporalPort = await freeLoopbackPort();
    else {
      temporalPort = env.FLOWGUARD_TEMPORAL_METRICS_PORT;
      // Core binds it inside Runtime.install, where a clash is an opaque native error: check it here first.
      await assertPortFree('FLOWGUARD_TEMPORAL_METRICS_PORT', temporalPort, '127.0.0.1');
    }
  }
  const temporalMetricsUrl = temporalPort === undefined ? undefined : `http://127.0.0.1:${temporalPort}/metrics`;
  // /metrics is bound before Temporal's Runtime is installed: once installed, the runtime keeps the process
  // alive and holds SIGINT, so a port clash found after it left a worker that neither ran nor exited.
  const metricsServer = metricsOn
    ? await startMetricsServer({
        registry: metrics.registry,
        port: env.FLOWGUARD_METRICS_PORT,
        host: env.FLOWGUARD_METRICS_HOST,
        ...(temporalMetricsUrl ? { temporalMetricsUrl } : {}),
        logger,
      }).catch((err: unknown) => {
        if (isAddressInUse(err)) {
          throw new PortInUseError('FLOWGUARD_METRICS_PORT', env.FLOWGUARD_METRICS_PORT, env.FLOWGUARD_METRICS_HOST);
        }
        throw err;
      })
    : undefined;
  try {
    Runtime.install({
      logger: new PinoTemporalLogger(logger, [orderTransitionObserver(metrics)]),
      telemetryOptions: {
        logging: { filter: { core: coreLogLevel(env.FLOWGUARD_LOG_LEVEL), other: 'ERROR' }, forward: {} },
        ...(temporalPort === undefined
          ? {}
          : { metrics: { prometheus: { bindAddress: `127.0.0.1:${temporalPort}` } } }),
      },
    });
  } catch (err) {
    await metricsServer?.close();
    throw err;
  }
  return {
    logger,
    metrics,
    env,
    ...(metricsServer ? { metricsServer } : {}),
    ...(temporalMetricsUrl ? { temporalMetricsUrl } : {}),
    close: async () => {
      await metricsServer?.close();
      logger.flush();
    },
  };
}

function isAddressInUse(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}

/** Binds and releases the port, turning EADDRINUSE into a PortInUseError naming the variable. */
function assertPortFree(variable: string, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err) => reject(isAddressInUse(err) ? new PortInUseError(variable, port, host) : err));
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

function pick(options: ObservabilityOptions): { env?: NodeJS.ProcessEnv } {
  return options.env ? { env: options.env } : {};
}

/** A loopback port free right now (Core binds it moments later; a clash fails the start loudly). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
