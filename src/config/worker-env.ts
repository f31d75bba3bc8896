import { z } from 'zod';
import { type BrokerName } from '../domain/orders/order-request';
import { parseOrThrow, ValidationError } from '../domain/validation';
import { resolveDestinations } from '../notifications/destinations';
import { readObservabilityEnv } from '../observability/observability-env';
import { warnUnknownFlowguardVariables } from './env-names';
import { loadConfig } from './load-config';
import { BROKER_NAMES } from '../brokers/registry';

/** Worker capacity, from the environment. */
export const WorkerEnvSchema = z.object({
  // Every stream-mode monitor holds one activity slot for as long as it runs (the SDK's default is 100).
  FLOWGUARD_MAX_CONCURRENT_ACTIVITIES: z.coerce
    .number({ message: 'must be an integer from 1 to 10000' })
    .int('must be an integer from 1 to 10000')
    .min(1, 'must be an integer from 1 to 10000')
    .max(10_000, 'must be an integer from 1 to 10000')
    .default(1000),
});
export type WorkerEnv = z.output<typeof WorkerEnvSchema>;

export function readWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const raw = env.FLOWGUARD_MAX_CONCURRENT_ACTIVITIES;
  return parseOrThrow(WorkerEnvSchema, { FLOWGUARD_MAX_CONCURRENT_ACTIVITIES: raw === '' ? undefined : raw });
}

/**
 * Everything the worker reads from FLOWGUARD_CONFIG and the environment, checked before it connects: a bad
 * value is exit 2 naming the variable or JSON path now, not a failure on the first poll or order. Unknown
 * FLOWGUARD_* names (typos) are warned about on stderr.
 */
export async function checkWorkerSettings(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  warnUnknownFlowguardVariables(env);
  readWorkerEnv(env);
  readObservabilityEnv(env);
  const config = await loadConfig(env);
  resolveDestinations(config.notifications, env);
  watchedBrokersFromEnv(env);
}

/** The brokers FLOWGUARD_POSITIONS_WATCH names (comma-separated), validated; empty when unset. */
export function watchedBrokersFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): BrokerName[] {
  const raw = env.FLOWGUARD_POSITIONS_WATCH?.trim();
  if (!raw) return [];
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !(BROKER_NAMES as readonly string[]).includes(n));
  if (bad.length > 0) {
    throw new ValidationError([
      {
        field: 'FLOWGUARD_POSITIONS_WATCH',
        rule: `must list brokers from ${BROKER_NAMES.join(', ')} (not ${bad.join(', ')})`,
      },
    ]);
  }
  return [...new Set(names)] as BrokerName[];
}
