/**
 * The one place adapters touch the network: Node's global fetch with an AbortSignal timeout, and transport
 * failures turned into BrokerTimeout / BrokerUnavailable. Status codes are classified by each adapter,
 * because the same status means different things at different brokers.
 */
import { BrokerTimeout, BrokerUnavailable } from './errors';

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** Parsed JSON body, or undefined when the body is empty or not JSON. */
  readonly json: unknown;
}

// Failures that happen before a single byte of the request leaves: the broker cannot have acted on it.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

function errorCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur !== null && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Duck-typed: the DOMException fetch rejects with may come from another realm (instanceof is unreliable). */
function isTimeout(err: unknown): boolean {
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur !== null && typeof cur === 'object'; i++) {
    const name = (cur as { name?: unknown }).name;
    if (name === 'TimeoutError' || name === 'AbortError') return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

export async function sendHttp(broker: string, req: HttpRequest): Promise<HttpResponse> {
  const started = Date.now();
  let response: Response;
  let text: string;
  try {
    response = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      ...(req.body === undefined ? {} : { body: req.body }),
      signal: AbortSignal.timeout(req.timeoutMs),
      redirect: 'error',
    });
    // Reading the body is part of the same deadline: a server can send headers and then stall.
    text = await response.text();
  } catch (err) {
    const where = `${req.method} ${stripQuery(req.url)}`;
    if (isTimeout(err)) {
      throw new BrokerTimeout({
        broker,
        message: `${broker}: no reply to ${where} within ${req.timeoutMs} ms`,
        outcomeUnknown: true,
        cause: err,
      });
    }
    const code = errorCode(err);
    throw new BrokerUnavailable({
      broker,
      message: `${broker}: ${where} failed after ${Date.now() - started} ms (${code ?? describe(err)})`,
      outcomeUnknown: code === undefined || !NOT_SENT_CODES.has(code),
      cause: err,
    });
  }
  return { status: response.status, headers: response.headers, text, json: parseJson(text) };
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function describe(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(err);
}

/** Query strings can carry identifiers we do not want in error messages; paths are enough to debug. */
export function stripQuery(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? url : url.slice(0, i);
}

/** Retry-After parsing is shared with the Polygon client and the notification sender. */
export { parseRetryAfter } from '../shared/retry-after';

/** Robinhood's throttle message: "Request was throttled. Expected available in 27 seconds." */
export function parseThrottleSeconds(text: string): number | null {
  const m = /expected available in\s+(\d+(?:\.\d+)?)\s*second/i.exec(text);
  return m?.[1] === undefined ? null : Math.round(Number(m[1]) * 1000);
}
