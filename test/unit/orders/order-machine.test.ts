import fc from 'fast-check';
import {
  applyOrderEvent,
  MAX_RETAINED_EXECUTIONS,
  newOrderRecord,
  ORDER_EVENT_TYPES,
  ORDER_TRANSITIONS,
  type OrderEvent,
  type OrderEventType,
  type OrderRecord,
  type TransitionTable,
} from '../../../src/domain/orders/order-machine';
import { ORDER_STATES, OrderState } from '../../../src/domain/orders/order-state';

// @ts-expect-error a table with a state missing must not compile
const _missingState: TransitionTable = { ...ORDER_TRANSITIONS, [OrderState.Filled]: undefined };
void _missingState;

function apply(order: OrderRecord, ...events: OrderEvent[]): OrderRecord {
  let current = order;
  for (const event of events) {
    const result = applyOrderEvent(current, event);
    if (result.rejection) throw new Error(`unexpected rejection: ${result.rejection.reason}`);
    current = result.order;
  }
  return current;
}

const fill = (executionId: string, quantity: number, price: string, extra: Partial<OrderEvent> = {}): OrderEvent =>
  ({
    type: 'fill',
    executionId,
    quantity,
    price,
    timestamp: `2025-01-02T15:00:00.${executionId}Z`,
    ...extra,
  }) as OrderEvent;

const fresh = () => newOrderRecord(100, '2025-01-02T14:30:00Z');

/** An order of 100 shares in each state: partially_filled has 40 filled, filled has 100. */
function inState(state: OrderState): OrderRecord {
  const queued = apply(fresh(), { type: 'submitted', brokerOrderId: 'B1' });
  switch (state) {
    case OrderState.PendingSubmit:
      return fresh();
    case OrderState.Queued:
      return queued;
    case OrderState.PartiallyFilled:
      return apply(queued, fill('p1', 40, '10.00'));
    case OrderState.Filled:
      return apply(queued, fill('f1', 100, '10.00'));
    case OrderState.PendingCancel:
      return apply(queued, { type: 'cancel_requested' });
    case OrderState.Cancelled:
      return apply(queued, { type: 'cancelled' });
    case OrderState.Rejected:
      return apply(fresh(), { type: 'rejected', reason: 'insufficient buying power' });
    case OrderState.Expired:
      return apply(queued, { type: 'expired' });
    case OrderState.Failed:
      return apply(fresh(), { type: 'failed', reason: 'submit gave up' });
  }
}

function sampleEvent(type: OrderEventType, order: OrderRecord): OrderEvent {
  switch (type) {
    case 'fill':
      return fill('new', 10, '10.00');
    case 'broker_snapshot':
      // The broker agrees with us: nothing to change.
      return {
        type,
        state: order.state,
        filledQuantity: order.filledQuantity,
        ...(order.averageFillPrice ? { averageFillPrice: order.averageFillPrice } : {}),
      };
    default:
      return { type };
  }
}

const I = 'invalid';
const _ = 'ignore';
const PS = 'pending_submit',
  Q = 'queued',
  PF = 'partially_filled',
  F = 'filled',
  PC = 'pending_cancel';
const C = 'cancelled',
  R = 'rejected',
  E = 'expired',
  X = 'failed';

// Columns: submitted, rejected, fill(10 sh), cancel_requested, cancelled, cancel_rejected, expired, failed, broker_snapshot(agreeing)
const EXPECTED: Record<OrderState, readonly string[]> = {
  pending_submit: [Q, R, PF, PC, C, I, E, X, _],
  queued: [_, R, PF, PC, C, I, E, X, _],
  partially_filled: [_, I, PF, PC, C, I, E, X, _],
  filled: [_, I, F, I, I, _, I, I, _],
  pending_cancel: [_, R, PC, _, C, Q, E, X, _],
  cancelled: [_, I, C, I, _, _, I, I, _],
  rejected: [I, _, PF, I, I, _, I, I, _],
  expired: [_, I, E, I, I, _, _, I, _],
  failed: [I, I, PF, I, I, _, I, _, _],
};
void PS;

describe('transition table', () => {
  it('column order matches ORDER_EVENT_TYPES', () => {
    expect(ORDER_EVENT_TYPES).toEqual([
      'submitted',
      'rejected',
      'fill',
      'cancel_requested',
      'cancelled',
      'cancel_rejected',
      'expired',
      'failed',
      'broker_snapshot',
    ]);
  });

  const cells = ORDER_STATES.flatMap((state) =>
    ORDER_EVENT_TYPES.map((type, i) => [state, type, EXPECTED[state][i]!] as const),
  );
  it.each(cells)('%s + %s → %s', (state, type, expected) => {
    const before = inState(state);
    expect(before.state).toBe(state);
    const result = applyOrderEvent(before, sampleEvent(type, before));
    if (expected === I) {
      expect(result.rejection).toMatchObject({ code: 'invalid_transition', state, event: type });
      expect(result.changed).toBe(false);
      expect(result.order).toBe(before);
    } else if (expected === _) {
      expect(result.rejection).toBeUndefined();
      expect(result.changed).toBe(false);
      expect(result.order).toEqual(before);
    } else {
      expect(result.rejection).toBeUndefined();
      expect(result.changed).toBe(true);
      expect(result.order.state).toBe(expected);
    }
  });
});

