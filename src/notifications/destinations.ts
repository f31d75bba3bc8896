/**
 * Notification destinations resolved from the configuration and the environment. URLs, signing secrets and
 * tokens are read from the environment only and never leave this process: workflows see destination names.
 */
import { createHash } from 'node:crypto';
import type {
  NotificationDestinationType,
  NotificationDestinationConfig,
  NotificationsConfig,
} from '../domain/notifications/config';
import { type NotificationSeverity } from '../domain/notifications/event';
import { ValidationError, type ValidationIssue } from '../domain/validation';

export interface NotificationDestination {
  readonly name: string;
  readonly type: NotificationDestinationType;
  /** Secret for every type (the path is the credential): print `describe` (maskDestinationUrl) instead. */
  readonly url: string;
  /** webhook: HMAC-SHA256 key; the payload is signed when set. */
  readonly secret: string | null;
  /** ntfy: bearer token for a protected topic. */
  readonly token: string | null;
  readonly minSeverity: NotificationSeverity;
  readonly rateLimitPerMinute: number;
  /** `slack (https://hooks.slack.com/…#1a2b)`: what logs, errors and the CLI may show. */
  readonly describe: string;
}

/**
 * Shortcuts for one destination of each type without a configuration file (the file's `destinations` list takes
 * any number, each naming its own variables). `<PREFIX>_URL`, `<PREFIX>_MIN_SEVERITY`, plus `_SECRET` (webhook)
 * and `_TOKEN` (ntfy).
 */
export const NOTIFY_ENV_SHORTCUTS: Readonly<Record<NotificationDestinationType, string>> = {
  webhook: 'FLOWGUARD_NOTIFY_WEBHOOK',
  slack: 'FLOWGUARD_NOTIFY_SLACK',
  discord: 'FLOWGUARD_NOTIFY_DISCORD',
  ntfy: 'FLOWGUARD_NOTIFY_NTFY',
};

/** Every FLOWGUARD_* variable the shortcuts read (for the unknown-variable warning). */
export const NOTIFY_ENV_NAMES: readonly string[] = Object.entries(NOTIFY_ENV_SHORTCUTS).flatMap(([type, prefix]) => [
  `${prefix}_URL`,
  `${prefix}_MIN_SEVERITY`,
  ...(type === 'webhook' ? [`${prefix}_SECRET`] : []),
  ...(type === 'ntfy' ? [`${prefix}_TOKEN`] : []),
]);

const SEVERITIES = new Set(['info', 'warning', 'critical']);

/** The configured destinations; throws ValidationError naming the variable that is missing or malformed. */
export function resolveDestinations(
  config: NotificationsConfig,
  env: Readonly<Record<string, string | undefined>> = process.env,
): NotificationDestination[] {
  const issues: ValidationIssue[] = [];
  const configs: NotificationDestinationConfig[] = [...config.destinations];
  for (const [type, prefix] of Object.entries(NOTIFY_ENV_SHORTCUTS) as [NotificationDestinationType, string][]) {
    if (!env[`${prefix}_URL`]?.trim() || configs.some((d) => d.name === type)) continue;
    const minSeverity = env[`${prefix}_MIN_SEVERITY`]?.trim();
    if (minSeverity && !SEVERITIES.has(minSeverity)) {
      issues.push({ field: `${prefix}_MIN_SEVERITY`, rule: 'must be info, warning or critical' });
      continue;
    }
    configs.push({
      name: type,
      type,
      urlEnv: `${prefix}_URL`,
      ...(type === 'webhook' ? { secretEnv: `${prefix}_SECRET` } : {}),
      ...(type === 'ntfy' ? { tokenEnv: `${prefix}_TOKEN` } : {}),
      ...(minSeverity ? { minSeverity: minSeverity as NotificationSeverity } : {}),
    });
  }
  const out: NotificationDestination[] = [];
  for (const d of configs) {
    const url = env[d.urlEnv]?.trim();
    if (!url) {
      issues.push({ field: d.urlEnv, rule: `must hold the URL of notification destination ${d.name}` });
      continue;
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      issues.push({ field: d.urlEnv, rule: 'must be an http(s) URL' });
      continue;
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      issues.push({ field: d.urlEnv, rule: 'must be an http(s) URL' });
      continue;
    }
    const secret = d.secretEnv ? env[d.secretEnv]?.trim() || null : null;
    const token = d.tokenEnv ? env[d.tokenEnv]?.trim() || null : null;
    out.push({
      name: d.name,
      type: d.type,
      url,
      secret,
      token,
      minSeverity: d.minSeverity ?? config.minSeverity,
      rateLimitPerMinute: d.rateLimitPerMinute ?? config.rateLimitPerMinute,
      describe: `${d.type} (${maskDestinationUrl(parsed)}${secret ? ', signed' : ''}${token ? ', token' : ''})`,
    });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return out;
}

/**
 * The one rule for showing a destination URL anywhere (CLI, logs, errors that reach workflow history):
 * `scheme://host[:port]/…#abcd`. The path and query are the credential for every type (Slack/Discord tokens, the
 * ntfy topic, a webhook's secret path), so none of them is shown; user info is dropped. `abcd` is the first 4 hex
 * digits of SHA-256 over the whole URL, enough to tell two destinations on one host apart and too short to confirm
 * a guessed path. A URL with nothing after the host is shown as `scheme://host[:port]/`.
 */
export function maskDestinationUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return '(invalid URL)';
  }
  const origin = `${parsed.protocol}//${parsed.host}/`;
  if (parsed.pathname === '/' && !parsed.search && !parsed.hash && !parsed.username && !parsed.password) return origin;
  return `${origin}…#${createHash('sha256').update(parsed.href).digest('hex').slice(0, 4)}`;
}
