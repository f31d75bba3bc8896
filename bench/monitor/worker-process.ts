/**
 * The worker under measurement, in its own process so its resident memory is the worker's alone: spawned by
 * monitor.bench.ts with an IPC channel, it runs `createWorker` against the bench's dev server and Polygon
 * stand-in and answers memory requests. It exits when the bench says stop or when the IPC channel closes
 * (the bench died), so it never outlives the bench.
 *
 * Configuration comes as one JSON argument (see WorkerProcessConfig); nothing is read from the environment.
 */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { MemoryPaperStore } from '../../src/brokers/paper/store';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { createPolygonRest } from '../../src/market-data/polygon-rest';
import { polygonPriceSource } from '../../src/market-data/polygon-price-source';
import { TokenBucketRateLimiter } from '../../src/market-data/rate-limiter';
import { createWorker } from '../../src/worker';

export interface WorkerProcessConfig {
  readonly address: string;
  readonly taskQueue: string;
  readonly bundlePath: string;
  readonly restUrl: string;
  readonly wsUrl: string;
  readonly apiKey: string;
  /** The shared Polygon REST limiter's rate: raised far above a real plan so N pollers are never throttled. */
  readonly ratePerSecond: number;
}

export type ToWorker = { readonly type: 'memory' } | { readonly type: 'stop' };
export type FromWorker =
  | { readonly type: 'ready'; readonly pid: number }
  | { readonly type: 'memory'; readonly rss: number; readonly heapUsed: number; readonly external: number }
  | { readonly type: 'error'; readonly message: string };

function send(message: FromWorker): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('worker-process.ts must be spawned with an IPC channel');
  const config = JSON.parse(process.argv[2] ?? '') as WorkerProcessConfig;
  // Workflow info logs (one per alert) would otherwise dominate the log file and the CPU.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const rest = createPolygonRest({
    apiKey: config.apiKey,
    baseUrl: config.restUrl,
    rateLimiter: new TokenBucketRateLimiter({ ratePerSecond: config.ratePerSecond, burst: config.ratePerSecond }),
  });
  const paper = new PaperBroker({ store: new MemoryPaperStore(), marketPrices: polygonPriceSource(() => rest) });
  const connection = await NativeConnection.connect({ address: config.address });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue: config.taskQueue,
    workflowBundle: { codePath: config.bundlePath },
    deps: {
      polygon: () => rest,
      polygonStream: () => ({ apiKey: config.apiKey, wsBaseUrl: config.wsUrl }),
      brokers: createBrokerRegistry({ overrides: { paper } }),
      audit: createMemoryAuditLog(),
    },
  });
  const stop = () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  process.on('message', (m: ToWorker) => {
    if (m.type === 'stop') stop();
    else if (m.type === 'memory') {
      // A full collection first, so the figure is what the monitors retain rather than garbage not yet swept.
      (globalThis as { gc?: () => void }).gc?.();
      const u = process.memoryUsage();
      send({ type: 'memory', rss: u.rss, heapUsed: u.heapUsed, external: u.external });
    }
  });
  process.on('disconnect', stop);
  const running = worker.run();
  send({ type: 'ready', pid: process.pid });
  try {
    await running;
  } finally {
    await connection.close();
  }
}

main()
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`bench worker failed: ${message}\n`);
    if (process.connected) send({ type: 'error', message });
    process.exit(1);
  });
