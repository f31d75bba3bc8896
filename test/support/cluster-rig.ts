/**
 * A cluster under load for the failover tests and `npm run bench:cluster`: `startCluster` (Temporal on
 * PostgreSQL, N worker processes) with the Polygon stand-in (manual clock) and the Alpaca stand-in in this
 * process, stream-mode monitors on distinct symbols and the decisive print that raises exactly one alert.
 *
 * Each symbol's history (before its monitor starts) is one NBBO quote, bid 100.00 × ask 100.02, and two 100-share
 * prints inside the spread: far short of a red_burst baseline. The decisive print is 15,000 shares at the bid
 * (seller-initiated by the quote rule): exactly one large_seller (tape, warning) alert under the default config.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { startPolygonStandIn, type PolygonStandIn, type StandInRecord } from './polygon-stand-in';
import { ALWAYS_OPEN_SESSION, AppConfigSchema } from '../../src/domain/config';
import { WorkflowIds } from '../../src/shared/contracts';
import {
  monitorStateQuery,
  positionMonitorWorkflow,
  type MonitorSettings,
  type MonitorView,
} from '../../src/workflows/position-monitor';
import { findFreePorts, startCluster, type Cluster, type ClusterWorker } from '../../scripts/cluster-topology';
import { AlpacaStandIn } from './alpaca-stand-in';

export const LARGE_PRINT = 15_000;
const config = AppConfigSchema.parse({ marketData: { sessions: [ALWAYS_OPEN_SESSION] } });
if (LARGE_PRINT < config.detectors.largeOrderSize || LARGE_PRINT >= 2 * config.detectors.largeOrderSize) {
  throw new Error('the decisive print must be one warning-level large_seller under the default configuration');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ClusterRig {
  readonly cluster: Cluster;
  readonly client: Client;
  readonly polygon: PolygonStandIn;
  readonly alpaca: AlpacaStandIn;
  readonly taskQueue: string;
  close(): Promise<void>;
}

export async function startClusterRig(options: {
  workers: number;
  log?: (line: string) => void;
  workerEnv?: Record<string, string>;
  /** A pre-built workflow bundle (the integration run's: jest cannot run webpack itself). */
  workflowBundle?: string;
}): Promise<ClusterRig> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowguard-cluster-'));
  const polygon = await startPolygonStandIn({ clock: { mode: 'manual' } });
  const alpaca = await AlpacaStandIn.start({ buyingPower: '100000000' });
  const taskQueue = `cluster-${randomUUID().slice(0, 8)}`;
  let cluster: Cluster | undefined;
  let connection: Connection | undefined;
  const close = async () => {
    await connection?.close().catch(() => undefined);
    await cluster?.stop({ removeData: true });
    fs.rmSync(dir, { recursive: true, force: true });
    await polygon.close();
    await alpaca.close();
  };
  try {
    cluster = await startCluster({
      dir,
      workers: options.workers,
      ports: await findFreePorts(options.workers + 4),
      ui: false,
      taskQueue,
      ...(options.log ? { log: options.log } : {}),
      ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : {}),
      workerEnv: {
        POLYGON_API_KEY: polygon.apiKey,
        POLYGON_BASE_URL: polygon.restUrl,
        POLYGON_WS_URL: polygon.wsUrl,
        ALPACA_KEY_ID: alpaca.keyId,
        ALPACA_SECRET_KEY: alpaca.secretKey,
        ALPACA_BASE_URL: alpaca.baseUrl,
        ALPACA_TIMEOUT_MS: '2000',
        // A resumed stream monitor backfills over REST: the limiter must not make the failover look slow.
        FLOWGUARD_MARKET_DATA_RATE_LIMIT_PER_SECOND: '100',
        ...options.workerEnv,
      },
    });
    connection = await Connection.connect({ address: cluster.address });
    return {
      cluster,
      client: new Client({ connection, namespace: cluster.namespace }),
      polygon,
      alpaca,
      taskQueue,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

// ── market data ─────────────────────────────────────────────────────────────────────────────────────

let sequence = 1_000_000;
const lastNs = new Map<string, bigint>();

/** Wall-clock nanoseconds, strictly increasing per symbol and a millisecond apart (the WebSocket's unit). */
function stamp(symbol: string, atMs: number): bigint {
  const ns = BigInt(Math.floor(atMs)) * 1_000_000n + BigInt(sequence % 1000) * 1000n;
  const prev = lastNs.get(symbol);
  const ts = prev !== undefined && ns <= prev + 1_000_000n ? prev + 1_000_000n : ns;
  lastNs.set(symbol, ts);
  return ts;
}

export function trade(symbol: string, atMs: number, price: number, size: number): StandInRecord {
  const ts = stamp(symbol, atMs);
  const seq = sequence++;
  return {
    conditions: [0],
    exchange: 4,
    id: String(seq),
    participant_timestamp: ts,
    price,
    sequence_number: seq,
    sip_timestamp: ts,
    size,
    tape: 1,
  };
}

function quote(symbol: string, atMs: number): StandInRecord {
  const ts = stamp(symbol, atMs);
  const seq = sequence++;
  return {
    ask_exchange: 11,
    ask_price: 100.02,
    ask_size: 500,
    bid_exchange: 12,
    bid_price: 100,
    bid_size: 500,
    participant_timestamp: ts,
    sequence_number: seq,
    sip_timestamp: ts,
    tape: 1,
  };
}

/** Distinct symbols: C then three letters (17,576). */
export function symbolFor(i: number): string {
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return `C${a[Math.floor(i / 676) % 26]}${a[Math.floor(i / 26) % 26]}${a[i % 26]}`;
}

// ── monitors ────────────────────────────────────────────────────────────────────────────────────────

export interface Monitor {
  readonly symbol: string;
  readonly handle: WorkflowHandle<typeof positionMonitorWorkflow>;
  /** sip_timestamp (ns) of every decisive print published to this monitor, in order. */
  readonly prints: bigint[];
}

function settings(): MonitorSettings {
  return {
    detectors: config.detectors,
    pollIntervalSeconds: 2,
    sessions: config.marketData.sessions,
    staleCheck: true,
    exit: { broker: 'paper', account: 'cluster', pricing: orderSettingsFromConfig(config.orders).pricing },
  };
}

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** Starts stream-mode, alert-mode monitors on symbols `from`..`to`-1, each with its quiet history loaded. */
export async function startMonitors(rig: ClusterRig, from: number, to: number, runId: string): Promise<Monitor[]> {
  const indexes = Array.from({ length: to - from }, (_, k) => from + k);
  const nowMs = Date.now();
  for (const i of indexes) {
    const symbol = symbolFor(i);
    rig.polygon.loadScenario(symbol, {
      quotes: [quote(symbol, nowMs - 5000)],
      trades: [trade(symbol, nowMs - 4000, 100.01, 100), trade(symbol, nowMs - 3000, 100.01, 100)],
    });
  }
  rig.polygon.advanceTo(BigInt(Date.now()) * 1_000_000n);
  return mapLimit(indexes, 20, async (i) => {
    const symbol = symbolFor(i);
    const positionId = `cluster-${runId}-${i}`;
    const handle = await rig.client.workflow.start(positionMonitorWorkflow, {
      workflowId: WorkflowIds.position(positionId),
      taskQueue: rig.taskQueue,
      args: [{ positionId, symbol, quantity: 100, mode: 'alert', dataMode: 'stream', settings: settings() }],
    });
    return { symbol, handle, prints: [] };
  });
}

/** Queries every monitor until each satisfies `done`; throws naming the stragglers after `timeoutMs`. */
export async function waitAll(
  monitors: readonly Monitor[],
  done: (v: MonitorView, m: Monitor) => boolean,
  timeoutMs: number,
  onDone?: (m: Monitor, v: MonitorView, atMs: number) => void,
): Promise<Map<Monitor, MonitorView>> {
  const views = new Map<Monitor, MonitorView>();
  const deadline = Date.now() + timeoutMs;
  let pending = [...monitors];
  while (pending.length > 0) {
    const results = await mapLimit(pending, 25, async (m) => {
      try {
        const v = await m.handle.query(monitorStateQuery);
        if (done(v, m)) {
          views.set(m, v);
          onDone?.(m, v, Date.now());
          return null;
        }
      } catch {
        /* a query during a failover or a server restart: asked again next round */
      }
      return m;
    });
    pending = results.filter((m): m is Monitor => m !== null);
    if (pending.length === 0) break;
    if (Date.now() > deadline) {
      const sample = await pending[0]!.handle.query(monitorStateQuery).catch((e: unknown) => String(e));
      throw new Error(
        `${pending.length} of ${monitors.length} monitors not done after ${timeoutMs} ms, e.g. ${pending[0]!.symbol}: ` +
          JSON.stringify(sample).slice(0, 1500),
      );
    }
    await sleep(100);
  }
  return views;
}

/** Publishes one decisive print to each monitor (WebSocket and REST alike), recording its timestamp. */
export function publishDecisive(rig: ClusterRig, monitors: readonly Monitor[]): void {
  for (const m of monitors) {
    const print = trade(m.symbol, Date.now(), 100, LARGE_PRINT);
    m.prints.push(BigInt(print.sip_timestamp as bigint));
    rig.polygon.publish(m.symbol, { trades: [print] });
  }
}

/**
 * A monitor's large_seller alerts against the decisive prints published to it (WebSocket prints carry
 * milliseconds, REST backfill the nanoseconds: compared in milliseconds). `lost`: prints without an alert;
 * `duplicated`: alerts beyond one per print, or at no print's time.
 */
export function alertAudit(v: MonitorView, m: Monitor): { lost: string[]; duplicated: string[] } {
  const alerts = v.alerts
    .filter((a) => a.kind === 'large_seller')
    .map((a) => String(BigInt(a.timestampNs) / 1_000_000n));
  const prints = m.prints.map((ns) => String(ns / 1_000_000n));
  const lost = prints.filter((p) => !alerts.includes(p)).map((p) => `${m.symbol}@${p}`);
  const duplicated: string[] = [];
  const seen = new Set<string>();
  for (const a of alerts) {
    if (seen.has(a) || !prints.includes(a)) duplicated.push(`${m.symbol}@${a}`);
    seen.add(a);
  }
  if (v.alertTotal !== alerts.length)
    duplicated.push(`${m.symbol}: alertTotal ${v.alertTotal} ≠ ${alerts.length} listed`);
  return { lost, duplicated };
}

/** The worker (by identity) running each monitor's stream activity, and that activity's attempt. */
export async function streamHolders(
  monitors: readonly Monitor[],
): Promise<Map<Monitor, { identity: string; attempt: number }>> {
  const out = new Map<Monitor, { identity: string; attempt: number }>();
  await mapLimit(monitors, 20, async (m) => {
    const d = await m.handle.describe();
    const act = (d.raw.pendingActivities ?? []).find((a) => /stream/i.test(a.activityType?.name ?? ''));
    if (act) out.set(m, { identity: act.lastWorkerIdentity ?? '', attempt: act.attempt ?? 0 });
  });
  return out;
}

export function workerOf(cluster: Cluster, identity: string): ClusterWorker | undefined {
  return cluster.workers.find((w) => w.identity === identity);
}

/** Failed workflow tasks on the rig's task queue (UNHANDLED_COMMAND excepted, as the integration harness does). */
export async function workflowTaskFailures(rig: ClusterRig): Promise<string[]> {
  const found: string[] = [];
  for await (const wf of rig.client.workflow.list({ query: `TaskQueue = '${rig.taskQueue}'` })) {
    const history = await rig.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    for (const event of history.events ?? []) {
      const failed = event.workflowTaskFailedEventAttributes;
      if (!failed) continue;
      const cause = failed.cause ?? 0;
      if (cause === temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND)
        continue;
      found.push(
        `${wf.workflowId}: ${temporal.api.enums.v1.WorkflowTaskFailedCause[cause] ?? cause}: ${failed.failure?.message}`,
      );
    }
  }
  return found;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
