import { Context } from '@temporalio/activity';

/** How often an activity that waits on the network tells the server its worker is alive. */
export const HEARTBEAT_INTERVAL_MS = 1000;

/**
 * Heartbeats every HEARTBEAT_INTERVAL_MS until stopped, so the server retries an activity whose worker died
 * within the caller's heartbeat timeout instead of its start-to-close timeout. A timer rather than a beat per
 * step, because one step (a page behind the rate limiter, a broker that answers slowly) can legitimately wait
 * longer than the timeout while the worker is fine. A call that returns within the interval sends nothing.
 */
export function heartbeatWhileRunning(details?: () => unknown): () => void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return () => undefined; // called outside an activity (tests, scripts): nothing to tell
  }
  // Details, when given, are the progress a retried attempt resumes from (ctx.info.heartbeatDetails).
  const timer = setInterval(() => ctx.heartbeat(details?.()), HEARTBEAT_INTERVAL_MS);
  return () => clearInterval(timer);
}
