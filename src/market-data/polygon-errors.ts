/**
 * Polygon failures by what the caller should do about them. The `name` of each class is stable: Temporal
 * turns it into the ApplicationFailure type that retry policies match (e.g. nonRetryableErrorTypes).
 * No error ever carries the API key: URLs are masked and the underlying AxiosError (whose config holds
 * the key) is not attached.
 */
export abstract class PolygonError extends Error {
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    /** HTTP status, when the server answered. */
    readonly status?: number,
    /** Request path and query with the apiKey masked. */
    readonly url?: string,
  ) {
    super(message);
  }
}

/** 401 bad key / 403 not entitled, or WebSocket auth_failed: retrying cannot help. */
export class PolygonUnauthorized extends PolygonError {
  override readonly name = 'PolygonUnauthorized';
  readonly retryable = false;
}

/** 429: wait `retryAfterMs` (from Retry-After, else a default) before the next request. */
export class PolygonRateLimited extends PolygonError {
  override readonly name = 'PolygonRateLimited';
  readonly retryable = true;
  constructor(
    message: string,
    readonly retryAfterMs: number,
    status?: number,
    url?: string,
  ) {
    super(message, status, url);
  }
}

/** 5xx, timeouts, refused/reset connections, unparseable bodies, dropped streams: transient. */
export class PolygonUnavailable extends PolygonError {
  override readonly name = 'PolygonUnavailable';
  readonly retryable = true;
}

/** Any other 4xx (bad parameter, unknown path): a bug or bad input, not fixed by retrying. */
export class PolygonRequestRejected extends PolygonError {
  override readonly name = 'PolygonRequestRejected';
  readonly retryable = false;
}

/** Replaces the value of every `apiKey` query parameter (and anything that looks like the given key). */
export function maskApiKey(text: string, apiKey?: string): string {
  let masked = text.replace(/([?&]apiKey=)[^&#\s]*/gi, '$1***');
  if (apiKey) masked = masked.split(apiKey).join('***');
  return masked;
}
