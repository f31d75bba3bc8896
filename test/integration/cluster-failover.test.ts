/**
 * The production topology under load, for real: Temporal on PostgreSQL and several worker processes
 * (scripts/cluster-topology.ts, what `npm run cluster` runs), stream-mode monitors on the Polygon stand-in and
 * an order flow on the Alpaca stand-in. Then:
 *   1. one worker is SIGKILLed; the prints published right after it died and a cancel-all signalled at once must
 *      all land: every monitor the dead worker held resumes on another worker from its heartbeat checkpoint
 *      (the gap is backfilled over REST, nothing before the checkpoint is replayed as a new alert), within a
 *      bound measured here; every order is cancelled and confirmed; no order is sent twice;
 *   2. the Temporal server is SIGKILLed and restarted mid-flight; prints published while it was down raise
 *      their alerts once, and a new order goes through.
 *
 * Size: FLOWGUARD_CLUSTER_TESTS=1 runs the case (3 workers, 300 monitors, 12 orders, ~2.5 min).
 * Unset, a small case (2 workers, 20 monitors, 4 orders, ~75 s, about 30 s of it the stream activity's heartbeat
 * timeout) runs when the cluster's Go binaries are built (`npm test` builds them first, scripts/test.sh) and
 * PostgreSQL is installed or installable; otherwise, or with FLOWGUARD_CLUSTER_TESTS=0, it is skipped (saying why).
 */
import { randomUUID } from 'node:crypto';
import { cancelAll, placeOrder, type PlacedOrder } from '../../src/cli/orders';
import { type CliContext } from '../../src/cli/temporal';
import { orderSettingsFromConfig } from '../../src/config/order-settings';
import { OrdersConfigSchema } from '../../src/domain/orders/config';
import { clusterUnavailable } from '../../scripts/cluster-topology';
import {
  alertAudit,
  publishDecisive,
  quantile,
  startClusterRig,
  startMonitors,
  streamHolders,
  waitAll,
  workerOf,
  workflowTaskFailures,
  type ClusterRig,
  type Monitor,
} from '../support/cluster-rig';
import { readIntegrationState } from '../support/integration-env';
import { waitForOrder } from '../support/order-waits';

const FULL = process.env.FLOWGUARD_CLUSTER_TESTS === '1';
const SIZE = FULL ? { workers: 3, monitors: 300, orders: 12 } : { workers: 2, monitors: 20, orders: 4 };
const unavailable = process.env.FLOWGUARD_CLUSTER_TESTS === '0' ? 'FLOWGUARD_CLUSTER_TESTS=0' : clusterUnavailable();
const enabled = FULL || unavailable === null;
if (!enabled) process.stderr.write(`[cluster-failover] skipped: ${unavailable}\n`);
/** The stream activity's heartbeat timeout (src/workflows/position-monitor.ts): the server's failure detector. */
const HEARTBEAT_TIMEOUT_MS = 30_000;
/** Asserted bound from the kill to a held monitor's alert on the print made after it: see the measured figures. */
// Measured: 20 monitors 28-29 s; 300 monitors 24-31 s, 50 s once with the machine saturated by other jobs.
const FAILOVER_BOUND_MS = HEARTBEAT_TIMEOUT_MS + (FULL ? 45_000 : 15_000);

const settings = orderSettingsFromConfig(OrdersConfigSchema.parse({ pollIntervalSeconds: 5 }), 5);
const log = (line: string) => process.stderr.write(`[cluster-failover] ${line}\n`);

