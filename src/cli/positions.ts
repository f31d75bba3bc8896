import { type Command } from 'commander';
import { loadConfig } from '../config/load-config';
import { orderSettingsFromConfig } from '../config/order-settings';
import { type AppConfig } from '../domain/config';
import { BROKER_NAMES_TEXT, brokerDescriptor, parseBrokerName } from '../brokers/registry';
import { type BrokerName } from '../domain/orders/order-request';
import { ValidationError } from '../domain/validation';
import { SearchAttributes, WorkflowIds } from '../shared/contracts';
import { deskWorkflow } from '../workflows/desk';
import { DataMode, MonitorMode } from '../workflows/position-monitor';
import {
  positionsChangedSignal,
  positionsStateQuery,
  positionsWatchWorkflow,
  stopWatchSignal,
  type PositionsView,
  type PositionsWatchInput,
} from '../workflows/positions';
import { monitorSettingsFromConfig } from './monitor';
import { accountOf, BrokerNotConfiguredError, deskStartOptions } from './orders';
import { action, enumOption, ExitCode, printJson, UsageError } from './io';
import { isWorkflowNotFound, withTemporal, type CliContext } from './temporal';

export interface WatchOptions {
  readonly broker?: string;
  readonly account?: string;
  /** Overrides positions.autoExit. */
  readonly autoExit?: boolean;
  /** Overrides positions.dataMode. */
  readonly dataMode?: string;
  /** Overrides positions.reconcileSeconds. */
  readonly reconcileSeconds?: string | number;
  /** Tests: continue-as-new after this many syncs. */
  readonly syncsPerRun?: number;
}

export function brokerOf(value: string | undefined): BrokerName {
  return parseBrokerName(value);
}

/** The watch's input from options over configuration; errors name the option and the rule. */
export function watchInput(opts: WatchOptions, config: AppConfig): PositionsWatchInput {
  const broker = brokerOf(opts.broker);
  const account = accountOf(opts.account);
  const dataMode = opts.dataMode ?? config.positions.dataMode;
  if (dataMode !== DataMode.Poll && dataMode !== DataMode.Stream) {
    throw new ValidationError([{ field: 'data-mode', rule: 'must be poll or stream' }]);
  }
  let reconcileSeconds = config.positions.reconcileSeconds;
  if (opts.reconcileSeconds !== undefined) {
    const n = Number(opts.reconcileSeconds);
    if (!Number.isInteger(n) || n < 1 || n > 3600) {
      throw new ValidationError([{ field: 'reconcile-seconds', rule: 'must be a whole number of seconds, 1–3600' }]);
    }
    reconcileSeconds = n;
  }
  return {
    broker,
    account,
    mode: (opts.autoExit ?? config.positions.autoExit) ? MonitorMode.AutoExit : MonitorMode.Alert,
    dataMode,
    reconcileSeconds,
    monitorSettings: monitorSettingsFromConfig(config, broker, account),
    ...(opts.syncsPerRun === undefined ? {} : { syncsPerRun: opts.syncsPerRun }),
  };
}

/**
 * Refuses a watch of a broker this environment has no configuration for, before anything starts: without it the
 * watch would start and sit in broker_error. The same check as the broker's adapter (the registry descriptor's
 * `fromEnv`: builds the client without a network call; a missing or malformed variable is a ValidationError naming
 * it) and the same error class as `order place` refused by the desk (BrokerNotConfiguredError, naming the variables).
 * Paper needs nothing. It reads the CLI's environment, which is the worker's when both load the same `.env`.
 */
export function assertBrokerConfigured(broker: BrokerName, env: NodeJS.ProcessEnv = process.env): void {
  const descriptor = brokerDescriptor(broker);
  if (!descriptor.fromEnv) return;
  try {
    descriptor.fromEnv(env, 10_000);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const missing = err.issues.map((i) => i.field);
    throw new BrokerNotConfiguredError(
      `watch refused: the ${broker} broker is not configured: set ${missing.join(', ')} in the environment of the ` +
        `worker and of this shell (${err.message})`,
      missing,
    );
  }
}

/**
 * Starts the account's positions watch, or finds the one running (the workflow id is per account, so a second
 * `watch` is a no-op that reports the first). Auto-exit monitors sell through the desk, which is started first.
 */
