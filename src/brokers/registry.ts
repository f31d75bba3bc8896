import path from 'node:path';
import { type BrokerRegistry } from '../activities/broker-activities';
import { createAlpacaBroker } from './alpaca/alpaca-broker';
import { type AlpacaConfig, alpacaConfigFromEnv } from './alpaca/config';
import { AlpacaTradeUpdatesStream } from './alpaca/stream';
import { type Broker, type BrokerName } from './broker';
import { type OrderUpdateStreamFactory } from './order-updates';
import { type MarketDataFailure } from './paper/market-data-guard';
import { PaperBroker } from './paper/paper-broker';
import { type MarketPriceSource } from './paper/market-price-source';
import { createRobinhoodBroker } from './robinhood/robinhood-broker';
import { robinhoodConfigFromEnv } from './robinhood/config';

export interface BrokerRegistryOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Directory for the paper broker's state file (survives worker restarts). */
  readonly dataDir?: string;
  /** What paper orders fill against; absent: nothing, orders rest until cancelled (no keys needed). */
  readonly marketPrices?: MarketPriceSource;
  /** Told of each market-data failure of the paper broker (its orders go on; fills are deferred). */
  readonly onPaperMarketDataFailure?: (failure: MarketDataFailure) => void;
  /** Pre-built adapters (tests, stand-ins) that take precedence over the environment. */
  readonly overrides?: Partial<Record<BrokerName, Broker>>;
  /**
   * Alpaca settings instead of the environment's, for the adapter (unless overridden) and the trade_updates
   * stream. An overridden Alpaca adapter without this has no stream: its origin is unknown.
   */
  readonly alpacaConfig?: AlpacaConfig;
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
        ...(options.onPaperMarketDataFailure ? { onMarketDataFailure: options.onPaperMarketDataFailure } : {}),
      }),
    alpaca: () => createAlpacaBroker(alpacaConfig()),
    robinhood: () => createRobinhoodBroker(robinhoodConfigFromEnv(env)),
  };
  function alpacaConfig(): AlpacaConfig {
    return options.alpacaConfig ?? alpacaConfigFromEnv(env);
  }
  return {
    orderUpdates(name): OrderUpdateStreamFactory | null {
      if (name !== 'alpaca' || (options.overrides?.alpaca && !options.alpacaConfig)) return null;
      // Read when the relay starts, so a worker without Alpaca keys fails that activity with the missing name.
      const config = alpacaConfig();
      return (handlers) => new AlpacaTradeUpdatesStream({ config, ...handlers });
    },
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
