/**
 * One broker list (issue 15 item 4): every BrokerName has a descriptor, the names the CLI accepts and the
 * streams the worker builds come from it, and whether a broker pushes order updates is stated once.
 */
import { brokerHasOrderUpdates } from '../../../src/brokers/order-updates';
import {
  BROKER_NAMES,
  BROKER_NAMES_TEXT,
  BROKERS,
  createBrokerRegistry,
  parseBrokerName,
} from '../../../src/brokers/registry';
import { BrokerName, OrderRequestSchema } from '../../../src/domain/orders/order-request';
import { ORDER_STATES } from '../../../src/domain/orders/order-state';
import { ValidationError } from '../../../src/domain/validation';

describe('the broker list', () => {
  it('has one descriptor per BrokerName, and the domain validates the same names', () => {
    expect([...BROKER_NAMES].sort()).toEqual(Object.values(BrokerName).sort());
    expect(BROKER_NAMES_TEXT).toBe('paper, alpaca or robinhood');
    for (const name of BROKER_NAMES) expect(BROKERS[name].name).toBe(name);
    const parsed = OrderRequestSchema.safeParse({
      symbol: 'TSLA',
      side: 'buy',
      quantity: 1,
      referencePrice: '1',
      broker: 'ib',
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe(`must be ${BROKER_NAMES_TEXT}`);
  });

  it('parses names in either case and refuses others naming the field and the list', () => {
    expect(parseBrokerName('Alpaca')).toBe('alpaca');
    expect(parseBrokerName(undefined)).toBe('paper');
    expect(() => parseBrokerName('ib', '--broker')).toThrow(
      new ValidationError([{ field: '--broker', rule: 'must be paper, alpaca or robinhood' }]),
    );
  });

  it('status maps live with their adapters and map onto flowguard states only', () => {
    expect(BROKERS.paper.statusMap).toBeNull();
    for (const name of BROKER_NAMES) {
      for (const state of Object.values(BROKERS[name].statusMap ?? {})) expect(ORDER_STATES).toContain(state);
    }
  });

  it('the desk reads the same update-stream fact as the descriptors: alpaca alone pushes order updates', () => {
    expect(BROKER_NAMES.filter((b) => brokerHasOrderUpdates(b))).toEqual(['alpaca']);
    expect(BROKER_NAMES.filter((b) => BROKERS[b].hasUpdateStream)).toEqual(['alpaca']);
  });

  it('the registry builds an update stream exactly for the brokers the list says have one', () => {
    const registry = createBrokerRegistry({
      env: {},
      alpacaConfig: { keyId: 'k', secretKey: 's', baseUrl: 'http://127.0.0.1:1' },
    });
    for (const name of BROKER_NAMES) {
      expect((registry.orderUpdates?.(name) ?? null) !== null).toBe(BROKERS[name].hasUpdateStream);
    }
  });

  it('health probes are built from the descriptor; a missing variable is named', () => {
    expect(() => BROKERS.robinhood.fromEnv({}, 1000)).toThrow(/ROBINHOOD_/);
    const probe = BROKERS.alpaca.fromEnv(
      { ALPACA_KEY_ID: 'key', ALPACA_SECRET_KEY: 'secret', ALPACA_BASE_URL: 'http://127.0.0.1:9' },
      1000,
    );
    expect(probe.where).toBe('http://127.0.0.1:9');
    expect(probe.broker.name).toBe('alpaca');
  });
});
