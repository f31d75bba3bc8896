import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';

export interface HealthCheckInput {
  readonly requestedAt: string;
}

export interface HealthCheckResult {
  readonly workflowId: string;
  readonly requestedAt: string;
  readonly workerIdentity: string;
  readonly workerTime: string;
  readonly nodeVersion: string;
}

const { ping } = proxyActivities<Activities>({
  startToCloseTimeout: '5 seconds',
  retry: { maximumAttempts: 2 },
});

/** Proves the whole path works: a workflow task and an activity task both picked up by a live worker. */
export async function healthCheck(input: HealthCheckInput): Promise<HealthCheckResult> {
  const answer = await ping();
  return { workflowId: workflowInfo().workflowId, requestedAt: input.requestedAt, ...answer };
}
