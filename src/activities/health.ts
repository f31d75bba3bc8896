import { type BrokerName } from '../brokers/broker';
import { type PaperBrokerHealth, PaperBroker } from '../brokers/paper/paper-broker';
import { errorMessage } from '../shared/error-message';

export interface HealthDeps {
  readonly workerIdentity: string;
  readonly now: () => Date;
  /** The worker's brokers: paper runs inside the worker, so only the worker can say how it is. */
  readonly brokers?: { get(name: BrokerName): unknown };
}

/** Paper as the worker sees it; `error` when it could not be asked (not a paper broker, or it threw). */
export type WorkerPaperHealth = PaperBrokerHealth | { readonly error: string };

export interface WorkerPing {
  readonly workerIdentity: string;
  readonly workerTime: string;
  readonly nodeVersion: string;
  /** Absent when the worker has no broker registry (a tool, a test). */
  readonly paper?: WorkerPaperHealth;
}

/** Well inside the ping's 5 s start-to-close: a stuck disk must show as a paper fault, not a missing worker. */
const PAPER_HEALTH_TIMEOUT_MS = 2000;

export function createHealthActivities(deps: HealthDeps) {
  return {
    async ping(): Promise<WorkerPing> {
      const paper = deps.brokers ? await paperHealth(deps.brokers) : undefined;
      return {
        workerIdentity: deps.workerIdentity,
        workerTime: deps.now().toISOString(),
        nodeVersion: process.version,
        ...(paper ? { paper } : {}),
      };
    },
  };
}

async function paperHealth(brokers: { get(name: BrokerName): unknown }): Promise<WorkerPaperHealth> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const broker = brokers.get('paper');
    if (!(broker instanceof PaperBroker)) return { error: 'the worker runs a paper broker that reports no health' };
    const timeout = new Promise<WorkerPaperHealth>((resolve) => {
      timer = setTimeout(
        () => resolve({ error: `its store did not answer within ${PAPER_HEALTH_TIMEOUT_MS} ms` }),
        PAPER_HEALTH_TIMEOUT_MS,
      );
    });
    return await Promise.race([broker.health(), timeout]);
  } catch (err) {
    return { error: errorMessage(err) };
  } finally {
    clearTimeout(timer);
  }
}
