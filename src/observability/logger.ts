/**
 * The one logger factory of flowguard: pino, JSON lines, with every secret masked before a line is written.
 *
 * Masking happens in three layers, because a secret can reach a log line by any of three routes:
 * - by key: values under keys such as apiKey, secretKey, token, authorization are replaced (maskSecrets, plus
 *   pino `redact` paths for the well-known shapes);
 * - inside text: URLs' secret query parameters (`?apiKey=...`), `Bearer xyz`, JSON-looking `"token":"..."`
 *   and account numbers in `/accounts/{n}` paths, in messages, error messages and stacks;
 * - by value: the secrets this process was configured with (POLYGON_API_KEY, ALPACA_SECRET_KEY, ...) are
 *   replaced wherever they appear, whatever the key or text around them.
 */
import os from 'node:os';
import pino, { type DestinationStream, type Logger } from 'pino';
import type pinoPrettyModule from 'pino-pretty';
import { MASK, maskSecrets, maskString, maskUrl } from '../domain/masking';
import { type LogFormat, type LogLevelName, readObservabilityEnv } from './observability-env';

export type { Logger } from 'pino';

/** Well-known secret locations, censored by pino itself (on top of the key-based masking). */
export const REDACT_PATHS: readonly string[] = [
  'apiKey',
  '*.apiKey',
  'secretKey',
  '*.secretKey',
  'token',
  '*.token',
  'password',
  '*.password',
  'authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers["apca-api-secret-key"]',
  '*.headers["apca-api-secret-key"]',
  'headers["APCA-API-SECRET-KEY"]',
  '*.headers["APCA-API-SECRET-KEY"]',
  'taskToken',
];

// Environment variables whose values are secrets wherever they show up (name parts, upper case).
const SECRET_ENV_NAME = /(^|_)(KEY|APIKEY|SECRET|TOKEN|PASSWORD|PASSWD|PWD)($|_)|ACCOUNT_NUMBER/;
// Shorter values are too likely to be ordinary words ("true", "paper") to replace everywhere.
const MIN_SECRET_LENGTH = 6;

// Notification destination URLs: the path is the credential (Slack/Discord tokens, the ntfy topic).
const SECRET_URL_ENV_NAME = /^FLOWGUARD_NOTIFY_[A-Z0-9_]+_URL$/;

/**
 * The parts of a URL whose path is a credential that must never be printed: the whole URL, its path and query,
 * and its last path segment (the Slack/Discord token, the ntfy topic) when it is long enough not to be a common
 * word. Empty for a value that is not a URL.
 */
export function secretUrlParts(value: string): string[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [];
  }
  const pathAndQuery = `${url.pathname}${url.search}`;
  const last = url.pathname.split('/').filter(Boolean).pop() ?? '';
  return [
    value,
    ...(pathAndQuery.length >= MIN_SECRET_LENGTH ? [pathAndQuery] : []),
    ...(last.length >= 8 ? [last] : []),
  ];
}

/**
 * Secrets this process learnt after its logger was created (notification destinations named in the config file,
 * whose variables can have any name): every scrubber masks them from then on.
 */
const registeredSecrets = new Set<string>();

export function registerSecretValues(values: readonly string[]): void {
  for (const v of values) if (v.length >= MIN_SECRET_LENGTH) registeredSecrets.add(v);
}

/**
 * The configured secrets of this process: values of variables like POLYGON_API_KEY or ALPACA_SECRET_KEY, and the
 * secret parts of notification URLs (FLOWGUARD_NOTIFY_*_URL).
 */
export function secretValuesFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (!value || value.length < MIN_SECRET_LENGTH || !/^[A-Z0-9_]+$/.test(name)) continue;
    if (SECRET_ENV_NAME.test(name)) values.add(value);
    if (SECRET_URL_ENV_NAME.test(name)) for (const part of secretUrlParts(value.trim())) values.add(part);
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...values].sort((a, b) => b.length - a.length);
}

