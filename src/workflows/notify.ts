/**
 * Sending a notification from a workflow without waiting for it: the activity is scheduled and the workflow goes
 * on; its outcome lands in a small ledger (state query) when it arrives. A destination that keeps failing costs the
 * caller nothing but this bookkeeping: Temporal retries the activity (every 2 s doubling to 30 s, for up to an
 * hour) while the monitor, order or desk carries on. Continue-as-new does not wait either: `carry()` hands the
 * events still in flight to the next run, which sends them again under the same key (a destination that already
 * took one is not sent it twice by the same worker; another worker may send it again). Only a finishing workflow
 * waits, boundedly (`drain`). Delivery is at least once per destination, with the key as Idempotency-Key on every
 * request so a receiver can make it exactly once (README, "What is guaranteed").
 *
 * No workflow-specific imports: each workflow that notifies creates one per run from what the last run carried.
 */
import { ActivityFailure, ApplicationFailure, condition, log, proxyActivities } from '@temporalio/workflow';
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
  /** Events every chosen destination accepted (at least one destination wanted them). */
  delivered: number;
  /**
   * Events no destination wanted: none is configured on the worker that ran the activity, or each one's minimum
   * severity is above the event's. Absent in ledgers carried from runs before it was counted (read as 0).
   */
  skipped?: number;
  /** Events some destination never accepted (retries exhausted or refused): listed in `failures`. */
  failed: number;
  /** Still being sent (retrying). */
  pending: number;
  /** The latest failures, newest last (at most 10). */
  failures: NotificationFailure[];
  /** Events in flight when the run continued-as-new: sent again by the next run. */
  inFlight?: NotificationEvent[];
}

export function emptyNotificationLedger(): NotificationLedger {
  return { requested: 0, delivered: 0, skipped: 0, failed: 0, pending: 0, failures: [] };
}

/** How long a finishing workflow waits for notifications still being retried before it records them as abandoned. */
export const NOTIFICATION_DRAIN_MS = 5 * 60_000;

const FAILURES_KEPT = 10;

export interface Notifier {
  /** Schedules the event's delivery and returns at once. */
  notify(event: NotificationEvent): void;
  /** True when nothing is in flight. */
  idle(): boolean;
  /** The ledger to hand to the next run (continue-as-new), with the events still in flight. */
  carry(): NotificationLedger;
  /** At the end of a workflow: waits up to NOTIFICATION_DRAIN_MS, then counts what is left as failed. */
  drain(): Promise<void>;
  readonly ledger: NotificationLedger;
}

export function createNotifier(carried?: NotificationLedger): Notifier {
  const acts = proxyActivities<NotificationActivities>({
    // One attempt waits for the destinations' rate limits too (it heartbeats every second meanwhile). The heartbeat
    // carries which destinations took the event, and the SDK sends heartbeats at most every 0.8 × this timeout: a
    // worker that dies within that long of a destination's 2xx leaves a retry that sends it again (same
    // Idempotency-Key). 10 s keeps that window to 8 s and finds a dead worker within 10 s.
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '10 seconds',
    scheduleToCloseTimeout: '1 hour',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  });
  const { inFlight: resend = [], ...counts } = carried ?? emptyNotificationLedger();
  const ledger: NotificationLedger = { skipped: 0, ...counts, pending: 0, failures: [...counts.failures] };
  const inFlight = new Map<string, NotificationEvent>();

  function failed(event: NotificationEvent, message: string): void {
    ledger.failed += 1;
    ledger.failures.push({ key: event.key, kind: event.kind, at: new Date().toISOString(), message });
    if (ledger.failures.length > FAILURES_KEPT) ledger.failures.splice(0, ledger.failures.length - FAILURES_KEPT);
    log.warn('notification not delivered', { key: event.key, kind: event.kind, message });
  }

  function send(event: NotificationEvent): void {
    ledger.pending += 1;
    inFlight.set(event.key, event);
    acts.sendNotification({ event }).then(
      (result) => {
        if (!inFlight.delete(event.key)) return;
        ledger.pending -= 1;
        // Sent nowhere is not delivered: the trader reading "delivered" must be able to trust that someone got it.
        if (result.delivered.length === 0) ledger.skipped = (ledger.skipped ?? 0) + 1;
        else ledger.delivered += 1;
      },
      (err: unknown) => {
        if (!inFlight.delete(event.key)) return;
        ledger.pending -= 1;
        const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : null;
        failed(event, cause?.message ?? (err instanceof Error ? err.message : String(err)));
      },
    );
  }

  for (const event of resend) send(event);
  return {
    ledger,
    idle: () => ledger.pending === 0,
    notify(event) {
      ledger.requested += 1;
      send(event);
    },
    carry: () => ({ ...ledger, failures: [...ledger.failures], inFlight: [...inFlight.values()] }),
    async drain() {
      // Nothing in flight: no timer either (a workflow that never notified keeps its command sequence).
      if (ledger.pending === 0) return;
      if (await condition(() => ledger.pending === 0, NOTIFICATION_DRAIN_MS)) return;
      for (const event of inFlight.values()) {
        failed(event, `still undelivered after ${NOTIFICATION_DRAIN_MS / 60_000} min when the workflow finished`);
      }
      inFlight.clear();
      ledger.pending = 0;
    },
  };
}
