import { createBrokerActivities, type BrokerActivityDeps } from './broker-activities';
import { createHealthActivities, type HealthDeps } from './health';

export type ActivityDeps = HealthDeps & BrokerActivityDeps;

/** Every activity the flowguard worker registers, built from its dependencies (no globals). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createHealthActivities(deps),
    ...createBrokerActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
