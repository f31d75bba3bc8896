import path from 'node:path';
import { type BrokerRegistry } from '../activities/broker-activities';
import { createAlpacaBroker } from './alpaca/alpaca-broker';
import { alpacaConfigFromEnv } from './alpaca/config';
import { type Broker, type BrokerName } from './broker';
import { PaperBroker } from './paper/paper-broker';
import { type MarketPriceSource } from './paper/market-price-source';
import { createRobinhoodBroker } from './robinhood/robinhood-broker';
import { robinhoodConfigFromEnv } from './robinhood/config';

export interface BrokerRegistryOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Directory for the paper broker's state file (survives worker restarts). */
  readonly dataDir?: string;
  readonly marketPrices?: MarketPriceSource;
  /** Pre-built adapters (tests, stand-ins) that take precedence over the environment. */
  readonly overrides?: Partial<Record<BrokerName, Broker>>;
}

/**
 * Builds each adapter on first use from the environment, so a worker without Alpaca keys still serves
 * paper orders and an Alpaca order fails with a message naming the missing variable.
 */
export function createBrokerRegistry(options: BrokerRegistryOptions = {}): BrokerRegistry {
  const env = options.env ?? process.env;
  const built = new Map<BrokerName, Broker>(Object.entries(options.overrides ?? {}) as [BrokerName, Broker][]);
  const factories: Record<BrokerName, () => Broker> = {
    paper: () =>
      new PaperBroker({
        store: { path: path.join(options.dataDir ?? '.data', 'paper-broker.json') },
        ...(options.marketPrices ? { marketPrices: options.marketPrices } : {}),
      }),
    alpaca: () => createAlpacaBroker(alpacaConfigFromEnv(env)),
    robinhood: () => createRobinhoodBroker(robinhoodConfigFromEnv(env)),
  };
  return {
    get(name) {
      let broker = built.get(name);
      if (!broker) {
        broker = factories[name]();
        built.set(name, broker);
      }
      return broker;
    },
  };
}
