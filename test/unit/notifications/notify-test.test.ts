import { sendTestNotifications } from '../../../src/cli/notify';
import { WebhookReceiver, verifySignature } from '../../support/webhook-receiver';

describe('flowguard notify test', () => {
  let ok: WebhookReceiver;
  let down: WebhookReceiver;
  beforeAll(async () => {
    [ok, down] = await Promise.all([WebhookReceiver.start(), WebhookReceiver.start()]);
  });
  afterAll(async () => {
    await Promise.all([ok.close(), down.close()]);
  });

  it('sends a sample to each destination and reports each result; failures masked, never the secret URL', async () => {
    down.failWith(404);
    const results = await sendTestNotifications(
      {
        FLOWGUARD_NOTIFY_WEBHOOK_URL: `${ok.url}/hook`,
        FLOWGUARD_NOTIFY_WEBHOOK_SECRET: 'test-secret',
        FLOWGUARD_NOTIFY_DISCORD_URL: `${down.url}/api/webhooks/123/SECRET-TOKEN`,
        // Filters do not apply to a test: a critical-only destination gets the sample too.
        FLOWGUARD_NOTIFY_DISCORD_MIN_SEVERITY: 'critical',
      },
      new Date('2026-12-04T12:00:00Z'),
    );
    const fp = expect.stringMatching(/…#[0-9a-f]{4}/);
    expect(results).toEqual([
      {
        destination: 'webhook',
        describe: expect.stringMatching(/^webhook \(http:\/\/127\.0\.0\.1:\d+\/…#[0-9a-f]{4}, signed\)$/),
        ok: true,
        error: null,
      },
      { destination: 'discord', describe: fp, ok: false, error: fp },
    ]);
    expect(results[1]!.describe).toBe(`discord (${down.url}/…${results[1]!.describe.split('…')[1]}`);
    expect(results[1]!.error).toBe(
      `discord (${down.url}/…${results[1]!.describe.split('…')[1]}: HTTP 404 (refused: check the destination)`,
    );
    expect(JSON.stringify(results)).not.toContain('/hook');
    expect(JSON.stringify(results)).not.toContain('SECRET-TOKEN');
    const [sample] = ok.accepted();
    expect(verifySignature(sample!, 'test-secret')).toBe(true);
    expect(sample!.json).toMatchObject({ kind: 'test', severity: 'info', key: 'notify-test#1796385600000' });
    expect(down.requests()[0]!.json).toMatchObject({
      embeds: [expect.objectContaining({ title: 'flowguard test notification' })],
    });
  });

  it('no destination configured: an empty list', async () => {
    expect(await sendTestNotifications({})).toEqual([]);
  });
});
