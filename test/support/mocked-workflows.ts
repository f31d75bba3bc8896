/**
 * The harness of the workflow tests with mocked activities (test/unit/workflows/*-mocked.test.ts): a fresh
 * time-skipping test server for each test, a worker per test on its own task queue, waits that skip workflow time.
 *
 * Why a server per test: Temporal's Java test server (1.27, and its main branch at the time of writing) holds a
 * time-skipping lock for every activity task from its scheduling to its completion, failure or cancellation, and
 * never releases it when the workflow run closes first (terminated, continued-as-new or completed with the
 * activity still out; see TestWorkflowMutableStateImpl: `lockTimer("processScheduleActivityTask")` has no
 * counterpart on close). From then on that server's clock only moves in real time: a 15-minute back-off takes 15
 * minutes. A test that ends its workflows with an activity out (terminate at the end of `withWorker`) would leave
 * the next test that clock. A fresh server costs a JVM start, which is taken off the critical path: the next
 * test's server starts while the current test runs.
 *
 * Inside a test, a run that continues-as-new with an activity out (a monitor's fire-and-forget notification
 * scheduled in the same workflow task) leaks the same lock: `releaseAbandonedActivities` gives it back.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type WorkflowHandle } from '@temporalio/client';
import { type History } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { createOrderActivities, type PrepareOrderInput } from '../../src/activities/order-activities';
import { SearchAttributes } from '../../src/shared/contracts';
import { createTimeSkippingEnv } from './time-skipping';

export type Mocks = Record<string, (...args: never[]) => Promise<unknown>>;

const READ_DEADLINE_MS = 3000;
const orderActivities = createOrderActivities();
const NOT_YET = Symbol('not yet');

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
  /** This test's server. */
  readonly env: TestWorkflowEnvironment;
  readonly bundle: WorkflowBundle;
  /** Workflows the test started (push each): ended after the test body, and checked for failed workflow tasks. */
  readonly started: { workflowId: string }[];
  /**
   * Runs `body` with a worker on a fresh task queue serving the mocked activities; checks that no workflow task of
   * any run failed and keeps every run's history for the replay after the file's tests.
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
  /**
   * Gives back the time-skipping locks the server keeps for activities left out by the workflow's closed runs
   * (see the module's comment); each run is counted once. Counts every activity a closed run scheduled and never
   * saw close: use it where those never failed an attempt (one waiting out its retry back-off holds no lock).
   */
  readonly releaseAbandonedActivities: (handle: WorkflowHandle) => Promise<number>;
}

export interface MockedWorkflowsOptions {
  /**
   * How non-determinism is looked for. 'after-file' (default): workers cache their workflows and every run's whole
   * history is replayed once after the file's tests. 'each-task': workers keep no workflow in their cache, so each
   * workflow task replays the whole history (a cost that grows with the square of its length), and there is no
   * replay after the file. The replay after the file is what caught the desk continuing as new inside a rejected
   * update's speculative task (src/workflows/continue-as-new-gate.ts): about one run in two of its continue-as-new
   * test failed it, while with 'each-task' the same error only failed a query task and left no event.
   */
  readonly replay?: 'after-file' | 'each-task';
}

