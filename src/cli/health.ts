import { randomUUID } from 'node:crypto';
import { type Command } from 'commander';
import { z } from 'zod';
import { type WorkerPaperHealth } from '../activities/health';
import { BrokerErrorType, BrokerName, isBrokerError } from '../brokers/broker';
import { BROKER_NAMES, brokerDescriptor } from '../brokers/registry';
import { parseOrThrow, ValidationError } from '../domain/validation';
import { readPolygonEnv } from '../market-data/polygon-env';
import { PolygonRateLimited, PolygonUnauthorized, PolygonUnavailable } from '../market-data/polygon-errors';
import { createPolygonRest } from '../market-data/polygon-rest';
import { TokenBucketRateLimiter } from '../market-data/rate-limiter';
import { createScrubber, secretValuesFromEnv } from '../observability/logger';
import { WorkflowIds } from '../shared/contracts';
import { healthCheck, type HealthCheckResult } from '../workflows/health';
import { action, ExitCode, printJson, UsageError } from './io';
import { temporalClient, withTemporal, type CliContext } from './temporal';
import { errorMessage } from '../shared/error-message';
import type * as TemporalProto from '@temporalio/proto';

/** Temporal's protobuf enums, loaded when a health check runs (not for every CLI start). */
function protoEnums(): typeof TemporalProto.temporal.api.enums.v1 {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@temporalio/proto') as typeof TemporalProto).temporal.api.enums.v1;
}

export interface HealthCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** Whether this check decides `healthy`: always for Temporal and the worker, for the rest see HealthOptions. */
  readonly required: boolean;
}

export interface HealthReport {
  /** True when every required check is ok. */
  readonly healthy: boolean;
  readonly checks: readonly HealthCheck[];
}

/** Optional checks that `--require` turns into required ones even when they are not configured. */
export const HealthRequirement = { MarketData: 'market-data', Broker: 'broker' } as const;
export type HealthRequirement = (typeof HealthRequirement)[keyof typeof HealthRequirement];
const REQUIREMENTS = Object.values(HealthRequirement);

export interface HealthOptions {
  /** Worker round trip deadline; default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Deadline of each market-data / broker probe; default 5000 ms. */
  readonly probeTimeoutMs?: number;
  readonly require?: ReadonlySet<HealthRequirement>;
  /** Brokers to probe; default FLOWGUARD_HEALTH_BROKERS, else paper. */
  readonly brokers?: readonly BrokerName[];
  readonly env?: NodeJS.ProcessEnv;
}

const BrokerListSchema = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b.length > 0),
  )
  .pipe(
    z
      .array(z.enum(BROKER_NAMES, { message: `must list brokers from ${BROKER_NAMES.join(', ')}` }))
      .min(1, `must list at least one of ${BROKER_NAMES.join(', ')}`),
  );

export const HealthEnvSchema = z.object({
  FLOWGUARD_HEALTH_BROKERS: BrokerListSchema.default([BrokerName.Paper]),
});

/** The brokers `flowguard health` probes, from FLOWGUARD_HEALTH_BROKERS (comma-separated; default paper). */
export function readHealthBrokers(env: NodeJS.ProcessEnv = process.env): BrokerName[] {
  const raw = env.FLOWGUARD_HEALTH_BROKERS;
  const parsed = parseOrThrow(HealthEnvSchema, { FLOWGUARD_HEALTH_BROKERS: raw === '' ? undefined : raw });
  return [...new Set(parsed.FLOWGUARD_HEALTH_BROKERS)];
}

/**
 * Temporal, a worker round trip, market-data credentials and broker reachability. Temporal and the worker are
 * always required. Market data and each broker are required when configured (a configured but broken key is
 * a fault) or when `require` names them; otherwise "not configured" is reported without failing health.
 */
