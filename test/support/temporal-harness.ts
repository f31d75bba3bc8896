import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { type CliContext } from '../../src/cli/temporal';
import { createWorker, type FlowguardWorkerOptions } from '../../src/worker';
import { readIntegrationState } from './integration-env';

/** A client on the run's shared dev server; each test file gets its own task queue for isolation. */
export async function connectTestEnv(): Promise<TestWorkflowEnvironment> {
  installQuietRuntime();
  const state = readIntegrationState();
  return TestWorkflowEnvironment.createFromExistingServer({ address: state.address, namespace: state.namespace });
}

/** Task queues this test file ran workflows on: checked for failed workflow tasks when the file ends. */
const taskQueuesInUse = new Set<string>();

export function uniqueTaskQueue(prefix: string): string {
  const taskQueue = `${prefix}-${randomUUID().slice(0, 8)}`;
  taskQueuesInUse.add(taskQueue);
  return taskQueue;
}

/**
 * A failed workflow task is a bug (non-determinism, a refused command, an exception in workflow code): the
 * workflow stops making progress while it looks alive. Every workflow that ran on this file's task queues is
 * read back, and any WorkflowTaskFailed event fails the file, except the server refusing a completion because
 * new events arrived (UNHANDLED_COMMAND: a signal raced a continue-as-new or the end of the run, which the SDK
 * handles by running the task again), and a task in flight when the test terminated the workflow (FORCE_CLOSE_COMMAND
 * followed only by the buffered events the server flushes and WorkflowExecutionTerminated/TimedOut).
 */
export async function findWorkflowTaskFailures(): Promise<string[]> {
  if (taskQueuesInUse.size === 0) return [];
  const state = readIntegrationState();
  const connection = await Connection.connect({ address: state.address });
  try {
    const client = new Client({ connection, namespace: state.namespace });
    const found: string[] = [];
    for (const taskQueue of taskQueuesInUse) {
      for await (const wf of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) {
        const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
        const events = history.events ?? [];
        for (const [i, event] of events.entries()) {
          const failed = event.workflowTaskFailedEventAttributes;
          if (!failed) continue;
          const cause = failed.cause ?? 0;
          const causes = temporal.api.enums.v1.WorkflowTaskFailedCause;
          if (cause === causes.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND) continue;
          if (cause === causes.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND && closedByServer(events.slice(i + 1))) {
            continue;
          }
          const causeName = temporal.api.enums.v1.WorkflowTaskFailedCause[cause] ?? String(cause);
          found.push(`${wf.workflowId} (${wf.type}): ${causeName}: ${failed.failure?.message ?? 'no message'}`);
        }
      }
    }
    return found;
  } finally {
    await connection.close();
  }
}

/** The run was closed by the server (terminate, timeout) with no workflow task after `rest[0]`. */
function closedByServer(rest: readonly temporal.api.history.v1.IHistoryEvent[]): boolean {
  const last = rest[rest.length - 1];
  const closed =
    last?.workflowExecutionTerminatedEventAttributes != null || last?.workflowExecutionTimedOutEventAttributes != null;
  return closed && !rest.some((e) => e.workflowTaskStartedEventAttributes != null);
}

export async function createTestWorker(
  env: TestWorkflowEnvironment,
  options: { taskQueue: string } & Pick<FlowguardWorkerOptions, 'deps' | 'identity' | 'maxCachedWorkflows'>,
): Promise<Worker> {
  const state = readIntegrationState();
  return createWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? state.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: { codePath: state.bundlePath },
    ...(options.deps ? { deps: options.deps } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows: options.maxCachedWorkflows }),
  });
}

/** What the CLI commands take, pointed at the run's dev server and this file's task queue. */
export function cliContext(env: TestWorkflowEnvironment, taskQueue: string): CliContext {
  const state = readIntegrationState();
  return {
    client: env.client,
    env: {
      TEMPORAL_ADDRESS: state.address,
      TEMPORAL_NAMESPACE: state.namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      TEMPORAL_TLS: false,
    },
  };
}

let runtimeInstalled = false;

/** Worker lifecycle chatter drowns test output; keep warnings and errors. */
function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger(process.env.FLOWGUARD_TEST_LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN') });
  } catch {
    /* a runtime already exists in this test file */
  }
}
