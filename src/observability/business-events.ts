/**
 * One info line per business event, with an `event` field to grep or filter on:
 *
 * | event                 | from                                                                  |
 * |-----------------------|-----------------------------------------------------------------------|
 * | order.placed          | the submitOrder activity's success (activity interceptor below)       |
 * | order.<state>         | the order workflow's "order state changed" (filled, cancelled, ...)   |
 * | monitor.started       | the SDK's "Workflow started" of a position monitor run                 |
 * | monitor.alert         | each alert a market-data activity returns or pushes (logAlerts)        |
 * | monitor.exit          | the monitor workflow's "exit signal"                                   |
 * | monitor.finished      | the monitor workflow's "monitor finished"                              |
 *
 * Workflow lines arrive through the SDK's logger sink, which is not called on replay, so a replayed history
 * repeats none of them. The workflows are not touched: their lines are recognised here by message.
 */
import { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { LogLevel } from '@temporalio/common';
import { type FlowAlert } from '../domain/detectors/alerts';

export const BusinessEvent = {
  OrderPlaced: 'order.placed',
  MonitorStarted: 'monitor.started',
  MonitorAlert: 'monitor.alert',
  MonitorExit: 'monitor.exit',
  MonitorFinished: 'monitor.finished',
} as const;

export interface ShapedEntry {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

// webpack's statistics end "webpack 5.101.3 compiled successfully in 2210 ms": useful once, when debugging.
const WEBPACK_STATS = /\bwebpack \d+\.\d+\.\d+ compiled\b/;

/**
 * How an SDK log entry is written: business lines get their `event` field (and a monitor run's start is raised
 * to info as "monitor started"), webpack's bundle statistics go down to debug. Anything else is unchanged.
 */
export function shapeTemporalEntry(
  level: LogLevel,
  message: string,
  fields: Readonly<Record<string, unknown>>,
): ShapedEntry {
  if (WEBPACK_STATS.test(message)) return { level: 'DEBUG', message, fields };
  // The SDK's own line, emitted by the workflow's logger on a run's first activation (never on replay).
  if (message === 'Workflow started' && fields.workflowType === 'positionMonitorWorkflow') {
    return { level: 'INFO', message: 'monitor started', fields: { event: BusinessEvent.MonitorStarted, ...fields } };
  }
  if (fields.sdkComponent !== 'workflow') return { level, message, fields };
  switch (message) {
    case 'order state changed':
      return typeof fields.to === 'string'
        ? { level, message, fields: { event: `order.${fields.to}`, ...fields } }
        : { level, message, fields };
    case 'exit signal':
      return { level, message, fields: { event: BusinessEvent.MonitorExit, ...fields } };
    case 'monitor finished':
      return { level, message, fields: { event: BusinessEvent.MonitorFinished, ...fields } };
    default:
      return { level, message, fields };
  }
}

/** One info line per alert, from the activity that raised it (poll result or stream push). */
export function logAlerts(
  log: { info(message: string, meta?: Record<string, unknown>): void },
  symbol: string,
  alerts: readonly FlowAlert[],
): void {
  for (const alert of alerts) {
    log.info(`alert: ${alert.severity} ${alert.kind} ${symbol} @ ${alert.price}`, {
      event: BusinessEvent.MonitorAlert,
      symbol,
      kind: alert.kind,
      severity: alert.severity,
      price: alert.price,
      rule: alert.rule,
    });
  }
}

interface SubmitInput {
  readonly broker?: string;
  readonly order?: {
    readonly clientOrderId?: string;
    readonly symbol?: string;
    readonly side?: string;
    readonly quantity?: number;
    readonly limitPrice?: string;
  };
}
interface SubmitOutput {
  readonly order?: { readonly brokerOrderId?: string | null; readonly state?: string };
  readonly resolution?: unknown;
}
interface PollOutput {
  readonly alerts?: readonly FlowAlert[];
}

/** Order placed (a submit the broker took) and alerts of polled market data, logged as their activity ends. */
export const businessEventsInterceptor: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      const result: unknown = await next(input);
      const ctx = Context.current();
      const type = ctx.info.activityType;
      if (type === 'submitOrder') {
        const arg = (input.args[0] ?? {}) as SubmitInput;
        const out = (result ?? {}) as SubmitOutput;
        const o = arg.order ?? {};
        ctx.log.info(
          `order placed: ${String(o.side)} ${String(o.quantity)} ${String(o.symbol)} @ ${String(o.limitPrice)} on ${String(arg.broker)}`,
          {
            event: BusinessEvent.OrderPlaced,
            symbol: o.symbol,
            side: o.side,
            quantity: o.quantity,
            limitPrice: o.limitPrice,
            brokerOrderId: out.order?.brokerOrderId ?? null,
            state: out.order?.state,
          },
        );
      } else if (type === 'pollMarketData') {
        const arg = (input.args[0] ?? {}) as { symbol?: string };
        const alerts = (result as PollOutput | undefined)?.alerts ?? [];
        logAlerts(ctx.log, String(arg.symbol), alerts);
      }
      return result;
    },
  },
});
