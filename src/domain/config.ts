import { z } from 'zod';
import { DetectorConfigSchema } from './detectors/config';
import { NotificationsConfigSchema } from './notifications/config';
import { OrdersConfigSchema } from './orders/config';
import { PositionsConfigSchema } from './positions/config';
import { issuesFromZod, ValidationError, type ValidationIssue } from './validation';

/**
 * flowguard's application configuration: defaults ← optional JSON file ← FLOWGUARD_* environment
 * variables (the environment wins). Pure: the caller reads the file and the environment (src/config/load-config.ts).
 */

export const Weekday = {
  Mon: 'mon',
  Tue: 'tue',
  Wed: 'wed',
  Thu: 'thu',
  Fri: 'fri',
  Sat: 'sat',
  Sun: 'sun',
} as const;
export type Weekday = (typeof Weekday)[keyof typeof Weekday];

const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;
/** A session may end at 24:00, the end of its day, so that back-to-back days leave no closed minute. */
const HH_MM_END = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** A trading session as data: wall-clock start/end in an IANA time zone on the listed weekdays. */
export const TradingSessionSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be 1–32 lowercase letters, digits, _ or -'),
    start: z.string().regex(HH_MM, 'must be HH:MM (24-hour)'),
    end: z.string().regex(HH_MM_END, 'must be HH:MM (24-hour, or 24:00 for the end of the day)'),
    timeZone: z.string().refine(isTimeZone, 'must be an IANA time zone such as America/New_York'),
    days: z
      .array(z.enum(Object.values(Weekday) as [Weekday, ...Weekday[]], { message: 'must be mon, tue, ... or sun' }))
      .min(1, 'must list at least one day')
      .default([Weekday.Mon, Weekday.Tue, Weekday.Wed, Weekday.Thu, Weekday.Fri]),
  })
  .strict()
  .refine((s) => s.start < s.end, { path: ['end'], message: 'must be after start' });
export type TradingSession = z.output<typeof TradingSessionSchema>;

/** US equities regular session. Exchange holidays are not modelled here. */
export const REGULAR_SESSION: TradingSession = {
  name: 'regular',
  start: '09:30',
  end: '16:00',
  timeZone: 'America/New_York',
  days: [Weekday.Mon, Weekday.Tue, Weekday.Wed, Weekday.Thu, Weekday.Fri],
};

/** Open whatever the clock says (every day, 00:00–24:00 UTC): for the demo, replays, benchmarks and tests. */
export const ALWAYS_OPEN_SESSION: TradingSession = {
  name: 'always',
  start: '00:00',
  end: '24:00',
  timeZone: 'UTC',
  days: [Weekday.Mon, Weekday.Tue, Weekday.Wed, Weekday.Thu, Weekday.Fri, Weekday.Sat, Weekday.Sun],
};

export const MarketDataConfigSchema = z
  .object({
    /** Polygon's starter plan allows about 5 requests per second. */
    rateLimitPerSecond: z
      .number({ message: 'must be a number' })
      .positive('must be > 0')
      .max(100, 'must be ≤ 100')
      .default(5),
    pollIntervalSeconds: z
      .number({ message: 'must be a number' })
      .int('must be an integer')
      .min(1, 'must be ≥ 1')
      .max(60, 'must be ≤ 60')
      .default(2),
    /**
     * A WebSocket that delivers nothing, not even a pong to the client's ping, for this long is dead though never
     * closed (half-open TCP): dropped and reconnected, its gap filled over REST. Detected within 1.25 × this. Also
     * bounds Alpaca's trade_updates stream (the desk's relayBrokerEvents), reconciled by REST after the reconnect.
     */
    streamLivenessSeconds: z
      .number({ message: 'must be a number' })
      .int('must be an integer')
      .min(2, 'must be ≥ 2')
      .max(120, 'must be ≤ 120')
      .default(10),
    /** Off to replay a recorded session through a monitor: its data is old by design. */
    staleCheck: z.boolean({ message: 'must be true or false' }).default(true),
    sessions: z
      .array(TradingSessionSchema)
      .min(1, 'must list at least one session')
      .default([REGULAR_SESSION])
      .refine((list) => new Set(list.map((s) => s.name)).size === list.length, 'session names must be unique'),
  })
  .strict();