describe('fills', () => {
  it('keeps filled, remaining and a volume-weighted average exactly: (3×10.00 + 7×10.10)/10 = 10.07', () => {
    const o = apply(newOrderRecord(10), { type: 'submitted' }, fill('a', 3, '10.00'), fill('b', 7, '10.10'));
    expect(o).toMatchObject({
      state: F,
      filledQuantity: 10,
      remainingQuantity: 0,
      averageFillPrice: '10.07',
      fillNotional: '100.7',
    });
  });

  it('rounds only the displayed average: (1×10.00 + 2×10.01)/3 = 10.00666… → 10.00666667', () => {
    const o = apply(newOrderRecord(5), fill('a', 1, '10.00'), fill('b', 2, '10.01'));
    expect(o).toMatchObject({
      state: PF,
      filledQuantity: 3,
      remainingQuantity: 2,
      averageFillPrice: '10.00666667',
      fillNotional: '30.02',
    });
  });

  it('ignores a duplicate execution id', () => {
    const once = apply(inState(Q), fill('dup', 10, '10.00'));
    const again = applyOrderEvent(once, fill('dup', 10, '10.00'));
    expect(again).toMatchObject({ changed: false, ignored: 'duplicate execution id' });
    expect(again.order.filledQuantity).toBe(10);
  });

  it('applies a fill that arrives while a cancel is pending, and stays pending_cancel', () => {
    const o = apply(inState(PC), fill('race', 30, '10.00'));
    expect(o).toMatchObject({ state: PC, filledQuantity: 30, remainingQuantity: 70 });
    // The broker then refuses the cancel: back to the open state, now partially filled.
    expect(apply(o, { type: 'cancel_rejected' }).state).toBe(PF);
    // Or confirms it: cancelled, with the partial fill kept.
    expect(apply(o, { type: 'cancelled' })).toMatchObject({ state: C, filledQuantity: 30 });
  });

  it('a fill during pending_cancel that completes the order makes it filled', () => {
    expect(apply(inState(PC), fill('all', 100, '10.00')).state).toBe(F);
  });

  it('applies a fill reported after the cancel; completing fills turn it filled', () => {
    const cancelled = apply(inState(PF), { type: 'cancelled' });
    const late = apply(cancelled, fill('late', 20, '10.20'));
    expect(late).toMatchObject({ state: C, filledQuantity: 60, remainingQuantity: 40 });
    expect(late.averageFillPrice).toBe('10.06666667'); // (40×10.00 + 20×10.20)/60 = 604/60
    expect(apply(late, fill('rest', 40, '10.00')).state).toBe(F);
  });

  it('flags an overfill instead of absorbing it silently', () => {
    const result = applyOrderEvent(inState(F), fill('extra', 5, '10.00'));
    expect(result.order).toMatchObject({ state: F, filledQuantity: 105, remainingQuantity: 0, overfillQuantity: 5 });
    expect(result.warning).toMatch(/overfill: 105 shares filled for an order of 100 \(5 in excess\)/);
  });

  it('flags an overfill in one oversized fill', () => {
    const result = applyOrderEvent(inState(Q), fill('big', 120, '10.00'));
    expect(result.order).toMatchObject({ state: F, overfillQuantity: 20, remainingQuantity: 0 });
    expect(result.warning).toMatch(/20 in excess/);
  });

  it('warns when a fill reaches an order recorded as rejected or failed, and reopens it', () => {
    for (const state of [R, X] as const) {
      const result = applyOrderEvent(inState(state), fill('x', 10, '10.00'));
      expect(result.order.state).toBe(PF);
      expect(result.warning).toMatch(/the broker shows it live/);
    }
  });

  it('counts only the part of a fill the broker cumulative says is new', () => {
    const snap: OrderEvent = { type: 'broker_snapshot', state: PF, filledQuantity: 30, averageFillPrice: '10.00' };
    const afterSnap = apply(inState(Q), snap);
    expect(afterSnap.filledQuantity).toBe(30);
    // The streamed fill for the same 30 shares arrives later, carrying the broker's cumulative 30.
    const dup = applyOrderEvent(afterSnap, fill('s1', 30, '10.00', { cumulativeQuantity: 30 }));
    expect(dup.order.filledQuantity).toBe(30);
    expect(dup.ignored).toMatch(/already counted/);
    // A fill that is half new: cumulative 45, 20 reported → 15 new.
    expect(apply(dup.order, fill('s2', 20, '10.00', { cumulativeQuantity: 45 })).filledQuantity).toBe(45);
  });

  it(`keeps at most ${MAX_RETAINED_EXECUTIONS} executions, totals stay exact, JSON stays small`, () => {
    let o = inState(Q);
    for (let i = 0; i < 150; i++) o = apply(o, fill(`e${i}`, 1, '10.01'));
    expect(o.executions).toHaveLength(MAX_RETAINED_EXECUTIONS);
    expect(o.executionsDropped).toBe(50);
    expect(o.executions[0]!.id).toBe('e50');
    expect(o).toMatchObject({
      filledQuantity: 150,
      averageFillPrice: '10.01',
      fillNotional: '1501.5',
      overfillQuantity: 50,
    });
    expect(JSON.stringify(o).length).toBeLessThan(12_000);
    expect(JSON.parse(JSON.stringify(o))).toEqual(o);
  });

  it('returns invalid_event for a malformed fill instead of throwing', () => {
    const before = inState(Q);
    const result = applyOrderEvent(before, fill('bad', 0, '10.00'));
    expect(result).toMatchObject({ changed: false, rejection: { code: 'invalid_event', event: 'fill' } });
    expect(result.rejection?.reason).toMatch(/event\.quantity: must be > 0/);
    expect(result.order).toBe(before);
    expect(applyOrderEvent(before, { type: 'nonsense' } as unknown as OrderEvent).rejection?.code).toBe(
      'invalid_event',
    );
  });
});

