/**
 * One notification event as each destination's documented request. Pure apart from the HMAC (node:crypto).
 *
 * - webhook: `POST <url>`, body = the event as JSON (`{ "flowguard": 1, key, kind, severity, title, text, symbol,
 *   workflowId, at, fields }`); headers `Idempotency-Key: <key>`, `X-Flowguard-Event: <kind>`,
 *   `X-Flowguard-Timestamp: <unix seconds>` and, with a secret, `X-Flowguard-Signature: sha256=<hex>` where the
 *   hex is HMAC-SHA256(secret, `<timestamp>.<body>`): a receiver recomputes it over the raw body and refuses a stale
 *   timestamp, so a captured request cannot be replayed later (the scheme Stripe and Slack use).
 * - slack: incoming webhook (api.slack.com/messaging/webhooks): `{ text, blocks }`, `text` the fallback shown in
 *   notifications, one section block with mrkdwn (≤ 3000 characters) and a context block.
 * - discord: execute webhook (discord.com/developers/docs/resources/webhook#execute-webhook): `{ content, embeds:
 *   [{ title ≤ 256, description ≤ 4096, color, fields ≤ 25 (name ≤ 256, value ≤ 1024, inline), timestamp }] }`,
 *   content ≤ 2000, `allowed_mentions: { parse: [] }` so a symbol or rule never pings anyone.
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
      'Content-Type': 'application/json',
      'Idempotency-Key': event.key,
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
        elements: [{ type: 'mrkdwn', text: clip(`${event.kind} · ${event.workflowId} · ${event.at}`, 3000) }],
      },
    ],
  };
  return { url: target.url, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
}

function discord(target: FormatTarget, event: NotificationEvent): OutgoingRequest {
  const fields = Object.entries(event.fields)
    .filter(([, v]) => v !== null && v !== '')
    .slice(0, 25)
    .map(([name, value]) => ({ name: clip(name, 256), value: clip(String(value), 1024), inline: true }));
  const body = {
    content: clip(`${event.severity.toUpperCase()}: ${event.title}`, 2000),
    allowed_mentions: { parse: [] },
    embeds: [
      {
        title: clip(event.title, 256),
        description: clip(event.text, 4096),
        color: DISCORD_COLOUR[event.severity],
        fields,
        timestamp: event.at,
        footer: { text: clip(`${event.kind} · ${event.workflowId}`, 2048) },
      },
    ],
  };
  return { url: target.url, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
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
      'Content-Type': 'application/json',
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
