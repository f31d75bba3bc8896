/**
 * A destination URL's path is its credential (the ntfy topic, Slack/Discord tokens, a webhook's secret path): a
 * destination that fails must not leak any part of it through the error the activity throws (it lands in workflow
 * history with its stack), the activity's heartbeat details, the logs or `flowguard notify test`.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createNotificationActivities } from '../../../src/activities/notification-activities';
import { type NotificationEvent } from '../../../src/domain/notifications/event';
import { maskDestinationUrl, resolveDestinations } from '../../../src/notifications/destinations';
import { NotificationSender } from '../../../src/notifications/sender';
import { AppConfigSchema } from '../../../src/domain/config';
import { createLogger } from '../../../src/observability/logger';
import { runCli } from '../../support/cli';
import { WebhookReceiver } from '../../support/webhook-receiver';

const TOPIC = 'mytopic-long-secret-topic';
const HOOK_PATH = 'dead-hook-7f3a9c';

const event: NotificationEvent = {
  key: 'position:paper:rev:TSLA#alert:1',
  kind: 'alert',
  severity: 'critical',
  title: 'TSLA: large seller',
  text: 'sell 25,000 @ 249.10',
  symbol: 'TSLA',
  workflowId: 'position:paper:rev:TSLA',
  at: '2026-12-04T15:00:00.000Z',
  fields: {},
};

/** A loopback port nothing listens on (connection refused). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function expectNoPathPart(text: string): void {
  for (const part of [TOPIC, 'secret-topic', HOOK_PATH, '7f3a9c']) expect(text).not.toContain(part);
}

describe('destination URLs are masked by one rule everywhere', () => {
  let down: WebhookReceiver;
  let deadPort: number;
  beforeAll(async () => {
    down = await WebhookReceiver.start();
    down.failWith(503);
    deadPort = await closedPort();
  });
  afterAll(() => down.close());

  const env = () => ({
    FLOWGUARD_NOTIFY_NTFY_URL: `http://127.0.0.1:${deadPort}/${TOPIC}`,
    FLOWGUARD_NOTIFY_WEBHOOK_URL: `${down.url}/${HOOK_PATH}?sig=abc123456`,
  });

  it('shows scheme://host:port/ and a 4-digit fingerprint, never the path or query', () => {
    const a = maskDestinationUrl(`https://ntfy.sh/${TOPIC}`);
    expect(a).toMatch(/^https:\/\/ntfy\.sh\/…#[0-9a-f]{4}$/);
    expect(maskDestinationUrl('https://ntfy.sh/another-topic')).not.toBe(a);
    expect(maskDestinationUrl('http://user:pw@127.0.0.1:8080/x?token=y')).toMatch(/^http:\/\/127\.0\.0\.1:8080\/…#/);
    expect(maskDestinationUrl('https://example.test')).toBe('https://example.test/');
    const config = AppConfigSchema.parse({}).notifications;
    for (const d of resolveDestinations(config, env())) expectNoPathPart(d.describe);
  });

  it('the activity error (message and stack) and its heartbeat details carry no part of the path', async () => {
    const sender = new NotificationSender({
      destinations: resolveDestinations(AppConfigSchema.parse({}).notifications, env()),
    });
    const acts = createNotificationActivities({ notifications: sender });
    const activityEnv = new MockActivityEnvironment({ attempt: 1 });
    const beats: unknown[] = [];
    activityEnv.on('heartbeat', (d: unknown) => beats.push(d));
    const error = (await activityEnv
      .run((i: { event: NotificationEvent }) => acts.sendNotification(i), { event })
      .then(
        () => null,
        (e: unknown) => e,
      )) as (Error & { details?: unknown[] }) | null;
    expect(error).not.toBeNull();
    expect(error!.message).toContain(`ntfy (http://127.0.0.1:${deadPort}/…#`);
    expect(error!.message).toContain('ECONNREFUSED');
    expect(error!.message).toContain('HTTP 503');
    expectNoPathPart(`${error!.message}\n${error!.stack}\n${JSON.stringify(error!.details)}`);
    expect(beats.length).toBeGreaterThan(0);
    expectNoPathPart(JSON.stringify(beats));
  });

  it('a log line quoting the URL or the bare topic is masked', () => {
    const lines: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const logger = createLogger({ level: 'info', format: 'json', destination: out, env: env() });
    logger.warn({ url: env().FLOWGUARD_NOTIFY_NTFY_URL }, `fetch failed for ${env().FLOWGUARD_NOTIFY_NTFY_URL}`);
    logger.warn(`topic ${TOPIC} and path /${HOOK_PATH}?sig=abc123456`);
    expect(lines).toHaveLength(2);
    expectNoPathPart(lines.join(''));
  });

  it('flowguard notify test prints each failure masked (exit 1)', async () => {
    const result = await runCli(['notify', 'test'], env());
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`FAILED ntfy: ntfy (http://127.0.0.1:${deadPort}/…#`);
    expect(result.stdout).toContain('FAILED webhook: webhook (');
    expectNoPathPart(result.stdout + result.stderr);
  }, 60_000);
});
