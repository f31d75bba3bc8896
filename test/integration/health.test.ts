import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { freePort } from '../../src/dev/temporal-dev-server';
import { readIntegrationState } from '../support/integration-env';
import { runCli } from '../support/cli';
import { connectTestEnv, createTestWorker, uniqueTaskQueue } from '../support/temporal-harness';

describe('flowguard health', () => {
  let env: TestWorkflowEnvironment;
  const { address } = readIntegrationState();

  beforeAll(async () => {
    env = await connectTestEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('reports healthy when a worker answers on the task queue (exit 0)', async () => {
    const taskQueue = uniqueTaskQueue('health');
    const worker = await createTestWorker(env, { taskQueue, identity: 'health-test-worker' });
    const result = await worker.runUntil(
      runCli(['health', '--json'], { TEMPORAL_ADDRESS: address, TEMPORAL_TASK_QUEUE: taskQueue }),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { healthy: boolean; checks: { name: string; detail: string }[] };
    expect(report.healthy).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(['temporal', 'worker']);
    expect(report.checks[1]?.detail).toContain('health-test-worker answered');
  });

  it('reports unhealthy when no worker polls the task queue (exit 1)', async () => {
    const taskQueue = uniqueTaskQueue('health-empty');
    const result = await runCli(['health'], { TEMPORAL_ADDRESS: address, TEMPORAL_TASK_QUEUE: taskQueue });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`no worker is polling task queue '${taskQueue}'`);
    expect(result.stdout).toContain('unhealthy');
  });

  it('fails clearly when Temporal is unreachable (exit 1)', async () => {
    const port = await freePort();
    const result = await runCli(['health'], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Temporal is not reachable at 127.0.0.1:${port}`);
    expect(result.stdout).toBe('');
  });

  it('rejects a malformed TEMPORAL_ADDRESS as invalid input naming the variable (exit 2)', async () => {
    const result = await runCli(['health'], { TEMPORAL_ADDRESS: 'not an address' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('TEMPORAL_ADDRESS: must be host:port');
    expect(result.stdout).toBe('');
  });
});
