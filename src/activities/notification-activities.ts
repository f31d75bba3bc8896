import { ApplicationFailure, Context } from '@temporalio/activity';
import { type NotificationEvent } from '../domain/notifications/event';
import { isDeliveryFailure, type DeliveryFailure, type NotificationSender } from '../notifications/sender';
import { type FlowguardMetrics } from '../observability/flowguard-metrics';

export interface NotificationDeps {
  /** Destinations of this worker (from its configuration and environment); absent: nothing is configured. */
  readonly notifications?: NotificationSender;
  /** flowguard_notifications_total{destination,outcome}. */
  readonly metrics?: FlowguardMetrics;
}

export interface SendNotificationInput {
  readonly event: NotificationEvent;
}

export interface SendNotificationResult {
  readonly key: string;
  /** Destinations that accepted it (in this attempt or an earlier one). */
  readonly delivered: readonly string[];
  /** Destinations whose minimum severity the event is below. */
  readonly filtered: readonly string[];
}

/** Recorded as heartbeat details after each delivery: a retried attempt sends only to the rest. */
interface Progress {
  readonly delivered: readonly string[];
}

export const NOTIFICATION_UNDELIVERED = 'NotificationUndelivered';

export function createNotificationActivities(deps: NotificationDeps) {
  return {
    /**
     * Sends one event to every destination whose minimum severity it meets, each behind its rate limit (waiting,
     * never dropping). Destinations that accepted it are recorded in the heartbeat, so a retry (Temporal's, after a
     * destination failed) sends only to those still missing it: a working destination gets the event once. Fails
     * with NotificationUndelivered naming each destination that did not take it — non-retryable only when every one
     * of them refused outright (4xx other than 408/429), with the destination's Retry-After as the next delay.
     */
    async sendNotification({ event }: SendNotificationInput): Promise<SendNotificationResult> {
      const sender = deps.notifications;
      if (!sender || sender.destinations.length === 0) return { key: event.key, delivered: [], filtered: [] };
      const ctx = Context.current();
      const previous = ctx.info.heartbeatDetails as Progress | undefined;
      const delivered = new Set<string>(previous?.delivered ?? []);
      const targets = sender.targetsFor(event);
      const filtered = sender.destinations.filter((d) => !targets.includes(d)).map((d) => d.name);
      const beat = setInterval(() => ctx.heartbeat({ delivered: [...delivered] } satisfies Progress), 1000);
      const failures: DeliveryFailure[] = [];
      try {
        await Promise.all(
          targets.map(async (d) => {
            if (delivered.has(d.name) || sender.wasDelivered(d.name, event.key)) {
              delivered.add(d.name);
              return;
            }
            try {
              await sender.deliver(d, event);
              deps.metrics?.notifications.inc({ destination: d.name, outcome: 'delivered' });
              delivered.add(d.name);
              ctx.heartbeat({ delivered: [...delivered] } satisfies Progress);
            } catch (err) {
              if (!isDeliveryFailure(err)) throw err;
              deps.metrics?.notifications.inc({ destination: d.name, outcome: 'failed' });
              failures.push(err);
            }
          }),
        );
      } finally {
        clearInterval(beat);
      }
      if (failures.length > 0) {
        ctx.heartbeat({ delivered: [...delivered] } satisfies Progress);
        const retryAfter = Math.max(0, ...failures.map((f) => f.retryAfterMs ?? 0));
        throw ApplicationFailure.create({
          message: `notification ${event.key} not delivered: ${failures.map((f) => f.message).join('; ')}`,
          type: NOTIFICATION_UNDELIVERED,
          nonRetryable: failures.every((f) => !f.retryable),
          details: [{ delivered: [...delivered], failed: failures.map((f) => f.destination) }],
          ...(retryAfter > 0 ? { nextRetryDelay: retryAfter } : {}),
        });
      }
      return { key: event.key, delivered: targets.map((d) => d.name).filter((n) => delivered.has(n)), filtered };
    },
  };
}
