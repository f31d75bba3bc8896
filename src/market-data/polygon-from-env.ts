import { loadConfig } from '../config/load-config';
import { readPolygonEnv } from './polygon-env';
import { createPolygonRest, type PolygonRest } from './polygon-rest';
import { sharedRateLimiter, type TokenBucketRateLimiter } from './rate-limiter';

/**
 * The worker's Polygon REST client, built on first use from POLYGON_* variables, with one rate limiter shared
 * by every monitor of the worker (marketData.rateLimitPerSecond: FLOWGUARD_MARKET_DATA_RATE_LIMIT_PER_SECOND).
 * A missing key fails the calls that need it, naming the variable.
 */
export function polygonFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  onRateLimiter?: (limiter: TokenBucketRateLimiter) => void,
): () => Promise<PolygonRest> {
  let client: Promise<PolygonRest> | null = null;
  return () => {
    client ??= (async () => {
      const cfg = readPolygonEnv(env);
      const { rateLimitPerSecond } = (await loadConfig(env)).marketData;
      const rateLimiter = sharedRateLimiter('polygon', { ratePerSecond: rateLimitPerSecond });
      onRateLimiter?.(rateLimiter);
      return createPolygonRest({ apiKey: cfg.POLYGON_API_KEY, baseUrl: cfg.POLYGON_BASE_URL, rateLimiter });
    })().catch((err: unknown) => {
      client = null;
      throw err;
    });
    return client;
  };
}

/** Key and WebSocket base for stream-mode monitors, read when a stream starts. */
export function polygonStreamFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): () => { apiKey: string; wsBaseUrl: string } {
  return () => {
    const cfg = readPolygonEnv(env);
    return { apiKey: cfg.POLYGON_API_KEY, wsBaseUrl: cfg.POLYGON_WS_URL };
  };
}
