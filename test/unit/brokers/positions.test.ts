import { createAlpacaBroker } from '../../../src/brokers/alpaca/alpaca-broker';
import { BrokerUnavailable } from '../../../src/brokers/errors';
import { paperPositions } from '../../../src/brokers/paper/positions';
import { type PaperOrderRecord } from '../../../src/brokers/paper/store';
import { createRobinhoodBroker } from '../../../src/brokers/robinhood/robinhood-broker';
import { AlpacaStandIn } from '../../support/alpaca-stand-in';
import { RobinhoodStandIn } from '../../support/robinhood-stand-in';

function order(
  id: string,
  symbol: string,
  side: 'buy' | 'sell',
  fills: [qty: number, price: string, ts: string][],
): PaperOrderRecord {
  const quantity = fills.reduce((n, f) => n + f[0], 0);
  return {
    brokerOrderId: `b-${id}`,
    clientOrderId: id,
    symbol,
    side,
    quantity,
    limitPrice: fills[0]![1],
    timeInForce: 'day',
    status: 'filled',
    executions: fills.map(([q, price, timestamp], i) => ({ id: `${id}-${i}`, quantity: q, price, timestamp })),
    createdAt: fills[0]![2],
    updatedAt: fills[fills.length - 1]![2],
    watermarkNs: '0',
    quoteNs: null,
    quoteSizeUsed: 0,
  };
}

describe('paper positions from the store', () => {
  it('nets executions per symbol in time order; average cost of what is held; shorts negative; flat dropped', () => {
    const positions = paperPositions([
      order('a', 'TSLA', 'buy', [[10, '100', '2026-01-02T15:00:00.000Z']]),
      order('b', 'TSLA', 'buy', [[10, '110', '2026-01-02T15:01:00.000Z']]),
      order('c', 'TSLA', 'sell', [[5, '120', '2026-01-02T15:02:00.000Z']]),
      order('d', 'NVDA', 'sell', [[20, '130.5', '2026-01-02T15:03:00.000Z']]),
      order('e', 'AAPL', 'buy', [[3, '200', '2026-01-02T15:04:00.000Z']]),
      order('f', 'AAPL', 'sell', [[3, '201', '2026-01-02T15:05:00.000Z']]),
    ]);
    expect(positions).toEqual([
      { symbol: 'NVDA', quantity: '-20', averageEntryPrice: '130.5' },
      { symbol: 'TSLA', quantity: '15', averageEntryPrice: '105' },
    ]);
  });
});

describe('Alpaca GET /v2/positions against the stand-in', () => {
  let alpaca: AlpacaStandIn;
  beforeAll(async () => {
    alpaca = await AlpacaStandIn.start();
  });
  afterAll(async () => {
    await alpaca.close();
  });

  it('lists longs from fills and positions set outside flowguard, shorts negative', async () => {
    const broker = createAlpacaBroker(alpaca.config());
    const placed = await broker.submitLimitOrder({
      clientOrderId: 'pos-1',
      symbol: 'TSLA',
      side: 'buy',
      quantity: 10,
      limitPrice: '250.00',
      timeInForce: 'day',
    });
    alpaca.fill(placed.brokerOrderId, 4, '249.50');
    alpaca.fill(placed.brokerOrderId, 6, '250.00');
    alpaca.setPosition('NVDA', '-20', '130.10');
    expect(await broker.listPositions()).toEqual([
      { symbol: 'NVDA', quantity: '-20', averageEntryPrice: '130.1' },
      { symbol: 'TSLA', quantity: '10', averageEntryPrice: '249.8' },
    ]);
    expect(alpaca.requestsFor('GET /v2/positions')).toHaveLength(1);
  });

  it('a 503 is BrokerUnavailable (retried by Temporal)', async () => {
    const broker = createAlpacaBroker(alpaca.config());
    alpaca.faults.next('GET /v2/positions', { kind: 'status', status: 503 });
    await expect(broker.listPositions()).rejects.toBeInstanceOf(BrokerUnavailable);
  });
});

describe('Robinhood GET /positions/?nonzero=true against the stand-in', () => {
  let rh: RobinhoodStandIn;
  beforeAll(async () => {
    // One position a page and no symbol in the payload: every page is read and symbols come from the instrument.
    rh = await RobinhoodStandIn.start({ pageSize: 1 });
  });
  afterAll(async () => {
    await rh.close();
  });

  it('lists every page of the account, symbols resolved from instruments, closed positions left out', async () => {
    const broker = createRobinhoodBroker(rh.config());
    const placed = await broker.submitLimitOrder({
      clientOrderId: 'rh-pos-1',
      symbol: 'AAPL',
      side: 'buy',
      quantity: 5,
      limitPrice: '190.00',
      timeInForce: 'gtc',
    });
    rh.fill(placed.brokerOrderId, 5, '189.90');
    rh.setPosition('MSFT', '2.5', '410.1234');
    rh.setPosition('GONE', '0', '0');
    expect(await broker.listPositions()).toEqual([
      { symbol: 'AAPL', quantity: '5', averageEntryPrice: '189.9' },
      { symbol: 'MSFT', quantity: '2.5', averageEntryPrice: '410.1234' },
    ]);
    const requests = rh.requestsFor('GET /positions/');
    expect(requests[0]!.query).toMatchObject({ nonzero: 'true', account_number: rh.accountNumber });
    expect(requests).toHaveLength(2);
  });
});
