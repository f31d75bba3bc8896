import { randomUUID } from 'node:crypto';
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

export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function createTestWorker(
  env: TestWorkflowEnvironment,
  options: { taskQueue: string } & Pick<FlowguardWorkerOptions, 'deps' | 'identity'>,
): Promise<Worker> {
  const state = readIntegrationState();
  return createWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? state.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: { codePath: state.bundlePath },
    ...(options.deps ? { deps: options.deps } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
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
