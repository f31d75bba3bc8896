import { z } from 'zod';
import { watchedBrokersFromEnv } from '../../../src/config/worker-env';
import { ValidationError } from '../../../src/domain/validation';
import { AppConfigSchema } from '../../../src/domain/config';
import { type NotificationEvent } from '../../../src/domain/notifications/event';
import { resolveDestinations } from '../../../src/notifications/destinations';
import { formatRequest, signPayload } from '../../../src/notifications/formats';
import { NotificationSender } from '../../../src/notifications/sender';

const event: NotificationEvent = {
  key: 'position:alpaca:main:TSLA#alert:1',
  kind: 'alert',
  severity: 'critical',
  title: 'TSLA: critical large seller <tape>',
  text: 'sell 25,000 @ 249.10 & more',
  symbol: 'TSLA',
  workflowId: 'position:alpaca:main:TSLA',
  at: '2026-12-04T15:00:00.000Z',
  fields: { price: '249.10', size: 25000, late: null },
};
const config = AppConfigSchema.parse({}).notifications;

describe('notification payloads', () => {
  it('generic webhook: the event as JSON, idempotency key, HMAC-SHA256 over "<timestamp>.<body>"', () => {
    const req = formatRequest(
      { type: 'webhook', url: 'https://example.test/hook', secret: 's3cret', token: null },
      event,
      1_765_000_000_123,
    );
    expect(JSON.parse(req.body)).toEqual({ flowguard: 1, ...event });
    expect(req.headers['Idempotency-Key']).toBe(event.key);
    expect(req.headers['X-Flowguard-Timestamp']).toBe('1765000000');
    expect(req.headers['X-Flowguard-Signature']).toBe(signPayload('s3cret', '1765000000', req.body));
    expect(req.headers['X-Flowguard-Signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    const unsigned = formatRequest(
      { type: 'webhook', url: 'https://example.test/hook', secret: null, token: null },
      event,
      0,
    );
    expect(unsigned.headers['X-Flowguard-Signature']).toBeUndefined();
  });

  it('Slack incoming webhook: text fallback plus section and context blocks, mrkdwn escaped', () => {
    const body = JSON.parse(
      formatRequest(
        { type: 'slack', url: 'https://hooks.slack.com/services/T/B/X', secret: null, token: null },
        event,
        0,
      ).body,
    ) as { text: string; blocks: { type: string; text?: { type: string; text: string } }[] };
    expect(typeof body.text).toBe('string');
    expect(body.blocks.map((b) => b.type)).toEqual(['section', 'context']);
    expect(body.blocks[0]!.text!.type).toBe('mrkdwn');
    expect(body.blocks[0]!.text!.text).toContain('&lt;tape&gt;');
    expect(body.blocks[0]!.text!.text).toContain('&amp; more');
    expect(body.blocks[0]!.text!.text.length).toBeLessThanOrEqual(3000);
  });

  it('Discord webhook: content ≤ 2000, one embed within the documented limits, no mentions', () => {
    const long = {
      ...event,
      text: 'x'.repeat(5000),
      fields: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}`, i])),
    };
    const body = JSON.parse(
      formatRequest(
        { type: 'discord', url: 'https://discord.com/api/webhooks/1/t', secret: null, token: null },
        long,
        0,
      ).body,
    ) as {
      content: string;
      allowed_mentions: { parse: string[] };
      embeds: { title: string; description: string; color: number; fields: unknown[]; timestamp: string }[];
    };
    expect(body.content.length).toBeLessThanOrEqual(2000);
    expect(body.allowed_mentions).toEqual({ parse: [] });
    expect(body.embeds).toHaveLength(1);
    expect(body.embeds[0]!.description.length).toBeLessThanOrEqual(4096);
    expect(body.embeds[0]!.fields).toHaveLength(25);
    expect(body.embeds[0]!.timestamp).toBe(event.at);
    expect(Number.isInteger(body.embeds[0]!.color)).toBe(true);
  });

  it('ntfy: JSON publish to the server root with topic, priority 1–5 and a bearer token', () => {
    const req = formatRequest(
      { type: 'ntfy', url: 'https://ntfy.sh/flowguard-alerts', secret: null, token: 'tk_abc' },
      event,
      0,
    );
    expect(req.url).toBe('https://ntfy.sh/');
    expect(req.headers.Authorization).toBe('Bearer tk_abc');
    const body = JSON.parse(req.body) as {
      topic: string;
      priority: number;
      title: string;
      message: string;
      tags: string[];
    };
    expect(body).toMatchObject({ topic: 'flowguard-alerts', priority: 5, title: event.title });
    expect(body.message).toContain('size: 25000');
    expect(body.message).not.toContain('late');
  });
});

/**
 * Each chat destination's body against its documented request format, strictly: an unknown key, a wrong type or a
 * limit overshot fails. Slack: api.slack.com/reference/block-kit/blocks (section text ≤ 3000, context ≤ 10
 * elements, ≤ 50 blocks). Discord: discord.com/developers/docs/resources/message#embed-object-embed-limits (title
 * 256, description 4096, ≤ 25 fields of name 256 / value 1024, footer 2048, all of them ≤ 6000 together; content
 * 2000). ntfy: docs.ntfy.sh/publish/#publish-as-json (topic required; title, message, tags, priority 1–5 among the
 * documented keys).
 */
describe('payloads against the documented formats', () => {
  const mrkdwn = z.object({ type: z.literal('mrkdwn'), text: z.string().min(1).max(3000) }).strict();
  const SlackBody = z
    .object({
      text: z.string().min(1).max(4000),
      blocks: z
        .array(
          z.discriminatedUnion('type', [
            z.object({ type: z.literal('section'), text: mrkdwn }).strict(),
            z.object({ type: z.literal('context'), elements: z.array(mrkdwn).min(1).max(10) }).strict(),
          ]),
        )
        .max(50),
    })
    .strict();
  const DiscordEmbed = z
    .object({
      title: z.string().max(256),
      description: z.string().max(4096),
      color: z.number().int().min(0).max(0xffffff),
      fields: z
        .array(
          z
            .object({ name: z.string().min(1).max(256), value: z.string().min(1).max(1024), inline: z.boolean() })
            .strict(),
        )
        .max(25),
      timestamp: z.string().datetime(),
      footer: z.object({ text: z.string().max(2048) }).strict(),
    })
    .strict()
    .refine(
      (e) =>
        e.title.length +
          e.description.length +
          e.footer.text.length +
          e.fields.reduce((n, f) => n + f.name.length + f.value.length, 0) <=
        6000,
      'embed text over 6000 characters in all',
    );
  const DiscordBody = z
    .object({
      content: z.string().max(2000),
      allowed_mentions: z.object({ parse: z.array(z.enum(['roles', 'users', 'everyone'])) }).strict(),
      embeds: z.array(DiscordEmbed).max(10),
    })
    .strict();
  const NtfyBody = z
    .object({
      topic: z.string().regex(/^[-_A-Za-z0-9]{1,64}$/),
      title: z.string().optional(),
      message: z.string().max(4096).optional(),
      tags: z.array(z.string().min(1)).optional(),
      priority: z.number().int().min(1).max(5).optional(),
      markdown: z.boolean().optional(),
      click: z.string().url().optional(),
    })
    .strict();

  // The worst an event can be: long title and text, many long fields, characters Slack must escape.
  const worst: NotificationEvent = {
    ...event,
    title: `<${'T'.repeat(400)}>`,
    text: `${'& '.repeat(3000)}`,
    fields: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`${'n'.repeat(300)}${i}`, 'v'.repeat(2000)])),
  };
  const target = (type: 'slack' | 'discord' | 'ntfy', url: string) => ({ type, url, secret: null, token: null });

  for (const e of [event, worst]) {
    const which = e === event ? 'a usual event' : 'the largest event';
    it(`Slack, ${which}: a valid incoming-webhook body`, () => {
      const req = formatRequest(target('slack', 'https://hooks.slack.com/services/T/B/X'), e, 0);
      expect(SlackBody.safeParse(JSON.parse(req.body)).error).toBeUndefined();
    });
    it(`Discord, ${which}: a valid execute-webhook body within the 6000-character embed limit`, () => {
      const req = formatRequest(target('discord', 'https://discord.com/api/webhooks/1/t'), e, 0);
      expect(DiscordBody.safeParse(JSON.parse(req.body)).error).toBeUndefined();
    });
    it(`ntfy, ${which}: a valid JSON publish`, () => {
      const req = formatRequest(target('ntfy', 'https://ntfy.sh/flowguard-alerts'), e, 0);
      expect(NtfyBody.safeParse(JSON.parse(req.body)).error).toBeUndefined();
    });
  }

  it('every destination type carries the event key as Idempotency-Key; Slack and Discord show it too', () => {
    const urls = {
      webhook: 'https://example.test/hook',
      slack: 'https://hooks.slack.com/services/T/B/X',
      discord: 'https://discord.com/api/webhooks/1/t',
      ntfy: 'https://ntfy.sh/flowguard-alerts',
    } as const;
    for (const type of ['webhook', 'slack', 'discord', 'ntfy'] as const) {
      const req = formatRequest({ type, url: urls[type], secret: null, token: null }, event, 0);
      expect({ type, key: req.headers['Idempotency-Key'] }).toEqual({ type, key: event.key });
    }
    expect(formatRequest(target('slack', urls.slack), event, 0).body).toContain(event.key);
    expect(formatRequest(target('discord', urls.discord), event, 0).body).toContain(event.key);
  });
});

describe('destinations from the environment', () => {
  it('builds one destination per shortcut, secrets from the environment, masked in describe', () => {
    const list = resolveDestinations(config, {
      FLOWGUARD_NOTIFY_WEBHOOK_URL: 'https://example.test/flowguard',
      FLOWGUARD_NOTIFY_WEBHOOK_SECRET: 'whsec',
      FLOWGUARD_NOTIFY_SLACK_URL: 'https://hooks.slack.com/services/T0/B0/SECRETPATH',
      FLOWGUARD_NOTIFY_NTFY_URL: 'https://ntfy.sh/my-topic',
      FLOWGUARD_NOTIFY_NTFY_MIN_SEVERITY: 'critical',
    });
    expect(list.map((d) => [d.name, d.minSeverity])).toEqual([
      ['webhook', 'warning'],
      ['slack', 'warning'],
      ['ntfy', 'critical'],
    ]);
    expect(list[0]!.secret).toBe('whsec');
    expect(list.map((d) => d.describe).join(' ')).not.toMatch(/SECRETPATH|whsec/);
    expect(list[1]!.describe).toMatch(/^slack \(https:\/\/hooks\.slack\.com\/…#[0-9a-f]{4}\)$/);
    expect(list[2]!.describe).not.toContain('my-topic');
  });

  it('file destinations name their variables; a missing one is a ValidationError naming it', () => {
    const withFile = AppConfigSchema.parse({
      notifications: { destinations: [{ name: 'phone', type: 'ntfy', urlEnv: 'MY_NTFY', minSeverity: 'critical' }] },
    }).notifications;
    expect(() => resolveDestinations(withFile, {})).toThrow(ValidationError);
    expect(() => resolveDestinations(withFile, {})).toThrow(/MY_NTFY/);
    expect(resolveDestinations(withFile, { MY_NTFY: 'https://ntfy.sh/t' })[0]).toMatchObject({
      name: 'phone',
      minSeverity: 'critical',
      rateLimitPerMinute: 20,
    });
    expect(() => resolveDestinations(config, { FLOWGUARD_NOTIFY_SLACK_URL: 'ftp://x' })).toThrow(
      /FLOWGUARD_NOTIFY_SLACK_URL/,
    );
  });
});

describe('FLOWGUARD_POSITIONS_WATCH', () => {
  it('lists brokers; anything else is a ValidationError naming the variable', () => {
    expect(watchedBrokersFromEnv({})).toEqual([]);
    expect(watchedBrokersFromEnv({ FLOWGUARD_POSITIONS_WATCH: ' alpaca, paper,alpaca ' })).toEqual(['alpaca', 'paper']);
    expect(() => watchedBrokersFromEnv({ FLOWGUARD_POSITIONS_WATCH: 'alpaca,etrade' })).toThrow(
      /FLOWGUARD_POSITIONS_WATCH: must list brokers from paper, alpaca, robinhood \(not etrade\)/,
    );
  });
});

describe('severity filter per destination', () => {
  it('sends an event only to destinations whose minimum it meets (critical only to the phone)', () => {
    const sender = new NotificationSender({
      destinations: resolveDestinations(config, {
        FLOWGUARD_NOTIFY_SLACK_URL: 'https://hooks.slack.com/services/T/B/X',
        FLOWGUARD_NOTIFY_SLACK_MIN_SEVERITY: 'info',
        FLOWGUARD_NOTIFY_NTFY_URL: 'https://ntfy.sh/t',
        FLOWGUARD_NOTIFY_NTFY_MIN_SEVERITY: 'critical',
        FLOWGUARD_NOTIFY_WEBHOOK_URL: 'https://example.test/h',
      }),
    });
    const names = (severity: NotificationEvent['severity']) =>
      sender.targetsFor({ ...event, severity }).map((d) => d.name);
    expect(names('info')).toEqual(['slack']);
    expect(names('warning')).toEqual(['webhook', 'slack']);
    expect(names('critical')).toEqual(['webhook', 'slack', 'ntfy']);
  });
});
