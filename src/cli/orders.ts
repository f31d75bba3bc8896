import { randomUUID } from 'node:crypto';
import { type Command } from 'commander';
import { type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { loadConfig } from '../config/load-config';
import { orderSettingsFromConfig } from '../config/order-settings';
import { assertWithinOrderLimits, DEFAULT_ORDER_LIMITS, type OrderLimits } from '../domain/orders/order-limits';
import {
  prepareLimitOrder,
  type BrokerName,
  type OrderRequestInput,
  type PreparedOrderToPlace,
} from '../domain/orders/order-request';
import { BROKER_NAMES_TEXT, parseBrokerName } from '../brokers/registry';
import { isTerminalOrderState, type OrderState } from '../domain/orders/order-state';
import { ValidationError, type ValidationIssue } from '../domain/validation';
import { SearchAttributes, WorkflowIds } from '../shared/contracts';
import {
  cancelAllSignal,
  deskStateQuery,
  deskWorkflow,
  placeOrderUpdate,
  resetUpdate,
  type CancelAllRun,
  type DeskInput,
  type DeskView,
  type PlaceOrderResult,
} from '../workflows/desk';
import { cancelOrderSignal, orderStatusQuery, type OrderSettings, type OrderStatus } from '../workflows/order';
import { action, enumOption, ExitCode, printJson, UsageError } from './io';
import { protectionLine, protectPosition } from './positions';
import { isWorkflowNotFound, temporalClient, withTemporal, type CliContext } from './temporal';

const BROKER_HELP = `${BROKER_NAMES_TEXT} (either case)`;

/** Refused by the desk (kill switch, circuit breaker): a clear message and exit 1, never a silent accept. */
export class OrderRefusedError extends Error {
  override readonly name = 'OrderRefusedError';
}

/** The worker has no configuration for the broker: refused at once, naming the variables to set (exit 1). */
export class BrokerNotConfiguredError extends Error {
  override readonly name = 'BrokerNotConfiguredError';
  constructor(
    message: string,
    readonly missing: readonly string[],
  ) {
    super(message);
  }
}

export interface PlaceOrderOptions {
  readonly symbol: string;
  readonly side: string;
  readonly quantity: string;
  readonly referencePrice: string;
  readonly offsetMode?: string;
  readonly offset?: string;
  readonly maxSlippagePct?: string;
  readonly strategy?: string;
  readonly clientOrderId?: string;
  /**
   * Set when clientOrderId was generated for this placement rather than given by the caller (the command
   * generates it before connecting). Only such an order may be answered by an open order of the same intent.
   */
  readonly clientOrderIdGenerated?: boolean;
  readonly broker?: string;
  readonly timeInForce?: string;
  readonly account?: string;
  /** Only 'limit'; anything else is refused with "not supported, use a limit order". */
  readonly type?: string;
}

export interface PlacedOrder {
  readonly workflowId: string;
  readonly clientOrderId: string;
  readonly limitPrice: string;
  readonly state: string;
  /** Set when no new order was placed: the order returned is one the desk already had, matched this way. */
  readonly existing: PlaceOrderResult['existing'];
}

function brokerOf(value: string | undefined): BrokerName {
  return parseBrokerName(value);
}

/** Numbers from the command line stay strings when malformed, so validation names the rule that broke. */
function numeric(value: string): number | string {
  return /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
}

/** The desk account label: --account, else FLOWGUARD_ACCOUNT, else "main". */
export function accountOf(value?: string): string {
  const account = value ?? process.env.FLOWGUARD_ACCOUNT ?? 'main';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(account)) throw new UsageError('account: must be 1–64 letters, digits, _ . or -');
  return account;
}

/** Order settings from the validated configuration (FLOWGUARD_CONFIG file and FLOWGUARD_* variables). */
export async function resolveOrderSettings(): Promise<OrderSettings> {
  return orderSettingsFromConfig((await loadConfig()).orders);
}

