import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { startPolygonStandIn, type PolygonStandIn } from '../support/polygon-stand-in';
import { freePort } from '../../src/dev/temporal-dev-server';
import { AlpacaStandIn } from '../support/alpaca-stand-in';
import { readIntegrationState } from '../support/integration-env';
import { runCli } from '../support/cli';
import { connectTestEnv, createTestWorker, uniqueTaskQueue } from '../support/temporal-harness';

interface Report {
  healthy: boolean;
  checks: { name: string; ok: boolean; detail: string; required: boolean }[];
}

/** No market-data or broker credentials from the developer's shell leak into these runs. */
const NO_CREDENTIALS = {
  POLYGON_API_KEY: '',
  POLYGON_BASE_URL: '',
  ALPACA_KEY_ID: '',
  ALPACA_SECRET_KEY: '',
  ALPACA_BASE_URL: '',
  ROBINHOOD_TOKEN: '',
  ROBINHOOD_ACCOUNT_NUMBER: '',
  FLOWGUARD_HEALTH_BROKERS: '',
};

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
      runCli(['health', '--json'], { ...NO_CREDENTIALS, TEMPORAL_ADDRESS: address, TEMPORAL_TASK_QUEUE: taskQueue }),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.healthy).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(['temporal', 'worker', 'market-data', 'broker:paper']);
    expect(report.checks[1]?.detail).toContain('health-test-worker answered');
    // Not configured: reported, not required, so health does not depend on it.
    expect(report.checks[2]).toMatchObject({ ok: false, required: false });
    expect(report.checks[2]?.detail).toContain('not configured: set POLYGON_API_KEY');
    expect(report.checks[3]).toMatchObject({ ok: true, required: true });
  });

  it('reports unhealthy when no worker polls the task queue (exit 1)', async () => {
    const taskQueue = uniqueTaskQueue('health-empty');
    const result = await runCli(['health'], {
      ...NO_CREDENTIALS,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TASK_QUEUE: taskQueue,
    });
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

describe('flowguard health: market data and brokers', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let polygon: PolygonStandIn;
  let alpaca: AlpacaStandIn;
  const { address } = readIntegrationState();
  const taskQueue = uniqueTaskQueue('health-deps');
  const POLYGON_KEY = 'polygon-good-key-0123456789';

  beforeAll(async () => {
    env = await connectTestEnv();
    worker = await createTestWorker(env, { taskQueue, identity: 'health-deps-worker' });
    running = worker.run();
    polygon = await startPolygonStandIn({ apiKey: POLYGON_KEY });
    alpaca = await AlpacaStandIn.start();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await polygon?.close();
    await alpaca?.close();
    await env?.teardown();
  });

  const health = (args: string[], extra: Record<string, string>) =>
    runCli(['health', ...args], {
      ...NO_CREDENTIALS,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      ...extra,
    });
  const check = (report: Report, name: string) => report.checks.find((c) => c.name === name);

  it('market data: a good Polygon key is ok', async () => {
    const result = await health(['--json'], { POLYGON_API_KEY: POLYGON_KEY, POLYGON_BASE_URL: polygon.restUrl });
    const report = JSON.parse(result.stdout) as Report;
    expect(result.code).toBe(0);
    expect(report.healthy).toBe(true);
    expect(check(report, 'market-data')).toMatchObject({ ok: true, required: true });
    expect(check(report, 'market-data')?.detail).toContain(`Polygon key accepted by ${polygon.restUrl}`);
    expect(result.stdout).not.toContain(POLYGON_KEY);
  });

  it('market data: a bad key makes the report unhealthy with a clear message and never prints the key', async () => {
    const badKey = 'polygon-wrong-key-9876543210';
    const result = await health([], { POLYGON_API_KEY: badKey, POLYGON_BASE_URL: polygon.restUrl });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      `FAIL market-data: unauthorized: ${polygon.restUrl} rejected POLYGON_API_KEY (HTTP 401)`,
    );
    expect(result.stdout).toContain('unhealthy');
    expect(result.stdout + result.stderr).not.toContain(badKey);
  });

  it('market data: an unreachable Polygon is reported as unreachable', async () => {
    const port = await freePort();
    const result = await health(['--json'], {
      POLYGON_API_KEY: POLYGON_KEY,
      POLYGON_BASE_URL: `http://127.0.0.1:${port}`,
    });
    const report = JSON.parse(result.stdout) as Report;
    expect(result.code).toBe(1);
    expect(check(report, 'market-data')?.detail).toMatch(/^unreachable: http:\/\/127\.0\.0\.1:\d+ did not answer/);
    expect(result.stdout).not.toContain(POLYGON_KEY);
  });

  it('--require market-data fails when no key is configured; an unknown requirement is invalid input', async () => {
    const required = await health(['--json', '--require', 'market-data'], {});
    expect(required.code).toBe(1);
    expect(check(JSON.parse(required.stdout) as Report, 'market-data')).toMatchObject({ ok: false, required: true });
    const bad = await health(['--require', 'coffee'], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("invalid input: --require: 'coffee' must be one of market-data, broker, all");
    expect(bad.stdout).toBe('');
  });

  it('broker: Alpaca with good credentials is ok; the secret is never printed', async () => {
    const result = await health(['--json'], {
      FLOWGUARD_HEALTH_BROKERS: 'paper,alpaca',
      ALPACA_KEY_ID: alpaca.keyId,
      ALPACA_SECRET_KEY: alpaca.secretKey,
      ALPACA_BASE_URL: alpaca.baseUrl,
    });
    const report = JSON.parse(result.stdout) as Report;
    expect(result.code).toBe(0);
    expect(report.checks.map((c) => c.name)).toEqual([
      'temporal',
      'worker',
      'market-data',
      'broker:paper',
      'broker:alpaca',
    ]);
    expect(check(report, 'broker:alpaca')).toMatchObject({ ok: true, required: true });
    expect(result.stdout).not.toContain(alpaca.secretKey);
  });

  it('broker: wrong Alpaca credentials are unhealthy (unauthorized)', async () => {
    const wrongSecret = 'alpaca-wrong-secret-000111222';
    const result = await health(['--json', '--brokers', 'alpaca'], {
      ALPACA_KEY_ID: alpaca.keyId,
      ALPACA_SECRET_KEY: wrongSecret,
      ALPACA_BASE_URL: alpaca.baseUrl,
    });
    const report = JSON.parse(result.stdout) as Report;
    expect(result.code).toBe(1);
    expect(report.healthy).toBe(false);
    expect(check(report, 'broker:alpaca')?.detail).toMatch(/^unauthorized: .* rejected the alpaca credentials/);
    expect(result.stdout).not.toContain(wrongSecret);
  });

  it('broker: an unreachable broker makes the report unhealthy', async () => {
    const port = await freePort();
    const result = await health([], {
      FLOWGUARD_HEALTH_BROKERS: 'alpaca',
      ALPACA_KEY_ID: alpaca.keyId,
      ALPACA_SECRET_KEY: alpaca.secretKey,
      ALPACA_BASE_URL: `http://127.0.0.1:${port}`,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/FAIL broker:alpaca: unreachable: http:\/\/127\.0\.0\.1:\d+ did not answer/);
    expect(result.stdout).toContain('unhealthy');
    expect(result.stdout).not.toContain(alpaca.secretKey);
  });

  it('broker: a listed broker without credentials is skipped unless required', async () => {
    const skipped = await health([], { FLOWGUARD_HEALTH_BROKERS: 'robinhood' });
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toContain(
      'skip broker:robinhood: not configured: set ROBINHOOD_TOKEN and ROBINHOOD_ACCOUNT_NUMBER',
    );
    const required = await health(['--require', 'broker'], { FLOWGUARD_HEALTH_BROKERS: 'robinhood' });
    expect(required.code).toBe(1);
    expect(required.stdout).toContain('FAIL broker:robinhood: not configured');
    const invalid = await health([], { FLOWGUARD_HEALTH_BROKERS: 'paper,etrade' });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('invalid input: FLOWGUARD_HEALTH_BROKERS');
  });
});
