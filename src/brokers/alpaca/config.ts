import { z } from 'zod';
import { parseOrThrow } from '../../domain/validation';

export const ALPACA_PAPER_BASE_URL = 'https://paper-api.alpaca.markets';
export const ALPACA_LIVE_BASE_URL = 'https://api.alpaca.markets';

export interface AlpacaConfig {
  readonly keyId: string;
  readonly secretKey: string;
  /** REST base, e.g. https://paper-api.alpaca.markets (no trailing /v2). */
  readonly baseUrl: string;
  /** Per-request deadline; a submit that exceeds it is an unknown outcome. Default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Page size for GET /v2/orders (Alpaca's maximum, 500, unless a test needs small pages). */
  readonly listPageSize?: number;
  /** trade_updates WebSocket; default: baseUrl with ws(s):// and path /stream. */
  readonly streamUrl?: string;
}

const positiveInt = z
  .string()
  .regex(/^\d+$/, 'must be a positive integer (milliseconds)')
  .transform(Number)
  .refine((n) => n > 0, 'must be a positive integer (milliseconds)');

export const AlpacaEnvSchema = z.object({
  ALPACA_KEY_ID: z.string({ message: 'must be set' }).min(1, 'must be set'),
  ALPACA_SECRET_KEY: z.string({ message: 'must be set' }).min(1, 'must be set'),
  ALPACA_BASE_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(:\d+)?\/?$/, 'must be an http(s) origin like https://paper-api.alpaca.markets')
    .default(ALPACA_PAPER_BASE_URL),
  ALPACA_TIMEOUT_MS: positiveInt.optional(),
});

/** Reads ALPACA_KEY_ID, ALPACA_SECRET_KEY, ALPACA_BASE_URL (default paper) and ALPACA_TIMEOUT_MS. */
export function alpacaConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AlpacaConfig {
  const picked = Object.fromEntries(
    Object.keys(AlpacaEnvSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = parseOrThrow(AlpacaEnvSchema, picked);
  return {
    keyId: parsed.ALPACA_KEY_ID,
    secretKey: parsed.ALPACA_SECRET_KEY,
    baseUrl: parsed.ALPACA_BASE_URL.replace(/\/$/, ''),
    ...(parsed.ALPACA_TIMEOUT_MS === undefined ? {} : { timeoutMs: parsed.ALPACA_TIMEOUT_MS }),
  };
}

export function alpacaStreamUrl(config: AlpacaConfig): string {
  if (config.streamUrl) return config.streamUrl;
  return `${config.baseUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/stream`;
}
