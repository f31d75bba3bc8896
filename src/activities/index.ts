import { createBrokerActivities, type BrokerActivityDeps } from './broker-activities';
import { createBrokerEventActivities } from './broker-events-activity';
import { createHealthActivities, type HealthDeps } from './health';
import { createMarketDataActivities, type MarketDataDeps } from './market-data-activities';
import { createNotificationActivities, type NotificationDeps } from './notification-activities';
import { createOrderActivities } from './order-activities';
import { createPositionsActivities } from './positions-activities';
import { type FlowguardMetrics, unscrapedMetrics } from '../observability/flowguard-metrics';

export type ActivityDeps = HealthDeps &
  BrokerActivityDeps &
  MarketDataDeps &
  NotificationDeps & {
    /** flowguard_* counters; default: a registry nobody scrapes (tests, tools). */
    readonly metrics?: FlowguardMetrics;
  };

/** Every activity the flowguard worker registers, built from its dependencies (no globals). */
export function createActivities(input: ActivityDeps) {
  const deps = { ...input, metrics: input.metrics ?? unscrapedMetrics() };
  return {
    ...createHealthActivities(deps),
    ...createBrokerActivities(deps),
    ...createBrokerEventActivities(deps),
    ...createMarketDataActivities(deps),
    ...createPositionsActivities(deps),
    ...createNotificationActivities(deps),
    ...createOrderActivities(),
  };
}

export type Activities = ReturnType<typeof createActivities>;
