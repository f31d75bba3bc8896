/**
 * The position-monitor workflow against mocked market data,
 * on Temporal's time-skipping test server (test/support/mocked-workflows.ts): backoffs of minutes pass at once, so
 * exhaustion, throttling, cancel races and continue-as-new run in seconds. The real-server integration tests keep
 * the end-to-end paths. Every test checks that no workflow task failed, and every run's history is replayed from
 * scratch after the file's tests: any non-determinism fails the file.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { type TradingSession } from '../../../src/domain/config';
import { DetectorConfigSchema } from '../../../src/domain/detectors/config';
import { WorkflowIds } from '../../../src/shared/contracts';
import { deskStateQuery, deskWorkflow, placeOrderSignal, type DeskInput } from '../../../src/workflows/desk';
import {
  monitorStateQuery,
  positionMonitorWorkflow,
  stopMonitorSignal,
  type MonitorSettings,
  type PositionMonitorInput,
} from '../../../src/workflows/position-monitor';
import { brokerFailure, settings, snapshot } from '../../support/mocked-broker';
import { closedWithoutSkipping, useMockedWorkflows } from '../../support/mocked-workflows';

// Each test takes seconds alone; a machine shared with other builds can make that several times longer.
jest.setTimeout(180_000);

const h = useMockedWorkflows();
const { withWorker, until, started } = h;

describe('position monitor workflow, mocked market data', () => {
  const ALWAYS: TradingSession = {
    name: 'always',
    days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
    start: '00:00',
    end: '24:00',
    timeZone: 'UTC',
  };
  const monitorSettings = (sessions: readonly TradingSession[] = [ALWAYS]): MonitorSettings => ({
    detectors: DetectorConfigSchema.parse({}),
    // Time skipping does not skip the polls due meanwhile: a long interval keeps skipped hours cheap.
    pollIntervalSeconds: 30,
    sessions,
    staleCheck: false,
    exit: { broker: 'paper', account: 'main', pricing: settings.pricing },
  });
  const cursor = (n: number) => ({ sipTimestamp: String(n), seenAtTimestamp: [] });
  let polls = 0;
  const pollResult = (over: Record<string, unknown> = {}) => {
    polls += 1;
    return {
      alerts: [],
      exitSignal: null,
      detectorState: { polls },
      cursors: { trades: cursor(polls), quotes: cursor(polls) },
      live: polls > 1,
      truncated: false,
      fetched: { trades: 1, quotes: 1, requests: 2 },
      lastTrade: { price: '100.00', size: 1, timestampNs: String(polls) },
      lastQuote: null,
      stats: { trades: 1, quotes: 1 },
      freshness: 'ok',
      lagMs: 0,
      late: 0,
      ...over,
    };
  };

  async function startMonitor(taskQueue: string, over: Partial<PositionMonitorInput> = {}) {
    const positionId = `m-${randomUUID().slice(0, 8)}`;
    const workflowId = WorkflowIds.position(positionId);
    started.push({ workflowId });
    return h.env.client.workflow.start(positionMonitorWorkflow, {
      workflowId,
      taskQueue,
      args: [
        {
          positionId,
          symbol: 'AAPL',
          quantity: 100,
          mode: 'alert',
          dataMode: 'poll',
          settings: monitorSettings(),
          ...over,
        },
      ],
    });
  }

  beforeEach(() => {
    polls = 0;
  });

  it('exhaustion and throttle: a rate-limited source backs off as data_error, an unauthorized key pauses 15 min, both recover', async () => {
    let calls = 0;
    const seen: string[] = [];
    await withWorker(
      {
        pollMarketData: async () => {
          calls += 1;
          if (calls <= 5) throw brokerFailure('PolygonRateLimited', {});
          if (calls === 6) throw brokerFailure('PolygonUnauthorized', {}, true);
          return pollResult();
        },
      },
      async (taskQueue) => {
        const monitor = await startMonitor(taskQueue);
        // Back-offs of seconds, then the 15-minute pause: steps that fit each, so the wait is a few reads.
        for (const [state, stepMs] of [
          ['data_error', 5000],
          ['unauthorized', 5000],
          ['monitoring', 60_000],
        ] as const) {
          const v = await until(
            () => monitor.query(monitorStateQuery),
            (s) => s.state === state,
            stepMs,
          );
          seen.push(v.state);
        }
        const v = await monitor.query(monitorStateQuery);
        expect(v.healthAlerts.filter((a) => a.severity === 'critical')).toHaveLength(1);
        await h.clearOfTimers(monitor);
        await monitor.signal(stopMonitorSignal, {});
        expect((await closedWithoutSkipping(monitor)).state).toBe('stopped');
      },
    );
    expect(seen).toEqual(['data_error', 'unauthorized', 'monitoring']);
    expect(calls).toBeGreaterThanOrEqual(7);
  });

  it('outside its session: shows the session and next open time, names the timer, then starts at the open', async () => {
    // The test server's clock, which earlier tests have moved on.
    const now = new Date(await h.env.currentTimeMs());
    const hh = (h: number) => String(h % 24).padStart(2, '0');
    // A session that opens two hours from now and lasts an hour (UTC, every day).
    const session = {
      name: 'later',
      days: ALWAYS.days,
      start: `${hh(now.getUTCHours() + 2)}:00`,
      end: `${hh(now.getUTCHours() + 3)}:00`,
      timeZone: 'UTC',
    };
    await withWorker({ pollMarketData: async () => pollResult() }, async (taskQueue) => {
      const monitor = await startMonitor(taskQueue, { settings: monitorSettings([session]) });
      const waiting = await until(
        () => monitor.query(monitorStateQuery),
        (s) => s.state === 'outside_session',
        100,
      );
      expect(waiting.sessionWait?.sessions).toEqual(['later']);
      expect(Date.parse(waiting.sessionWait!.nextOpenAt!)).toBeGreaterThan(now.getTime() + 60 * 60_000);
      // The UI's summary of the run (its current details) says the same; the timer carries it as its summary.
      const metadata = await monitor.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(metadata.currentDetails).toMatch(/^AAPL: outside session \(later\): next open 20\d\d-/);
      // Straight past the open, halfway between two polls (every 30 s): the monitor's timer fires and it starts reading,
      // and the stop below cancels a timer 15 s away. A poll timer due as the skip ends fires in real time, maybe while
      // the stop's workflow task is out: the test server then sends the task again only after its 10 s timeout.
      await h.sleep(Date.parse(waiting.sessionWait!.nextOpenAt!) - (await h.env.currentTimeMs()) + 45_000);
      const open = await until(
        () => monitor.query(monitorStateQuery),
        (s) => s.state === 'monitoring',
        1000,
      );
      expect(open.sessionWait).toBeNull();
      await h.clearOfTimers(monitor);
      await monitor.signal(stopMonitorSignal, {});
      await closedWithoutSkipping(monitor);
    });
  });

  it('continues-as-new in every state it waits in (outside_session, backfilling, monitoring, data_error, unauthorized, exit_failed), losing nothing', async () => {
    const alert = { kind: 'red_burst', severity: 'critical', rule: 'mock', timestampNs: '1', source: 'trades' };
    const exitSignal = { timestampNs: '1', reason: 'red_burst', rule: 'mock' };
    // What each attempt of the poll activity answers, in order, then a live poll for ever. Five rate-limited
    // attempts are one failed poll (the activity's retry policy), the unauthorized one is not retried.
    const script: (() => unknown)[] = [
      () => pollResult({ live: false }),
      () => pollResult({ live: true }),
      ...Array.from({ length: 5 }, () => () => {
        throw brokerFailure('PolygonRateLimited', {});
      }),
      () => {
        throw brokerFailure('PolygonUnauthorized', {}, true);
      },
      () => pollResult({ live: true, alerts: [alert], exitSignal }),
    ];
    // A session that opens at the next whole hour: the first run waits outside it.
    const now = await h.env.currentTimeMs();
    const opens = new Date(Math.ceil((now + 60_000) / 3_600_000) * 3_600_000);
    const hh = (d: Date, plus: number) => `${String((d.getUTCHours() + plus) % 24).padStart(2, '0')}:00`;
    const session = { name: 'day', days: ALWAYS.days, start: hh(opens, 0), end: hh(opens, 6), timeZone: 'UTC' };
    await withWorker(
      {
        pollMarketData: async () => (script.shift() ?? (() => pollResult({ live: true })))(),
        latestPrices: async () => ({ lastTrade: null, lastQuote: null }),
      },
      async (taskQueue) => {
        // A budget of one event: every turn of the loop that reaches the check continues as new. Auto-exit with no
        // desk running: the exit fails (exit_failed) and the monitor keeps watching.
        const monitor = await startMonitor(taskQueue, {
          mode: 'auto-exit',
          continueAsNewAfterEvents: 1,
          settings: { ...monitorSettings([session]), pollIntervalSeconds: 60 },
        });
        // Each closed run's last state, as its own query answers it (the worker replays the run), repeats dropped.
        const lastStates = new Map<string, string>();
        const ended = async () => {
          const states: string[] = [];
          for (const runId of (await h.runIds(monitor)).reverse()) {
            if (!lastStates.has(runId)) {
              const run = h.env.client.workflow.getHandle(monitor.workflowId, runId);
              if ((await run.describe()).status.name !== 'CONTINUED_AS_NEW') continue;
              lastStates.set(runId, (await run.query(monitorStateQuery)).state);
            }
            const state = lastStates.get(runId)!;
            if (states[states.length - 1] !== state) states.push(state);
          }
          return states;
        };
        // Steps of five minutes: the quarter hour an unauthorized key pauses the monitor is three of them.
        await until(ended, (states) => states.includes('exit_failed'), 5 * 60_000);
        expect(await ended()).toEqual([
          'outside_session',
          'backfilling',
          'monitoring',
          'data_error',
          'unauthorized',
          'exit_failed',
        ]);
        // The latest run carries everything the earlier ones saw.
        const v = await monitor.query(monitorStateQuery);
        expect(v).toMatchObject({ state: 'exit_failed', alertTotal: 1, exitSignal: { rule: 'mock' } });
        expect(v.exitOrder?.reason).toMatch(/desk .* is not running/);
        expect(v.healthAlerts.filter((a) => a.severity === 'critical')).toHaveLength(1);
        expect(v.dataHealth.polls).toBeGreaterThanOrEqual(3);
        expect(script).toEqual([]);
        // A stop during the wait between polls ends the latest run (the stop is not carried into another). Its wake
        // cancels the poll timer: first clear of one due any moment (test/support/mocked-workflows.ts).
        await h.clearOfTimers(monitor);
        await monitor.signal(stopMonitorSignal, {});
        expect((await closedWithoutSkipping(monitor)).state).toBe('stopped');
      },
    );
  });

  it("replay: an auto-exit monitor's protective SELL keeps its price when pricing changes; a desk-priced raw request does not", async () => {
    const alert = { kind: 'red_burst', severity: 'critical', rule: 'mock', timestampNs: '1', source: 'trades' };
    const exitSignal = { timestampNs: '1', reason: 'red_burst', rule: 'mock' };
    const submitted: { clientOrderId: string; limitPrice: string }[] = [];
    const startDesk = async (taskQueue: string, account: string) => {
      const workflowId = WorkflowIds.desk('paper', account);
      started.push({ workflowId });
      return h.env.client.workflow.start(deskWorkflow, {
        workflowId,
        taskQueue,
        args: [{ broker: 'paper', account, settings } satisfies DeskInput],
      });
    };
    const histories = await withWorker(
      {
        pollMarketData: async () => pollResult(polls === 3 ? { alerts: [alert], exitSignal } : {}),
        latestPrices: async () => ({ lastTrade: null, lastQuote: null }),
        submitOrder: async ({ order }: { order: { clientOrderId: string; limitPrice: string } }) => {
          submitted.push(order);
          started.push({ workflowId: WorkflowIds.order(order.clientOrderId) });
          return { order: snapshot({ ...order, side: 'sell', quantity: 100 }) };
        },
        getBrokerOrder: async ({ clientOrderId }: { clientOrderId: string }) =>
          snapshot({ clientOrderId, side: 'sell', quantity: 100 }),
      },
      async (taskQueue) => {
        const desk = await startDesk(taskQueue, 'main');
        const monitor = await startMonitor(taskQueue, {
          mode: 'auto-exit',
          settings: { ...monitorSettings(), pollIntervalSeconds: 5 },
        });
        await until(
          async () => submitted.length,
          (n) => n === 1,
        );
        const book = await desk.query(deskStateQuery);
        // What a monitor started before 'monitor-exit-prepared' signalled: a raw request the desk prices.
        const legacyDesk = await startDesk(taskQueue, 'legacy');
        const raw = { symbol: 'AAPL', side: 'sell', quantity: 100, referencePrice: '100.00', broker: 'paper' } as const;
        await legacyDesk.signal(placeOrderSignal, {
          request: { ...raw, clientOrderId: `exit-legacy-${randomUUID().slice(0, 6)}` },
          pricing: settings.pricing,
        });
        await until(
          async () => submitted.length,
          (n) => n === 2,
        );
        return {
          book,
          monitor: await monitor.fetchHistory(),
          desk: await desk.fetchHistory(),
          legacyDesk: await legacyDesk.fetchHistory(),
        };
      },
    );
    type History = typeof histories.desk;
    type HistoryEvent = NonNullable<History['events']>[number];
    type Pricing = { maxSlippagePct: string };
    /** The parts of a recorded workflow input or placeOrder signal this test reads or rewrites. */
    interface Recorded {
      settings?: { pricing: Pricing; exit?: { pricing: Pricing } };
      pricing?: Pricing;
      request?: unknown;
      prepared?: { clientOrderId: string; limitPrice: string };
    }
    const payloadOf = (e: HistoryEvent) => {
      const attrs = e.workflowExecutionStartedEventAttributes ?? e.workflowExecutionSignaledEventAttributes;
      return attrs!.input!.payloads![0]!;
    };
    const read = (e: HistoryEvent) => JSON.parse(Buffer.from(payloadOf(e).data!).toString()) as Recorded;
    const rewrite = (history: History, match: (e: HistoryEvent) => boolean, edit: (v: Recorded) => void) => {
      const e = history.events!.find(match)!;
      const value = read(e);
      edit(value);
      payloadOf(e).data = Buffer.from(JSON.stringify(value));
      return history;
    };
    const placeSignal = (e: HistoryEvent) => e.workflowExecutionSignaledEventAttributes?.signalName === 'placeOrder';
    const started0 = (e: HistoryEvent) => e.workflowExecutionStartedEventAttributes != null;
    /** Today's pricing refuses what was priced then (simulated on the recorded config: a tiny slippage bound). */
    const refusing = (pricing: Pricing | undefined) => {
      pricing!.maxSlippagePct = '0.0001';
    };

    // One price from the monitor's activity to the broker: the desk was sent it prepared and booked it as sent.
    const sent = read(histories.desk.events!.find(placeSignal)!);
    expect(sent.request).toBeUndefined();
    expect(sent.prepared).toMatchObject({ side: 'sell', quantity: 100, referencePrice: '100.00' });
    // Marketable at the reference (the bid) by the protective strategy, not resting 10 bps above it.
    expect(sent.prepared).toMatchObject({ strategy: 'protective', limitPrice: '100.00', offset: '0' });
    const { clientOrderId, limitPrice } = sent.prepared!;
    expect(submitted[0]).toMatchObject({ clientOrderId, limitPrice });
    expect(histories.book.openOrders[clientOrderId]).toMatchObject({ limitPrice });
    expect(JSON.stringify(histories.monitor.events)).toContain('prepareOrder');

    // Replayed by code whose pricing now refuses it: the monitor reuses its recorded price, the desk prices nothing.
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: h.bundle },
        rewrite(histories.monitor, started0, (input) => refusing(input.settings?.exit?.pricing)),
      ),
    ).resolves.toBeUndefined();
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: h.bundle },
        rewrite(histories.desk, started0, (input) => refusing(input.settings?.pricing)),
      ),
    ).resolves.toBeUndefined();
    // The same change breaks a desk that priced the raw request in its handler: it refuses on replay what it placed.
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: h.bundle },
        rewrite(histories.legacyDesk, placeSignal, (req) => refusing(req.pricing)),
      ),
    ).rejects.toThrow(/[Nn]ondeterminism|does not handle/);
  });

  it('a stop that arrives while a poll is out, with continue-as-new due, ends the run instead of being dropped', async () => {
    let calls = 0;
    // The first poll is the one after which the volume curve is fetched: a stopped monitor must not start it.
    let profileFetches = 0;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inPoll!: () => void;
    const pollOut = new Promise<void>((r) => (inPoll = r));
    await withWorker(
      {
        pollMarketData: async () => {
          calls += 1;
          if (calls === 1) {
            inPoll();
            await held;
          }
          return pollResult();
        },
        latestPrices: async () => ({ lastTrade: null, lastQuote: null }),
        fetchVolumeProfile: async () => {
          profileFetches += 1;
          return null;
        },
      },
      async (taskQueue) => {
        // Due after the first poll: without the rule the run continued as new and the next one never heard the stop.
        const monitor = await startMonitor(taskQueue, { continueAsNewAfterEvents: 1 });
        await pollOut;
        await monitor.signal(stopMonitorSignal, { reason: 'closing the trade' });
        release();
        await until(
          () => monitor.query(monitorStateQuery),
          (s) => s.state === 'stopped',
        );
        expect((await monitor.describe()).runId).toBe(monitor.firstExecutionRunId);
        expect(calls).toBe(1);
        expect(profileFetches).toBe(0);
      },
    );
  });

  describe('exchange calendar (issue 13 item 4)', () => {
    /** The UTC date (YYYY-MM-DD) and HH:MM of an instant: the calendars below use the ALWAYS session's zone. */
    const utc = (ms: number) => ({
      date: new Date(ms).toISOString().slice(0, 10),
      hhmm: new Date(ms).toISOString().slice(11, 16),
    });

    it('a holiday today: waits until the next open without polling, says why, then polls', async () => {
      // From midday UTC: earlier tests leave the test server's clock at any hour, and a start just before midnight
      // would see "today" end before the monitor reads its calendar.
      const start = await h.env.currentTimeMs();
      const day = 86_400_000;
      await h.sleep((Math.floor(start / day) + 1) * day + day / 2 - start);
      const now = await h.env.currentTimeMs();
      const today = utc(now).date;
      const calendar = { timeZone: 'UTC', closed: { [today]: 'Test Day' }, earlyCloses: {} };
      let calendarReads = 0;
      await withWorker(
        {
          marketCalendar: async () => {
            calendarReads += 1;
            return calendar;
          },
          pollMarketData: async () => pollResult(),
        },
        async (taskQueue) => {
          const monitor = await startMonitor(taskQueue);
          const waiting = await until(
            () => monitor.query(monitorStateQuery),
            (s) => s.state === 'outside_session',
            100,
          );
          const tomorrow = Date.parse(`${today}T00:00:00Z`) + 86_400_000;
          expect(waiting.sessionWait).toEqual({
            sessions: ['always'],
            nextOpenAt: new Date(tomorrow).toISOString(),
            reason: 'holiday (Test Day)',
          });
          const metadata = await monitor.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
          expect(metadata.currentDetails).toMatch(/^AAPL: holiday \(Test Day\), outside session \(always\)/);
          await h.sleep(60 * 60_000);
          expect(polls).toBe(0);
          // Past the holiday: one timer fired, the monitor reads the market. Halfway between two polls, as above.
          await h.sleep(tomorrow - (await h.env.currentTimeMs()) + 45_000);
          await until(
            () => monitor.query(monitorStateQuery),
            (s) => s.state === 'monitoring',
            1000,
          );
          expect(polls).toBeGreaterThan(0);
          // Read once on the holiday, at most once more on the next New York day.
          expect(calendarReads).toBeGreaterThanOrEqual(1);
          expect(calendarReads).toBeLessThanOrEqual(2);
          await h.clearOfTimers(monitor);
          await monitor.signal(stopMonitorSignal, {});
          await closedWithoutSkipping(monitor);
        },
      );
    });

    it('an early close: polls until the close, then stops polling until the next session', async () => {
      const now = await h.env.currentTimeMs();
      // Three whole minutes ahead: a few polls (every 30 s) before the close.
      const cut = Math.ceil(now / 60_000) * 60_000 + 3 * 60_000;
      const { date, hhmm } = utc(cut);
      const calendar = { timeZone: 'UTC', closed: {}, earlyCloses: { [date]: { close: hhmm, name: 'Half Day' } } };
      await withWorker(
        { marketCalendar: async () => calendar, pollMarketData: async () => pollResult() },
        async (taskQueue) => {
          const monitor = await startMonitor(taskQueue);
          // Steps of a few polls' time (every 30 s): the close is three minutes ahead.
          await until(
            () => monitor.query(monitorStateQuery),
            (s) => s.state === 'monitoring',
            10_000,
          );
          const closed = await until(
            () => monitor.query(monitorStateQuery),
            (s) => s.state === 'outside_session',
            30_000,
          );
          expect(await h.env.currentTimeMs()).toBeGreaterThanOrEqual(cut);
          expect(closed.sessionWait?.reason).toBe(`early close ${hhmm} (Half Day)`);
          expect(closed.sessionWait?.nextOpenAt).toBe(
            new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString(),
          );
          const pollsAtClose = polls;
          expect(pollsAtClose).toBeGreaterThan(0);
          await h.sleep(30 * 60_000);
          expect(polls).toBe(pollsAtClose);
          await h.clearOfTimers(monitor);
          await monitor.signal(stopMonitorSignal, {});
          await closedWithoutSkipping(monitor);
        },
      );
    });

    it('a failing calendar activity never stops the monitor: configured sessions apply, noted in data health', async () => {
      let calendarReads = 0;
      await withWorker(
        {
          marketCalendar: async () => {
            calendarReads += 1;
            throw brokerFailure('PolygonUnavailable', {});
          },
          pollMarketData: async () => pollResult(),
        },
        async (taskQueue) => {
          const monitor = await startMonitor(taskQueue);
          const v = await until(
            () => monitor.query(monitorStateQuery),
            (s) => s.state === 'monitoring' && polls > 2,
            10_000,
          );
          expect(v.dataHealth.calendarError).toMatch(/PolygonUnavailable from the mock/);
          // Three attempts, then not again within the hour.
          expect(calendarReads).toBe(3);
          await h.clearOfTimers(monitor);
          await monitor.signal(stopMonitorSignal, {});
          await closedWithoutSkipping(monitor);
        },
      );
    });
  });

  it('fetches the intraday volume curve once, passes it to every poll, carries it across continue-as-new; a failed fetch is retried after continue-as-new', async () => {
    const profile = { days: 3, perMinute: '~au' };
    let fetches = 0;
    const given: unknown[] = [];
    await withWorker(
      {
        fetchVolumeProfile: async ({ days }: { days: number }) => {
          fetches += 1;
          expect(days).toBe(10);
          if (fetches <= 3) throw brokerFailure('PolygonUnavailable', {});
          return profile;
        },
        pollMarketData: async (input: { volumeProfile?: unknown }) => {
          given.push(input.volumeProfile ?? null);
          return pollResult();
        },
      },
      async (taskQueue) => {
        const monitor = await startMonitor(taskQueue, {
          continueAsNewAfterEvents: 30,
          settings: { ...monitorSettings(), pollIntervalSeconds: 5 },
        });
        const runIds = new Set<string>();
        await until(
          async () => runIds.add((await monitor.describe()).runId).size,
          (n) => n >= 3,
          5000,
        );
        await h.clearOfTimers(monitor);
        await monitor.signal(stopMonitorSignal, {});
        await until(
          () => monitor.query(monitorStateQuery),
          (s) => s.state === 'stopped',
        );
      },
    );
    // Three failed attempts in the first run after its first poll (it goes on without a curve), one success in
    // the second run, none after.
    expect(fetches).toBe(4);
    expect(given.slice(0, 2)).toEqual([null, null]);
    expect(given.at(-1)).toEqual(profile);
    const first = given.findIndex((g) => g !== null);
    expect(given.slice(first).every((g) => JSON.stringify(g) === JSON.stringify(profile))).toBe(true);
  });
});
