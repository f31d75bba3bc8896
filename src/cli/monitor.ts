import { randomUUID } from 'node:crypto';
import { type Command } from 'commander';
import { z } from 'zod';
import { loadConfig } from '../config/load-config';
import { orderSettingsFromConfig } from '../config/order-settings';
import { type AppConfig } from '../domain/config';
import { PriceStringSchema } from '../domain/orders/money';
import { BROKER_NAMES_TEXT } from '../brokers/registry';
import { BrokerName, SymbolSchema } from '../domain/orders/order-request';
import { parseOrThrow } from '../domain/validation';
import { SearchAttributes, WorkflowIds } from '../shared/contracts';
import { deskWorkflow } from '../workflows/desk';
import {
  DataMode,
  MonitorMode,
  monitorStateQuery,
  positionMonitorWorkflow,
  stopMonitorSignal,
  type MonitorSettings,
  type MonitorView,
} from '../workflows/position-monitor';
import { OPENING_SUFFIX } from '../domain/positions/reconcile';
import { accountOf, deskStartOptions } from './orders';
import { action, enumOption, printJson, UsageError } from './io';
import { isWorkflowNotFound, withTemporal, type CliContext } from './temporal';

const StartSchema = z.object({
  symbol: SymbolSchema,
  quantity: z
    .number({ message: 'must be a positive integer' })
    .int('must be a positive integer')
    .positive('must be a positive integer'),
  entryPrice: PriceStringSchema.optional(),
  positionId: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1–64 letters, digits, _ . : or -')
    .optional(),
  mode: z.enum([MonitorMode.Alert, MonitorMode.AutoExit]),
  dataMode: z.enum([DataMode.Poll, DataMode.Stream], { message: 'must be poll or stream' }),
  broker: z.enum(BrokerName, { message: `must be ${BROKER_NAMES_TEXT}` }),
});

export interface StartMonitorOptions {
  readonly symbol: string;
  readonly quantity: string;
  readonly entryPrice?: string;
  readonly positionId?: string;
  readonly autoExit?: boolean;
  readonly dataMode?: string;
  readonly broker?: string;
  readonly account?: string;
}

/** Monitor settings from the validated configuration; FLOWGUARD_MARKET_DATA_STALE_CHECK=false replays recorded data. */
export function monitorSettingsFromConfig(config: AppConfig, broker: BrokerName, account: string): MonitorSettings {
  return {
    detectors: config.detectors,
    pollIntervalSeconds: config.marketData.pollIntervalSeconds,
    sessions: config.marketData.sessions,
    staleCheck: config.marketData.staleCheck,
    exit: { broker, account, pricing: orderSettingsFromConfig(config.orders).pricing },
  };
}

/** Validates `monitor start` input (before anything connects): errors name the field and the rule. */
export function parseStartOptions(opts: StartMonitorOptions) {
  return parseOrThrow(StartSchema, {
    symbol: opts.symbol,
    quantity: /^\d+$/.test(opts.quantity) ? Number(opts.quantity) : opts.quantity,
    entryPrice: opts.entryPrice,
    positionId: opts.positionId,
    mode: opts.autoExit ? MonitorMode.AutoExit : MonitorMode.Alert,
    dataMode: opts.dataMode ?? DataMode.Poll,
    broker: opts.broker ?? 'paper',
  });
}

export async function startMonitor(
  ctx: CliContext,
  opts: StartMonitorOptions,
  configured?: AppConfig,
): Promise<{ workflowId: string; positionId: string }> {
  const input = parseStartOptions(opts);
  const config = configured ?? (await loadConfig());
  const account = accountOf(opts.account);
  const positionId = input.positionId ?? `${input.symbol.toLowerCase()}-${randomUUID().slice(0, 8)}`;
  const settings = monitorSettingsFromConfig(config, input.broker, account);
  if (input.mode === MonitorMode.AutoExit) {
    // The protective SELL goes through the desk, so the desk must be there before the monitor needs it.
    await ctx.client.workflow.start(
      deskWorkflow,
      deskStartOptions(ctx, input.broker, account, orderSettingsFromConfig(config.orders)),
    );
  }
  const workflowId = WorkflowIds.position(positionId);
  if (input.positionId !== undefined) await refuseOtherSymbol(ctx, workflowId, positionId, input.symbol);
  await ctx.client.workflow.start(positionMonitorWorkflow, {
    workflowId,
    taskQueue: ctx.env.TEMPORAL_TASK_QUEUE,
    workflowIdConflictPolicy: 'USE_EXISTING',
    args: [
      {
        positionId,
        symbol: input.symbol,
        quantity: input.quantity,
        ...(input.entryPrice ? { entryPrice: input.entryPrice } : {}),
        mode: input.mode,
        dataMode: input.dataMode,
        settings,
      },
    ],
    typedSearchAttributes: [
      { key: SearchAttributes.Symbol, value: input.symbol },
      { key: SearchAttributes.PositionId, value: positionId },
    ],
    staticSummary: `${input.mode} monitor: ${input.quantity} ${input.symbol} (${input.dataMode})`,
  });
  return { workflowId, positionId };
}

