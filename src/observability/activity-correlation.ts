/**
 * Correlation ids on activity log lines. The SDK already adds workflowId, runId, activityType and attempt to
 * every `Context.current().log` line; this interceptor adds the business ids found in the activity's input
 * (clientOrderId, brokerOrderId, positionId, broker), so one grep follows an order across workflow, activity
 * and audit lines.
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

export const CORRELATION_KEYS = ['clientOrderId', 'brokerOrderId', 'positionId', 'broker'] as const;
export type Correlation = Partial<Record<(typeof CORRELATION_KEYS)[number], string>>;

/** Ids from the first argument and the objects directly inside it (e.g. `{ broker, order: { clientOrderId } }`). */
export function correlationFromArgs(args: readonly unknown[]): Correlation {
  const out: Correlation = {};
  const visit = (value: unknown, depth: number) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
    const record = value as Record<string, unknown>;
    for (const key of CORRELATION_KEYS) {
      const v = record[key];
      if (out[key] === undefined && typeof v === 'string' && v.length > 0 && v.length <= 200) out[key] = v;
    }
    if (depth < 1) for (const nested of Object.values(record)) visit(nested, depth + 1);
  };
  visit(args[0], 0);
  return out;
}

export const activityCorrelationInterceptor: ActivityInterceptorsFactory = () => {
  let correlation: Correlation = {};
  return {
    inbound: {
      async execute(input, next) {
        correlation = correlationFromArgs(input.args);
        return next(input);
      },
    },
    outbound: {
      getLogAttributes(attributes, next) {
        return next({ ...attributes, ...correlation });
      },
    },
  };
};
