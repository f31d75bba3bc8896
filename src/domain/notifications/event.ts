/**
 * What flowguard tells a person, and how urgent it is. Workflows build these (no zod here: this module runs in
 * every workflow that notifies); the notification activity formats them for each destination.
 */

export const NotificationSeverity = { Info: 'info', Warning: 'warning', Critical: 'critical' } as const;
export type NotificationSeverity = (typeof NotificationSeverity)[keyof typeof NotificationSeverity];

const RANK: Record<NotificationSeverity, number> = { info: 0, warning: 1, critical: 2 };

export const NotificationKind = {
  Alert: 'alert',
  ExitSignal: 'exit_signal',
  ProtectiveExit: 'protective_exit',
  KillSwitch: 'kill_switch',
  CircuitBreaker: 'circuit_breaker',
  MonitorStarted: 'monitor_started',
  MonitorEnded: 'monitor_ended',
  PositionSkipped: 'position_skipped',
  /** The positions watch cannot read the broker (first failure of an episode). */
  WatchError: 'watch_error',
  Test: 'test',
} as const;
export type NotificationKind = (typeof NotificationKind)[keyof typeof NotificationKind];

export type NotificationFieldValue = string | number | boolean | null;

export interface NotificationEvent {
  /**
   * Idempotency key, `<workflow id>#<event id>` (notificationKey): the same event is never delivered twice to a
   * destination, and the generic webhook sends it as `Idempotency-Key` so a receiver can drop a repeat.
   */
  readonly key: string;
  readonly kind: NotificationKind;
  readonly severity: NotificationSeverity;
  /** One line, e.g. `TSLA: critical large seller`. */
  readonly title: string;
  /** The detail a person reads (the rule that fired, the outcome). */
  readonly text: string;
  readonly symbol: string | null;
  /** The workflow the event happened in (links the notification to the UI). */
  readonly workflowId: string;
  /** ISO-8601, workflow time of the event. */
  readonly at: string;
  /** Small flat facts (price, quantity, counts); never secrets. */
  readonly fields: Readonly<Record<string, NotificationFieldValue>>;
}

/** `<workflow id>#<event id>`: event ids are unique within a workflow (an alert's timestamp and rule, a counter). */
export function notificationKey(workflowId: string, eventId: string): string {
  return `${workflowId}#${eventId}`;
}

/** Whether an event of `severity` passes a destination's minimum. */
export function meetsSeverity(severity: NotificationSeverity, minimum: NotificationSeverity): boolean {
  return RANK[severity] >= RANK[minimum];
}
