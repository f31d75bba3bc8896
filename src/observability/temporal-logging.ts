/**
 * Temporal SDK logs into flowguard's pino logger.
 *
 * Everything the SDK logs reaches `Runtime.logger`: the worker's own messages, Core's native logs (with log
 * forwarding on), workflow `log.*` calls (through the SDK's logger sink, not called on replay) and activity
 * `Context.current().log` calls. This adapter writes each as one JSON line carrying the SDK's metadata
 * (sdkComponent, workflowId, runId, workflowType, activityType, attempt, ...), masked like every other line.
 */
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { shapeTemporalEntry } from './business-events';
import { type Logger } from './logger';

const LOG_TIMESTAMP = Symbol.for('log_timestamp');

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Sees every SDK log entry before level filtering (e.g. to count order transitions from workflow logs). */
export type TemporalLogObserver = (level: LogLevel, message: string, meta: Readonly<Record<string, unknown>>) => void;

export class PinoTemporalLogger implements TemporalLogger {
  constructor(
    private readonly logger: Logger,
    private readonly observers: readonly TemporalLogObserver[] = [],
  ) {}

  log(level: LogLevel, message: string, meta: LogMetadata = {}): void {
    const fields = temporalFields(meta);
    for (const observe of this.observers) {
      try {
        observe(level, message, fields);
      } catch {
        // An observer (metrics) must never break logging, and a logger must never throw into the SDK.
      }
    }
    // Business events get their `event` field; webpack's bundle statistics go to debug (src/observability/business-events.ts).
    const shaped = shapeTemporalEntry(level, message, fields);
    const method = PINO_LEVEL[shaped.level] ?? 'info';
    this.logger[method](shaped.fields, shaped.message);
  }

  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/**
 * The SDK's metadata with flowguard's field names: activities' `workflowRunId` becomes `runId` (as on workflow
 * lines), the task token is dropped (it can complete the activity: a credential, and noise), and the SDK's
 * nanosecond timestamp becomes `eventTime` (forwarded lines are buffered up to 100 ms before they are written).
 */
export function temporalFields(meta: LogMetadata): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) {
    if (key === 'taskToken') continue;
    if (key === 'workflowRunId') out.runId = value;
    else out[key] = value;
  }
  const ts = (meta as Record<symbol, unknown>)[LOG_TIMESTAMP];
  if (typeof ts === 'bigint') out.eventTime = new Date(Number(ts / 1_000_000n)).toISOString();
  return out;
}