/** Registers the jest hooks of a mocked-activity test file and returns its harness. */
export function useMockedWorkflows(options: MockedWorkflowsOptions = {}): MockedWorkflows {
  let env: TestWorkflowEnvironment | undefined;
  let standby: Promise<TestWorkflowEnvironment> | undefined;
  let bundle: WorkflowBundle | undefined;
  const started: { workflowId: string }[] = [];
  const reads = new Set<Promise<unknown>>();
  const released = new Set<string>();
  /** Every run's history, replayed from scratch after the file's tests (see afterAll). */
  const recorded: { test: string; workflowId: string; history: History }[] = [];
  let generation = 0;

  const current = (): TestWorkflowEnvironment => {
    if (!env) throw new Error('no test server: use the harness inside a test');
    return env;
  };
  /** A start that failed in the background (the JVM missed its start-up bound) is tried again now. */
  const next = (): Promise<TestWorkflowEnvironment> => {
    const ready = standby ? standby.catch(() => startServer()) : startServer();
    standby = undefined;
    return ready;
  };

  beforeAll(async () => {
    // One after the other: the JVM must answer within 5 s, and webpack would compete for the CPU.
    bundle = await workflowBundle();
    standby = startServer();
    standby.catch(() => undefined);
  });

  beforeEach(async () => {
    env = await next();
    standby = startServer();
    standby.catch(() => undefined);
    started.length = 0;
    released.clear();
  });

  afterEach(async () => {
    generation += 1;
    // A read `until` gave up on ends by its deadline: it must not outlive the server it was sent to.
    await Promise.allSettled([...reads]);
    await env?.teardown();
    env = undefined;
  });

  afterAll(async () => {
    await (await standby?.catch(() => undefined))?.teardown();
  });

  // Workers cache their workflows (a task replays nothing): replaying every run's whole history once, here, finds
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

  async function withWorker<T>(activities: Mocks, body: (taskQueue: string) => Promise<T>): Promise<T> {
    const e = current();
    const taskQueue = `mocked-${randomUUID().slice(0, 8)}`;
    const worker = await Worker.create({
      connection: e.nativeConnection,
      taskQueue,
      workflowBundle: bundle!,
      // Monitors and the desk send notifications (fire and forget): delivered nowhere, as with none configured.
      activities: {
        sendNotification: async ({ event }: { event: { key: string } }) => ({
          key: event.key,
          delivered: [],
          filtered: [],
        }),
        // Monitors read the exchange calendar at session checks: none, as without a Polygon key.
        marketCalendar: async () => null,
        // Monitors fetch the intraday volume curve once (patched monitor-volume-profile): none here.
        fetchVolumeProfile: async () => null,
        // Pricing is pure: the real activity (monitors price their protective exit with it).
        prepareOrder: (input: PrepareOrderInput) => orderActivities.prepareOrder(input),
        ...activities,
      },
      ...(options.replay === 'each-task' ? { maxCachedWorkflows: 0 } : {}),
    });
    const result = await worker.runUntil(async () => {
      try {
        return await body(taskQueue);
      } finally {
        // Desks and monitors run until stopped: end them before the worker stops.
        await Promise.all(
          started.map(({ workflowId }) =>
            e.client.workflow
              .getHandle(workflowId)
              .terminate('test over')
              .catch(() => undefined),
          ),
        );
      }
    });
    for (const { workflowId } of started) {
      for (const runId of await runIds(e.client.workflow.getHandle(workflowId))) {
        const history = await e.client.workflow.getHandle(workflowId, runId).fetchHistory();
        const failed = (history.events ?? []).filter((ev) => ev.workflowTaskFailedEventAttributes);
        expect({
          workflowId,
          runId,
          failedTasks: failed.map((ev) => ev.workflowTaskFailedEventAttributes?.failure?.message),
        }).toEqual({ workflowId, runId, failedTasks: [] });
        recorded.push({ test: expect.getState().currentTestName ?? '?', workflowId, history });
      }
    }
    return result;
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
      const v = await Promise.race([
        call,
        new Promise<typeof NOT_YET>((r) => setTimeout(() => r(NOT_YET), READ_DEADLINE_MS)),
      ]).catch((): typeof NOT_YET => NOT_YET);
      if (v !== NOT_YET) {
        last = v;
        if (check(v)) return v;
      }
      await e.sleep(skipMs);
    }
    // The last answer read says how far it got.
    const seen = last === NOT_YET ? 'no answer' : JSON.stringify(last)?.slice(0, 1500);
    throw new Error(`condition not reached; last: ${seen}`);
  }

  async function runs(handle: WorkflowHandle): Promise<number> {
    return (await runIds(handle)).length;
  }

  /** The workflow's runs, latest first, by each first event's continuedExecutionRunId. */
  async function runIds(handle: WorkflowHandle): Promise<string[]> {
    const e = current();
    const ids: string[] = [];
    let runId: string | undefined = (await handle.describe()).runId;
    while (runId) {
      ids.push(runId);
      const history = await e.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
      runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    }
    return ids;
  }

  async function releaseAbandonedActivities(handle: WorkflowHandle): Promise<number> {
    const e = current();
    let n = 0;
    const [latest, ...closed] = await runIds(handle);
    const description = await handle.describe();
    const ended = description.status.name === 'RUNNING' ? closed : [latest!, ...closed];
    for (const runId of ended.filter((id) => !released.has(id))) {
      released.add(runId);
      const events = (await e.client.workflow.getHandle(handle.workflowId, runId).fetchHistory()).events ?? [];
      const open = new Set<string>();
      for (const ev of events) {
        if (ev.activityTaskScheduledEventAttributes) open.add(String(ev.eventId));
        const closedBy =
          ev.activityTaskCompletedEventAttributes ??
          ev.activityTaskFailedEventAttributes ??
          ev.activityTaskTimedOutEventAttributes ??
          ev.activityTaskCanceledEventAttributes;
        if (closedBy) open.delete(String(closedBy.scheduledEventId));
      }
      for (let i = 0; i < open.size; i++) await e.connection.testService!.unlockTimeSkipping({});
      n += open.size;
    }
    return n;
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
    releaseAbandonedActivities,
  };
}