/**
 * Starting an id that is already running is a no-op (USE_EXISTING): with another symbol that would silently
 * keep watching the old one while the caller believes the new one is watched. Refused, naming both.
 */
async function refuseOtherSymbol(ctx: CliContext, workflowId: string, positionId: string, symbol: string) {
  let running: string | undefined;
  try {
    const described = await ctx.client.workflow.getHandle(workflowId).describe();
    if (described.status.name !== 'RUNNING') return;
    running = described.typedSearchAttributes.get(SearchAttributes.Symbol);
  } catch (err) {
    if (isWorkflowNotFound(err)) return;
    throw err;
  }
  if (running !== undefined && running !== symbol) {
    throw new UsageError(
      `--position-id: ${positionId} is already monitoring ${running}, not ${symbol}; a monitor watches one symbol: ` +
        `stop it first ('flowguard monitor stop ${positionId}') or choose another --position-id`,
    );
  }
}

/** What a monitor that has already ended says when asked to stop; undefined while it runs. */
export async function endedMonitorLine(ctx: CliContext, id: string): Promise<string | undefined> {
  const view = await monitorStatus(ctx, id);
  const described = await ctx.client.workflow.getHandle(positionWorkflowId(id)).describe();
  if (described.status.name === 'RUNNING') return undefined;
  const exit = view.exitSignal ? `, exit signal ${view.exitSignal.reason}` : '';
  const order = view.exitOrder ? `, exit order ${view.exitOrder.state}` : '';
  return `monitor ${id} has already ended: ${view.state}${exit}${order} (workflow ${described.status.name.toLowerCase()}); nothing to stop`;
}

/** A workflow id as is; a position id as its monitor's workflow id (a watch's opening stamp is not part of it). */
function positionWorkflowId(id: string): string {
  return id.startsWith('position:') ? id : WorkflowIds.position(id.replace(OPENING_SUFFIX, ''));
}

export async function monitorStatus(ctx: CliContext, id: string): Promise<MonitorView> {
  try {
    return await ctx.client.workflow.getHandle(positionWorkflowId(id)).query(monitorStateQuery);
  } catch (err) {
    if (isWorkflowNotFound(err)) throw new UsageError(`position: no monitor ${id}`);
    throw err;
  }
}

/** The status shape of the CLI (`--json`): alerts as `flowguard replay` prints them. */
export function statusView(v: MonitorView) {
  return {
    positionId: v.positionId,
    symbol: v.symbol,
    state: v.state,
    // Set while outside every trading session: which sessions it waits for and when the next opens.
    sessionWait: v.sessionWait ?? null,
    alerts: v.alerts,
    exitSignal: v.exitSignal,
    exitOrder: v.exitOrder,
    dataHealth: v.dataHealth,
  };
}

