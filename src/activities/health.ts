export interface HealthDeps {
  readonly workerIdentity: string;
  readonly now: () => Date;
}

export interface WorkerPing {
  readonly workerIdentity: string;
  readonly workerTime: string;
  readonly nodeVersion: string;
}

export function createHealthActivities(deps: HealthDeps) {
  return {
    async ping(): Promise<WorkerPing> {
      return {
        workerIdentity: deps.workerIdentity,
        workerTime: deps.now().toISOString(),
        nodeVersion: process.version,
      };
    },
  };
}
