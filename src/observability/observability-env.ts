import { z } from 'zod';
import { parseOrThrow } from '../domain/validation';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** json: one JSON object a line, for machines (the default); pretty: one readable line per entry, for a person. */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const port = (fallback: number) =>
  z
    .string()
    .regex(/^\d{1,5}$/, 'must be a port number 0-65535')
    .transform(Number)
    .refine((n) => n <= 65_535, 'must be a port number 0-65535')
    .default(fallback);

/** Logging and metrics settings of the worker; read from the environment only. */
export const ObservabilityEnvSchema = z.object({
  FLOWGUARD_LOG_LEVEL: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }))
    .default('info'),
  FLOWGUARD_LOG_FORMAT: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(LOG_FORMATS, { message: `must be one of ${LOG_FORMATS.join(', ')}` }))
    .default('json'),
  /** The worker's /metrics endpoint; 0 turns metrics off (flowguard's and Temporal's). */
  FLOWGUARD_METRICS_PORT: port(9464),
  FLOWGUARD_METRICS_HOST: z
    .string()
    .regex(/^[A-Za-z0-9.:_-]+$/, 'must be a host name or IP address, e.g. 0.0.0.0')
    .default('0.0.0.0'),
  /**
   * Loopback port of the Temporal runtime's own Prometheus exporter, which /metrics re-exports; 0 picks a free
   * port at start. Set it only to scrape Temporal's exporter directly.
   */
  FLOWGUARD_TEMPORAL_METRICS_PORT: port(0),
});
export type ObservabilityEnv = z.output<typeof ObservabilityEnvSchema>;

export function readObservabilityEnv(env: NodeJS.ProcessEnv = process.env): ObservabilityEnv {
  const picked = Object.fromEntries(
    Object.keys(ObservabilityEnvSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  return parseOrThrow(ObservabilityEnvSchema, picked);
}