export function registerMonitorCommands(program: Command): void {
  const monitor = program
    .command('monitor')
    .description('position monitors: order-flow alerts and the protective exit');
  monitor
    .command('start')
    .description('start a durable monitor for one position')
    .requiredOption('--symbol <SYM>', 'equity ticker')
    .requiredOption('--quantity <N>', 'shares held')
    .option('--entry-price <P>', 'entry price (for P&L)')
    .option('--position-id <ID>', 'stable id (generated when omitted); starting the same id again is a no-op')
    .option('--auto-exit', 'place a protective limit SELL when the exit signal fires')
    .option('--data-mode <mode>', 'poll or stream (either case)', enumOption, 'poll')
    .option('--broker <name>', `broker for the protective exit: ${BROKER_NAMES_TEXT}`, enumOption, 'paper')
    .option('--account <LABEL>', 'desk account label (default: $FLOWGUARD_ACCOUNT or main)')
    .option('--json', 'print one JSON object')
    .action(
      action(async (opts: StartMonitorOptions & { json?: boolean }) => {
        parseStartOptions(opts);
        const started = await withTemporal((ctx) => startMonitor(ctx, opts));
        if (opts.json) printJson({ workflowId: started.workflowId, positionId: started.positionId });
        else process.stdout.write(`monitoring ${started.positionId} — workflow ${started.workflowId}\n`);
      }),
    );
  monitor
    .command('status <ID>')
    .description('alerts, exit signal, exit order and data health of a monitor (ID: position id or workflow id)')
    .option('--json', 'print one JSON object')
    .action(
      action(async (id: string, opts: { json?: boolean }) => {
        const v = await withTemporal((ctx) => monitorStatus(ctx, id));
        if (opts.json) return printJson(statusView(v));
        const lines = [
          `${v.positionId} ${v.symbol} ×${v.quantity} [${v.mode}, ${v.dataMode}] state ${v.state}` +
            (v.sessionWait
              ? ` (${v.sessionWait.reason ? `${v.sessionWait.reason}; ` : ''}waiting for ${v.sessionWait.sessions.join(', ')}: next open ${v.sessionWait.nextOpenAt ?? 'none within a week'})`
              : ''),
          `alerts: ${v.alertTotal}${v.exitSignal ? `; EXIT SIGNAL (${v.exitSignal.reason}): ${v.exitSignal.rule}` : ''}`,
          ...v.alerts
            .slice(-10)
            .map(
              (a) =>
                `  ${a.severity.padEnd(8)} ${a.kind}${'source' in a ? `/${a.source}` : ''} @ ${a.price}: ${a.rule}`,
            ),
          v.exitOrder
            ? `exit order ${v.exitOrder.clientOrderId}: ${v.exitOrder.state}, filled ${v.exitOrder.filledQuantity} @ ${v.exitOrder.averageFillPrice ?? '-'}`
            : 'no exit order',
          `data: ${v.dataHealth.freshness}, ${v.dataHealth.polls} polls, ${v.dataHealth.tradesSeen} trades, ${v.dataHealth.quotesSeen} quotes${v.dataHealth.lastError ? `, last error: ${v.dataHealth.lastError}` : ''}${v.dataHealth.calendarError ? `, exchange calendar unavailable (configured sessions apply): ${v.dataHealth.calendarError}` : ''}`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }),
    );
  monitor
    .command('stop <ID>')
    .description('stop a monitor (the position itself is not touched)')
    .option('--reason <TEXT>', 'why')
    .action(
      action(async (id: string, opts: { reason?: string }) => {
        const ended = await withTemporal(async (ctx) => {
          const before = await endedMonitorLine(ctx, id);
          if (before) return before;
          try {
            await ctx.client.workflow
              .getHandle(positionWorkflowId(id))
              .signal(stopMonitorSignal, { reason: opts.reason ?? 'stopped from the CLI' });
          } catch (err) {
            // It ended between the check and the signal: say how.
            if (isWorkflowNotFound(err)) return endedMonitorLine(ctx, id);
            throw err;
          }
          return undefined;
        });
        process.stdout.write(ended ? `${ended}\n` : `stop requested for ${id}\n`);
      }),
    );
  monitor
    .command('list')
    .description('monitors from Temporal visibility')
    .option('--json', 'print one JSON object')
    .action(
      action(async (opts: { json?: boolean }) => {
        const rows = await withTemporal(async (ctx) => {
          const out: Record<string, unknown>[] = [];
          for await (const wf of ctx.client.workflow.list({
            query: `WorkflowType = 'positionMonitorWorkflow'`,
            pageSize: 100,
          })) {
            const sa = wf.typedSearchAttributes;
            out.push({
              workflowId: wf.workflowId,
              positionId: sa.get(SearchAttributes.PositionId) ?? null,
              symbol: sa.get(SearchAttributes.Symbol) ?? null,
              state: sa.get(SearchAttributes.MonitorState) ?? null,
              alertCount: sa.get(SearchAttributes.AlertCount) ?? 0,
              exitSignal: sa.get(SearchAttributes.ExitSignal) ?? false,
              status: wf.status.name,
            });
            if (out.length >= 500) break;
          }
          return out;
        });
        if (opts.json) printJson({ monitors: rows });
        else if (rows.length === 0) process.stdout.write('no monitors\n');
        else
          for (const r of rows)
            process.stdout.write(
              `${String(r.positionId)}  ${String(r.symbol)}  ${String(r.state)}  alerts ${String(r.alertCount)}${r.exitSignal ? '  EXIT' : ''}  ${String(r.status)}\n`,
            );
      }),
    );
}