/**
 * How every command starts the desk of a broker and account (one desk workflow each): the same id, summary and
 * input whether it is started on its own, with an update or with a signal. Joins a running desk.
 */
export function deskStartOptions(ctx: CliContext, broker: BrokerName, account: string, settings: OrderSettings) {
  return {
    workflowId: WorkflowIds.desk(broker, account),
    taskQueue: ctx.env.TEMPORAL_TASK_QUEUE,
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    staticSummary: `${broker} desk (${account}): open orders, kill switch, circuit breaker`,
    args: [{ broker, account, settings }] as [DeskInput],
  };
}

function deskStart(ctx: CliContext, broker: BrokerName, account: string, settings: OrderSettings) {
  return new (temporalClient().WithStartWorkflowOperation)(
    deskWorkflow,
    deskStartOptions(ctx, broker, account, settings),
  );
}

/** Turns a desk refusal or validation failure carried by Temporal back into the CLI's error classes. */
function rethrowDeskFailure(err: unknown): never {
  const cause = err instanceof temporalClient().WorkflowUpdateFailedError ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    if (cause.type === 'ValidationError') {
      const issues = (cause.details?.[0] as ValidationIssue[] | undefined) ?? [{ field: 'order', rule: cause.message }];
      throw new ValidationError(issues);
    }
    if (cause.type === 'OrderRefused') throw new OrderRefusedError(`order refused: ${cause.message}`);
    if (cause.type === 'BrokerNotConfigured') {
      const detail = cause.details?.[0] as { missing?: string[] } | undefined;
      throw new BrokerNotConfiguredError(`order refused: ${cause.message}`, detail?.missing ?? []);
    }
  }
  throw err;
}

/**
 * The order, priced: the one time a limit price is computed on its way to the broker. Invalid input, and an order
 * over the configured size limits (orders.maxQuantity, orders.maxNotional, naming the setting), fail here with a
 * ValidationError, before anything reaches Temporal. The desk checks this prepared order and does not price it
 * again (src/workflows/desk.ts); the order workflow submits it as it is.
 */
export function prepareOrder(
  opts: PlaceOrderOptions,
  settings: OrderSettings,
  limits: OrderLimits = DEFAULT_ORDER_LIMITS,
): PreparedOrderToPlace {
  const request: OrderRequestInput & { readonly clientOrderId: string } = {
    symbol: opts.symbol,
    side: opts.side as 'buy' | 'sell',
    quantity: numeric(opts.quantity),
    referencePrice: opts.referencePrice,
    ...(opts.offsetMode ? { offsetMode: opts.offsetMode as 'bps' | 'absolute' } : {}),
    ...(opts.offset ? { offset: opts.offset } : {}),
    ...(opts.maxSlippagePct ? { maxSlippagePct: opts.maxSlippagePct } : {}),
    ...(opts.strategy ? { strategy: opts.strategy } : {}),
    ...(opts.timeInForce ? { timeInForce: opts.timeInForce as 'day' | 'gtc' } : {}),
    ...(opts.type && opts.type !== 'limit' ? { type: opts.type } : {}),
    broker: brokerOf(opts.broker),
    clientOrderId: opts.clientOrderId ?? `fg-${randomUUID()}`,
  };
  const prepared = { ...prepareLimitOrder(request, settings.pricing), clientOrderId: request.clientOrderId };
  assertWithinOrderLimits(prepared, limits);
  return prepared;
}

/** Where a prepared order goes: the desk of its broker and this account. */
export interface PlaceTarget {
  readonly account?: string;
  /** The client order id was generated for this placement (see PlaceOrderOptions.clientOrderIdGenerated). */
  readonly clientOrderIdGenerated: boolean;
}