export async function checkHealth(ctx: CliContext, options: HealthOptions = {}): Promise<HealthReport> {
  const env = options.env ?? process.env;
  const scrub = createScrubber(secretValuesFromEnv(env));
  const require = options.require ?? new Set<HealthRequirement>();
  const brokers = options.brokers ?? readHealthBrokers(env);
  const probeTimeoutMs = options.probeTimeoutMs ?? 5000;
  const [worker, marketData, ...brokerChecks] = await Promise.all([
    checkTemporalAndWorker(ctx, options.timeoutMs ?? 10_000),
    checkMarketData(env, require.has(HealthRequirement.MarketData), probeTimeoutMs),
    // Paper runs inside the worker: it is judged from the worker's own answer below, not probed from here.
    ...brokers.map((name) =>
      name === BrokerName.Paper
        ? Promise.resolve(null)
        : checkBroker(name, env, require.has(HealthRequirement.Broker), probeTimeoutMs),
    ),
  ]);
  const brokerResults = brokerChecks.map((c) => c ?? checkPaperBroker(worker.answer));
  // Every detail passes the scrubber: an upstream error message must not carry a key into the terminal.
  const checks = [...worker.checks, marketData, ...brokerResults].map((c) => ({ ...c, detail: scrub(c.detail) }));
  return { healthy: checks.every((c) => c.ok || !c.required), checks };
}

/** What the health workflow returns: the worker's ping, which carries its paper broker's report. */
type WorkerAnswer = HealthCheckResult & { readonly paper?: WorkerPaperHealth };

