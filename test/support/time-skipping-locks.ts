/**
 * What a closed run left holding the time-skipping test server's clock, read from its history (see
 * test/support/mocked-workflows.ts for why the harness gives these locks back). Pure: histories in, counts out.
 *
 * The locks follow the Java test server (TestWorkflowMutableStateImpl, 1.27): taken when an activity or workflow
 * task is scheduled, a child started, an external signal sent, or a child closes; given back by an `update` of the
 * run that took them (or of the parent, for a child's close), which a closed run refuses.
 */
import { tsToMs } from '@temporalio/common/lib/time';
import { type temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Whether a history event closes its run. */
export function isCloseEvent(ev: HistoryEvent | undefined): boolean {
  return Boolean(
    ev &&
    (ev.workflowExecutionCompletedEventAttributes ||
      ev.workflowExecutionFailedEventAttributes ||
      ev.workflowExecutionTimedOutEventAttributes ||
      ev.workflowExecutionCanceledEventAttributes ||
      ev.workflowExecutionTerminatedEventAttributes ||
      ev.workflowExecutionContinuedAsNewEventAttributes),
  );
}

export interface OpenTasks {
  /** Activities scheduled and never closed: activity id by scheduled event id. */
  readonly activities: ReadonlyMap<string, string>;
  /** Child starts and external signals never answered. */
  readonly commands: number;
  /** A workflow task scheduled and never completed, failed or timed out. */
  readonly workflowTask: boolean;
}

/** The tasks a run's history shows still out. */
export function openTasks(events: readonly HistoryEvent[]): OpenTasks {
  const activities = new Map<string, string>();
  const commands = new Set<string>();
  let workflowTask = false;
  for (const ev of events) {
    const id = String(ev.eventId);
    if (ev.activityTaskScheduledEventAttributes) {
      activities.set(id, ev.activityTaskScheduledEventAttributes.activityId ?? '');
    }
    const activityClosed =
      ev.activityTaskCompletedEventAttributes ??
      ev.activityTaskFailedEventAttributes ??
      ev.activityTaskTimedOutEventAttributes ??
      ev.activityTaskCanceledEventAttributes;
    if (activityClosed) activities.delete(String(activityClosed.scheduledEventId));
    if (ev.startChildWorkflowExecutionInitiatedEventAttributes) commands.add(id);
    if (ev.signalExternalWorkflowExecutionInitiatedEventAttributes) commands.add(id);
    const answered =
      ev.childWorkflowExecutionStartedEventAttributes ??
      ev.startChildWorkflowExecutionFailedEventAttributes ??
      ev.externalWorkflowExecutionSignaledEventAttributes ??
      ev.signalExternalWorkflowExecutionFailedEventAttributes;
    if (answered) commands.delete(String(answered.initiatedEventId));
    if (ev.workflowTaskScheduledEventAttributes) workflowTask = true;
    if (
      ev.workflowTaskCompletedEventAttributes ||
      ev.workflowTaskFailedEventAttributes ||
      ev.workflowTaskTimedOutEventAttributes
    ) {
      workflowTask = false;
    }
  }
  return { activities, commands: commands.size, workflowTask };
}

/**
 * Whether a child run's close left a lock: a child closing (completed, failed, cancelled, timed out; not terminated)
 * takes one that its parent run gives back when it records the close, which a parent run already closed
 * (continued-as-new, terminated) never does. Null while either run is open (or the child has no parent run).
 */
export function childCloseUnheard(
  childRunId: string,
  child: readonly HistoryEvent[],
  parentOf: (runId: string) => readonly HistoryEvent[] | undefined,
): boolean | null {
  const parentRunId = child[0]?.workflowExecutionStartedEventAttributes?.parentWorkflowExecution?.runId;
  const last = child[child.length - 1];
  const notifies =
    last?.workflowExecutionCompletedEventAttributes ||
    last?.workflowExecutionFailedEventAttributes ||
    last?.workflowExecutionCanceledEventAttributes ||
    last?.workflowExecutionTimedOutEventAttributes;
  if (!parentRunId || !notifies) return null;
  const parent = parentOf(parentRunId);
  if (!parent || !isCloseEvent(parent[parent.length - 1])) return null;
  // The test server leaves parentInitiatedEventId unset: the close event names the run that closed.
  return !parent.some((ev) => {
    const closed =
      ev.childWorkflowExecutionCompletedEventAttributes ??
      ev.childWorkflowExecutionFailedEventAttributes ??
      ev.childWorkflowExecutionCanceledEventAttributes ??
      ev.childWorkflowExecutionTimedOutEventAttributes;
    return closed?.workflowExecution?.runId === childRunId;
  });
}

/**
 * When each timer the run started and neither fired nor cancelled is due, in epoch ms (workflow time). A wake-up that
 * cancels one of these as it fires strands the run on the test server (temporalio/sdk-java#3088).
 */
export function pendingTimerDueTimes(events: readonly HistoryEvent[]): number[] {
  const due = new Map<string, number>();
  for (const ev of events) {
    const started = ev.timerStartedEventAttributes;
    if (started?.timerId) {
      due.set(started.timerId, tsToMs(ev.eventTime) + tsToMs(started.startToFireTimeout));
      continue;
    }
    const ended = ev.timerFiredEventAttributes ?? ev.timerCanceledEventAttributes;
    if (ended?.timerId) due.delete(ended.timerId);
  }
  return [...due.values()];
}
