/**
 * Sending a notification from a workflow without waiting for it: the activity is scheduled and the workflow goes
 * on; its outcome lands in a small ledger (state query) when it arrives. A destination that keeps failing costs the
 * caller nothing but this bookkeeping: Temporal retries the activity (every 2 s doubling to 30 s, for up to an
 * hour) while the monitor, order or desk carries on. Only continue-as-new and completion wait for what is in
 * flight (`idle`), so no notification is abandoned with the run that scheduled it.
 *
 * No workflow-specific imports: each workflow that notifies creates one per run and carries `ledger` across
 * continue-as-new.
 */
import { ActivityFailure, ApplicationFailure, log, proxyActivities } from '@temporalio/workflow';
import type { createNotificationActivities } from '../activities/notification-activities';
import { type NotificationEvent } from '../domain/notifications/event';

type NotificationActivities = ReturnType<typeof createNotificationActivities>;

export interface NotificationFailure {
  readonly key: string;
  readonly kind: string;
  /** Workflow time the last attempt failed, ISO-8601. */
  readonly at: string;
  readonly message: string;
}

export interface NotificationLedger {
  /** Events handed to the activity. */
  requested: number;
  /** Events every chosen destination accepted. */
  delivered: number;
  /** Events some destination never accepted (retries exhausted or refused): listed in `failures`. */
  failed: number;
  /** Still being sent (retrying). */
  pending: number;
  /** The latest failures, newest last (at most 10). */
  failures: NotificationFailure[];
}

export function emptyNotificationLedger(): NotificationLedger {
  return { requested: 0, delivered: 0, failed: 0, pending: 0, failures: [] };
}

const FAILURES_KEPT = 10;

export interface Notifier {
  /** Schedules the event's delivery and returns at once. */
  notify(event: NotificationEvent): void;
  /** True when nothing is in flight: safe to continue-as-new or complete. */
  idle(): boolean;
  readonly ledger: NotificationLedger;
}

export function createNotifier(carried?: NotificationLedger): Notifier {
  const acts = proxyActivities<NotificationActivities>({
    // One attempt waits for the destinations' rate limits too; the heartbeat finds a dead worker within 30 s.
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '30 seconds',
    scheduleToCloseTimeout: '1 hour',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  });
  // A run that continued-as-new while sending waited for it first, so nothing it carries is still in flight.
  const ledger: NotificationLedger = carried
    ? { ...carried, pending: 0, failures: [...carried.failures] }
    : emptyNotificationLedger();
  return {
    ledger,
    idle: () => ledger.pending === 0,
    notify(event) {
      ledger.requested += 1;
      ledger.pending += 1;
      acts.sendNotification({ event }).then(
        () => {
          ledger.pending -= 1;
          ledger.delivered += 1;
        },
        (err: unknown) => {
          ledger.pending -= 1;
          ledger.failed += 1;
          const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : null;
          const message = cause?.message ?? (err instanceof Error ? err.message : String(err));
          ledger.failures.push({ key: event.key, kind: event.kind, at: new Date().toISOString(), message });
          if (ledger.failures.length > FAILURES_KEPT) ledger.failures.splice(0, ledger.failures.length - FAILURES_KEPT);
          log.warn('notification not delivered', { key: event.key, kind: event.kind, message });
        },
      );
    },
  };
}