export type MarketDataConfig = z.output<typeof MarketDataConfigSchema>;

export const AppConfigSchema = z
  .object({
    detectors: DetectorConfigSchema.prefault({}),
    orders: OrdersConfigSchema.prefault({}),
    marketData: MarketDataConfigSchema.prefault({}),
    positions: PositionsConfigSchema.prefault({}),
    notifications: NotificationsConfigSchema.prefault({}),
  })
  .strict();
export type AppConfig = z.output<typeof AppConfigSchema>;
export type AppConfigInput = z.input<typeof AppConfigSchema>;

export const DEFAULT_APP_CONFIG: AppConfig = AppConfigSchema.parse({});

// ---------------------------------------------------------------------------------------------------
// Environment variables

/** The environment variable that names the optional JSON configuration file. */
export const CONFIG_FILE_ENV = 'FLOWGUARD_CONFIG';

/**
 * Variable name = FLOWGUARD_ + section + field in SCREAMING_SNAKE_CASE, derived mechanically from the
 * JSON path so names and paths cannot drift: detectors.largeOrderSize → FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE,
 * orders.retry.maximumAttempts → FLOWGUARD_ORDER_RETRY_MAXIMUM_ATTEMPTS. Every scalar setting has one;
 * structured settings (orders.strategies, marketData.sessions) come from the JSON file only.
 */
const SECTION_ENV_PREFIX: Record<keyof AppConfig, string> = {
  detectors: 'FLOWGUARD_DETECTOR',
  orders: 'FLOWGUARD_ORDER',
  marketData: 'FLOWGUARD_MARKET_DATA',
  positions: 'FLOWGUARD_POSITIONS',
  notifications: 'FLOWGUARD_NOTIFY',
};

const FILE_ONLY_PATHS = new Set(['orders.strategies', 'marketData.sessions', 'notifications.destinations']);