export async function startPositionsWatch(
  ctx: CliContext,
  opts: WatchOptions,
  configured?: AppConfig,
): Promise<{ workflowId: string; input: PositionsWatchInput }> {
  const config = configured ?? (await loadConfig());
  const input = watchInput(opts, config);
  if (input.mode === MonitorMode.AutoExit) {
    await ctx.client.workflow.start(
      deskWorkflow,
      deskStartOptions(ctx, input.broker, input.account, orderSettingsFromConfig(config.orders)),
    );
  }
  const workflowId = WorkflowIds.positions(input.broker, input.account);
  await ctx.client.workflow.start(positionsWatchWorkflow, {
    workflowId,
    taskQueue: ctx.env.TEMPORAL_TASK_QUEUE,
    workflowIdConflictPolicy: 'USE_EXISTING',
    args: [input],
    typedSearchAttributes: [{ key: SearchAttributes.BrokerAccount, value: `${input.broker}:${input.account}` }],
    staticSummary: `positions watch ${input.broker}:${input.account}: ${input.mode} monitors for every long position, reconcile every ${input.reconcileSeconds} s`,
  });
  return { workflowId, input };
}

/**
 * `order place --protect`: makes sure the account's positions watch runs and tells it to start `symbol`'s monitor in
 * `mode` when the position appears (the desk wakes the watch when the BUY fills). A position already monitored keeps
 * its monitor (and mode); the watch only resizes it.
 */
export async function protectPosition(
  ctx: CliContext,
  opts: { broker?: string; account?: string; symbol: string; autoExit?: boolean },
  configured?: AppConfig,
): Promise<{ workflowId: string; mode: MonitorMode }> {
  const config = configured ?? (await loadConfig());
  const mode = opts.autoExit ? MonitorMode.AutoExit : MonitorMode.Alert;
  const { workflowId } = await startPositionsWatch(ctx, { broker: opts.broker, account: opts.account }, config);
  await ctx.client.workflow
    .getHandle(workflowId)
    .signal(positionsChangedSignal, { symbol: opts.symbol, mode, reason: 'order place --protect' });
  return { workflowId, mode };
}

/**
 * What `order place --protect` tells the trader it asked for: `protect: an auto-exit monitor will start for 10 TSLA
 * when the BUY fills (positions watch positions:paper:main)`.
 */
export function protectionLine(
  protection: { readonly workflowId: string; readonly mode: MonitorMode },
  symbol: string,
  quantity: string,
): string {
  return `protect: an ${protection.mode} monitor will start for ${quantity} ${symbol} when the BUY fills (positions watch ${protection.workflowId})`;
}

export async function positionsStatus(ctx: CliContext, broker: BrokerName, account: string): Promise<PositionsView> {
  const workflowId = WorkflowIds.positions(broker, account);
  try {
    return await ctx.client.workflow.getHandle(workflowId).query(positionsStateQuery);
  } catch (err) {
    if (isWorkflowNotFound(err)) throw new UsageError(`no positions watch ${workflowId}`);
    throw err;
  }
}

export async function stopPositionsWatch(
  ctx: CliContext,
  broker: BrokerName,
  account: string,
  opts: { stopMonitors?: boolean; reason?: string },
): Promise<string> {
  await positionsStatus(ctx, broker, account);
  const workflowId = WorkflowIds.positions(broker, account);
  await ctx.client.workflow.getHandle(workflowId).signal(stopWatchSignal, {
    stopMonitors: opts.stopMonitors === true,
    reason: opts.reason ?? 'stopped from the CLI',
  });
  return workflowId;
}

