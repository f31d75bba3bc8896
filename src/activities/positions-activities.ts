import { type BrokerName, type BrokerPosition } from '../brokers/broker';
import { ApplicationFailure } from '@temporalio/activity';
import { type BrokerActivityDeps } from './broker-activities';
import { toActivityFailure } from './failures';
import { heartbeatWhileRunning } from './heartbeat';

export interface ListPositionsInput {
  readonly broker: BrokerName;
}

/** The positions watch's read of the broker (Alpaca GET /v2/positions, Robinhood /positions/?nonzero=true, paper's store). */
export function createPositionsActivities(deps: Pick<BrokerActivityDeps, 'brokers'>) {
  return {
    /**
     * Every open position on the broker account, longs and shorts, quantities as signed decimal strings. Broker
     * failures arrive as their BrokerError types (BrokerUnauthorized is not retried); an adapter without a
     * positions endpoint is a non-retryable PositionsUnsupported naming the broker.
     */
    async listBrokerPositions({ broker }: ListPositionsInput): Promise<BrokerPosition[]> {
      const stop = heartbeatWhileRunning();
      try {
        const adapter = deps.brokers.get(broker);
        if (!adapter.listPositions) {
          throw ApplicationFailure.create({
            message: `${broker}: this broker adapter cannot list positions`,
            type: 'PositionsUnsupported',
            nonRetryable: true,
          });
        }
        return (await adapter.listPositions()).map((p) => ({
          symbol: p.symbol,
          quantity: p.quantity,
          averageEntryPrice: p.averageEntryPrice,
        }));
      } catch (err) {
        throw toActivityFailure(err);
      } finally {
        stop();
      }
    },
  };
}
