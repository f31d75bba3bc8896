import { defineSignal } from '@temporalio/workflow';
import { type OrderTerminalNotice } from '../domain/desk/desk-book';

export type { OrderTerminalNotice } from '../domain/desk/desk-book';

/**
 * What an order workflow tells whoever asked for it (the desk, a position monitor) when it reaches a terminal
 * state — or when the desk refused to start it. Delivered by workflow id, so it reaches the requester's
 * current run even after it continued-as-new.
 */
export const orderTerminalSignal = defineSignal<[OrderTerminalNotice]>('orderTerminal');
