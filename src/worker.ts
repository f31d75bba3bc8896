import os from 'node:os';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities';
import { createAuditLog } from './activities/audit';
import { createBrokerRegistry } from './brokers/registry';
import { connectionOptions, readTemporalEnv } from './config/temporal-env';
import { reportError } from './cli/io';

export interface FlowguardWorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly taskQueue: string;
  /** A pre-built bundle (tests, production image); without it the worker bundles src/workflows itself. */
  readonly workflowBundle?: WorkerOptions['workflowBundle'];
  readonly deps?: Partial<ActivityDeps>;
  readonly identity?: string;
}

export async function createWorker(options: FlowguardWorkerOptions): Promise<Worker> {
  const identity = options.identity ?? `flowguard-worker@${os.hostname()}:${process.pid}`;
  const deps: ActivityDeps = {
    workerIdentity: identity,
    now: () => new Date(),
    brokers: options.deps?.brokers ?? createBrokerRegistry({ dataDir: process.env.FLOWGUARD_DATA_DIR }),
    audit: options.deps?.audit ?? createAuditLog(),
    ...options.deps,
  };
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    identity,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('./workflows') }),
    activities: createActivities(deps),
    // Lets in-flight activities (a broker submit, say) finish on SIGTERM instead of being abandoned.
    shutdownGraceTime: '10 seconds',
  });
}

async function main(): Promise<void> {
  const env = readTemporalEnv();
  const connection = await NativeConnection.connect(connectionOptions(env));
  try {
    const worker = await createWorker({
      connection,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      ...(process.env.FLOWGUARD_WORKFLOW_BUNDLE
        ? { workflowBundle: { codePath: process.env.FLOWGUARD_WORKFLOW_BUNDLE } }
        : {}),
    });
    console.log(
      `flowguard worker polling task queue '${env.TEMPORAL_TASK_QUEUE}' on ${env.TEMPORAL_ADDRESS} (namespace '${env.TEMPORAL_NAMESPACE}')`,
    );
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.exitCode = reportError(err);
  });
}
