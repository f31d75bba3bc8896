import { z } from 'zod';
import { parseOrThrow } from '../domain/validation';

const urlWithScheme = (schemes: readonly string[], example: string) =>
  z
    .string()
    .refine(
      (value) => {
        try {
          return schemes.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      `must be a ${schemes.map((s) => s.replace(':', '')).join(' or ')} URL, e.g. ${example}`,
    )
    .transform((value) => value.replace(/\/+$/, ''));

/** Where market data comes from and the key; read from the environment only (the rate limit is app config). */
export const PolygonEnvSchema = z.object({
  POLYGON_API_KEY: z
    .string({ message: 'must be set to your Polygon.io API key' })
    .min(1, 'must be set to your Polygon.io API key')
    .refine((v) => !/\s/.test(v), 'must not contain whitespace'),
  POLYGON_BASE_URL: urlWithScheme(['http:', 'https:'], 'https://api.polygon.io').default('https://api.polygon.io'),
  POLYGON_WS_URL: urlWithScheme(['ws:', 'wss:'], 'wss://socket.polygon.io').default('wss://socket.polygon.io'),
});
export type PolygonEnv = z.output<typeof PolygonEnvSchema>;

export function readPolygonEnv(env: NodeJS.ProcessEnv = process.env): PolygonEnv {
  const picked = Object.fromEntries(
    Object.keys(PolygonEnvSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  return parseOrThrow(PolygonEnvSchema, picked);
}
