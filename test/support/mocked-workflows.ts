/**
 * The harness of the workflow tests with mocked activities (test/unit/workflows/*-mocked.test.ts): one time-skipping
 * test server and one worker per test file, each test's mocks behind the worker's activities, waits that skip
 * workflow time.
 *
 * Why it counts locks. Temporal's Java test server (1.27, and its main branch at the time of writing) moves its clock
 * in real time while any "time-skipping lock" is held, and skips to the next timer when none is. A lock is held for
 * every activity task from its scheduling to its completion, failure or cancellation, for every workflow task until
 * it completes, for a child's start, an external signal, and a child's close until its parent records it. None is
 * given back when the run that should release it has closed first (terminated, continued-as-new, completed; see
 * TestWorkflowMutableStateImpl: the release goes through `update`, which refuses a closed run). From then on the
 * server's clock runs in real time: a 15-minute back-off takes 15 minutes. A server per test avoided that at the cost
 * of a JVM start each, and of a server that never warms up.
 *
 * So the harness gives those locks back itself, from each closed run's history and the server's own description of
 * it (see `locksLeft` and `childClosesNobodyHeard`): before each step of `until` and each `sleep`, and after each
 * test, which ends its workflows (often with a poll out). Each run is counted once, and only what is certain: a run
 * still open, or an activity past its first attempt (one waiting out a back-off holds no lock), is left uncounted.
 * After each test a probe checks that the clock skips again (a sleep of ten minutes must return within seconds); when
 * it does not, or something was left uncounted, the file moves to a fresh server. Locks no history shows (a query
 * task left unanswered by a run that closed, on server versions that lock for it) are found only by that probe.
 * Counting errs toward a fresh server, never toward a lock given back twice (which would let the clock skip while a
 * test expects it held).
 *
 * What the harness cannot fix: the server strands a run whose workflow task cancels a timer that fired while the task
 * was with the worker (it refuses the completion, "invalid history builder state for action", and never sends the
 * task again: temporalio/sdk-java#3088). A signal, a child's close or an activity's result that wakes a workflow
 * from a timed wait cancels that timer, and while any lock is held the clock reaches the timer in real time. So a test
 * keeps such timers well away from its wake-ups: long intervals with syncs asked for by signal, a skip that ends
 * halfway between two timers, or a stop that waits in real time (`closedWithoutSkipping`). Sub-second timers
 * cancelled by wake-ups hung two runs of the positions-watch file in about twenty under load.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { type Workflow, type WorkflowResultType } from '@temporalio/common';
import { type History } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { ApplicationFailure } from '@temporalio/common';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { createOrderActivities, type PrepareOrderInput } from '../../src/activities/order-activities';
import { SearchAttributes } from '../../src/shared/contracts';
import { createTimeSkippingEnv } from './time-skipping';
import { childCloseUnheard, isCloseEvent, openTasks, pendingTimerDueTimes } from './time-skipping-locks';

export type Mocks = Record<string, (...args: never[]) => Promise<unknown>>;

const READ_DEADLINE_MS = 3000;
const orderActivities = createOrderActivities();
const NOT_YET = Symbol('not yet');

/** Every activity name the real worker registers (the factories touch none of their dependencies when built). */
const ACTIVITY_NAMES = Object.keys(
  createActivities({
    workerIdentity: 'mocked',
    now: () => new Date(),
    brokers: {} as never,
    audit: {} as never,
    polygon: () => Promise.reject(new Error('no Polygon in mocked-activity tests')),
  }),
);

/** Activities every test gets unless it mocks them itself. */
const DEFAULT_MOCKS: Mocks = {
  // Monitors and the desk send notifications (fire and forget): delivered nowhere, as with none configured.
  sendNotification: async ({ event }: { event: { key: string } }) => ({ key: event.key, delivered: [], filtered: [] }),
  // Monitors read the exchange calendar at session checks: none, as without a Polygon key.
  marketCalendar: async () => null,
  // Monitors fetch the intraday volume curve once (patched monitor-volume-profile): none here.
  fetchVolumeProfile: async () => null,
  // Pricing is pure: the real activity (monitors price their protective exit with it).
  prepareOrder: (input: PrepareOrderInput) => orderActivities.prepareOrder(input),
};