describe('cancel', () => {
  it('cancel_rejected returns to the state the cancel was requested from', () => {
    expect(apply(inState(Q), { type: 'cancel_requested' }, { type: 'cancel_rejected' }).state).toBe(Q);
    expect(apply(inState(PF), { type: 'cancel_requested' }, { type: 'cancel_rejected' }).state).toBe(PF);
    expect(apply(fresh(), { type: 'cancel_requested' }, { type: 'cancel_rejected' }).state).toBe(PS);
  });

  it('records reason, broker id and update time', () => {
    const o = apply(
      fresh(),
      { type: 'submitted', brokerOrderId: 'B9', at: 't1' },
      { type: 'cancelled', reason: 'user', at: 't2' },
    );
    expect(o).toMatchObject({ state: C, brokerOrderId: 'B9', reason: 'user', updatedAt: 't2' });
    expect(o.cancelRequestedFrom).toBeUndefined();
  });

  it('an order with fills cannot be rejected', () => {
    const pc = apply(inState(PF), { type: 'cancel_requested' });
    expect(applyOrderEvent(pc, { type: 'rejected' }).rejection?.reason).toMatch(/40 shares have filled/);
  });
});

describe('broker_snapshot reconciliation', () => {
  it('applies unseen executions that account exactly for the broker cumulative', () => {
    const o = apply(inState(PF), {
      type: 'broker_snapshot',
      state: PF,
      filledQuantity: 70,
      averageFillPrice: '10.03',
      executions: [
        { id: 'p1', quantity: 40, price: '10.00', timestamp: 't1' },
        { id: 'r2', quantity: 30, price: '10.04', timestamp: 't2' },
      ],
    });
    // (40×10.00 + 30×10.04)/70 = 701.2/70 = 10.01714286 (our exact average, not the broker's rounded one)
    expect(o).toMatchObject({ state: PF, filledQuantity: 70, averageFillPrice: '10.01714286' });
    expect(o.executions.map((e) => e.id)).toEqual(['p1', 'r2']);
  });

  it('without executions, adds one reconciled fill priced so the average matches the broker', () => {
    const result = applyOrderEvent(inState(PF), {
      type: 'broker_snapshot',
      state: F,
      filledQuantity: 100,
      averageFillPrice: '10.06',
    });
    // Broker notional 100×10.06 = 1006; ours 400; the 60 reconciled shares carry 606 (10.10 each).
    expect(result.order).toMatchObject({
      state: F,
      filledQuantity: 100,
      averageFillPrice: '10.06',
      fillNotional: '1006',
    });
    expect(result.order.executions.at(-1)).toMatchObject({ id: 'reconciled:100', quantity: 60, price: '10.1' });
    expect(result.warning).toMatch(/reconciled 60 shares/);
  });

  it('never lowers the filled quantity when the snapshot is behind', () => {
    const result = applyOrderEvent(inState(PF), { type: 'broker_snapshot', state: Q, filledQuantity: 0 });
    expect(result.order.filledQuantity).toBe(40);
    expect(result.order.state).toBe(PF);
    expect(result.warning).toMatch(/fewer than the 40 applied here/);
  });

  it('confirms a pending cancel, keeps one pending while the broker still shows it open', () => {
    expect(apply(inState(PC), { type: 'broker_snapshot', state: C, filledQuantity: 0 }).state).toBe(C);
    expect(apply(inState(PC), { type: 'broker_snapshot', state: Q, filledQuantity: 0 }).state).toBe(PC);
  });

  it('does not reopen a cancelled order from a stale open snapshot, but applies its fills', () => {
    const result = applyOrderEvent(inState(C), {
      type: 'broker_snapshot',
      state: Q,
      filledQuantity: 10,
      averageFillPrice: '10.00',
      executions: [{ id: 'raced', quantity: 10, price: '10.00', timestamp: 't' }],
    });
    expect(result.order).toMatchObject({ state: C, filledQuantity: 10 });
    expect(result.warning).toMatch(/stale snapshot/);
  });

  it('moves an unacknowledged order to queued, and a filled broker order to filled', () => {
    expect(apply(fresh(), { type: 'broker_snapshot', state: Q, filledQuantity: 0, brokerOrderId: 'B7' })).toMatchObject(
      {
        state: Q,
        brokerOrderId: 'B7',
      },
    );
    const filled = apply(fresh(), {
      type: 'broker_snapshot',
      state: F,
      filledQuantity: 100,
      averageFillPrice: '9.99',
      executions: [{ id: 'x1', quantity: 100, price: '9.99', timestamp: 't' }],
    });
    expect(filled).toMatchObject({ state: F, filledQuantity: 100, averageFillPrice: '9.99' });
  });

  it('refuses a snapshot with fills but no average price', () => {
    expect(
      applyOrderEvent(inState(Q), { type: 'broker_snapshot', state: PF, filledQuantity: 5 }).rejection?.reason,
    ).toMatch(/averageFillPrice: is required when filledQuantity > 0/);
  });
});

