import { z } from 'zod';
import { parseOrThrow } from '../domain/validation';

/** How worker and CLI reach Temporal; read from the environment only. */
export const TemporalEnvSchema = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port, e.g. localhost:7233')
    .default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1, 'must not be empty').default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1, 'must not be empty').default('flowguard'),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default('false')
    .transform((v) => v === 'true'),
});
export type TemporalEnv = z.output<typeof TemporalEnvSchema>;

export function readTemporalEnv(env: NodeJS.ProcessEnv = process.env): TemporalEnv {
  const picked = Object.fromEntries(
    Object.keys(TemporalEnvSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  return parseOrThrow(TemporalEnvSchema, picked);
}

/** Connection options for @temporalio/client and @temporalio/worker; TLS is implied by an API key. */
export function connectionOptions(env: TemporalEnv) {
  const tls = env.TEMPORAL_TLS || env.TEMPORAL_API_KEY !== undefined;
  return {
    address: env.TEMPORAL_ADDRESS,
    ...(tls ? { tls: true as const } : {}),
    ...(env.TEMPORAL_API_KEY ? { apiKey: env.TEMPORAL_API_KEY } : {}),
  };
}
