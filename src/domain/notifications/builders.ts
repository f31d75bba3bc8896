/**
 * The notification for each thing flowguard tells a person about, built from plain data the workflows already
 * hold. Event ids (the part of the key after `#`) are unique within their workflow across continue-as-new: an
 * alert's market time and rule, the kill-switch run number, the latch time, the exit order's id and state.
 * Zod-free: loaded by the monitor and desk workflows.
 */
import { type CancelAllRun, type Latch } from '../desk/desk-book';
import { type ExitSignal, type FlowAlert } from '../detectors/alerts';
import { NotificationKind, notificationKey, type NotificationEvent } from './event';

export function alertNotification(workflowId: string, alert: FlowAlert, at: string): NotificationEvent {
  const what = alert.kind === 'large_seller' ? `large seller (${alert.source})` : 'red burst';
  return {
    key: notificationKey(
      workflowId,
      `alert:${alert.kind}:${alert.timestampNs}:${'source' in alert ? alert.source : ''}`,
    ),
    kind: NotificationKind.Alert,
    severity: alert.severity,
    title: `${alert.symbol}: ${alert.severity} ${what}${alert.late ? ' (late)' : ''}`,
    text: alert.rule,
    symbol: alert.symbol,
    workflowId,
    at,
    fields:
      alert.kind === 'large_seller'
        ? { price: alert.price, size: alert.size, trigger: alert.trigger ?? 'shares', marketTimeNs: alert.timestampNs }
        : {
            price: alert.price,
            ratio: alert.ratio,
            sellShare: alert.sellShare,
            volume: alert.volume,
            marketTimeNs: alert.timestampNs,
          },
  };
}

export function exitSignalNotification(
  workflowId: string,
  symbol: string,
  signal: ExitSignal,
  autoExit: boolean,
  at: string,
): NotificationEvent {
  return {
    key: notificationKey(workflowId, `exit_signal:${signal.timestampNs}`),
    kind: NotificationKind.ExitSignal,
    severity: 'critical',
    title: `${symbol}: EXIT SIGNAL (${signal.reason})`,
    text: `${signal.rule}. ${autoExit ? 'A protective limit SELL is being placed.' : 'Alert mode: no order is placed.'}`,
    symbol,
    workflowId,
    at,
    fields: { reason: signal.reason, marketTimeNs: signal.timestampNs, autoExit },
  };
}

export interface ExitOrderOutcome {
  readonly clientOrderId: string;
  readonly state: string;
  readonly quantity: number;
  readonly filledQuantity: number;
  readonly averageFillPrice: string | null;
  readonly reason: string | null;
}

export function protectiveExitNotification(
  workflowId: string,
  symbol: string,
  order: ExitOrderOutcome,
  at: string,
): NotificationEvent {
  const filled = order.state === 'filled';
  return {
    key: notificationKey(workflowId, `protective_exit:${order.clientOrderId}:${order.state}`),
    kind: NotificationKind.ProtectiveExit,
    severity: filled ? 'warning' : 'critical',
    title: filled
      ? `${symbol}: protective SELL filled, ${order.filledQuantity} @ ${order.averageFillPrice ?? '-'}`
      : `${symbol}: protective SELL ${order.state} — the position is still open`,
    text: filled
      ? `The protective exit ${order.clientOrderId} sold ${order.filledQuantity} shares.`
      : `The protective exit ${order.clientOrderId} ended ${order.state}${order.reason ? `: ${order.reason}` : ''}. Act by hand.`,
    symbol,
    workflowId,
    at,
    fields: {
      clientOrderId: order.clientOrderId,
      state: order.state,
      quantity: order.quantity,
      filledQuantity: order.filledQuantity,
      averageFillPrice: order.averageFillPrice,
    },
  };
}

export function killSwitchNotification(
  workflowId: string,
  brokerAccount: string,
  run: CancelAllRun,
  at: string,
): NotificationEvent {
  const results = Object.values(run.results);
  const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
  const open = results.filter((r) => r.outcome === 'unconfirmed' || r.outcome === 'failed').length;
  return {
    key: notificationKey(workflowId, `kill_switch:${run.id}`),
    kind: NotificationKind.KillSwitch,
    severity: 'critical',
    title: `${brokerAccount}: kill switch ran — ${results.length} order${results.length === 1 ? '' : 's'}, ${open} not confirmed`,
    text: `cancel-all (${run.reason}) requested ${run.requestedAt}, completed ${run.completedAt ?? '-'}. New orders are refused until 'flowguard kill-switch reset'.`,
    symbol: null,
    workflowId,
    at,
    fields: {
      run: run.id,
      orders: results.length,
      cancelled: count('cancelled') + count('partially_filled_then_cancelled'),
      filled: count('filled'),
      unconfirmed: count('unconfirmed'),
      failed: count('failed'),
    },
  };
}

export function circuitBreakerNotification(
  workflowId: string,
  brokerAccount: string,
  latch: Latch,
  at: string,
): NotificationEvent {
  return {
    key: notificationKey(workflowId, `circuit_breaker:${latch.at}`),
    kind: NotificationKind.CircuitBreaker,
    severity: 'critical',
    title: `${brokerAccount}: circuit breaker tripped`,
    text: `${latch.reason}. New orders are refused until 'flowguard kill-switch reset'.`,
    symbol: null,
    workflowId,
    at,
    fields: { reason: latch.reason, clientOrderId: latch.clientOrderId ?? null, trippedAt: latch.at },
  };
}