(enabled ? describe : describe.skip)(
  `cluster: ${SIZE.workers} workers on Temporal + PostgreSQL, ${SIZE.monitors} stream monitors, orders`,
  () => {
    let rig: ClusterRig;
    let ctx: CliContext;
    let monitors: Monitor[] = [];
    const runId = randomUUID().slice(0, 6);
    /** Alerts raised twice across the worker failover (monitor@print ms), measured by the first test. */
    let failoverDuplicates: string[] = [];
    const account = `cluster-${runId}`;

    beforeAll(async () => {
      const t0 = Date.now();
      rig = await startClusterRig({ workers: SIZE.workers, workflowBundle: readIntegrationState().bundlePath });
      ctx = {
        client: rig.client,
        env: {
          TEMPORAL_ADDRESS: rig.cluster.address,
          TEMPORAL_NAMESPACE: rig.cluster.namespace,
          TEMPORAL_TASK_QUEUE: rig.taskQueue,
          TEMPORAL_TLS: false,
        },
      };
      log(`cluster up in ${Date.now() - t0} ms (${SIZE.workers} workers)`);
    }, 300_000);

    afterAll(async () => {
      await Promise.all(monitors.map((m) => m.handle.terminate('test done').catch(() => undefined)));
      await rig?.close();
    }, 120_000);

    async function placeOrders(n: number, tag: string): Promise<PlacedOrder[]> {
      const placed = await Promise.all(
        Array.from({ length: n }, (_, k) =>
          placeOrder(
            ctx,
            {
              broker: 'alpaca',
              account,
              symbol: `O${String.fromCharCode(65 + (k % 26))}`,
              side: 'buy',
              quantity: '10',
              // Distinct limits well under any print: the orders rest at the broker until cancelled.
              referencePrice: `${50 + k}.00`,
              clientOrderId: `${tag}-${k}-${runId}`,
            },
            settings,
          ),
        ),
      );
      await Promise.all(placed.map((p) => waitForOrder(ctx, p.clientOrderId, (s) => s.state === 'queued', 60_000)));
      return placed;
    }

    /** Every order reached the broker exactly once (one order per client order id, whatever was retried). */
    function expectNoDuplicateOrders(placed: readonly PlacedOrder[]): void {
      const atBroker = rig.alpaca.orders();
      const perClientId = new Map<string, number>();
      for (const o of atBroker) perClientId.set(o.client_order_id, (perClientId.get(o.client_order_id) ?? 0) + 1);
      for (const p of placed) expect([p.clientOrderId, perClientId.get(p.clientOrderId)]).toEqual([p.clientOrderId, 1]);
      expect([...perClientId.values()].every((n) => n === 1)).toBe(true);
    }

    it('a worker SIGKILLed under load: its monitors resume elsewhere from their heartbeat, a cancel-all confirms every order', async () => {
      let t = Date.now();
      monitors = await startMonitors(rig, 0, SIZE.monitors, runId);
      await waitAll(monitors, (v) => v.live && v.state === 'monitoring', 180_000);
      log(`${monitors.length} monitors live in ${Date.now() - t} ms`);
      t = Date.now();
      const placed = await placeOrders(SIZE.orders, 'pre');
      log(`${placed.length} orders resting at the broker in ${Date.now() - t} ms`);

      // The victim: the worker holding most stream activities.
      const before = await streamHolders(monitors);
      expect(before.size).toBe(monitors.length);
      const counts = new Map<string, number>();
      for (const h of before.values()) counts.set(h.identity, (counts.get(h.identity) ?? 0) + 1);
      log(`stream activities per worker: ${[...counts.values()].join(', ')}`);
      const [victimId] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
      const victim = workerOf(rig.cluster, victimId);
      expect(victim).toBeDefined();
      const held = monitors.filter((m) => before.get(m)?.identity === victimId);
      expect(counts.size).toBeGreaterThan(1); // the load is spread: others hold monitors too

      // Steady state: one print each, one alert each; the kill follows as soon as the victim's monitors have
      // theirs (seconds: well inside the 24 s between two heartbeats the server records).
      const firstPrintAt = Date.now();
      publishDecisive(rig, monitors);
      const steady = await waitAll(held, (v, m) => alertAudit(v, m).lost.length === 0, 60_000);
      expect(held.flatMap((m) => alertAudit(steady.get(m)!, m).duplicated)).toEqual([]);
      log(`the victim's monitors alerted on the first print within ${Date.now() - firstPrintAt} ms; kill`);

      await victim!.kill();
      const killedAt = Date.now();
      // Straight after the kill: a print for every monitor and the kill switch.
      publishDecisive(rig, monitors);
      const cancelling = cancelAll(
        ctx,
        { broker: 'alpaca', account, reason: 'failover test', wait: true, timeoutMs: 180_000 },
        settings,
      ).then((r) => ({ ...r, doneMs: Date.now() - killedAt }));

      const resumedAt = new Map<Monitor, number>();
      const views = await waitAll(
        monitors,
        (v, m) => alertAudit(v, m).lost.length === 0,
        FAILOVER_BOUND_MS + 30_000,
        (m, _v, at) => resumedAt.set(m, at - killedAt),
      );
      const { run, doneMs: cancelMs } = await cancelling;
      // What the kill switch waited for: the desk's and the orders' activities that timed out on the dead worker.
      const timedOut = await Promise.all(
        [`desk:alpaca:${account}`, ...placed.map((p) => `order:${p.clientOrderId}`)].map(async (id) => {
          const events = (await rig.client.workflow.getHandle(id).fetchHistory()).events ?? [];
          const types = new Map(
            events.map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes?.activityType?.name]),
          );
          return events
            .filter((e) => e.activityTaskTimedOutEventAttributes)
            .map(
              (e) =>
                `${id.split(':')[0]}/${types.get(String(e.activityTaskTimedOutEventAttributes!.scheduledEventId))}`,
            );
        }),
      );
      log(`activities timed out with the dead worker: ${timedOut.flat().join(', ') || 'none'}`);

      // Nothing lost and nothing twice: both prints' alerts on every monitor, once each, though a resumed stream
      // activity raises again what it signalled after its last recorded heartbeat (the monitor drops those by identity).
      expect(monitors.flatMap((m) => alertAudit(views.get(m)!, m).lost)).toEqual([]);
      failoverDuplicates = monitors.flatMap((m) => alertAudit(views.get(m)!, m).duplicated);
      expect(failoverDuplicates).toEqual([]);
      const heldDuplicated = new Set(failoverDuplicates.map((d) => d.split('@')[0]));
      // The held monitors run on live workers now, on a retry of the same activity (attempt > 1).
      const after = await streamHolders(held);
      for (const m of held) {
        const h = after.get(m);
        expect(h?.identity).not.toBe(victimId);
        expect(workerOf(rig.cluster, h!.identity)?.alive()).toBe(true);
        expect(h!.attempt).toBeGreaterThan(1);
      }
      const heldMs = held.map((m) => resumedAt.get(m)!).sort((a, b) => a - b);
      const othersMs = monitors
        .filter((m) => !held.includes(m))
        .map((m) => resumedAt.get(m)!)
        .sort((a, b) => a - b);
      log(
        `failover: ${held.length} monitors held by the killed worker alerted on the post-kill print after ` +
          `p50 ${quantile(heldMs, 0.5)} ms, max ${heldMs[heldMs.length - 1]} ms (heartbeat timeout ${HEARTBEAT_TIMEOUT_MS} ms); ` +
          `the other ${othersMs.length}: max ${othersMs[othersMs.length - 1]} ms; cancel-all done after ${cancelMs} ms; ` +
          `${heldDuplicated.size} held monitors raised a pre-kill alert again (${failoverDuplicates.length} duplicates)`,
      );
      // Only monitors that moved can have replayed anything.
      expect([...heldDuplicated].filter((sym) => !held.some((m) => m.symbol === sym))).toEqual([]);
      expect(heldMs[heldMs.length - 1]).toBeLessThan(FAILOVER_BOUND_MS);

      // The kill switch: every order cancelled at the broker and confirmed in the run.
      expect(run?.completedAt).toEqual(expect.any(String));
      for (const p of placed) {
        expect(run!.results[p.clientOrderId]).toMatchObject({ clientOrderId: p.clientOrderId });
        expect(rig.alpaca.orderByClientId(p.clientOrderId)?.status).toBe('canceled');
        await waitForOrder(ctx, p.clientOrderId, (s) => s.state === 'cancelled', 60_000);
      }
      expectNoDuplicateOrders(placed);
    }, 600_000);

    it('the Temporal server SIGKILLed and restarted mid-flight: prints made while it was down alert once, orders go through', async () => {
      expect(monitors.length).toBe(SIZE.monitors);
      // A worker in place of the one killed: the cluster is back to full strength.
      await rig.cluster.addWorker();

      const downAt = Date.now();
      const restart = rig.cluster.restartServer({ kill: true });
      publishDecisive(rig, monitors);
      const restartMs = await restart;
      const views = await waitAll(monitors, (v, m) => alertAudit(v, m).lost.length === 0, 120_000);
      const allMs = Date.now() - downAt;
      expect(monitors.flatMap((m) => alertAudit(views.get(m)!, m).lost)).toEqual([]);
      // The restart adds no duplicate either.
      expect(monitors.flatMap((m) => alertAudit(views.get(m)!, m).duplicated)).toEqual([]);
      log(`server restart: answering again ${restartMs} ms after the SIGKILL; every monitor's alert in ${allMs} ms`);

      // The kill switch stays engaged after the failover test: a new account's orders go through the restarted server.
      const placedAfter = await (async () => {
        const other = `${account}-after`;
        const p = await placeOrder(
          ctx,
          {
            broker: 'alpaca',
            account: other,
            symbol: 'OAFT',
            side: 'buy',
            quantity: '5',
            referencePrice: '40.00',
            clientOrderId: `after-${runId}`,
          },
          settings,
        );
        await waitForOrder(ctx, p.clientOrderId, (s) => s.state === 'queued', 60_000);
        return p;
      })();
      expect(rig.alpaca.orderByClientId(placedAfter.clientOrderId)).toBeDefined();
      expect(rig.alpaca.orders().filter((o) => o.client_order_id === placedAfter.clientOrderId)).toHaveLength(1);

      expect(await workflowTaskFailures(rig)).toEqual([]);
    }, 300_000);
  },
);
