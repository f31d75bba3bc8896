import { type Command } from 'commander';
import { loadConfig } from '../config/load-config';
import { NotificationKind, type NotificationEvent } from '../domain/notifications/event';
import { resolveDestinations } from '../notifications/destinations';
import { NotificationSender, isDeliveryFailure } from '../notifications/sender';
import { action, ExitCode, printJson } from './io';

export interface NotifyTestResult {
  readonly destination: string;
  readonly describe: string;
  readonly ok: boolean;
  readonly error: string | null;
}

/**
 * Sends one sample event to every configured destination, whatever its severity filter, bypassing the rate limit.
 * Resolves per destination; never throws for a destination that fails.
 */
export async function sendTestNotifications(
  env: Readonly<Record<string, string | undefined>> = process.env,
  now: Date = new Date(),
): Promise<NotifyTestResult[]> {
  const config = await loadConfig(env);
  const sender = new NotificationSender({ destinations: resolveDestinations(config.notifications, env) });
  const event: NotificationEvent = {
    key: `notify-test#${now.getTime()}`,
    kind: NotificationKind.Test,
    severity: 'info',
    title: 'flowguard test notification',
    text: 'If you can read this, flowguard can reach you here.',
    symbol: null,
    workflowId: 'notify-test',
    at: now.toISOString(),
    fields: { sentBy: 'flowguard notify test' },
  };
  return Promise.all(
    sender.destinations.map(async (d) => {
      try {
        await sender.deliver(d, event, false);
        return { destination: d.name, describe: d.describe, ok: true, error: null };
      } catch (err) {
        const error = isDeliveryFailure(err) ? err.message : err instanceof Error ? err.message : String(err);
        return { destination: d.name, describe: d.describe, ok: false, error };
      }
    }),
  );
}

export function registerNotifyCommands(program: Command): void {
  const notify = program.command('notify').description('notification destinations (webhook, Slack, Discord, ntfy)');
  notify
    .command('test')
    .description('send a sample notification to every destination; exit 1 when any fails, 2 when none is configured')
    .option('--json', 'print one JSON object')
    .action(
      action(async (opts: { json?: boolean }) => {
        const results = await sendTestNotifications();
        if (opts.json) printJson({ destinations: results });
        else if (results.length === 0) {
          process.stderr.write(
            'no notification destinations: set FLOWGUARD_NOTIFY_WEBHOOK_URL, _SLACK_URL, _DISCORD_URL or _NTFY_URL, or notifications.destinations in the config file\n',
          );
        } else {
          for (const r of results)
            process.stdout.write(`${r.ok ? 'ok    ' : 'FAILED'} ${r.destination}: ${r.ok ? r.describe : r.error}\n`);
        }
        if (results.length === 0) return ExitCode.InvalidInput;
        return results.every((r) => r.ok) ? ExitCode.Ok : ExitCode.Failure;
      }),
    );
}