describe('random event sequences (property)', () => {
  const ids = fc.constantFrom('e1', 'e2', 'e3', 'e4', 'e5', 'e6');
  const price = fc.constantFrom('9.99', '10.00', '10.01', '0.5001');
  const execution = fc.record({
    id: ids,
    quantity: fc.integer({ min: 1, max: 60 }),
    price,
    timestamp: fc.constant('t'),
  });
  const event: fc.Arbitrary<OrderEvent> = fc.oneof(
    fc.constantFrom<OrderEvent>(
      { type: 'submitted' },
      { type: 'rejected' },
      { type: 'cancel_requested' },
      { type: 'cancelled' },
      { type: 'cancel_rejected' },
      { type: 'expired' },
      { type: 'failed' },
    ),
    fc
      .record({
        executionId: ids,
        quantity: fc.integer({ min: 1, max: 60 }),
        price,
        cumulativeQuantity: fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined }),
      })
      .map(({ cumulativeQuantity, ...f }) =>
        fill(f.executionId, f.quantity, f.price, cumulativeQuantity === undefined ? {} : { cumulativeQuantity }),
      ),
    fc
      .record({
        state: fc.constantFrom(...ORDER_STATES),
        filledQuantity: fc.integer({ min: 0, max: 150 }),
        averageFillPrice: price,
        executions: fc.option(fc.array(execution, { maxLength: 4 }), { nil: undefined }),
      })
      .map((s): OrderEvent => ({
        type: 'broker_snapshot',
        ...s,
        ...(s.executions ? { executions: s.executions } : {}),
      })),
  );

  it('never produces negative remaining or decreasing filled quantity; totals stay consistent', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 120 }), fc.array(event, { maxLength: 40 }), (quantity, events) => {
        let order = newOrderRecord(quantity);
        for (const e of events) {
          const result = applyOrderEvent(order, e);
          const next = result.order;
          if (result.rejection) expect(next).toBe(order);
          expect(ORDER_STATES).toContain(next.state);
          expect(next.filledQuantity).toBeGreaterThanOrEqual(order.filledQuantity);
          expect(next.remainingQuantity).toBeGreaterThanOrEqual(0);
          expect(next.remainingQuantity).toBe(Math.max(0, quantity - next.filledQuantity));
          expect(next.overfillQuantity).toBe(Math.max(0, next.filledQuantity - quantity));
          expect(next.executions.reduce((s, x) => s + x.quantity, 0)).toBe(next.filledQuantity);
          expect(new Set(next.executions.map((x) => x.id)).size).toBe(next.executions.length);
          if (next.filledQuantity === 0) expect(next.averageFillPrice).toBeNull();
          else expect(Number(next.averageFillPrice)).toBeGreaterThan(0);
          if (next.state !== OrderState.PendingCancel) expect(next.cancelRequestedFrom).toBeUndefined();
          expect(JSON.parse(JSON.stringify(next))).toEqual(next);
          order = next;
        }
      }),
      { numRuns: 1000 },
    );
  });
});
