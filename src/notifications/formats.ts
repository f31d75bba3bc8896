/**
 * One notification event as each destination's documented request. Pure apart from the HMAC (node:crypto).
 *
 * Every request, whatever the type, carries `Idempotency-Key: <event key>` (`<workflow id>#<event id>`): the same
 * event sent twice — a retry after a worker died between the destination's 2xx and the heartbeat recording it —
 * carries the same key, so a receiver that dedupes by it shows it once. Slack, Discord and ntfy ignore the header
 * (they have no such field); the key is also printed small in Slack's context line and Discord's footer so a person
 * can tell a repeat from a second event.
 *
 * - webhook: `POST <url>`, body = the event as JSON (`{ "flowguard": 1, key, kind, severity, title, text, symbol,
 *   workflowId, at, fields }`); headers `Idempotency-Key: <key>`, `X-Flowguard-Event: <kind>`,
 *   `X-Flowguard-Timestamp: <unix seconds>` and, with a secret, `X-Flowguard-Signature: sha256=<hex>` where the
 *   hex is HMAC-SHA256(secret, `<timestamp>.<body>`): a receiver recomputes it over the raw body and refuses a stale
 *   timestamp, so a captured request cannot be replayed later (the scheme Stripe and Slack use).
 * - slack: incoming webhook (api.slack.com/messaging/webhooks): `{ text, blocks }`, `text` the fallback shown in
 *   notifications, one section block with mrkdwn (≤ 3000 characters) and a context block.
 * - discord: execute webhook (discord.com/developers/docs/resources/webhook#execute-webhook): `{ content, embeds:
 *   [{ title ≤ 256, description ≤ 4096, color, fields ≤ 25 (name ≤ 256, value ≤ 1024, inline), timestamp, footer }] }`,
 *   the embed's text ≤ 6000 in all, content ≤ 2000, `allowed_mentions: { parse: [] }` so a symbol or rule never pings
 *   anyone.
 * - ntfy: JSON publishing (docs.ntfy.sh/publish/#publish-as-json): `POST <server>/` with `{ topic, title, message,
 *   priority 1–5, tags }`; the configured URL is the topic URL (`https://ntfy.sh/<topic>`). A token is sent as
 *   `Authorization: Bearer <token>`.
 */
import { createHmac } from 'node:crypto';
import { type NotificationDestinationType } from '../domain/notifications/config';
import { type NotificationEvent, type NotificationSeverity } from '../domain/notifications/event';

export interface OutgoingRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface FormatTarget {
  readonly type: NotificationDestinationType;
  readonly url: string;
  readonly secret: string | null;
  readonly token: string | null;
}

export const SIGNATURE_HEADER = 'X-Flowguard-Signature';
export const TIMESTAMP_HEADER = 'X-Flowguard-Timestamp';
/** The event's key on every request (the IETF draft httpapi-idempotency-key-header's name, as Stripe uses it). */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** `sha256=<hex>` over `<timestamp>.<body>`. */
export function signPayload(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const DISCORD_COLOUR: Record<NotificationSeverity, number> = { info: 0x3b82f6, warning: 0xf59e0b, critical: 0xdc2626 };
const NTFY_PRIORITY: Record<NotificationSeverity, number> = { info: 3, warning: 4, critical: 5 };
const SLACK_EMOJI: Record<NotificationSeverity, string> = {
  info: ':information_source:',
  warning: ':warning:',
  critical: ':rotating_light:',
};

export function formatRequest(target: FormatTarget, event: NotificationEvent, nowMs: number): OutgoingRequest {
  switch (target.type) {
    case 'webhook':
      return webhook(target, event, nowMs);
    case 'slack':
      return slack(target, event);
    case 'discord':
      return discord(target, event);
    case 'ntfy':
      return ntfy(target, event);
  }
}

function webhook(target: FormatTarget, event: NotificationEvent, nowMs: number): OutgoingRequest {
  const body = JSON.stringify({ flowguard: 1, ...event });
  const timestamp = String(Math.floor(nowMs / 1000));
  return {
    url: target.url,
    body,
    headers: {
      ...jsonHeaders(event),
      'X-Flowguard-Event': event.kind,
      [TIMESTAMP_HEADER]: timestamp,
      ...(target.secret ? { [SIGNATURE_HEADER]: signPayload(target.secret, timestamp, body) } : {}),
    },
  };
}

function factLines(event: NotificationEvent): string[] {
  return Object.entries(event.fields)
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => `${k}: ${String(v)}`);
}