/** A sleep of workflow time this long returns at once on a clock that skips; on a held clock it takes as long. */
const CLOCK_PROBE_MS = 10 * 60_000;
/** How long (real time) a probe may take before the clock counts as held. */
const CLOCK_PROBE_DEADLINE_MS = 3000;

export function quietLogger() {
  const noop = () => undefined;
  return { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };
}

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * The workflow bundle, built once per change of the sources: webpack takes seconds of CPU, and each mocked test file
 * needs the same bundle. Keyed by the content of every file under src/ and the lockfile (the SDK's workflow code is
 * bundled too), kept in the OS temp directory.
 */
export async function workflowBundle(): Promise<WorkflowBundle> {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else {
        hash.update(path.relative(ROOT, full));
        hash.update(fs.readFileSync(full));
      }
    }
  };
  walk(path.join(ROOT, 'src'));
  hash.update(fs.readFileSync(path.join(ROOT, 'package-lock.json')));
  const dir = path.join(os.tmpdir(), 'flowguard-workflow-bundles');
  const file = path.join(dir, `${hash.digest('hex').slice(0, 24)}.js`);
  if (fs.existsSync(file)) return { code: fs.readFileSync(file, 'utf8') };
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(ROOT, 'src', 'workflows'),
    logger: quietLogger(),
  });
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, code);
  fs.renameSync(tmp, file);
  return { code };
}

async function startServer(): Promise<TestWorkflowEnvironment> {
  const env = await createTimeSkippingEnv();
  const { IndexedValueType } = temporal.api.enums.v1;
  const types: Record<string, number> = {
    KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
    BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  };
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(Object.values(SearchAttributes).map((k) => [k.name, types[k.type]!])),
  });
  return env;
}

export interface MockedWorkflows {
  /** The file's server (a test may move the file to a fresh one: read it inside a test). */
  readonly env: TestWorkflowEnvironment;
  readonly bundle: WorkflowBundle;
  /**
   * Workflows the test started (push each): ended after the test body with every workflow they started, and
   * checked for failed workflow tasks.
   */
  readonly started: { workflowId: string }[];
  /**
   * Runs `body` with the file's worker serving `activities` (and the harness's defaults for the rest) on the task
   * queue it is given; then ends every workflow of the test, checks that no workflow task of any run failed, keeps
   * every run's history for the replay after the file's tests, and gives the server's clock back.
   */
  readonly withWorker: <T>(activities: Mocks, body: (taskQueue: string) => Promise<T>) => Promise<T>;
  /**
   * Lets workflow time pass (skipped, `skipMs` a step) until `check` holds. A read that does not answer within 3 s
   * counts as not yet (the test server can leave a query to a run that is continuing-as-new unanswered). Stops with
   * the test that started it, so a failed test cannot go on skipping time under the next one.
   */
  readonly until: <T>(read: () => Promise<T>, check: (v: T) => boolean, skipMs?: number) => Promise<T>;
  /** How many runs the workflow has had (its chain of continue-as-new). */
  readonly runs: (handle: WorkflowHandle) => Promise<number>;
  /** The workflow's runs, latest first (its chain of continue-as-new); none before it started. */
  readonly runIds: (handle: WorkflowHandle) => Promise<string[]>;
  /**
   * Skips past any timer of the workflow's latest run due within `marginMs` of workflow time, so that a signal sent
   * next does not cancel a timer as it fires (temporalio/sdk-java#3088: the run would be stranded).
   */
  readonly clearOfTimers: (handle: WorkflowHandle, marginMs?: number) => Promise<void>;
  /**
   * Lets `ms` of workflow time pass (skipped), after giving back the locks of runs closed meanwhile (as `until` does
   * at each step): use it instead of `env.sleep` where a run may have closed with a task out.
   */
  readonly sleep: (ms: number) => Promise<void>;
  /**
   * Gives back the time-skipping locks the server keeps for tasks left out by closed runs of the test (see the
   * module's comment); each run is counted once. Returns how many it gave back.
   */
  readonly releaseLeftLocks: () => Promise<number>;
}

