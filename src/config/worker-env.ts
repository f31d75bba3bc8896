import { z } from 'zod';
import { parseOrThrow } from '../domain/validation';
import { readObservabilityEnv } from '../observability/observability-env';
import { warnUnknownFlowguardVariables } from './env-names';
import { loadConfig } from './load-config';

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
  await loadConfig(env);
}