const DESCRIPTIONS: Record<string, string> = {
  'detectors.largeOrderSize': 'shares in one seller-initiated print (or a 50 ms sweep) that make a large seller',
  'detectors.largeOrderNotional':
    'dollars (shares × price) in one seller-initiated print, 50 ms sweep or NBBO ask that also make a large seller, for symbols where a share count means little; 0 = off (0, or 10000–1000000000)',
  'detectors.largeOrderPercentile':
    "a seller-initiated print or 50 ms sweep above this percentile of the symbol's own print sizes over the last one to two baselineMinutes also makes a large seller, once that window holds max(100, 1/(1 − p)) prints; 0 = off (0, or 90–99.99; null in the file)",
  'detectors.volumeSpikeThreshold': 'trailing-60 s volume ÷ baseline mean that starts a red burst (1.5–10)',
  'detectors.redBurstThreshold': 'volume ratio above which a red burst is critical (≥ volumeSpikeThreshold)',
  'detectors.redBurstSellShare': 'minimum sell share of classified trailing-60 s volume for a red burst (0.5–1)',
  'detectors.alertWindowSeconds': 'window in market-data time for counting large-seller alerts (30–300)',
  'detectors.exitAlertCount': 'large-seller alerts within the window that fire the exit signal (2–10)',
  'detectors.baselineMinutes': 'minutes of history forming the volume baseline (1–60)',
  'detectors.staleWarnSeconds': 'data older than this is flagged stale',
  'detectors.staleRejectSeconds': 'data older than this is rejected (≥ staleWarnSeconds)',
  'detectors.quoteSizeUnit': 'unit of NBBO sizes in the data: shares, or round_lots for older recordings',
  'detectors.quoteLagMs':
    'a print is classified against the last NBBO stamped strictly before its time minus this many ms (0–5000)',
  'detectors.redBurstMinVolume': 'shares in the trailing 60 s below which no red burst is raised, whatever the ratio',
  'detectors.redBurstMinTrades': 'eligible prints in the trailing 60 s below which no red burst is raised',
  'detectors.redBurstRearmRatio':
    'a red-burst episode ends (and may alert again) only once the ratio is below this level (capped at volumeSpikeThreshold)',
  'detectors.redBurstRearmSeconds': '... and has stayed below it this many seconds (0–3600)',
  'detectors.volumeProfileDays':
    "previous sessions whose Polygon minute aggregates give red_burst's baseline the intraday volume curve, fetched once per monitor before it goes live (0 = none, up to 30)",
  'detectors.redBurstOpeningGuardMinutes':
    'no red burst this many minutes after 09:30 New York time, the daily opening surge (0–120)',
  'orders.offsetMode': 'how limit offsets are expressed: bps or absolute (dollars)',
  'orders.buyOffset': 'buy limit below the reference, in offsetMode units',
  'orders.sellOffset': 'sell limit above the reference, in offsetMode units',
  'orders.maxSlippagePct': 'refuse a limit further than this percentage from the reference (0–10)',
  'orders.maxQuantity':
    'largest order in shares; a larger one is refused naming this setting (1–100000000; the CLI checks it before sending)',
  'orders.maxNotional':
    'largest order in dollars, quantity × limit price; a larger one is refused naming this setting (> 0)',
  'orders.pollIntervalSeconds': 'broker status polling interval when no update stream is available (1–300)',
  'orders.brokerEvents': 'follow fills on the broker update stream where one exists (Alpaca): true or false',
  'orders.maxBrokerWaitSeconds':
    'longest broker-advised wait (Retry-After, throttle) honoured before retrying (1–3600)',
  'orders.unknownOutcomeWindowSeconds':
    'how long an order whose submit may have reached the broker is looked up before it is declared failed (5–3600)',
  'orders.retry.maximumAttempts': 'attempts for a transient broker failure, including the first (1–20)',
  'orders.retry.initialIntervalMs': 'first retry delay in milliseconds (100–60000)',
  'orders.retry.backoffCoefficient': 'multiplier between retry delays (1–10)',
  'marketData.rateLimitPerSecond': 'Polygon REST requests per second (Starter plan: about 5)',
  'marketData.pollIntervalSeconds': 'REST polling interval for quotes/trades when not streaming (1–60)',
  'marketData.streamLivenessSeconds':
    "a stream-mode WebSocket, or Alpaca's trade_updates stream, silent this long (no message, no pong to our ping) is dropped and reconnected, its gap filled over REST (2–120; detected within 1.25 ×)",
  'positions.reconcileSeconds':
    'how often the positions watch reads the broker positions (1–3600); fills wake it at once in between',
  'positions.autoExit': 'monitors started by the positions watch place a protective SELL on the exit signal',
  'positions.dataMode': 'market data mode of monitors started by the positions watch: poll or stream',
  'notifications.minSeverity': 'default minimum severity sent to a destination: info, warning or critical',
  'notifications.rateLimitPerMinute':
    'default notifications per minute per destination (1–600); more wait their turn, none is dropped',
  'marketData.staleCheck':
    'reject market data older than the stale limits; false replays recorded data through a monitor',
};

export type ConfigValueKind = 'number' | 'string' | 'boolean';

export interface ConfigEnvVar {
  readonly name: string;
  /** Dotted JSON path in the configuration file. */
  readonly path: string;
  /** How the variable's text is read: numbers and booleans are parsed, strings (decimals, enums) kept as text. */
  readonly kind: ConfigValueKind;
  readonly default: string;
  readonly description: string;
}

