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

export async function startObservability(options: ObservabilityOptions = {}): Promise<Observability> {
  const env = readObservabilityEnv(options.env);
  const logger = options.logger ?? createLogger({ level: env.FLOWGUARD_LOG_LEVEL, ...pick(options) });
  setRootLogger(logger);
  const metrics = createFlowguardMetrics();

  const metricsOn = env.FLOWGUARD_METRICS_PORT !== 0;
  const temporalPort = metricsOn ? env.FLOWGUARD_TEMPORAL_METRICS_PORT || (await freeLoopbackPort()) : undefined;
  Runtime.install({
    logger: new PinoTemporalLogger(logger, [orderTransitionObserver(metrics)]),
    telemetryOptions: {
      logging: { filter: { core: coreLogLevel(env.FLOWGUARD_LOG_LEVEL), other: 'ERROR' }, forward: {} },
      ...(temporalPort === undefined ? {} : { metrics: { prometheus: { bindAddress: `127.0.0.1:${temporalPort}` } } }),
    },
  });

  const temporalMetricsUrl = temporalPort === undefined ? undefined : `http://127.0.0.1:${temporalPort}/metrics`;
  const metricsServer = metricsOn
    ? await startMetricsServer({
        registry: metrics.registry,
        port: env.FLOWGUARD_METRICS_PORT,
        host: env.FLOWGUARD_METRICS_HOST,
        ...(temporalMetricsUrl ? { temporalMetricsUrl } : {}),
        logger,
      })
    : undefined;
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
