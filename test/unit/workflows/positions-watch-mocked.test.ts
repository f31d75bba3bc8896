/**
 * The positions watch against mocked activities on Temporal's time-skipping test server
 * (test/support/mocked-workflows.ts): the broker's positions, the monitors' polls and the exchange calendar are
 * scripted, the workflows are the real ones. Every test checks that no workflow task failed, and every run's history
 * is replayed from scratch after the file's tests: any non-determinism fails the file.
 */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { type TradingSession } from '../../../src/domain/config';
import { DetectorConfigSchema } from '../../../src/domain/detectors/config';
import { OrdersConfigSchema } from '../../../src/domain/orders/config';
import { type ListedPosition } from '../../../src/domain/positions/reconcile';
import { orderSettingsFromConfig } from '../../../src/config/order-settings';
import { WorkflowIds } from '../../../src/shared/contracts';
import { monitorStateQuery, type MonitorSettings } from '../../../src/workflows/position-monitor';
import {
  positionsChangedSignal,
  positionsStateQuery,
  positionsWatchWorkflow,
  stopWatchSignal,
  type PositionsView,
  type PositionsWatchInput,
} from '../../../src/workflows/positions';
import { closedWithoutSkipping, useMockedWorkflows } from '../../support/mocked-workflows';

// Each test takes seconds alone; a machine shared with other builds can make that several times longer.
jest.setTimeout(180_000);

const h = useMockedWorkflows();
const { withWorker, until, started } = h;

const ALWAYS: TradingSession = {
  name: 'always',
  days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
  start: '00:00',
  end: '24:00',
  timeZone: 'UTC',
};

function monitorSettings(sessions: readonly TradingSession[] = [ALWAYS]): MonitorSettings {
  return {
    detectors: DetectorConfigSchema.parse({}),
    pollIntervalSeconds: 1,
    sessions,
    staleCheck: false,
    exit: { broker: 'paper', account: 'main', pricing: orderSettingsFromConfig(OrdersConfigSchema.parse({})).pricing },
  };
}

let polls = 0;
function pollResult() {
  polls += 1;
  const cursor = { sipTimestamp: String(polls), seenAtTimestamp: [] };
  return {
    alerts: [],
    exitSignal: null,
    detectorState: { polls },
    cursors: { trades: cursor, quotes: cursor },
    live: true,
    truncated: false,
    fetched: { trades: 1, quotes: 1, requests: 2 },
    lastTrade: { price: '100.00', size: 1, timestampNs: String(polls) },
    lastQuote: null,
    stats: { trades: 1, quotes: 1 },
    freshness: 'ok',
    lagMs: 0,
    late: 0,
  };
}

async function startWatch(taskQueue: string, over: Partial<PositionsWatchInput> = {}) {
  const account = `t${randomUUID().slice(0, 6)}`;
  const workflowId = WorkflowIds.positions('paper', account);
  started.push({ workflowId });
  const handle = await h.env.client.workflow.start(positionsWatchWorkflow, {
    workflowId,
    taskQueue,
    args: [
      {
        broker: 'paper',
        account,
        mode: 'alert',
        dataMode: 'poll',
        reconcileSeconds: 1,
        monitorSettings: monitorSettings(),
        ...over,
      },
    ],
  });
  return { handle, account, monitorId: (symbol: string) => `position:paper:${account}:${symbol}` };
}

const position = (symbol: string, quantity: string): ListedPosition => ({
  symbol,
  quantity,
  averageEntryPrice: '100.00',
});