/** Prices the order (prepareOrder) and places it: the API form of `flowguard order place`. */
export async function placeOrder(
  ctx: CliContext,
  opts: PlaceOrderOptions,
  configured?: OrderSettings,
  limits?: OrderLimits,
): Promise<PlacedOrder> {
  const config = configured && limits ? undefined : await loadConfig();
  const settings = configured ?? orderSettingsFromConfig(config!.orders);
  const prepared = prepareOrder(opts, settings, limits ?? config!.orders);
  const clientOrderIdGenerated = opts.clientOrderId === undefined || opts.clientOrderIdGenerated === true;
  return placePrepared(
    ctx,
    prepared,
    { clientOrderIdGenerated, ...(opts.account ? { account: opts.account } : {}) },
    settings,
  );
}

/**
 * Hands an order priced by prepareOrder to its desk (started with `settings` when it is not running) and
 * returns it with the order workflow's state. Prices nothing: the update carries the prepared order only.
 */
export async function placePrepared(
  ctx: CliContext,
  prepared: PreparedOrderToPlace,
  target: PlaceTarget,
  settings: OrderSettings,
): Promise<PlacedOrder> {
  const { clientOrderIdGenerated } = target;
  let placed;
  try {
    placed = await ctx.client.workflow.executeUpdateWithStart(placeOrderUpdate, {
      args: [{ prepared, ...(clientOrderIdGenerated ? { clientOrderIdGenerated } : {}) }],
      startWorkflowOperation: deskStart(ctx, prepared.broker, accountOf(target.account), settings),
    });
  } catch (err) {
    rethrowDeskFailure(err);
  }
  let state = 'pending_submit';
  try {
    state = (await ctx.client.workflow.getHandle(placed.workflowId).query(orderStatusQuery)).state;
  } catch {
    /* the order workflow has not run its first task yet */
  }
  return { ...placed, state };
}

function orderWorkflowId(id: string): string {
  return id.startsWith('order:') ? id : WorkflowIds.order(id);
}

export async function orderStatus(ctx: CliContext, id: string): Promise<OrderStatus> {
  try {
    return await ctx.client.workflow.getHandle(orderWorkflowId(id)).query(orderStatusQuery);
  } catch (err) {
    if (isWorkflowNotFound(err)) throw new UsageError(`order: no order ${id}`);
    throw err;
  }
}

/** "filled 10 of 10 @ 250.1" and the like: how an order ended, for messages about it. */
export function endedOrderLine(id: string, status: OrderStatus): string {
  const fills =
    status.filledQuantity > 0
      ? `, filled ${status.filledQuantity} of ${status.quantity} @ ${status.averageFillPrice ?? '-'}`
      : '';
  const why = status.reason
    ? ` (${status.reason})`
    : status.cancelRequested
      ? `, cancel reason: ${status.cancelRequested}`
      : '';
  return `order ${id} has already ended: ${status.state}${fills}${why}; nothing to cancel`;
}

/**
 * Asks the order's workflow to cancel. An order that has already ended (its workflow closed, or its state
 * terminal) is not signalled: its final status is returned, so the caller can say how it ended instead of
 * Temporal's "workflow execution already completed". Undefined: the request was sent.
 */
export async function cancelOrder(ctx: CliContext, id: string, reason: string): Promise<OrderStatus | undefined> {
  const status = await orderStatus(ctx, id);
  if (isTerminalOrderState(status.state)) return status;
  try {
    await ctx.client.workflow.getHandle(orderWorkflowId(id)).signal(cancelOrderSignal, { reason });
    return undefined;
  } catch (err) {
    // It ended between the status read and the signal: report the state it ended in.
    if (isWorkflowNotFound(err)) return orderStatus(ctx, id);
    throw err;
  }
}