function screamingSnake(camel: string): string {
  return camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function envVarsFor(section: keyof AppConfig): ConfigEnvVar[] {
  const out: ConfigEnvVar[] = [];
  const walk = (value: unknown, path: string[]) => {
    const dotted = [section, ...path].join('.');
    if (FILE_ONLY_PATHS.has(dotted)) return;
    if (isPlainObject(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
      return;
    }
    if (typeof value !== 'number' && typeof value !== 'string' && typeof value !== 'boolean') return;
    out.push({
      name: [SECTION_ENV_PREFIX[section], ...path.map(screamingSnake)].join('_'),
      path: dotted,
      kind: typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'string',
      default: String(value),
      description: DESCRIPTIONS[dotted] ?? '',
    });
  };
  walk(DEFAULT_APP_CONFIG[section], []);
  return out;
}

/** Every environment variable resolveConfig reads, with its JSON path, default and meaning (README source). */
export const CONFIG_ENV_VARS: readonly ConfigEnvVar[] = (
  Object.keys(SECTION_ENV_PREFIX) as (keyof AppConfig)[]
).flatMap(envVarsFor);

// Plain or exponent notation (1e4, 2.5E-1): what a person or a script writes for a number. Hex, Infinity and
// the like stay refused; the schema then checks the range and whether it must be whole.
const NUMBER_TEXT = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

function getAtPath(source: unknown, path: readonly string[]): unknown {
  let node = source;
  for (const key of path) {
    if (!isPlainObject(node)) return undefined;
    node = node[key];
  }
  return node;
}

/**
 * Settings that must be at least another one. When only the lower one was set and pushed past the other's
 * default, the schema blames the setting the user never touched; these say which value caused it and which
 * variable to raise with it.
 */
const AT_LEAST: readonly { readonly path: string; readonly floor: string }[] = [
  { path: 'detectors.redBurstThreshold', floor: 'detectors.volumeSpikeThreshold' },
  { path: 'detectors.staleRejectSeconds', floor: 'detectors.staleWarnSeconds' },
];

function setAtPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const child = node[key];
    if (!isPlainObject(child)) {
      // Not an object in the file: leave it so the schema reports the file's mistake, and drop the env value.
      if (child !== undefined) return;
      node[key] = {};
    }
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

export interface ResolveConfigInput {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The parsed JSON file, if one was given. */
  readonly file?: unknown;
}

/**
 * Layers defaults ← file ← environment and validates the result. Throws a ValidationError whose fields
 * are the environment variable names for values that came from the environment, and JSON paths
 * ("orders.strategies.scalp.buyOffset") for values from the file.
 */
export function resolveConfig({ env, file }: ResolveConfigInput): AppConfig {
  if (file !== undefined && !isPlainObject(file)) {
    throw new ValidationError([{ field: CONFIG_FILE_ENV, rule: 'the file must contain a JSON object' }]);
  }
  const merged: Record<string, unknown> = structuredClone(file ?? {});
  const issues: ValidationIssue[] = [];
  const envByPath = new Map<string, string>();
  for (const v of CONFIG_ENV_VARS) {
    const raw = env[v.name]?.trim();
    if (raw === undefined || raw === '') continue;
    envByPath.set(v.path, v.name);
    if (v.kind === 'number' && (!NUMBER_TEXT.test(raw) || !Number.isFinite(Number(raw)))) {
      issues.push({ field: v.name, rule: 'must be a number such as 10000, 2.5 or 1e4' });
      continue;
    }
    if (v.kind === 'boolean' && raw !== 'true' && raw !== 'false') {
      issues.push({ field: v.name, rule: 'must be true or false' });
      continue;
    }
    setAtPath(
      merged,
      v.path.split('.'),
      v.kind === 'number' ? Number(raw) : v.kind === 'boolean' ? raw === 'true' : raw,
    );
  }
  const result = AppConfigSchema.safeParse(merged);
  if (!result.success) {
    const setByUser = (path: string) => envByPath.has(path) || getAtPath(file, path.split('.')) !== undefined;
    for (const issue of issuesFromZod(result.error)) {
      const pair = AT_LEAST.find((p) => p.path === issue.field && !setByUser(p.path) && setByUser(p.floor));
      if (pair === undefined) {
        issues.push({ field: envByPath.get(issue.field) ?? issue.field, rule: issue.rule });
        continue;
      }
      const name = (path: string) => path.split('.').pop()!;
      const envName = CONFIG_ENV_VARS.find((v) => v.path === pair.path)?.name;
      const value = getAtPath(merged, pair.floor.split('.'));
      const fallback = getAtPath(DEFAULT_APP_CONFIG, pair.path.split('.'));
      issues.push({
        field: envByPath.get(pair.floor) ?? pair.floor,
        rule:
          `${String(value)} is above the default ${name(pair.path)} of ${String(fallback)}, which must be ≥ ` +
          `${name(pair.floor)}: raise ${envName} (${pair.path} in the config file) to at least ${String(value)} too`,
      });
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);
  if (!result.success) throw new Error('unreachable: schema failed without issues');
  return result.data;
}

/** The environment table as Markdown, for the README. */
export function renderConfigEnvTable(vars: readonly ConfigEnvVar[] = CONFIG_ENV_VARS): string {
  const rows = vars.map((v) => `| \`${v.name}\` | \`${v.path}\` | ${v.default} | ${v.description} |`);
  return ['| variable | JSON path | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
