/**
 * The broker layer's public surface (the worker builds adapters through ./registry). Credentials come
 * from the environment only: each adapter has its own fromEnv.
 */

export * from './broker';
export * from './submit-idempotently';
export { AlpacaBroker, classifyAlpacaError, createAlpacaBroker } from './alpaca/alpaca-broker';
export { type AlpacaConfig, alpacaConfigFromEnv, ALPACA_PAPER_BASE_URL, ALPACA_LIVE_BASE_URL } from './alpaca/config';
export { AlpacaTradeUpdatesStream, type AlpacaTradeUpdateEvent, type AlpacaTradeUpdatesOptions } from './alpaca/stream';
export { RobinhoodBroker, classifyRobinhoodError, createRobinhoodBroker } from './robinhood/robinhood-broker';
export { type RobinhoodConfig, robinhoodConfigFromEnv, ROBINHOOD_BASE_URL } from './robinhood/config';
export { refIdForClientOrderId } from './robinhood/ref-id';
export { PaperBroker, type PaperBrokerOptions, DEFAULT_PAPER_STATE_PATH } from './paper/paper-broker';
export { type MarketPriceSource, type PaperQuote, type PaperTrade, NO_MARKET_DATA } from './paper/market-price-source';
export { type PaperStore, JsonFilePaperStore, MemoryPaperStore } from './paper/store';
