import pino, { type Logger } from 'pino';
import { maskSecrets } from '../domain/masking';
import { rootLogger } from '../observability/logger';

/** One audited broker interaction: correlation ids, attempt, latency, outcome. */
export interface AuditRecord {
  readonly event: 'submit' | 'cancel' | 'status' | 'fill' | 'list_open' | 'state_change';
  readonly broker: string;
  readonly workflowId?: string;
  readonly clientOrderId?: string | null;
  readonly brokerOrderId?: string | null;
  readonly attempt?: number;
  readonly latencyMs?: number;
  readonly outcome: 'ok' | 'error';
  readonly state?: string;
  readonly filledQuantity?: number;
  readonly detail?: unknown;
  readonly error?: { readonly type: string; readonly message: string };
}

export interface AuditLog {
  record(entry: AuditRecord): void;
}

/**
 * JSON lines, every record masked before it is written: by default through the worker's shared logger
 * (src/observability/logger.ts), or to a file of its own when `destination` is given.
 */
export function createAuditLog(options: { destination?: string; logger?: Logger } = {}): AuditLog {
  const logger =
    options.logger ??
    (options.destination
      ? pino(
          { base: { component: 'audit' }, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' },
          pino.destination({ dest: options.destination, mkdir: true, sync: false }),
        )
      : rootLogger().child({ component: 'audit' }));
  return {
    record(entry) {
      logger.info(maskSecrets(entry), `broker ${entry.event}`);
    },
  };
}

/** An audit log that keeps records in memory (tests). */
export function createMemoryAuditLog(): AuditLog & { readonly records: AuditRecord[] } {
  const records: AuditRecord[] = [];
  return { records, record: (entry) => void records.push(maskSecrets(entry)) };
}