export async function listOrders(client: Client, open: boolean) {
  const query = `WorkflowType = 'orderWorkflow'${open ? ` AND ExecutionStatus = 'Running'` : ''}`;
  const rows: Record<string, unknown>[] = [];
  for await (const wf of client.workflow.list({ query, pageSize: 100 })) {
    const sa = wf.typedSearchAttributes;
    rows.push({
      workflowId: wf.workflowId,
      clientOrderId: sa.get(SearchAttributes.ClientOrderId) ?? null,
      symbol: sa.get(SearchAttributes.Symbol) ?? null,
      side: sa.get(SearchAttributes.OrderSide) ?? null,
      state: sa.get(SearchAttributes.OrderState) ?? null,
      brokerOrderId: sa.get(SearchAttributes.BrokerOrderId) ?? null,
      startTime: wf.startTime.toISOString(),
      status: wf.status.name,
    });
    if (rows.length >= 500) break;
  }
  return rows;
}

export async function deskState(ctx: CliContext, broker: BrokerName, account: string): Promise<DeskView | null> {
  try {
    return await ctx.client.workflow.getHandle(WorkflowIds.desk(broker, account)).query(deskStateQuery);
  } catch (err) {
    if (isWorkflowNotFound(err)) return null;
    throw err;
  }
}