async function checkTemporalAndWorker(
  { client, env }: CliContext,
  timeoutMs: number,
): Promise<{ checks: HealthCheck[]; answer?: WorkerAnswer }> {
  const checks: HealthCheck[] = [];
  const system = await client.workflowService.getSystemInfo({});
  checks.push({
    name: 'temporal',
    ok: true,
    required: true,
    detail: `reachable at ${env.TEMPORAL_ADDRESS}, server ${system.serverVersion || 'unknown version'}`,
  });

  const pollers = await client.workflowService.describeTaskQueue({
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: { name: env.TEMPORAL_TASK_QUEUE, kind: protoEnums().TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
  });
  if (pollers.pollers.length === 0) {
    checks.push({
      name: 'worker',
      ok: false,
      required: true,
      detail: `no worker is polling task queue '${env.TEMPORAL_TASK_QUEUE}': start one with 'npm run worker'`,
    });
    return { checks };
  }

  const startedAt = Date.now();
  try {
    // The workflow passes the ping through whole, so the worker's paper report arrives with it.
    const result: WorkerAnswer = await client.workflow.execute(healthCheck, {
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      workflowId: WorkflowIds.health(randomUUID()),
      args: [{ requestedAt: new Date().toISOString() }],
      workflowExecutionTimeout: timeoutMs,
    });
    checks.push({
      name: 'worker',
      ok: true,
      required: true,
      detail: `${result.workerIdentity} answered in ${Date.now() - startedAt} ms (node ${result.nodeVersion})`,
    });
    return { checks, answer: result };
  } catch (err) {
    const detail =
      err instanceof temporalClient().WorkflowFailedError
        ? `health workflow did not complete within ${timeoutMs} ms: ${err.cause?.message ?? err.message}`
        : String(err);
    checks.push({ name: 'worker', ok: false, required: true, detail });
  }
  return { checks };
}

const isSet = (env: NodeJS.ProcessEnv, name: string) => (env[name] ?? '').length > 0;

function invalidConfig(err: ValidationError): string {
  return `invalid configuration: ${err.issues.map((i) => `${i.field}: ${i.rule}`).join('; ')}`;
}

/** Polygon key check: ok / unauthorized / unreachable / not configured. */
export async function checkMarketData(
  env: NodeJS.ProcessEnv,
  required: boolean,
  timeoutMs = 5000,
): Promise<HealthCheck> {
  const name = 'market-data';
  if (!isSet(env, 'POLYGON_API_KEY')) {
    return { name, ok: false, required, detail: 'not configured: set POLYGON_API_KEY to check the Polygon key' };
  }
  let cfg;
  try {
    cfg = readPolygonEnv(env);
  } catch (err) {
    if (err instanceof ValidationError) return { name, ok: false, required: true, detail: invalidConfig(err) };
    throw err;
  }
  const where = cfg.POLYGON_BASE_URL;
  try {
    const rest = await createPolygonRest({
      apiKey: cfg.POLYGON_API_KEY,
      baseUrl: where,
      timeoutMs,
      // The CLI's own bucket: two probe requests, within Polygon's smallest plan (about 5 per second).
      rateLimiter: new TokenBucketRateLimiter({ ratePerSecond: 5 }),
    });
    await rest.validateKey();
    return { name, ok: true, required: true, detail: `Polygon key accepted by ${where} (trades and quotes)` };
  } catch (err) {
    return { name, ok: false, required: true, detail: describePolygonFailure(err, where) };
  }
}

function describePolygonFailure(err: unknown, where: string): string {
  if (err instanceof PolygonUnauthorized) {
    return err.status === 403
      ? `unauthorized: POLYGON_API_KEY is not entitled to trades and quotes at ${where} (HTTP 403): ${err.message}`
      : `unauthorized: ${where} rejected POLYGON_API_KEY (HTTP ${err.status ?? 401}): ${err.message}`;
  }
  if (err instanceof PolygonRateLimited) return `rate limited by ${where}, key not verified: ${err.message}`;
  if (err instanceof PolygonUnavailable) {
    return err.status === undefined
      ? `unreachable: ${where} did not answer: ${err.message}`
      : `unavailable: ${where} answered ${err.status}: ${err.message}`;
  }
  return `error: ${errorMessage(err)}`;
}

/**
 * The paper broker as the worker that runs it reported it: healthy when its store can take a save. What it
 * fills against and how its market data has fared are stated, not judged: a feed failure only defers fills
 * (orders, lookups and cancels go on), and the market-data check judges the key on its own.
 */
export function checkPaperBroker(answer: WorkerAnswer | undefined): HealthCheck {
  const name = `broker:${BrokerName.Paper}`;
  const fail = (detail: string): HealthCheck => ({ name, ok: false, required: true, detail });
  if (!answer) return fail('unknown: paper runs inside the worker, and no worker answered');
  const paper = answer.paper;
  if (!paper) return fail(`${answer.workerIdentity} did not report its paper broker (a worker older than this CLI?)`);
  if ('error' in paper) return fail(`error: ${paper.error}`);
  if (!paper.store.writable) {
    return fail(`store ${paper.store.where} is not usable: ${paper.store.error ?? 'unknown error'}`);
  }
  const md = paper.marketData;
  let market = '';
  if (md.configured) {
    market =
      md.failures > 0
        ? `; market data failed ${md.failures} time(s) since the worker started (fills deferred, orders unaffected), last at ${md.lastFailureAt}: ${md.lastFailure}${md.lastSuccessAt ? `; last answer ${md.lastSuccessAt}` : ''}`
        : md.lastSuccessAt
          ? `; market data last answered ${md.lastSuccessAt}`
          : '; market data not asked yet';
  }
  const open = paper.openOrders === null ? '' : `, ${paper.openOrders} open order(s)`;
  return {
    name,
    ok: true,
    required: true,
    detail: `embedded in ${answer.workerIdentity}: store ${paper.store.where} writable${open}; fills against ${md.fillsAgainst}${market}`,
  };
}

/** Broker reachability with the broker's own credentials (an authenticated call). */
export async function checkBroker(
  broker: Exclude<BrokerName, 'paper'>,
  env: NodeJS.ProcessEnv,
  required: boolean,
  timeoutMs = 5000,
): Promise<HealthCheck> {
  const name = `broker:${broker}`;
  const descriptor = brokerDescriptor(broker);
  const vars = descriptor.envVars;
  if (!vars.some((v) => isSet(env, v))) {
    return { name, ok: false, required, detail: `not configured: set ${vars.join(' and ')} to check ${broker}` };
  }
  let adapter;
  let where: string;
  try {
    if (!descriptor.fromEnv) throw new Error(`${broker} runs inside the worker: it has no probe of its own`);
    ({ broker: adapter, where } = descriptor.fromEnv(env, timeoutMs));
  } catch (err) {
    if (err instanceof ValidationError) return { name, ok: false, required: true, detail: invalidConfig(err) };
    throw err;
  }
  const started = Date.now();
  try {
    await adapter.ping();
    return {
      name,
      ok: true,
      required: true,
      detail: `${where} answered an authenticated call in ${Date.now() - started} ms`,
    };
  } catch (err) {
    return { name, ok: false, required: true, detail: describeBrokerFailure(err, broker, where) };
  }
}

function describeBrokerFailure(err: unknown, broker: BrokerName, where: string): string {
  if (!isBrokerError(err)) return `error: ${errorMessage(err)}`;
  const status = err.httpStatus === undefined ? '' : ` (HTTP ${err.httpStatus})`;
  switch (err.type) {
    case BrokerErrorType.Unauthorized:
      return `unauthorized: ${where} rejected the ${broker} credentials${status}: ${err.message}`;
    case BrokerErrorType.Unavailable:
    case BrokerErrorType.Timeout:
      return err.httpStatus === undefined
        ? `unreachable: ${where} did not answer: ${err.message}`
        : `unavailable: ${where}${status}: ${err.message}`;
    default:
      return `${err.type}${status}: ${err.message}`;
  }
}

/** `--require market-data,broker` → the set; an unknown name is invalid input. */
export function parseRequirements(value: string): Set<HealthRequirement> {
  const out = new Set<HealthRequirement>();
  for (const part of value.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    if (part === 'all') REQUIREMENTS.forEach((r) => out.add(r));
    else if ((REQUIREMENTS as readonly string[]).includes(part)) out.add(part as HealthRequirement);
    else throw new UsageError(`--require: '${part}' must be one of ${[...REQUIREMENTS, 'all'].join(', ')}`);
  }
  return out;
}

function parseBrokers(value: string): BrokerName[] {
  try {
    return readHealthBrokers({ FLOWGUARD_HEALTH_BROKERS: value });
  } catch (err) {
    if (err instanceof ValidationError) {
      throw new UsageError(`--brokers: must list brokers from ${BROKER_NAMES.join(', ')} (comma-separated)`);
    }
    throw err;
  }
}

const HELP_AFTER = `
Checks, in order:
  temporal      the frontend answers at TEMPORAL_ADDRESS                         (always required)
  worker        a worker polls TEMPORAL_TASK_QUEUE and runs a workflow+activity (always required)
  market-data   POLYGON_API_KEY is accepted for trades and quotes at POLYGON_BASE_URL
  broker:NAME   each broker of --brokers / FLOWGUARD_HEALTH_BROKERS (default: paper) answers an
                authenticated call (alpaca uses ALPACA_*, robinhood ROBINHOOD_*). paper runs inside
                the worker, which reports it: ok when its state store is writable; the detail says
                what its orders fill against and how market data has fared (a feed failure defers
                fills only, and is judged by market-data)

market-data and broker checks are required when configured (their variables are set): a bad key or an
unreachable broker makes the report unhealthy. When not configured they are reported as skipped and do not
affect health, unless --require names them (then "not configured" is a failure too).

Exit code: 0 healthy (every required check ok), 1 unhealthy or Temporal unreachable, 2 invalid input.
Secrets are never printed.`;

export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description('check Temporal, a worker round trip, market-data credentials and broker reachability')
    .option('--json', 'print one JSON object: { healthy, checks: [{ name, ok, detail, required }] }')
    .option(
      '--require <checks>',
      'fail unless these optional checks pass even when not configured: market-data, broker, all (comma-separated)',
    )
    .option('--brokers <names>', 'brokers to check, comma-separated (default: $FLOWGUARD_HEALTH_BROKERS or paper)')
    .addHelpText('after', HELP_AFTER)
    .action(
      action(async (opts: { json?: boolean; require?: string; brokers?: string }) => {
        const require = parseRequirements(opts.require ?? '');
        const brokers = opts.brokers === undefined ? readHealthBrokers() : parseBrokers(opts.brokers);
        const report = await withTemporal((ctx) => checkHealth(ctx, { require, brokers }));
        if (opts.json) printJson(report);
        else printReport(report);
        return report.healthy ? ExitCode.Ok : ExitCode.Failure;
      }),
    );
}

function printReport(report: HealthReport): void {
  for (const c of report.checks) {
    const mark = c.ok ? 'ok  ' : c.required ? 'FAIL' : 'skip';
    process.stdout.write(`${mark} ${c.name}: ${c.detail}\n`);
  }
  process.stdout.write(report.healthy ? 'healthy\n' : 'unhealthy\n');
}