export function renderPositions(v: PositionsView): string {
  const lines = [
    `${v.workflowId} [${v.mode}, ${v.dataMode}, every ${v.reconcileSeconds} s] state ${v.state}, sync ${v.syncs}${v.lastSyncAt ? ` at ${v.lastSyncAt}` : ''}`,
    ...(v.lastError ? [`last error: ${v.lastError}`] : []),
    ...(v.market && !v.market.open
      ? [
          `market closed${v.market.reason ? ` (${v.market.reason})` : ''}: next open ${v.market.nextChangeAt ?? 'none scheduled'}; positions read every ${v.market.reconcileSeconds} s until then (fills still wake the watch)`,
        ]
      : []),
    ...(v.market?.calendarError ? [`exchange calendar unavailable: ${v.market.calendarError}`] : []),
    `positions: ${v.positions.length === 0 ? 'none' : v.positions.map((p) => `${p.symbol} ${p.quantity}`).join(', ')}`,
    ...Object.values(v.monitors).map(
      (m) =>
        `  ${m.symbol.padEnd(6)} ×${m.quantity}  ${m.status === 'running' ? `monitored: ${m.workflowId}` : `monitor ended (${m.endedReason ?? ''})`}`,
    ),
    ...v.skipped.map((s) => `  ${s.symbol.padEnd(6)} ${s.quantity}  skipped: ${s.note}`),
    `notifications: ${v.notifications.delivered} delivered, ${v.notifications.pending} sending, ${v.notifications.failed} failed, ${v.notifications.skipped ?? 0} skipped (no destination wanted them)`,
    ...v.notifications.failures.slice(-3).map((f) => `  failed ${f.key}: ${f.message}`),
  ];
  return `${lines.join('\n')}\n`;
}

export function registerPositionsCommands(program: Command): void {
  const positions = program
    .command('positions')
    .description('watch a broker account: a monitor for every open long position, started and ended by itself');
  const common = (cmd: Command) =>
    cmd
      .option('--broker <name>', `${BROKER_NAMES_TEXT} (either case)`, enumOption, 'paper')
      .option('--account <LABEL>', 'account label (default: $FLOWGUARD_ACCOUNT or main)');
  common(
    positions
      .command('watch')
      .description('start (or find) the positions watch of a broker account')
      .option('--auto-exit', 'monitors place a protective SELL on the exit signal (default: positions.autoExit)')
      .option('--data-mode <mode>', 'poll or stream (default: positions.dataMode)', enumOption)
      .option(
        '--reconcile-seconds <N>',
        'seconds between reads of the positions (default: positions.reconcileSeconds, 60)',
      )
      .option('--json', 'print one JSON object'),
  ).action(
    action(async (opts: WatchOptions & { json?: boolean }) => {
      const config = await loadConfig();
      const checked = watchInput(opts, config);
      try {
        assertBrokerConfigured(checked.broker);
      } catch (err) {
        if (!(err instanceof BrokerNotConfiguredError)) throw err;
        process.stderr.write(`error: ${err.message}\n`);
        return ExitCode.InvalidInput;
      }
      const { workflowId, input } = await withTemporal((ctx) => startPositionsWatch(ctx, opts, config));
      if (opts.json) return printJson({ workflowId, broker: input.broker, account: input.account, mode: input.mode });
      process.stdout.write(
        `watching ${input.broker}:${input.account} (${input.mode} monitors, every ${input.reconcileSeconds} s) — workflow ${workflowId}\n`,
      );
    }),
  );
  common(positions.command('status').description('positions, monitors, skipped positions and notifications of a watch'))
    .option('--json', 'print one JSON object')
    .action(
      action(async (opts: { broker?: string; account?: string; json?: boolean }) => {
        const broker = brokerOf(opts.broker);
        const account = accountOf(opts.account);
        const v = await withTemporal((ctx) => positionsStatus(ctx, broker, account));
        if (opts.json) return printJson(v);
        process.stdout.write(renderPositions(v));
      }),
    );
  common(positions.command('stop').description('stop the watch; its monitors keep running unless --stop-monitors'))
    .option('--stop-monitors', 'also stop every monitor the watch runs')
    .option('--reason <TEXT>', 'why')
    .action(
      action(async (opts: { broker?: string; account?: string; stopMonitors?: boolean; reason?: string }) => {
        const broker = brokerOf(opts.broker);
        const account = accountOf(opts.account);
        const id = await withTemporal((ctx) => stopPositionsWatch(ctx, broker, account, opts));
        process.stdout.write(
          `stop requested for ${id}${opts.stopMonitors ? ' (monitors too)' : ' (monitors keep running)'}\n`,
        );
      }),
    );
}
