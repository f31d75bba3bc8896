import { z } from 'zod';
import { NotificationSeverity } from './event';

/**
 * Notification settings (the `notifications` section of the configuration file; scalars also as FLOWGUARD_NOTIFY_*).
 * Destinations name the environment variables that hold their URL and secrets: a webhook URL is itself a credential
 * (Slack, Discord), so no URL or secret is ever written in the file.
 */
export const NotificationDestinationType = {
  Webhook: 'webhook',
  Slack: 'slack',
  Discord: 'discord',
  Ntfy: 'ntfy',
} as const;
export type NotificationDestinationType =
  (typeof NotificationDestinationType)[keyof typeof NotificationDestinationType];

const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const SeveritySchema = z.enum(
  [NotificationSeverity.Info, NotificationSeverity.Warning, NotificationSeverity.Critical],
  {
    message: 'must be info, warning or critical',
  },
);
const RatePerMinuteSchema = z
  .number({ message: 'must be a number' })
  .int('must be an integer')
  .min(1, 'must be ≥ 1')
  .max(600, 'must be ≤ 600');

export const NotificationDestinationSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be 1–32 lowercase letters, digits, _ or -'),
    type: z.enum(
      Object.values(NotificationDestinationType) as [NotificationDestinationType, ...NotificationDestinationType[]],
      {
        message: 'must be webhook, slack, discord or ntfy',
      },
    ),
    /** The variable holding the URL (a Slack/Discord webhook URL, an ntfy topic URL, any HTTPS endpoint). */
    urlEnv: z.string().regex(ENV_NAME, 'must be an environment variable name such as FLOWGUARD_NOTIFY_SLACK_URL'),
    /** webhook: the variable holding the HMAC-SHA256 signing secret (optional). */
    secretEnv: z.string().regex(ENV_NAME, 'must be an environment variable name').optional(),
    /** ntfy: the variable holding an access token for a protected topic (optional). */
    tokenEnv: z.string().regex(ENV_NAME, 'must be an environment variable name').optional(),
    minSeverity: SeveritySchema.optional(),
    rateLimitPerMinute: RatePerMinuteSchema.optional(),
  })
  .strict();
export type NotificationDestinationConfig = z.output<typeof NotificationDestinationSchema>;

export const NotificationsConfigSchema = z
  .object({
    /** Default minimum severity a destination is sent (a destination may set its own). */
    minSeverity: SeveritySchema.default(NotificationSeverity.Warning),
    /** Default per-destination limit; notifications beyond it wait their turn (never dropped). */
    rateLimitPerMinute: RatePerMinuteSchema.default(20),
    destinations: z
      .array(NotificationDestinationSchema)
      .default([])
      .refine((list) => new Set(list.map((d) => d.name)).size === list.length, 'destination names must be unique'),
  })
  .strict();
export type NotificationsConfig = z.output<typeof NotificationsConfigSchema>;
