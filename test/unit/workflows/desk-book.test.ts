import { DeskBook, DeskRefusal, type OrderTerminalNotice } from '../../../src/domain/desk/desk-book';

const prepared = {
  symbol: 'AAPL',
  side: 'buy' as const,
  quantity: 10,
  limitPrice: '190.05',
  intentKey: 'AAPL:buy:190.05:10',
};
const allRules = () => true;
const T0 = '2026-01-05T15:00:00.000Z';

function bookWithOne(): DeskBook {
  const book = new DeskBook();
  book.register({ clientOrderId: 'c1', workflowId: 'order:c1', placedAt: T0, ...prepared });
  return book;
}

function notice(over: Partial<OrderTerminalNotice> = {}): OrderTerminalNotice {
  return {
    clientOrderId: 'c1',
    workflowId: 'order:c1',
    symbol: 'AAPL',
    side: 'buy',
    state: 'cancelled',
    brokerOrderId: 'b1',
    filledQuantity: 0,
    averageFillPrice: null,
    reason: null,
    errorType: null,
    ...over,
  };
}

describe('DeskBook', () => {
  it('answers a retry of the same client order id with its order and refuses the id on another order', () => {
    const book = bookWithOne();
    expect(book.existingFor({ clientOrderId: 'c1' }, prepared, allRules)?.existing).toBe('same_client_order_id');
    expect(() =>
      book.existingFor({ clientOrderId: 'c1' }, { ...prepared, quantity: 5, intentKey: 'AAPL:buy:190.05:5' }, allRules),
    ).toThrow(DeskRefusal);
  });

  it('maps only a generated id onto an open order with the same intent', () => {
    const book = bookWithOne();
    expect(book.existingFor({ clientOrderId: 'c2' }, prepared, allRules)).toBeNull();
    expect(book.existingFor({ clientOrderId: 'c2', clientOrderIdGenerated: true }, prepared, allRules)?.existing).toBe(
      'same_intent',
    );
  });

  it('replays the rule from before desk-order-identity: price intent matched regardless of quantity or id', () => {
    const book = bookWithOne();
    const gate = (id: string) => id !== 'desk-order-identity';
    const other = { ...prepared, quantity: 3, intentKey: 'AAPL:buy:190.05:3' };
    expect(book.existingFor({ clientOrderId: 'c9' }, other, gate)).toMatchObject({
      existing: 'same_intent',
      clientOrderId: 'c1',
    });
  });

  it('refuses new orders while the kill switch or breaker is latched, and reset clears both', () => {
    const book = new DeskBook();
    expect(book.refusal()).toBeNull();
    expect(book.engageKillSwitch('  ', T0)).toBe('cancel-all requested');
    book.engageKillSwitch('second', T0);
    expect(book.state.killSwitch?.reason).toBe('cancel-all requested');
    expect(() => book.assertAccepting()).toThrow(/kill switch engaged/);
    book.orderEnded(notice({ errorType: 'InsufficientFunds', state: 'rejected' }), T0);
    expect(book.reset()).toEqual({
      killSwitchWasEngaged: true,
      breakerWasTripped: true,
      breakerReason: 'insufficient funds on c1',
    });
    expect(book.refusal()).toBeNull();
  });

  it('settles a cancel-all line from the broker answer, the order notice, or the bound', () => {
    const book = bookWithOne();
    book.register({ clientOrderId: 'c2', workflowId: 'order:c2', placedAt: T0, ...prepared });
    const { run, ours } = book.beginCancelAll('test', T0);
    expect(ours).toHaveLength(2);
    const foreign = book.cancelEntry(
      run,
      { brokerOrderId: 'x', clientOrderId: null, symbol: 'MSFT', filledQuantity: 0 },
      undefined,
    );
    book.cancelAnswered(foreign, undefined, { state: 'queued', filledQuantity: 0 });
    expect(foreign.outcome).toBe('unconfirmed');
    const mine = book.cancelEntry(
      run,
      { brokerOrderId: 'b1', clientOrderId: 'c1', symbol: 'AAPL', filledQuantity: 0 },
      book.openOrder('c1'),
    );
    book.cancelAnswered(mine, book.openOrder('c1'), { state: 'cancelled', filledQuantity: 4 });
    expect(mine.outcome).toBe('partially_filled_then_cancelled');
    expect(DeskBook.settled(run)).toBe(false);
    book.completeCancelAll(
      run,
      false,
      30_000,
      new Map([['order:c2', 'workflow execution already completed']]),
      (id) => `order:${id}`,
      T0,
    );
    expect(run.results.c2).toMatchObject({ outcome: 'unconfirmed' });
    expect(run.results.c2?.detail).toMatch(/not running \(workflow execution already completed\)/);
    book.orderEnded(notice({ clientOrderId: 'c2', state: 'filled', filledQuantity: 10 }), T0);
    expect(run.results.c2?.outcome).toBe('filled');
    expect(book.isOpen('c2')).toBe(false);
  });

  it('an order told twice (closed by the desk from the kill switch answer, then by its workflow) is recorded once', () => {
    const book = bookWithOne();
    const { run } = book.beginCancelAll('test', T0);
    book.orderEnded(notice({ reason: 'cancel-all: test' }), T0);
    book.orderEnded(notice({ errorType: 'InsufficientFunds', reason: 'its own word' }), T0);
    expect(book.state.recent).toHaveLength(1);
    expect(book.state.breaker).toBeNull();
    expect(run.results.c1).toMatchObject({ outcome: 'cancelled', detail: 'its own word' });
  });

  it('keeps the recent list bounded', () => {
    const book = new DeskBook();
    for (let i = 0; i < 60; i++) book.orderEnded(notice({ clientOrderId: `c${i}` }), T0);
    expect(book.state.recent).toHaveLength(50);
    expect(book.state.recent[0]?.clientOrderId).toBe('c10');
  });
});