function slack(target: FormatTarget, event: NotificationEvent): OutgoingRequest {
  const headline = `${SLACK_EMOJI[event.severity]} *${escapeSlack(event.title)}*`;
  const detail = [escapeSlack(event.text), ...factLines(event).map((l) => `• ${escapeSlack(l)}`)].join('\n');
  const body = {
    text: clip(`${event.severity.toUpperCase()} ${event.title}: ${event.text}`, 3000),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: clip(`${headline}\n${detail}`, 3000) } },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: clip(`${event.kind} · ${event.at} · ${escapeSlack(event.key)}`, 3000) }],
      },
    ],
  };
  return { url: target.url, headers: jsonHeaders(event), body: JSON.stringify(body) };
}

/** Content type and the idempotency key, on every destination's request. */
function jsonHeaders(event: NotificationEvent): Record<string, string> {
  return { 'Content-Type': 'application/json', [IDEMPOTENCY_HEADER]: event.key };
}

/**
 * Discord counts title, description, field names and values and the footer of all embeds together against 6000
 * characters and refuses the whole message beyond it (400, which no retry fixes): the description gives way first,
 * then the fields from the last.
 */
const DISCORD_EMBED_TOTAL = 6000;

function discord(target: FormatTarget, event: NotificationEvent): OutgoingRequest {
  const title = clip(event.title, 256);
  const footer = clip(`${event.kind} · ${event.key}`, 2048);
  const fields = Object.entries(event.fields)
    .filter(([, v]) => v !== null && v !== '')
    .slice(0, 25)
    .map(([name, value]) => ({ name: clip(name, 256), value: clip(String(value), 1024), inline: true }));
  const fixed = () => title.length + footer.length + fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
  // Keep room for a description of a few hundred characters before any field is dropped.
  while (fields.length > 0 && fixed() > DISCORD_EMBED_TOTAL - 500) fields.pop();
  const description = clip(event.text, Math.min(4096, DISCORD_EMBED_TOTAL - fixed()));
  const body = {
    content: clip(`${event.severity.toUpperCase()}: ${event.title}`, 2000),
    allowed_mentions: { parse: [] },
    embeds: [
      {
        title,
        description,
        color: DISCORD_COLOUR[event.severity],
        fields,
        timestamp: event.at,
        footer: { text: footer },
      },
    ],
  };
  return { url: target.url, headers: jsonHeaders(event), body: JSON.stringify(body) };
}

function ntfy(target: FormatTarget, event: NotificationEvent): OutgoingRequest {
  const url = new URL(target.url);
  const segments = url.pathname.split('/').filter(Boolean);
  const topic = segments.pop() ?? '';
  const server = `${url.origin}/${segments.map((s) => `${s}/`).join('')}`;
  const body = {
    topic,
    title: clip(event.title, 250),
    message: clip([event.text, ...factLines(event)].join('\n'), 4000),
    priority: NTFY_PRIORITY[event.severity],
    tags: [
      event.severity === 'critical'
        ? 'rotating_light'
        : event.severity === 'warning'
          ? 'warning'
          : 'information_source',
      event.kind,
    ],
  };
  return {
    url: server,
    headers: {
      ...jsonHeaders(event),
      ...(target.token ? { Authorization: `Bearer ${target.token}` } : {}),
    },
    body: JSON.stringify(body),
  };
}

/** Slack mrkdwn control characters (api.slack.com/reference/surfaces/formatting#escaping). */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