/** Sends the kill switch; with `wait`, returns the confirmed per-order results of this cancel-all run. */
export async function cancelAll(
  ctx: CliContext,
  opts: { broker?: string; account?: string; reason?: string; wait?: boolean; timeoutMs?: number },
  configured?: OrderSettings,
): Promise<{ broker: BrokerName; signalled: true; run: CancelAllRun | null }> {
  const broker = brokerOf(opts.broker);
  const settings = configured ?? (await resolveOrderSettings());
  const account = accountOf(opts.account);
  const before = (await deskState(ctx, broker, account))?.cancelAllCount ?? 0;
  const { workflowIdConflictPolicy: _join, ...start } = deskStartOptions(ctx, broker, account, settings);
  await ctx.client.workflow.signalWithStart(deskWorkflow, {
    ...start,
    signal: cancelAllSignal,
    signalArgs: [{ reason: opts.reason ?? 'flowguard cancel-all' }],
  });
  if (!opts.wait) return { broker, signalled: true, run: null };
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    const state = await deskState(ctx, broker, account);
    const run = state?.cancelAll;
    if (run && run.id > before && run.completedAt) return { broker, signalled: true, run };
    if (Date.now() > deadline)
      throw new Error('cancel-all did not complete in time; check `flowguard orders list --open`');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function resetDesk(
  ctx: CliContext,
  opts: { broker?: string; account?: string },
  configured?: OrderSettings,
) {
  const broker = brokerOf(opts.broker);
  const settings = configured ?? (await resolveOrderSettings());
  const result = await ctx.client.workflow.executeUpdateWithStart(resetUpdate, {
    args: [],
    startWorkflowOperation: deskStart(ctx, broker, accountOf(opts.account), settings),
  });
  return { broker, ...result };
}

/** The text-mode line for a placement that returned an order already known to the desk. */
function existingLine(placed: PlacedOrder): string {
  const same =
    placed.existing === 'same_intent' ? 'the same symbol, side, quantity and limit price' : 'the same client order id';
  // The same id may name an order that has already ended: "open" would then be untrue.
  const where = isTerminalOrderState(placed.state as OrderState)
    ? `already exists (${placed.state})`
    : 'is already open';
  return `an order with ${same} ${where}: returned it, nothing new was placed`;
}

export function registerOrderCommands(program: Command, order: Command): void {
  order
    .command('place')
    .description('place a limit order through the desk (idempotent per client order id)')
    .requiredOption('--symbol <SYM>', 'equity ticker, e.g. TSLA or BRK.B')
    .requiredOption('--side <side>', 'buy or sell (either case)', enumOption)
    .requiredOption('--quantity <N>', 'whole shares')
    .requiredOption('--reference-price <P>', 'reference price the limit is derived from')
    .option('--offset-mode <mode>', 'bps or absolute', enumOption)
    .option('--offset <X>', 'offset in the offset mode')
    .option('--max-slippage-pct <Y>', 'largest allowed |limit − reference| / reference, in percent')
    .option('--strategy <NAME>', 'per-strategy offsets from the config file')
    .option(
      '--client-order-id <ID>',
      "idempotency key and the order's identity; when omitted one is generated, and an open order of the same intent (symbol, side, quantity, limit) is returned instead of placing another",
    )
    .option('--broker <name>', BROKER_HELP, enumOption, 'paper')
    .option('--account <LABEL>', 'desk account label (default: $FLOWGUARD_ACCOUNT or main)')
    .option('--time-in-force <tif>', 'day or gtc', enumOption)
    .option('--type <type>', 'order type: only limit is supported', enumOption, 'limit')
    .option('--protect', "BUY only: when it fills, the account's positions watch starts a monitor for the position")
    .option('--auto-exit', 'with --protect: the monitor places a protective SELL on the exit signal')
    .option('--json', 'print one JSON object')
    .action(
      action(async (opts: PlaceOrderOptions & { json?: boolean; protect?: boolean; autoExit?: boolean }) => {
        const config = await loadConfig();
        const settings = orderSettingsFromConfig(config.orders);
        // Validated before connecting: bad input (and an order over the size limits) is exit 2 even with
        // Temporal down.
        const prepared = prepareOrder(opts, settings, config.orders);
        if (opts.protect && prepared.side !== 'buy')
          throw new UsageError('protect: only a BUY opens a position to protect');
        if (opts.autoExit && !opts.protect) throw new UsageError('auto-exit: only with --protect');
        // The same generated id goes to the desk, marked as generated: the caller gave none of its own.
        const clientOrderIdGenerated = opts.clientOrderId === undefined;
        let protection = null as Awaited<ReturnType<typeof protectPosition>> | null;
        const placed = await withTemporal(async (ctx) => {
          // Told before the order exists, so the fill's wake-up already finds the mode asked for.
          if (opts.protect) protection = await protectPosition(ctx, { ...opts, symbol: prepared.symbol });
          return placePrepared(
            ctx,
            prepared,
            { clientOrderIdGenerated, ...(opts.account ? { account: opts.account } : {}) },
            settings,
          );
        });
        if (opts.json)
          printJson({
            workflowId: placed.workflowId,
            clientOrderId: placed.clientOrderId,
            limitPrice: placed.limitPrice,
            state: placed.state,
            existing: placed.existing !== null,
            ...(placed.existing ? { existingMatch: placed.existing } : {}),
            ...(protection ? { protect: protection } : {}),
          });
        else {
          const note = placed.existing ? ` (existing order: ${placed.existing.replace(/_/g, ' ')})` : '';
          process.stdout.write(
            `${placed.clientOrderId} ${placed.state} limit ${placed.limitPrice} — workflow ${placed.workflowId}${note}\n`,
          );
          if (placed.existing) process.stdout.write(`${existingLine(placed)}\n`);
          if (protection)
            process.stdout.write(`${protectionLine(protection, prepared.symbol, String(prepared.quantity))}\n`);
        }
      }),
    );

  order
    .command('status <ID>')
    .description('state, fills and broker payload of one order (ID: client order id or workflow id)')
    .option('--json', 'print one JSON object')
    .action(
      action(async (id: string, opts: { json?: boolean }) => {
        const status = await withTemporal((ctx) => orderStatus(ctx, id));
        if (opts.json) printJson(status);
        else {
          process.stdout.write(
            `${status.clientOrderId} ${status.symbol} ${status.side} ${status.quantity} @ ${status.limitPrice ?? '-'}: ${status.state}, ` +
              `filled ${status.filledQuantity} (avg ${status.averageFillPrice ?? '-'}), remaining ${status.remainingQuantity}` +
              `${status.brokerOrderId ? `, broker id ${status.brokerOrderId}` : ''}${status.reason ? ` — ${status.reason}` : ''}\n`,
          );
        }
      }),
    );

  order
    .command('cancel <ID>')
    .description('request cancellation of one order (a fill that races the cancel is still applied)')
    .option('--reason <TEXT>', 'why, for the audit trail')
    .action(
      action(async (id: string, opts: { reason?: string }) => {
        const ended = await withTemporal((ctx) => cancelOrder(ctx, id, opts.reason ?? 'cancel requested from the CLI'));
        if (ended) {
          process.stdout.write(`${endedOrderLine(id, ended)}\n`);
          return;
        }
        process.stdout.write(`cancel requested for ${id}; follow it with 'flowguard order status ${id}'\n`);
      }),
    );

  program
    .command('orders')
    .description('list orders')
    .command('list')
    .description('orders from Temporal visibility (search attributes)')
    .option('--open', 'only orders whose workflow is still running')
    .option('--json', 'print one JSON object')
    .action(
      action(async (opts: { open?: boolean; json?: boolean }) => {
        const rows = await withTemporal((ctx) => listOrders(ctx.client, opts.open === true));
        if (opts.json) printJson({ orders: rows });
        else if (rows.length === 0) process.stdout.write('no orders\n');
        else
          for (const r of rows)
            process.stdout.write(
              `${String(r.clientOrderId)}  ${String(r.symbol)} ${String(r.side)}  ${String(r.state)}  ${String(r.workflowId)}\n`,
            );
      }),
    );

  program
    .command('cancel-all')
    .description('the kill switch: cancel every open order and refuse new ones until reset')
    .option('--reason <TEXT>', 'why, recorded on the desk')
    .option('--broker <name>', BROKER_HELP, enumOption, 'paper')
    .option('--account <LABEL>', 'desk account label (default: $FLOWGUARD_ACCOUNT or main)')
    .option('--wait', 'wait for every order to be confirmed terminal and print the results')
    .option('--json', 'print one JSON object')
    .action(
      action(async (opts: { reason?: string; broker?: string; account?: string; wait?: boolean; json?: boolean }) => {
        const result = await withTemporal((ctx) => cancelAll(ctx, opts));
        if (opts.json) {
          printJson({
            broker: result.broker,
            signalled: true,
            results: result.run ? Object.values(result.run.results) : null,
          });
          return;
        }
        process.stdout.write(
          `cancel-all sent to the ${result.broker} desk; new orders are refused until 'flowguard kill-switch reset'\n`,
        );
        for (const r of Object.values(result.run?.results ?? {})) {
          process.stdout.write(
            `  ${r.clientOrderId ?? r.brokerOrderId ?? r.key}  ${r.symbol}  ${r.outcome}${r.detail ? ` (${r.detail})` : ''}\n`,
          );
        }
        const bad = Object.values(result.run?.results ?? {}).filter(
          (r) => r.outcome === 'failed' || r.outcome === 'unconfirmed',
        );
        return bad.length > 0 ? ExitCode.Failure : ExitCode.Ok;
      }),
    );

  program
    .command('kill-switch')
    .description('the desk latch that cancel-all engages')
    .command('reset')
    .description('let orders through again: clears the kill switch and a tripped circuit breaker')
    .option('--broker <name>', BROKER_HELP, enumOption, 'paper')
    .option('--account <LABEL>', 'desk account label (default: $FLOWGUARD_ACCOUNT or main)')
    .option('--json', 'print one JSON object')
    .action(
      action(async (opts: { broker?: string; account?: string; json?: boolean }) => {
        const result = await withTemporal((ctx) => resetDesk(ctx, opts));
        if (opts.json) printJson(result);
        else {
          const parts = [
            result.killSwitchWasEngaged ? 'kill switch released' : 'kill switch was not engaged',
            result.breakerWasTripped
              ? `circuit breaker reset (${result.breakerReason ?? 'tripped'})`
              : 'circuit breaker was not tripped',
          ];
          process.stdout.write(`desk:${result.broker}: ${parts.join('; ')}\n`);
        }
      }),
    );
}
