import { randomUUID } from 'node:crypto';
import { type Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { WorkflowIds } from '../shared/contracts';
import { healthCheck } from '../workflows/health';
import { action, ExitCode, printJson } from './io';
import { withTemporal, type CliContext } from './temporal';

export interface HealthReport {
  readonly healthy: boolean;
  readonly checks: readonly { readonly name: string; readonly ok: boolean; readonly detail: string }[];
}

/** Checks Temporal, then that a worker polls the task queue, then a real workflow + activity round trip. */
export async function checkHealth({ client, env }: CliContext, timeoutMs = 10_000): Promise<HealthReport> {
  const checks: { name: string; ok: boolean; detail: string }[] = [];
  const system = await client.workflowService.getSystemInfo({});
  checks.push({
    name: 'temporal',
    ok: true,
    detail: `reachable at ${env.TEMPORAL_ADDRESS}, server ${system.serverVersion || 'unknown version'}`,
  });

  const pollers = await client.workflowService.describeTaskQueue({
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: { name: env.TEMPORAL_TASK_QUEUE, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
  });
  if (pollers.pollers.length === 0) {
    checks.push({
      name: 'worker',
      ok: false,
      detail: `no worker is polling task queue '${env.TEMPORAL_TASK_QUEUE}': start one with 'npm run worker'`,
    });
    return { healthy: false, checks };
  }

  const startedAt = Date.now();
  try {
    const result = await client.workflow.execute(healthCheck, {
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      workflowId: WorkflowIds.health(randomUUID()),
      args: [{ requestedAt: new Date().toISOString() }],
      workflowExecutionTimeout: timeoutMs,
    });
    checks.push({
      name: 'worker',
      ok: true,
      detail: `${result.workerIdentity} answered in ${Date.now() - startedAt} ms (node ${result.nodeVersion})`,
    });
  } catch (err) {
    const detail =
      err instanceof WorkflowFailedError
        ? `health workflow did not complete within ${timeoutMs} ms: ${err.cause?.message ?? err.message}`
        : String(err);
    checks.push({ name: 'worker', ok: false, detail });
  }
  return { healthy: checks.every((c) => c.ok), checks };
}

export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description('check that Temporal is reachable and a flowguard worker answers on the task queue')
    .option('--json', 'print one JSON object')
    .action(
      action(async (opts: { json?: boolean }) => {
        const report = await withTemporal((ctx) => checkHealth(ctx));
        if (opts.json) printJson(report);
        else {
          for (const c of report.checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}\n`);
          process.stdout.write(report.healthy ? 'healthy\n' : 'unhealthy\n');
        }
        return report.healthy ? ExitCode.Ok : ExitCode.Failure;
      }),
    );
}
