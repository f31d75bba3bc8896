import { workflowInfo } from '@temporalio/workflow';

/**
 * Whether a run should continue-as-new, as seen from recorded work only.
 *
 * `workflowInfo().historyLength` and `continueAsNewSuggested` change with every workflow task, including the
 * speculative one in which a validator rejects an update. That task leaves no event unless the workflow answers
 * it with a command: a condition that reads them can wake there and continue-as-new (or cancel an activity), and
 * a replay, which never sees the rejected update, has no activation in which to do the same. The run's next
 * replay then fails with "No command scheduled for event WorkflowExecutionContinuedAsNew" (seen in the desk's
 * mocked continue-as-new test about one run in two). So a condition reads `due`, which changes only when
 * `observe()` is called from a handler that ran (signals, accepted updates: recorded, so replayed alike) or from
 * code that resumed after an activity, timer or child (recorded too).
 */
export class ContinueAsNewGate {
  private seen = false;

  /** `afterEvents`: a run's own budget of history events (undefined: only the server's suggestion counts). */
  constructor(private readonly afterEvents: number | undefined) {}

  /** Whether the server suggests it or the run reached its budget right now; call only from recorded work. */
  observe(): boolean {
    const info = workflowInfo();
    if (info.continueAsNewSuggested || (this.afterEvents !== undefined && info.historyLength >= this.afterEvents)) {
      this.seen = true;
    }
    return this.seen;
  }

  /** What the last observe() found: safe to read in a condition. */
  get due(): boolean {
    return this.seen;
  }
}