export interface MockedWorkflowsOptions {
  /**
   * How non-determinism is looked for. 'after-file' (default): the worker caches its workflows and every run's whole
   * history is replayed once after the file's tests. 'each-task': the worker keeps no workflow in its cache, so each
   * workflow task replays the whole history (a cost that grows with the square of its length), and there is no
   * replay after the file. The replay after the file is what caught the desk continuing as new inside a rejected
   * update's speculative task (src/workflows/continue-as-new-gate.ts): about one run in two of its continue-as-new
   * test failed it, while with 'each-task' the same error only failed a query task and left no event.
   */
  readonly replay?: 'after-file' | 'each-task';
}

/** One run of a workflow: the unit of histories, replays and lock accounting. */
interface Run {
  readonly workflowId: string;
  readonly runId: string;
}

type RunWithHistory = Run & { history: History };

/** What a closed run left holding the server's clock. */
interface LeftLocks {
  /** Locks the harness knows the run holds. */
  readonly held: number;
  /**
   * Whether the run may hold more than that: it is still open, or holds an activity out on a retry (whose lock
   * depends on its back-off).
   */
  readonly unsure: boolean;
  /** The run is still open (its locks are counted once it closes). */
  readonly open: boolean;
}

/** The file's server and worker; replaced together when the server's clock stays held. */
interface Rig {
  readonly env: TestWorkflowEnvironment;
  readonly worker: Worker;
  readonly running: Promise<void>;
}

/**
 * Waits in real time for a workflow just told to stop to close, then returns its result. Awaiting the result at once
 * lets the test server skip to the workflow's next timer while the stop's workflow task is with the worker; that task
 * cancels a timer which has fired, the server refuses it and never sends the task again, and the run hangs
 * (temporalio/sdk-java#3088).
 */
