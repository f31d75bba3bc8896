import { defineSignal } from '@temporalio/workflow';
import { type OrderTerminalNotice } from '../domain/desk/desk-book';

export type { OrderTerminalNotice } from '../domain/desk/desk-book';

/**
 * What an order workflow tells whoever asked for it (the desk, a position monitor) when it reaches a terminal
 * state — or when the desk refused to start it. Delivered by workflow id, so it reaches the requester's
 * current run even after it continued-as-new.
 */
export const orderTerminalSignal = defineSignal<[OrderTerminalNotice]>('orderTerminal');

/**
 * A fill (or anything else) changed a position: the account's positions watch (workflows/positions.ts) reads the
 * broker now instead of at its next reconcile. `symbol` and `reason` only label the sync. Defined here, with the
 * other messages between workflows, so the desk can send it without importing the watch.
 */
export const positionsChangedSignal = defineSignal<
  [
    {
      readonly symbol?: string;
      readonly reason?: string;
      /**
       * `order place --protect`: the mode ('alert' | 'auto-exit') of the monitor the watch starts for `symbol` when
       * the position appears, instead of the watch's own mode.
       */
      readonly mode?: 'alert' | 'auto-exit';
    },
  ]
>('positionsChanged');