describe('positions watch, mocked broker', () => {
  beforeEach(() => {
    polls = 0;
  });

  it('a position closed and reopened while its monitor is still finishing gets a monitor of its own', async () => {
    // Syncs here are asked for with a fill signal, and every timer a signal or a finishing monitor cancels is seconds
    // to a minute away: the time-skipping server strands a run whose workflow task cancels a timer that fired while
    // the task was with the worker (temporalio/sdk-java#3088), and while a poll is held its clock runs in real time.
    let listed: ListedPosition[] = [position('AAPL', '10')];
    // While `gate` is set, every poll waits for it: the monitor told the position closed cannot finish meanwhile.
    let open = () => undefined as void;
    let gate: Promise<void> | null = new Promise<void>((r) => (open = r));
    let held = 0;
    await withWorker(
      {
        listBrokerPositions: async () => listed,
        pollMarketData: async () => {
          if (gate) {
            held += 1;
            const beat = setInterval(() => Context.current().heartbeat(), 500);
            await gate.finally(() => clearInterval(beat));
          }
          return pollResult();
        },
      },
      async (taskQueue) => {
        const { handle, monitorId } = await startWatch(taskQueue, {
          reconcileSeconds: 60,
          monitorSettings: { ...monitorSettings(), pollIntervalSeconds: 60 },
        });
        const id = monitorId('AAPL');
        started.push({ workflowId: id });
        const events = async () => (await handle.query(positionsStateQuery)).events;
        const fill = () => handle.signal(positionsChangedSignal, { symbol: 'AAPL', reason: 'fill' });
        // The monitor's first poll is held from the start.
        await until(
          async () => held,
          (n) => n >= 1,
          100,
        );
        const first = await h.env.client.workflow.getHandle(id).describe();

        // Sold, then bought back seconds later: the old monitor is told to finish but its poll is still out.
        listed = [];
        await fill();
        await until(events, (ev) => ev.some((e) => e.symbol === 'AAPL' && e.action === 'ended'), 100);
        listed = [position('AAPL', '5')];
        await fill();
        await until(events, (ev) => ev.some((e) => e.symbol === 'AAPL' && e.action === 'waiting'), 100);
        // Its next sync, a second later, still waits: neither adopts the finishing run nor starts another.
        const waiting = await handle.query(positionsStateQuery);
        await until(
          () => handle.query(positionsStateQuery),
          (v) => v.syncs > waiting.syncs && v.lastSyncAt !== waiting.lastSyncAt,
          100,
        );
        expect(await h.env.client.workflow.getHandle(id).describe()).toMatchObject({ runId: first.runId });

        // The poll answers: the old monitor finishes as asked.
        open();
        gate = null;
        const old = await until(
          () => h.env.client.workflow.getHandle(id, first.runId).describe(),
          (d) => d.status.name !== 'RUNNING',
        );
        expect(old.status.name).toBe('COMPLETED');
        expect(await h.env.client.workflow.getHandle(id, first.runId).result()).toMatchObject({ state: 'closed' });

        // The new position has its own monitor, a new run under the same id, told 5 shares.
        const view: PositionsView = await until(
          () => handle.query(positionsStateQuery),
          (v) => v.monitors.AAPL?.status === 'running' && v.monitors.AAPL.quantity === 5,
        );
        const now = await until(
          () => h.env.client.workflow.getHandle(id).describe(),
          (d) => d.runId !== first.runId && d.status.name === 'RUNNING',
        );
        expect(now.runId).not.toBe(first.runId);
        const reopened = await h.env.client.workflow.getHandle(id).query(monitorStateQuery);
        expect(reopened).toMatchObject({ quantity: 5 });
        // Another opening, another position id: its protective SELL would not reuse the first one's client order id.
        const firstView = await h.env.client.workflow.getHandle(id, first.runId).query(monitorStateQuery);
        expect(reopened.positionId).not.toBe(firstView.positionId);
        expect(reopened.positionId).toMatch(/^paper:t[0-9a-f]{6}:AAPL:\d{8}T\d{6}\.\d{3}Z$/);
        expect(view.events.map((e) => `${e.symbol} ${e.action}`)).not.toContain('AAPL adopted');
        expect(view.events.map((e) => `${e.symbol} ${e.action}`)).toContain('AAPL waiting');
        expect(view.closing).toEqual({});
        // No Polygon key (the calendar is null): the configured session, always open, sets the cadence.
        expect(view.market).toMatchObject({ open: true, reason: null, reconcileSeconds: 60 });
        await handle.signal(stopWatchSignal, { stopMonitors: true });
        await closedWithoutSkipping(handle);
      },
    );
  });

  it('on an exchange holiday: reads the broker every 15 min, not every minute; monitors started sleep to the open', async () => {
    // From midday UTC (as the monitor's holiday test): "today" must not end before the watch reads its calendar.
    const day = 86_400_000;
    const start = await h.env.currentTimeMs();
    await h.sleep((Math.floor(start / day) + 1) * day + day / 2 - start);
    const today = new Date(await h.env.currentTimeMs()).toISOString().slice(0, 10);
    const tomorrow = Date.parse(`${today}T00:00:00Z`) + day;
    const calendar = { timeZone: 'UTC', closed: { [today]: 'Test Day' }, earlyCloses: {} };
    let listed: ListedPosition[] = [];
    let reads = 0;
    let calendarReads = 0;
    await withWorker(
      {
        listBrokerPositions: async () => {
          reads += 1;
          return listed;
        },
        marketCalendar: async () => {
          calendarReads += 1;
          return calendar;
        },
        pollMarketData: async () => pollResult(),
      },
      async (taskQueue) => {
        const { handle, monitorId } = await startWatch(taskQueue, {
          reconcileSeconds: 60,
          monitorSettings: { ...monitorSettings(), pollIntervalSeconds: 60 },
        });
        const closed = await until(
          () => handle.query(positionsStateQuery),
          (v) => v.market !== null,
          100,
        );
        expect(closed.market).toEqual({
          open: false,
          reason: 'holiday (Test Day)',
          nextChangeAt: new Date(tomorrow).toISOString(),
          reconcileSeconds: 900,
          calendarError: null,
        });
        const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
        expect(meta.currentDetails).toContain('market closed (holiday (Test Day)): next open');

        // An hour of the holiday: four reads at 15 min, where the regular cadence would have made sixty. The skip ends
        // halfway between two reads: the time-skipping server strands a run whose workflow task cancels a timer that
        // fired while the task was with the worker (it refuses the completion, "invalid history builder state for
        // action", and never sends the task again), and the signal below cancels the watch's timer.
        const before = reads;
        await h.sleep(60 * 60_000 + 7.5 * 60_000);
        expect(reads - before).toBeGreaterThanOrEqual(3);
        expect(reads - before).toBeLessThanOrEqual(5);

        // A fill still wakes the watch at once; the monitor it starts sleeps until the open, saying why.
        listed = [position('AAPL', '10')];
        await handle.signal(positionsChangedSignal, { symbol: 'AAPL', reason: 'fill' });
        await until(
          () => handle.query(positionsStateQuery),
          (v) => v.monitors.AAPL?.status === 'running',
          100,
        );
        started.push({ workflowId: monitorId('AAPL') });
        const sleeping = await until(
          () => h.env.client.workflow.getHandle(monitorId('AAPL')).query(monitorStateQuery),
          (m) => m.state === 'outside_session',
          100,
        );
        expect(sleeping.sessionWait).toMatchObject({ reason: 'holiday (Test Day)' });
        // A position opened outside flowguard is found within the quarter hour.
        listed = [...listed, position('MSFT', '3')];
        await h.sleep(15 * 60_000 + 1000);
        const found = await handle.query(positionsStateQuery);
        expect(found.monitors.MSFT?.status).toBe('running');
        started.push({ workflowId: monitorId('MSFT') });
        expect(polls).toBe(0);

        // Past the holiday: the session is open and the watch reads every minute again.
        await h.sleep(tomorrow - (await h.env.currentTimeMs()) + 1000);
        await until(
          () => handle.query(positionsStateQuery),
          (v) => v.market?.open === true,
          1000,
        );
        const atOpen = reads;
        // Halfway between two reads again: the stop signal cancels the watch's timer.
        await h.sleep(10 * 60_000 + 30_000);
        expect(reads - atOpen).toBeGreaterThanOrEqual(8);
        // Once for the holiday's New York day, at most once more for the next.
        expect(calendarReads).toBeGreaterThanOrEqual(1);
        expect(calendarReads).toBeLessThanOrEqual(2 * 3);
        listed = [];
        await handle.signal(stopWatchSignal, { stopMonitors: true });
        await closedWithoutSkipping(handle);
      },
    );
  });

  it('a failing calendar read never stops the watch: the configured sessions apply, the error is shown', async () => {
    let calendarReads = 0;
    await withWorker(
      {
        listBrokerPositions: async () => [],
        marketCalendar: async () => {
          calendarReads += 1;
          throw ApplicationFailure.create({ message: 'PolygonUnavailable from the mock', type: 'PolygonUnavailable' });
        },
      },
      async (taskQueue) => {
        const { handle } = await startWatch(taskQueue, { reconcileSeconds: 60 });
        const v = await until(
          () => handle.query(positionsStateQuery),
          (w) => w.market !== null && w.syncs >= 3,
          10_000,
        );
        expect(v.market).toMatchObject({ open: true, reconcileSeconds: 60 });
        expect(v.market?.calendarError).toMatch(/PolygonUnavailable from the mock/);
        // Three attempts, then not again within the hour.
        expect(calendarReads).toBe(3);
        await handle.signal(stopWatchSignal, {});
        await closedWithoutSkipping(handle);
      },
    );
  });
});