const EMBEDDED_URL = /\b(?:https?|wss?):\/\/[^\s"'<>`]+/gi;
// In a query string or free text (`token=...`): the value up to the next separator.
const SECRET_QUERY =
  /((?:^|[?&\s;,(])(?:api[_-]?key|access[_-]?token|refresh[_-]?token|token|secret|secret[_-]?key|password|key)=)[^&#\s"'<>;,)]*/gi;
const SECRET_JSON_FIELD =
  /("(?:[A-Za-z_-]*(?:api[_-]?key|token|secret|password|authorization)[A-Za-z_-]*)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;
const SECRET_HEADER_LINE = /\b(apca-api-secret-key|apca-api-key-id|x-api-key|authorization)(\s*[:=]\s*)[^\s,;"']+/gi;

export type Scrubber = (text: string) => string;

/** Masks secrets inside free text (messages, error messages, stacks, URLs). */
export function createScrubber(secrets: readonly string[] = []): Scrubber {
  const known = [...secrets].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = maskString(text)
      .replace(EMBEDDED_URL, (url) => maskUrl(url))
      .replace(SECRET_QUERY, `$1${MASK}`)
      .replace(SECRET_JSON_FIELD, `$1"${MASK}"`)
      .replace(SECRET_HEADER_LINE, `$1$2${MASK}`);
    for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(MASK);
    if (registeredSecrets.size > 0) {
      const late = [...registeredSecrets].sort((a, b) => b.length - a.length);
      for (const secret of late) if (out.includes(secret)) out = out.split(secret).join(MASK);
    }
    return out;
  };
}

const MAX_DEPTH = 12;

/**
 * A JSON-safe, masked copy of anything handed to a log call: Errors keep name, message, stack, code and cause
 * (JSON.stringify would drop them), bigints become digit strings, Dates ISO strings, cycles '[Circular]'.
 */
export function toLogSafe(value: unknown, scrub: Scrubber = createScrubber()): unknown {
  return maskSecrets(plain(value, scrub, 0, new WeakSet()));
}

function plain(value: unknown, scrub: Scrubber, depth: number, seen: WeakSet<object>): unknown {
  switch (typeof value) {
    case 'string':
      return scrub(value);
    case 'bigint':
      return value.toString();
    case 'symbol':
      return value.toString();
    case 'function':
      return undefined;
    case 'object':
      break;
    default:
      return value;
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) return '[depth limit]';
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  try {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (value instanceof Error) return plainError(value, scrub, depth, seen);
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
    if (Array.isArray(value)) return value.map((v) => plain(v, scrub, depth + 1, seen));
    if (value instanceof Map) {
      return Object.fromEntries([...value].map(([k, v]) => [String(k), plain(v, scrub, depth + 1, seen)]));
    }
    if (value instanceof Set) return [...value].map((v) => plain(v, scrub, depth + 1, seen));
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return plain(toJSON.call(value), scrub, depth + 1, seen);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const converted = plain(v, scrub, depth + 1, seen);
      if (converted !== undefined) out[k] = converted;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function plainError(err: Error, scrub: Scrubber, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.name, message: scrub(err.message) };
  if (err.stack) out.stack = scrub(err.stack);
  for (const [k, v] of Object.entries(err)) {
    // AxiosError-like objects carry the request config (headers, the URL with apiKey) and the socket.
    if (k === 'config' || k === 'request' || k === 'response' || k === 'cause') continue;
    const converted = plain(v, scrub, depth + 1, seen);
    if (converted !== undefined) out[k] = converted;
  }
  if (err.cause !== undefined) out.cause = plain(err.cause, scrub, depth + 1, seen);
  return out;
}

export interface CreateLoggerOptions {
  /** Default: FLOWGUARD_LOG_LEVEL, else info. */
  readonly level?: LogLevelName;
  /** Default: stdout. */
  readonly destination?: DestinationStream;
  /** Default: FLOWGUARD_LOG_FORMAT, else json. Pretty lines go to `destination` (default stdout) too. */
  readonly format?: LogFormat;
  /** Secrets masked by value; default: those found in `env`. */
  readonly secrets?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Fields on every line (besides name, pid and hostname). */
  readonly base?: Readonly<Record<string, unknown>>;
}

/** A pino logger writing masked JSON lines: `{"level":"info","time":"…","name":"flowguard",…,"msg":"…"}`. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const env = options.env ?? process.env;
  const settings = options.level === undefined || options.format === undefined ? readObservabilityEnv(env) : undefined;
  const level = options.level ?? settings!.FLOWGUARD_LOG_LEVEL;
  const format = options.format ?? settings!.FLOWGUARD_LOG_FORMAT;
  const scrub = createScrubber(options.secrets ?? secretValuesFromEnv(env));
  const safeObject = (obj: object) => toLogSafe(obj, scrub) as Record<string, unknown>;
  const logger = pino(
    {
      level,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { name: 'flowguard', pid: process.pid, hostname: os.hostname(), ...options.base },
      formatters: {
        level: (label) => ({ level: label }),
        bindings: safeObject,
        log: safeObject,
      },
      // Objects are already plain and masked by formatters.log; pino's own err serializer would re-wrap them.
      serializers: { err: (e: unknown) => e, error: (e: unknown) => e },
      redact: { paths: [...REDACT_PATHS], censor: MASK },
      hooks: {
        logMethod(args: unknown[], method, levelValue) {
          method.apply(this, safeArgs(args, scrub, levelValue) as Parameters<typeof method>);
        },
      },
    },
    format === 'pretty' ? prettyDestination(options.destination) : options.destination,
  );
  // pino runs formatters.bindings only for the root's bindings, not a child's: mask those here. Children
  // inherit this `child` from the root, so grandchildren are covered too.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound to each child below via call(this)
  const pinoChild = logger.child;
  logger.child = function child(this: Logger, bindings: Record<string, unknown>, childOptions?: unknown) {
    return pinoChild.call(this, safeObject(bindings), childOptions as undefined);
  } as unknown as Logger['child'];
  return logger;
}

/**
 * pino takes `(obj?, msg?, ...interpolation)`; the message and interpolation values bypass formatters.log,
 * so they are scrubbed here. An Error first argument becomes `{ err }` with its (scrubbed) message as msg.
 */
function safeArgs(args: unknown[], scrub: Scrubber, levelValue = ERROR_LEVEL): unknown[] {
  if (args.length === 0) return args;
  const [first, ...rest] = args;
  const keepStacks = levelValue >= ERROR_LEVEL;
  if (first instanceof Error) {
    const message = typeof rest[0] === 'string' ? rest.shift() : first.message;
    const err = keepStacks ? first : withoutStacks(toLogSafe(first, scrub));
    return [{ err }, scrub(String(message)), ...rest.map((a) => interpolationArg(a, scrub))];
  }
  if (typeof first === 'string') return [scrub(first), ...rest.map((a) => interpolationArg(a, scrub))];
  if (first !== null && typeof first === 'object') {
    const fields = keepStacks ? first : withoutStacks(toLogSafe(first, scrub));
    const err = (first as { err?: unknown }).err;
    if (rest.length === 0 && err instanceof Error) return [fields, scrub(err.message)];
    return [fields, ...rest.map((a) => interpolationArg(a, scrub))];
  }
  return args.map((a) => interpolationArg(a, scrub));
}

/** pino's numeric level of `error`: stacks are kept from here up. */
const ERROR_LEVEL = 50;

/**
 * A warning about an expected failure (a broker refusal, a retried poll) does not need a 30-line stack: below
 * error level stacks are dropped, which keeps such lines short. Errors keep them.
 */
function withoutStacks(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutStacks);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'stack' && typeof v === 'string') continue;
    out[k] = withoutStacks(v);
  }
  return out;
}

/**
 * FLOWGUARD_LOG_FORMAT=pretty: pino-pretty in this thread (not a transport worker), synchronous like pino's own
 * stdout, one line per entry: time, level, message, then the fields. Masking has already happened by then.
 */
function prettyDestination(destination?: DestinationStream): DestinationStream {
  const toTerminal = destination === undefined && process.stdout.isTTY === true && !process.env.NO_COLOR;
  // Loaded only in pretty mode: the JSON default needs nothing beyond pino.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pinoPretty = require('pino-pretty') as typeof pinoPrettyModule;
  return pinoPretty({
    colorize: toTerminal,
    sync: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    messageKey: 'msg',
    // Errors on the entry's line like any other field (pino-pretty spreads them over many lines by default).
    errorLikeObjectKeys: [],
    customPrettifiers: { err: (value) => JSON.stringify(value), error: (value) => JSON.stringify(value) },
    ...(destination ? { destination } : {}),
  });
}

function interpolationArg(value: unknown, scrub: Scrubber): unknown {
  if (typeof value === 'string') return scrub(value);
  if (value !== null && typeof value === 'object') return toLogSafe(value, scrub);
  return value;
}

let root: Logger | undefined;

/** The process-wide logger (created from the environment on first use); worker, activities and audit share it. */
export function rootLogger(): Logger {
  root ??= createLogger();
  return root;
}

/** Replaces the process-wide logger (the worker at start, tests capturing output). */
export function setRootLogger(logger: Logger): void {
  root = logger;
}
