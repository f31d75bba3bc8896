/**
 * What "never sent twice" rests on, across workers (README "What is guaranteed"): the sendNotification activity
 * run as Temporal runs it — attempt after attempt, each possibly on another worker process with its own
 * NotificationSender — against real local HTTP receivers. The heartbeat details are what the server keeps between
 * attempts; the sender's memory is per process.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  createNotificationActivities,
  NOTIFICATION_UNDELIVERED,
  type SendNotificationResult,
} from '../../../src/activities/notification-activities';
import { type NotificationEvent } from '../../../src/domain/notifications/event';
import { type NotificationDestination } from '../../../src/notifications/destinations';
import { NotificationSender } from '../../../src/notifications/sender';
import { WebhookReceiver } from '../../support/webhook-receiver';

const event: NotificationEvent = {
  key: 'position:paper:main:AAPL#alert:7',
  kind: 'alert',
  severity: 'critical',
  title: 'AAPL: large seller',
  text: 'sell 25,000 @ 189.10',
  symbol: 'AAPL',
  workflowId: 'position:paper:main:AAPL',
  at: '2026-12-04T15:00:00.000Z',
  fields: {},
};

describe('notification delivery across attempts and worker processes', () => {
  let slack: WebhookReceiver;
  let hook: WebhookReceiver;
  let destinations: NotificationDestination[];

  beforeEach(async () => {
    [slack, hook] = await Promise.all([WebhookReceiver.start(), WebhookReceiver.start()]);
    const d = (name: string, type: NotificationDestination['type'], url: string): NotificationDestination => ({
      name,
      type,
      url,
      secret: null,
      token: null,
      minSeverity: 'info',
      rateLimitPerMinute: 60,
      describe: `${type} (test)`,
    });
    destinations = [d('slack', 'slack', `${slack.url}/services/T/B/X`), d('hook', 'webhook', `${hook.url}/in`)];
  });

  afterEach(async () => {
    await Promise.all([slack.close(), hook.close()]);
  });

  /** One attempt of the activity on a worker process (`sender`), as Temporal hands it the last heartbeat. */
  async function attempt(sender: NotificationSender, attemptNo: number, heartbeatDetails?: unknown) {
    const env = new MockActivityEnvironment({ attempt: attemptNo, ...(heartbeatDetails ? { heartbeatDetails } : {}) });
    let last: unknown;
    env.on('heartbeat', (d: unknown) => (last = d));
    const acts = createNotificationActivities({ notifications: sender });
    try {
      const result: SendNotificationResult = await env.run(
        (i: { event: NotificationEvent }) => acts.sendNotification(i),
        { event },
      );
      return { result, heartbeat: last, error: null };
    } catch (error) {
      return { result: null, heartbeat: last, error: error as Error & { type?: string } };
    }
  }

  it('a retry on another worker sends only to the destination still missing the event (heartbeat progress)', async () => {
    hook.failWith(503);
    const first = await attempt(new NotificationSender({ destinations }), 1);
    expect(first.error?.type).toBe(NOTIFICATION_UNDELIVERED);
    expect(first.heartbeat).toEqual({ delivered: ['slack'] });
    hook.recover();
    // Worker B: its own sender, nothing in memory; the server hands it the last heartbeat.
    const second = await attempt(new NotificationSender({ destinations }), 2, first.heartbeat);
    expect(second.result).toEqual({ key: event.key, delivered: ['slack', 'hook'], filtered: [] });
    expect(slack.accepted()).toHaveLength(1);
    expect(hook.accepted()).toHaveLength(1);
  });

  it('the same worker given the event again (continue-as-new resent it) does not send it again', async () => {
    const sender = new NotificationSender({ destinations });
    await attempt(sender, 1);
    const again = await attempt(sender, 1);
    expect(again.result?.delivered).toEqual(['slack', 'hook']);
    expect(slack.accepted()).toHaveLength(1);
    expect(hook.accepted()).toHaveLength(1);
  });

  it('the window that stays: a worker dies after the 2xx, before its heartbeat reached the server — sent again, same key', async () => {
    await attempt(new NotificationSender({ destinations }), 1);
    // The heartbeat was lost with the process: the retry on worker B knows nothing of the first delivery.
    await attempt(new NotificationSender({ destinations }), 2);
    for (const receiver of [slack, hook]) {
      const got = receiver.accepted();
      expect(got).toHaveLength(2);
      // At least once: a receiver that dedupes by Idempotency-Key keeps one.
      expect(new Set(got.map((r) => r.headers['idempotency-key']))).toEqual(new Set([event.key]));
    }
  });

  it('the rate limit is per worker process: two senders each let their own allowance through', async () => {
    const limited = destinations.map((d) => ({ ...d, rateLimitPerMinute: 2 }));
    const a = new NotificationSender({ destinations: limited });
    const b = new NotificationSender({ destinations: limited });
    const started = Date.now();
    await Promise.all(
      [a, a, b, b].map((sender, i) => sender.deliver(limited[0]!, { ...event, key: `${event.key}-${i}` })),
    );
    // Four within a moment where one process would have let two through and made the third wait 30 s.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(slack.accepted()).toHaveLength(4);
  });
});
