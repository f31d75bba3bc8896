/**
 * The Temporal contract shared by worker, client and workflows: task queue, workflow ids and
 * search attributes are stated once here. Workflows may import this file, so it stays pure.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const TASK_QUEUE = 'flowguard';

/** The signal a market-data stream activity sends its position monitor (named once for both sides). */
export const MARKET_UPDATE_SIGNAL = 'marketUpdate';

export const WorkflowIds = {
  health: (probeId: string) => `health:${probeId}`,
  order: (clientOrderId: string) => `order:${clientOrderId}`,
  position: (positionId: string) => `position:${positionId}`,
  /** One desk per broker account; `account` is an operator-chosen label (FLOWGUARD_ACCOUNT, default main). */
  desk: (broker: string, account: string) => `desk:${broker}:${account}`,
  /** One positions watch per broker account (same account label as the desk). */
  positions: (broker: string, account: string) => `positions:${broker}:${account}`,
  /** The positions watch of the account a desk (`desk:<broker>:<account>`) serves. */
  positionsOfDesk: (deskWorkflowId: string) => deskWorkflowId.replace(/^desk:/, 'positions:'),
} as const;

export const SearchAttributes = {
  Symbol: defineSearchAttributeKey('Symbol', SearchAttributeType.KEYWORD),
  PositionId: defineSearchAttributeKey('PositionId', SearchAttributeType.KEYWORD),
  MonitorState: defineSearchAttributeKey('MonitorState', SearchAttributeType.KEYWORD),
  AlertCount: defineSearchAttributeKey('AlertCount', SearchAttributeType.INT),
  LastAlertSeverity: defineSearchAttributeKey('LastAlertSeverity', SearchAttributeType.KEYWORD),
  ExitSignal: defineSearchAttributeKey('ExitSignal', SearchAttributeType.BOOL),
  OrderSide: defineSearchAttributeKey('OrderSide', SearchAttributeType.KEYWORD),
  OrderState: defineSearchAttributeKey('OrderState', SearchAttributeType.KEYWORD),
  ClientOrderId: defineSearchAttributeKey('ClientOrderId', SearchAttributeType.KEYWORD),
  BrokerOrderId: defineSearchAttributeKey('BrokerOrderId', SearchAttributeType.KEYWORD),
  /** `<broker>:<account>` on a positions watch and on every monitor it started. */
  BrokerAccount: defineSearchAttributeKey('BrokerAccount', SearchAttributeType.KEYWORD),
  /** Positions a watch has a running monitor for. */
  WatchedPositions: defineSearchAttributeKey('WatchedPositions', SearchAttributeType.INT),
} as const;

/** `Name=Type` pairs in the form `temporal server start-dev --search-attribute` takes. */
export const SEARCH_ATTRIBUTE_FLAGS: readonly string[] = Object.values(SearchAttributes).map(
  (key) => `${key.name}=${cliTypeName(key.type)}`,
);

function cliTypeName(type: SearchAttributeType): string {
  switch (type) {
    case SearchAttributeType.KEYWORD:
      return 'Keyword';
    case SearchAttributeType.INT:
      return 'Int';
    case SearchAttributeType.BOOL:
      return 'Bool';
    case SearchAttributeType.DOUBLE:
      return 'Double';
    case SearchAttributeType.TEXT:
      return 'Text';
    case SearchAttributeType.DATETIME:
      return 'Datetime';
    case SearchAttributeType.KEYWORD_LIST:
      return 'KeywordList';
  }
}
