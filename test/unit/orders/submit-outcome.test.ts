import {
  BROKER_REFUSAL_TYPES,
  BROKER_WAIT_TOO_LONG,
  decideAfterSubmitFailure,
  resolveDeadlineMs,
  type SubmitFailure,
} from '../../../src/domain/orders/submit-outcome';
import { BrokerErrorType } from '../../../src/brokers/errors';

const backoff = { initialIntervalMs: 1000, backoffCoefficient: 2 };
const broker = (type: string, over: Partial<SubmitFailure> = {}): SubmitFailure => ({
  type,
  fromBroker: true,
  outcomeUnknown: false,
  retryAfterMs: null,
  ...over,
});

describe('decideAfterSubmitFailure: after a failed submit attempt', () => {
  it.each([
    ['BrokerTimeout', true],
    ['BrokerUnavailable (5xx)', true],
  ])('%s may have reached the broker and is retried with backoff', (label) => {
    const type = label.split(' ')[0]!;
    const d = decideAfterSubmitFailure(broker(type, { outcomeUnknown: true }), 2, backoff);
    expect(d).toEqual({ next: 'retry', mayHaveReachedBroker: true, refused: false, delayMs: 2000 });
  });

  it('a connection refused before sending did not reach the broker', () => {
    const d = decideAfterSubmitFailure(broker('BrokerUnavailable', { outcomeUnknown: false }), 1, backoff);
    expect(d).toMatchObject({ next: 'retry', mayHaveReachedBroker: false, delayMs: 1000 });
  });

  it("a throttle created nothing and waits the broker's advice", () => {
    const d = decideAfterSubmitFailure(broker('BrokerRateLimited', { retryAfterMs: 27_000 }), 1, backoff);
    expect(d).toEqual({ next: 'retry', mayHaveReachedBroker: false, refused: false, delayMs: 27_000 });
  });

  it('a wait over the cap stops the attempts, and nothing reached the broker', () => {
    const d = decideAfterSubmitFailure(broker(BROKER_WAIT_TOO_LONG), 1, backoff);
    expect(d).toEqual({ next: 'stop', mayHaveReachedBroker: false, refused: false, delayMs: 0 });
  });

  it.each([...BROKER_REFUSAL_TYPES])('%s is a stated refusal: stop, rejected, nothing created', (type) => {
    expect(decideAfterSubmitFailure(broker(type), 1, backoff)).toEqual({
      next: 'stop',
      mayHaveReachedBroker: false,
      refused: true,
      delayMs: 0,
    });
  });

  it('every permanent broker error type is decided without a retry', () => {
    for (const type of Object.values(BrokerErrorType)) {
      const d = decideAfterSubmitFailure(broker(type), 1, backoff);
      const transient = ['BrokerTimeout', 'BrokerUnavailable', 'BrokerRateLimited'].includes(type);
      expect(d.next).toBe(transient ? 'retry' : 'stop');
    }
  });

  it('a duplicate client order id means the order exists: stop submitting, resolve by lookup', () => {
    expect(decideAfterSubmitFailure(broker('DuplicateClientOrderId'), 2, backoff)).toMatchObject({
      next: 'stop',
      mayHaveReachedBroker: true,
      refused: false,
    });
  });

  it('an unreadable 2xx is our failure, not a refusal, and created the order', () => {
    expect(decideAfterSubmitFailure(broker('BrokerBadResponse', { outcomeUnknown: true }), 1, backoff)).toMatchObject({
      next: 'stop',
      mayHaveReachedBroker: true,
      refused: false,
    });
    expect(decideAfterSubmitFailure(broker('BrokerBadResponse'), 1, backoff)).toMatchObject({
      mayHaveReachedBroker: false,
      refused: false,
    });
  });

  it("a failure that is not the broker's (worker lost, activity timed out) may have reached it", () => {
    const d = decideAfterSubmitFailure(
      { type: null, fromBroker: false, outcomeUnknown: false, retryAfterMs: null },
      3,
      backoff,
    );
    expect(d).toEqual({ next: 'retry', mayHaveReachedBroker: true, refused: false, delayMs: 4000 });
  });

  it('an unrecognised broker-side type is treated as possibly reached', () => {
    expect(decideAfterSubmitFailure(broker('SomethingNew'), 1, backoff)).toMatchObject({
      next: 'retry',
      mayHaveReachedBroker: true,
    });
  });
});

describe('resolveDeadlineMs', () => {
  it('runs the window from the start of the last attempt that may have reached the broker', () => {
    expect(resolveDeadlineMs(1_000_000, 60)).toBe(1_060_000);
  });
});
