/**
 * The position monitor's life cycle as one exhaustive state × event table, in the style of the order machine
 * (domain/orders/order-machine.ts). The compiler checks that every state answers every event.
 *
 * The table states what monitors have always done, including two rules that look odd but are kept so that
 * running monitors replay (each state change is a search-attribute upsert in the workflow's history):
 * - a stream (re)start sets `backfilling`/`monitoring` from any state, `exit_failed` included;
 * - a data failure or a session end after `exited` still shows, until the run ends (`exited` is then kept).
 */

export const MonitorState = {
  Starting: 'starting',
  Backfilling: 'backfilling',
  Monitoring: 'monitoring',
  OutsideSession: 'outside_session',
  Unauthorized: 'unauthorized',
  DataError: 'data_error',
  Exiting: 'exiting',
  Exited: 'exited',
  ExitFailed: 'exit_failed',
  Stopped: 'stopped',
  Closed: 'closed',
} as const;
export type MonitorState = (typeof MonitorState)[keyof typeof MonitorState];

export const MonitorEvent = {
  /** No configured trading session is open now. */
  SessionClosed: 'session_closed',
  /** A poll starts without cursors (first poll, or after a config change reset them): the baseline is rebuilt. */
  BackfillStarted: 'backfill_started',
  /** A stream activity started before the live edge. */
  StreamBackfilling: 'stream_backfilling',
  /** A stream activity started at the live edge. */
  StreamLive: 'stream_live',
  /** The running stream reported it reached the live edge. */
  StreamCaughtUp: 'stream_caught_up',
  /** A poll returned short of the live edge. */
  PollBackfilling: 'poll_backfilling',
  /** A poll returned at the live edge. */
  PollLive: 'poll_live',
  /** Polygon refused the API key. */
  Unauthorized: 'unauthorized',
  /** A market-data activity failed for another reason. */
  DataFailed: 'data_failed',
  /** The protective sell went to the desk. */
  ExitPlaced: 'exit_placed',
  /** The protective sell could not be placed, or ended without filling. */
  ExitFailed: 'exit_failed',
  /** The protective sell filled. */
  ExitFilled: 'exit_filled',
  /** The run ends: stopped by an operator. */
  Stopped: 'stopped',
  /** The run ends: the position went to zero. */
  PositionClosed: 'position_closed',
} as const;
export type MonitorEvent = (typeof MonitorEvent)[keyof typeof MonitorEvent];
export const MONITOR_EVENTS: readonly MonitorEvent[] = Object.values(MonitorEvent);

/** A target state, or `stay`: the event changes nothing in this state. */
export type MonitorTransition = MonitorState | 'stay';
export type MonitorTransitionTable = {
  readonly [S in MonitorState]: { readonly [E in MonitorEvent]: MonitorTransition };
};

const S = MonitorState;

/** Events that move every state the same way (the rows below differ only in the remaining ones). */
const COMMON = {
  session_closed: S.OutsideSession,
  backfill_started: S.Backfilling,
  stream_backfilling: S.Backfilling,
  stream_live: S.Monitoring,
  unauthorized: S.Unauthorized,
  data_failed: S.DataError,
  exit_placed: S.Exiting,
  exit_failed: S.ExitFailed,
  exit_filled: S.Exited,
  stopped: S.Stopped,
  position_closed: S.Closed,
} as const;

/** Waiting for data to flow (again): a poll result decides between backfilling and monitoring. */
const RECOVERING = {
  ...COMMON,
  stream_caught_up: 'stay',
  poll_backfilling: S.Backfilling,
  poll_live: S.Monitoring,
} as const;
/** Data flows, or the exit owns the state: a poll result does not move it. */
const SETTLED = { ...COMMON, stream_caught_up: 'stay', poll_backfilling: 'stay', poll_live: 'stay' } as const;

export const MONITOR_TRANSITIONS: MonitorTransitionTable = {
  starting: RECOVERING,
  backfilling: { ...RECOVERING, stream_caught_up: S.Monitoring },
  monitoring: SETTLED,
  outside_session: RECOVERING,
  unauthorized: RECOVERING,
  data_error: RECOVERING,
  exiting: SETTLED,
  exited: { ...SETTLED, stopped: 'stay', position_closed: 'stay' },
  exit_failed: SETTLED,
  // Final: the run returns right after entering them.
  stopped: { ...SETTLED, stopped: 'stay' },
  closed: { ...SETTLED, position_closed: 'stay' },
};

/** The state after `event`, or null when it stays. */
export function nextMonitorState(state: MonitorState, event: MonitorEvent): MonitorState | null {
  const to = MONITOR_TRANSITIONS[state][event];
  return to === 'stay' || to === state ? null : to;
}