export async function closedWithoutSkipping<W extends Workflow>(
  handle: WorkflowHandle<W>,
): Promise<WorkflowResultType<W>> {
  for (let i = 0; i < 1000 && (await handle.describe()).status.name === 'RUNNING'; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return handle.result();
}

/** Registers the jest hooks of a mocked-activity test file and returns its harness. */
export function useMockedWorkflows(options: MockedWorkflowsOptions = {}): MockedWorkflows {
  const taskQueue = `mocked-${randomUUID().slice(0, 8)}`;
  let rig: Rig | undefined;
  let bundle: WorkflowBundle | undefined;
  let mocks: Mocks = {};
  let workerError: Error | undefined;
  const started: { workflowId: string }[] = [];
  const reads = new Set<Promise<unknown>>();
  /** Runs whose locks were given back (or found to hold none). */
  const released = new Set<string>();
  /** Histories of closed runs (they no longer change). */
  const closedHistories = new Map<string, History>();
  /** Child runs whose close the harness has accounted for (see childClosesNobodyHeard). */
  const releasedChildCloses = new Set<string>();
  /** Every run's history, replayed from scratch after the file's tests (see afterAll). */
  const recorded: { test: string; workflowId: string; history: History }[] = [];
  let generation = 0;
  /** The pass of releaseLeft under way. */
  let releasing: Promise<void> = Promise.resolve();
  /** A lock given back was refused this test (see releaseLeft). */
  let countedTooMany = false;
  /** Fresh servers the file needed after its first (a held clock the lock count could not explain). */
  let freshServers = 0;

  const current = (): TestWorkflowEnvironment => {
    if (!rig) throw new Error('no test server: use the harness inside a test');
    return rig.env;
  };

  /** Each activity of the real worker, answered by the running test's mock (or the default). */
  const dispatch = Object.fromEntries(
    ACTIVITY_NAMES.map((name) => [
      name,
      (...args: never[]) => {
        const mock = mocks[name] ?? DEFAULT_MOCKS[name];
        if (!mock) throw ApplicationFailure.nonRetryable(`activity ${name} is not mocked in this test`, 'NotMocked');
        return mock(...args);
      },
    ]),
  );

  async function startRig(): Promise<Rig> {
    const env = await startServer();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle!,
      activities: dispatch,
      // A mock a failed test left waiting must not hold up the file's end.
      shutdownGraceTime: '1s',
      ...(options.replay === 'each-task' ? { maxCachedWorkflows: 0 } : {}),
    });
    const running = worker.run().catch((err: unknown) => {
      workerError = err instanceof Error ? err : new Error(String(err));
    });
    return { env, worker, running };
  }

  async function stopRig(): Promise<void> {
    const r = rig;
    rig = undefined;
    if (!r) return;
    if (r.worker.getState() === 'RUNNING') r.worker.shutdown();
    await r.running;
    await r.env.teardown();
  }

  beforeAll(async () => {
    // One after the other: the JVM must answer within 5 s, and webpack would compete for the CPU.
    bundle = await workflowBundle();
    rig = await startRig();
  });

  afterEach(async () => {
    generation += 1;
    mocks = {};
    started.length = 0;
    released.clear();
    releasedChildCloses.clear();
    closedHistories.clear();
    // A read `until` gave up on ends by its deadline: it must not outlive the test that sent it.
    await Promise.allSettled([...reads]);
  });

  afterAll(async () => {
    await stopRig();
    if (process.env.FLOWGUARD_TEST_LOG_LEVEL === 'debug')
      console.log(`fresh test servers after the first: ${freshServers}`);
  });

  // The worker caches its workflows (a task replays nothing): replaying every run's whole history once, here, finds
  // any non-determinism that replaying it at each task would, without a cost that grows with the square of its length.
  afterAll(async () => {
    if (!bundle || recorded.length === 0 || options.replay === 'each-task') return;
    const failures: string[] = [];
    const replays = Worker.runReplayHistories(
      { workflowBundle: bundle },
      recorded.map(({ workflowId, history }) => ({ workflowId, history })),
    );
    const testOf = new Map(recorded.map(({ test, workflowId }) => [workflowId, test]));
    for await (const { workflowId, runId, error } of replays) {
      if (error) failures.push(`${testOf.get(workflowId)}: ${workflowId} ${runId}: ${error.message}`);
    }
    expect(failures).toEqual([]);
  });

  async function withWorker<T>(activities: Mocks, body: (queue: string) => Promise<T>): Promise<T> {
    const e = current();
    checkWorker();
    mocks = activities;
    let result: T;
    let all: RunWithHistory[];
    try {
      result = await body(taskQueue);
    } finally {
      mocks = {};
      await endAll(e);
      all = await allRuns(e);
      // Also after a failed test: the next one starts on a clock that skips.
      await giveClockBack(e);
    }
    for (const { workflowId, runId, history } of all) {
      const failed = (history.events ?? []).filter((ev) => ev.workflowTaskFailedEventAttributes);
      expect({
        workflowId,
        runId,
        failedTasks: failed.map((ev) => ev.workflowTaskFailedEventAttributes?.failure?.message),
      }).toEqual({ workflowId, runId, failedTasks: [] });
      recorded.push({ test: expect.getState().currentTestName ?? '?', workflowId, history });
    }
    checkWorker();
    return result;
  }

  /** A worker that stopped on its own fails the test (and every later one). */
  function checkWorker(): void {
    if (workerError) throw workerError;
  }

  /** Ends the test's workflows and every workflow they started (a child may outlive its parent). */
  async function endAll(e: TestWorkflowEnvironment): Promise<void> {
    const terminate = (workflowId: string, runId?: string) =>
      e.client.workflow
        .getHandle(workflowId, runId)
        .terminate('test over')
        .catch(() => undefined);
    await Promise.all(started.map(({ workflowId }) => terminate(workflowId)));
    for (const run of await allRuns(e)) {
      const last = run.history.events?.[run.history.events.length - 1];
      if (!isCloseEvent(last) && (await statusOf(e, run)) === 'RUNNING') await terminate(run.workflowId, run.runId);
    }
  }

  /**
   * Every run of the test: the chains of the workflows it started, each run's children and each run's successor
   * (continue-as-new), with its history. A closed run's history is read once.
   */
  async function allRuns(e: TestWorkflowEnvironment): Promise<RunWithHistory[]> {
    const seen = new Map<string, RunWithHistory>();
    const queue: Run[] = [];
    for (const { workflowId } of started) {
      for (const runId of await runIds(e.client.workflow.getHandle(workflowId))) queue.push({ workflowId, runId });
    }
    while (queue.length > 0) {
      const run = queue.shift()!;
      if (seen.has(run.runId)) continue;
      const history = await historyOf(e, run);
      seen.set(run.runId, { ...run, history });
      for (const ev of history.events ?? []) {
        const child = ev.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
        if (child?.workflowId && child.runId) queue.push({ workflowId: child.workflowId, runId: child.runId });
        const next = ev.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
        if (next) queue.push({ workflowId: run.workflowId, runId: next });
      }
    }
    return [...seen.values()];
  }

  /** A run's history; a closed run's is read once (it no longer changes). */
  async function historyOf(e: TestWorkflowEnvironment, run: Run): Promise<History> {
    const cached = closedHistories.get(run.runId);
    if (cached) return cached;
    const history = await e.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    const events = history.events ?? [];
    if (isCloseEvent(events[events.length - 1])) closedHistories.set(run.runId, history);
    return history;
  }

  /**
   * Gives back the locks the test's closed runs left so far (see the module's comment). `unsure` when a closed run
   * may hold a lock the count cannot see (it stays uncounted, for the check after the test).
   */
  async function releaseLeft(e: TestWorkflowEnvironment): Promise<{ held: number; unsure: boolean }> {
    // One pass at a time: two overlapping passes (an `until` a failed test left running) could count a run twice.
    const pass = releasing.then(() => releasePass(e));
    releasing = pass.then(
      () => undefined,
      () => undefined,
    );
    return pass;
  }

  async function releasePass(e: TestWorkflowEnvironment): Promise<{ held: number; unsure: boolean }> {
    const all = await allRuns(e);
    let held = 0;
    let unsure = false;
    for (const run of all) {
      if (released.has(run.runId)) continue;
      const left = await locksLeft(e, run);
      if (left.unsure) {
        unsure ||= !left.open;
        continue;
      }
      released.add(run.runId);
      held += left.held;
    }
    held += childClosesNobodyHeard(all);
    for (let i = 0; i < held; i++) {
      // Refused when no lock at all is held. A count above the truth usually goes unseen here (the extra unlock takes
      // the server's own start-up lock, and a later sleep fails "Unbalanced lock and unlock calls"): refused or not,
      // only a fresh server puts it right.
      const given = await e.connection.testService!.unlockTimeSkipping({}).then(
        () => true,
        () => false,
      );
      if (!given) countedTooMany = true;
    }
    return { held, unsure: unsure || countedTooMany };
  }

  /**
   * Gives back the locks the test's closed runs left (see the module's comment), then probes the clock; a clock
   * still held moves the file to a fresh server.
   */
  async function giveClockBack(e: TestWorkflowEnvironment): Promise<void> {
    const { unsure } = await releaseLeft(e);
    if (!unsure && (await clockSkips(e))) return;
    if (process.env.FLOWGUARD_TEST_LOG_LEVEL === 'debug') {
      console.log(`fresh test server after ${expect.getState().currentTestName}: ${unsure ? 'unsure' : 'clock held'}`);
    }
    freshServers += 1;
    countedTooMany = false;
    await stopRig();
    rig = await startRig();
  }

  /** Whether the server's clock skips again: a long sleep of workflow time must return at once. */
  async function clockSkips(e: TestWorkflowEnvironment): Promise<boolean> {
    // The deadline ends the client's call; the server's sleep (and its unlock) lasts until its timer fires, which a
    // server about to be replaced never reaches.
    return e.connection
      .withDeadline(Date.now() + CLOCK_PROBE_DEADLINE_MS, () => e.sleep(CLOCK_PROBE_MS))
      .then(
        () => true,
        () => false,
      );
  }

  /**
   * The locks a closed run holds: each activity scheduled and never closed in its history that the server still
   * lists at its first attempt (an attempt out, not a back-off), a workflow task that never completed, and a child
   * start or an external signal it never heard the outcome of. `unsure` when the run is still open or holds an
   * activity whose lock the count cannot know.
   */
  async function locksLeft(e: TestWorkflowEnvironment, run: Run): Promise<LeftLocks> {
    let events = (await historyOf(e, run)).events ?? [];
    if (!isCloseEvent(events[events.length - 1])) {
      if ((await statusOf(e, run)) === 'RUNNING') return { held: 0, unsure: true, open: true };
      // Closed since its history was read: read it again. The test server can also close a run (continue-as-new in
      // a task that raced a buffered event) without writing that task's completion or the close into its history;
      // that task's lock is left.
      const history = await historyOf(e, run);
      closedHistories.set(run.runId, history);
      events = history.events ?? [];
    }
    const open = openTasks(events);
    let held = (open.workflowTask ? 1 : 0) + open.commands;
    let unsure = false;
    if (open.activities.size > 0) {
      const { pendingActivities } = await e.client.workflowService.describeWorkflowExecution({
        namespace: e.namespace ?? 'default',
        execution: run,
      });
      const attempts = new Map((pendingActivities ?? []).map((a) => [a.activityId ?? '', a.attempt ?? 1]));
      for (const activityId of open.activities.values()) {
        const attempt = attempts.get(activityId);
        if (attempt === 1) held += 1;
        else unsure = true;
      }
    }
    return { held, unsure, open: false };
  }

  /** One lock for each child run whose close its parent run, closed first, never recorded. */
  function childClosesNobodyHeard(all: RunWithHistory[]): number {
    const byRun = new Map(all.map((r) => [r.runId, r.history.events ?? []]));
    let held = 0;
    for (const [runId, events] of byRun) {
      if (releasedChildCloses.has(runId)) continue;
      const unheard = childCloseUnheard(runId, events, (id) => byRun.get(id));
      if (unheard === null) continue;
      releasedChildCloses.add(runId);
      if (unheard) held += 1;
    }
    return held;
  }

  async function statusOf(e: TestWorkflowEnvironment, run: Run): Promise<string> {
    return (await e.client.workflow.getHandle(run.workflowId, run.runId).describe()).status.name;
  }

  async function until<T>(read: () => Promise<T>, check: (v: T) => boolean, skipMs = 1000): Promise<T> {
    const e = current();
    const mine = generation;
    let last: T | typeof NOT_YET = NOT_YET;
    for (let i = 0; i < 300 && mine === generation; i++) {
      // The deadline ends the call itself too (see afterEach).
      const call = e.connection.withDeadline(Date.now() + READ_DEADLINE_MS, read);
      reads.add(call);
      void call.catch(() => undefined).finally(() => reads.delete(call));
      let timer: NodeJS.Timeout | undefined;
      const v = await Promise.race([
        call,
        new Promise<typeof NOT_YET>((r) => {
          timer = setTimeout(() => r(NOT_YET), READ_DEADLINE_MS);
        }),
      ])
        .catch((): typeof NOT_YET => NOT_YET)
        .finally(() => clearTimeout(timer));
      if (v !== NOT_YET) {
        last = v;
        if (check(v)) return v;
      }
      await releaseLeft(e);
      await e.sleep(skipMs);
    }
    // The last answer read says how far it got.
    const seen = last === NOT_YET ? 'no answer' : JSON.stringify(last)?.slice(0, 1500);
    throw new Error(`condition not reached; last: ${seen}`);
  }

  async function runs(handle: WorkflowHandle): Promise<number> {
    return (await runIds(handle)).length;
  }

  /** The workflow's runs, latest first, by each first event's continuedExecutionRunId; none when not started yet. */
  async function runIds(handle: WorkflowHandle): Promise<string[]> {
    const e = current();
    const ids: string[] = [];
    let runId: string | undefined = await handle.describe().then(
      (d) => d.runId,
      (err: unknown) => {
        // A child the test listed before its parent started it.
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      },
    );
    while (runId) {
      ids.push(runId);
      const history = await historyOf(e, { workflowId: handle.workflowId, runId });
      runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    }
    return ids;
  }

  async function clearOfTimers(handle: WorkflowHandle, marginMs = 2000): Promise<void> {
    const e = current();
    for (let i = 0; i < 10; i++) {
      const events = (await e.client.workflow.getHandle(handle.workflowId).fetchHistory()).events ?? [];
      const now = await e.currentTimeMs();
      const near = pendingTimerDueTimes(events).filter((due) => due - now <= marginMs);
      if (near.length === 0) return;
      await sleep(Math.max(0, Math.max(...near) - now) + marginMs / 2);
    }
    throw new Error(`${handle.workflowId}: a timer is always due within ${marginMs} ms`);
  }

  async function sleep(ms: number): Promise<void> {
    const e = current();
    await releaseLeft(e);
    await e.sleep(ms);
  }

  return {
    get env() {
      return current();
    },
    get bundle() {
      if (!bundle) throw new Error('no bundle yet: use the harness inside a test');
      return bundle;
    },
    started,
    withWorker,
    until,
    runs,
    runIds,
    clearOfTimers,
    sleep,
    releaseLeftLocks: async () => (await releaseLeft(current())).held,
  };
}
