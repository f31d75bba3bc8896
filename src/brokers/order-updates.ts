/**
 * The neutral contract of a broker's order-update stream (Alpaca trade_updates). Workflow code imports the
 * constant below, so this file holds types and plain data only.
 */
import type { BrokerExecution, BrokerName, BrokerOrderSnapshot } from './broker';

/**
 * Whether each broker pushes order updates (the others are followed by polling alone). The one place this is
 * stated: the broker list (src/brokers/registry.ts) reads its `hasUpdateStream` from here, and the desk workflow,
 * which cannot import the list (its adapters use node:http), reads it directly. A BrokerName without an entry does
 * not compile.
 */
export const PUSHES_ORDER_UPDATES = {
  paper: false,
  alpaca: true,
  robinhood: false,
} as const satisfies Record<BrokerName, boolean>;

export function brokerHasOrderUpdates(broker: BrokerName): boolean {
  return PUSHES_ORDER_UPDATES[broker] === true;
}

export interface OrderUpdate {
  /** The vendor's event name (new, fill, partial_fill, canceled, ...). */
  readonly event: string;
  /** The order after the event, mapped by the vendor's mapper. */
  readonly order: BrokerOrderSnapshot;
  /** The execution a fill / partial fill reports, else null. */
  readonly execution: BrokerExecution | null;
}

export interface OrderUpdateHandlers {
  readonly onUpdate: (update: OrderUpdate) => void | Promise<void>;
  /** After each re-established subscription (not the first): updates during the gap are lost for good. */
  readonly onReconnect: () => void | Promise<void>;
  /** Malformed messages, handler failures, lost connections and refused authentication; the stream goes on. */
  readonly onError: (err: Error) => void;
  /** Silence (no message, no pong to the stream's ping) after which the link is dropped and reconnected. */
  readonly livenessTimeoutMs?: number;
  /** The link was dropped by that liveness check; a reconnect and onReconnect follow. */
  readonly onLivenessDrop?: (info: { readonly silentMs: number }) => void;
}

export interface OrderUpdateStream {
  /** Resolves once subscribed; rejects when the first connection or its authentication fails. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export type OrderUpdateStreamFactory = (handlers: OrderUpdateHandlers) => OrderUpdateStream;
