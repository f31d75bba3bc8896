import path from 'node:path';
import { type BrokerRegistry } from '../activities/broker-activities';
import { createAlpacaBroker } from './alpaca/alpaca-broker';
import { type AlpacaConfig, alpacaConfigFromEnv } from './alpaca/config';
import { AlpacaTradeUpdatesStream } from './alpaca/stream';
import { type OrderState } from '../domain/orders/order-state';
import { ValidationError } from '../domain/validation';
import { ALPACA_STATUS_MAP } from './alpaca/status';
import { type Broker, BrokerName } from './broker';
import { PUSHES_ORDER_UPDATES, type OrderUpdateStreamFactory } from './order-updates';
import { type MarketDataFailure } from './paper/market-data-guard';
import { PaperBroker } from './paper/paper-broker';
import { type MarketPriceSource } from './paper/market-price-source';
import { createRobinhoodBroker } from './robinhood/robinhood-broker';
import { robinhoodConfigFromEnv } from './robinhood/config';
import { ROBINHOOD_STATE_MAP } from './robinhood/status';

/**
 * What flowguard knows about one broker, in the one list every other part derives from: the CLI's and the
 * health check's names and help, the worker's adapters, which brokers push order updates. Adding a broker is a
 * BrokerName (src/domain/orders/order-request.ts: the domain validates names) plus one entry here; the compiler
 * refuses a name without an entry.
 */
export interface BrokerDescriptor {
  readonly name: BrokerName;
  /** Variables that configure it (each adapter's fromEnv names the missing one); empty: needs none. */
  readonly envVars: readonly string[];
  /** It pushes order updates (fills) on a stream; the others are followed by polling alone (from order-updates.ts). */
  readonly hasUpdateStream: boolean;
  /** Its status words → flowguard's states; null when it speaks flowguard's states (paper). */
  readonly statusMap: Readonly<Record<string, OrderState>> | null;
  /**
   * The adapter from the environment, and where it talks to, for a one-off caller (`flowguard health`);
   * absent for paper, which runs inside the worker. Throws ValidationError naming a missing or bad variable.
   */
  readonly fromEnv?: (env: NodeJS.ProcessEnv, timeoutMs: number) => { readonly broker: Broker; readonly where: string };
}

export const BROKERS = {
  paper: { name: BrokerName.Paper, envVars: [], hasUpdateStream: PUSHES_ORDER_UPDATES.paper, statusMap: null },
  alpaca: {
    name: BrokerName.Alpaca,
    envVars: ['ALPACA_KEY_ID', 'ALPACA_SECRET_KEY'],
    hasUpdateStream: PUSHES_ORDER_UPDATES.alpaca,
    statusMap: ALPACA_STATUS_MAP,
    fromEnv: (env, timeoutMs) => {
      const config = alpacaConfigFromEnv(env);
      return {
        broker: createAlpacaBroker({ ...config, timeoutMs: config.timeoutMs ?? timeoutMs }),
        where: config.baseUrl,
      };
    },
  },
  robinhood: {
    name: BrokerName.Robinhood,
    envVars: ['ROBINHOOD_TOKEN', 'ROBINHOOD_ACCOUNT_NUMBER'],
    hasUpdateStream: PUSHES_ORDER_UPDATES.robinhood,
    statusMap: ROBINHOOD_STATE_MAP,
    fromEnv: (env, timeoutMs) => {
      const config = robinhoodConfigFromEnv(env);
      return {
        broker: createRobinhoodBroker({ ...config, timeoutMs: config.timeoutMs ?? timeoutMs }),
        where: config.baseUrl,
      };
    },
  },
} as const satisfies Record<BrokerName, BrokerDescriptor>;

/** Every broker name, in the list's order: paper, alpaca, robinhood. */
export const BROKER_NAMES: readonly BrokerName[] = Object.values(BROKERS).map((b) => b.name);

/** "paper, alpaca or robinhood": for help texts and messages. */
export const BROKER_NAMES_TEXT = `${BROKER_NAMES.slice(0, -1).join(', ')} or ${BROKER_NAMES.at(-1)!}`;

export function brokerDescriptor(name: BrokerName): BrokerDescriptor {
  return BROKERS[name];
}

/**
 * A broker name as a person types it (either case: `--broker Alpaca`), undefined meaning paper. Throws
 * ValidationError naming `field` and the brokers there are.
 */
export function parseBrokerName(value: string | undefined, field = 'broker'): BrokerName {
  const name = (value ?? BrokerName.Paper).trim().toLowerCase();
  const found = BROKER_NAMES.find((b) => b === name);
  if (found === undefined) throw new ValidationError([{ field, rule: `must be ${BROKER_NAMES_TEXT}` }]);
  return found;
}

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
  // The only broker with an update stream today is Alpaca; the descriptor says which do, the factory how.
  const streams: Partial<Record<BrokerName, () => OrderUpdateStreamFactory | null>> = {
    alpaca: () => {
      // An overridden Alpaca adapter without alpacaConfig has no stream: its origin is unknown.
      if (options.overrides?.alpaca && !options.alpacaConfig) return null;
      // Read when the relay starts, so a worker without Alpaca keys fails that activity with the missing name.
      const config = alpacaConfig();
      return (handlers) => new AlpacaTradeUpdatesStream({ config, ...handlers });
    },
  };
  return {
    orderUpdates(name): OrderUpdateStreamFactory | null {
      if (!BROKERS[name].hasUpdateStream) return null;
      const stream = streams[name];
      if (!stream) throw new Error(`broker ${name} is listed with an update stream but the registry builds none`);
      return stream();
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
