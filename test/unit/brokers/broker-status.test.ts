import fc from 'fast-check';
import { ORDER_STATES, OrderState } from '../../../src/domain/orders/order-state';
import { ALPACA_ORDER_STATUSES, ALPACA_STATUS_MAP, mapAlpacaStatus } from '../../../src/brokers/alpaca/status';
import { ROBINHOOD_ORDER_STATES, ROBINHOOD_STATE_MAP, mapRobinhoodState } from '../../../src/brokers/robinhood/status';
import { refineByFills } from '../../../src/domain/orders/broker-status';

describe('broker status tables', () => {
  it('cover exactly the documented Robinhood states', () => {
    expect(Object.keys(ROBINHOOD_STATE_MAP).sort()).toEqual([...ROBINHOOD_ORDER_STATES].sort());
    expect(ROBINHOOD_ORDER_STATES).toHaveLength(8);
  });

  it('cover exactly the documented Alpaca statuses', () => {
    expect(Object.keys(ALPACA_STATUS_MAP).sort()).toEqual([...ALPACA_ORDER_STATUSES].sort());
    expect(ALPACA_ORDER_STATUSES).toHaveLength(17);
  });

  it('map only onto flowguard states', () => {
    for (const s of [...Object.values(ROBINHOOD_STATE_MAP), ...Object.values(ALPACA_STATUS_MAP)]) {
      expect(ORDER_STATES).toContain(s);
    }
  });

  it('never map a vendor word onto pending_submit (that state is ours, before the broker knows the order)', () => {
    expect(Object.values(ALPACA_STATUS_MAP)).not.toContain(OrderState.PendingSubmit);
    expect(Object.values(ROBINHOOD_STATE_MAP)).not.toContain(OrderState.PendingSubmit);
  });

  it.each([
    ['unconfirmed', OrderState.Queued],
    ['confirmed', OrderState.Queued],
    ['partially_filled', OrderState.PartiallyFilled],
    ['cancelled', OrderState.Cancelled],
    ['failed', OrderState.Failed],
    ['rejected', OrderState.Rejected],
  ])('Robinhood %s → %s', (word, state) => {
    expect(mapRobinhoodState(word)).toBe(state);
  });

  it.each([
    ['done_for_day', OrderState.Queued],
    ['canceled', OrderState.Cancelled],
    ['pending_cancel', OrderState.PendingCancel],
    ['replaced', OrderState.Cancelled],
    ['expired', OrderState.Expired],
    ['pending_new', OrderState.Queued],
    ['calculated', OrderState.Queued],
  ])('Alpaca %s → %s', (word, state) => {
    expect(mapAlpacaStatus(word)).toBe(state);
  });

  it('returns undefined for undocumented words, including prototype keys', () => {
    expect(mapAlpacaStatus('cancelled')).toBeUndefined(); // Robinhood spelling
    expect(mapRobinhoodState('canceled')).toBeUndefined(); // Alpaca spelling
    expect(mapAlpacaStatus('toString')).toBeUndefined();
    expect(mapRobinhoodState('__proto__')).toBeUndefined();
  });
});

describe('refineByFills', () => {
  it('upgrades open states by quantity and leaves terminal / pending-cancel states alone', () => {
    expect(refineByFills(OrderState.Queued, 0, 10)).toBe(OrderState.Queued);
    expect(refineByFills(OrderState.Queued, 4, 10)).toBe(OrderState.PartiallyFilled);
    expect(refineByFills(OrderState.Queued, 10, 10)).toBe(OrderState.Filled); // Alpaca `calculated`, fully filled
    expect(refineByFills(OrderState.PartiallyFilled, 10, 10)).toBe(OrderState.Filled);
    expect(refineByFills(OrderState.Cancelled, 4, 10)).toBe(OrderState.Cancelled);
    expect(refineByFills(OrderState.PendingCancel, 4, 10)).toBe(OrderState.PendingCancel);
  });

  it('never turns a terminal state back into an open one', () => {
    const terminal = [
      OrderState.Filled,
      OrderState.Cancelled,
      OrderState.Rejected,
      OrderState.Expired,
      OrderState.Failed,
    ];
    fc.assert(
      fc.property(fc.constantFrom(...terminal), fc.nat(1000), fc.nat(1000), (s, filled, qty) => {
        expect(refineByFills(s, filled, qty)).toBe(s);
      }),
    );
  });
});
