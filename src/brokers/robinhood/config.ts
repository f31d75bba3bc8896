import { z } from 'zod';
import { parseOrThrow } from '../../domain/validation';

export const ROBINHOOD_BASE_URL = 'https://api.robinhood.com';

/**
 * ROBINHOOD_TOKEN is an OAuth bearer access token. Robinhood has no official API keys: a token comes from
 * `POST /oauth2/token/` (password grant + device token) and usually an MFA / device-approval challenge that
 * needs a human, so flowguard never logs in by itself. Obtain a token out of band (e.g. robin_stocks'
 * login), put it in the environment, and replace it when it expires (calls then fail with BrokerUnauthorized,
 * which is not retried). The token and account number are never logged: error bodies are masked.
 */
export interface RobinhoodConfig {
  readonly token: string;
  readonly accountNumber: string;
  readonly baseUrl: string;
  /** Per-request deadline. Default 10 000 ms. */
  readonly timeoutMs?: number;
  /** How many pages of recent orders a lookup by ref_id scans (newest first). Default 5. */
  readonly refIdLookupPages?: number;
}

export const RobinhoodEnvSchema = z.object({
  ROBINHOOD_TOKEN: z.string({ message: 'must be set' }).min(1, 'must be set'),
  ROBINHOOD_ACCOUNT_NUMBER: z
    .string({ message: 'must be set' })
    .regex(/^[A-Za-z0-9]{4,32}$/, 'must be the account number (letters and digits)'),
  ROBINHOOD_BASE_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(:\d+)?\/?$/, 'must be an http(s) origin like https://api.robinhood.com')
    .default(ROBINHOOD_BASE_URL),
  ROBINHOOD_TIMEOUT_MS: z
    .string()
    .regex(/^[1-9]\d*$/, 'must be a positive integer (milliseconds)')
    .transform(Number)
    .optional(),
});

/** Reads ROBINHOOD_TOKEN, ROBINHOOD_ACCOUNT_NUMBER, ROBINHOOD_BASE_URL (default the real API), ROBINHOOD_TIMEOUT_MS. */
export function robinhoodConfigFromEnv(env: NodeJS.ProcessEnv = process.env): RobinhoodConfig {
  const picked = Object.fromEntries(
    Object.keys(RobinhoodEnvSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = parseOrThrow(RobinhoodEnvSchema, picked);
  return {
    token: parsed.ROBINHOOD_TOKEN,
    accountNumber: parsed.ROBINHOOD_ACCOUNT_NUMBER,
    baseUrl: parsed.ROBINHOOD_BASE_URL.replace(/\/$/, ''),
    ...(parsed.ROBINHOOD_TIMEOUT_MS === undefined ? {} : { timeoutMs: parsed.ROBINHOOD_TIMEOUT_MS }),
  };
}
