import { toActivityFailure } from '../../../src/activities/failures';
import { BrokerRateLimited, BrokerUnavailable, OrderRejected } from '../../../src/brokers/errors';
import { parseThrottleSeconds } from '../../../src/brokers/http';
import { ApplicationFailure } from '@temporalio/common';

const asFailure = (err: unknown) => {
  const f = toActivityFailure(err);
  if (!(f instanceof ApplicationFailure)) throw new Error('expected an ApplicationFailure');
  return f;
};

describe('toActivityFailure: broker errors become Temporal failures', () => {
  it("a broker-advised wait within the cap becomes the next retry's delay", () => {
    const f = asFailure(new BrokerRateLimited({ broker: 'alpaca', message: 'rate limited', retryAfterMs: 2000 }));
    expect(f).toMatchObject({ type: 'BrokerRateLimited', nonRetryable: false, nextRetryDelay: 2000 });
  });

  it("Robinhood's 13-day throttle fails the attempt as BrokerWaitTooLong instead of scheduling a retry that far out", () => {
    // robin_stocks issue 326: "Request was throttled. Expected available in 1154515 seconds."
    const wait = parseThrottleSeconds('Request was throttled. Expected available in 1154515 seconds.');
    const err = new BrokerRateLimited({ broker: 'robinhood', message: 'throttled', retryAfterMs: wait });
    const f = asFailure(err);
    expect(f).toMatchObject({ type: 'BrokerWaitTooLong', nonRetryable: true });
    expect(f.nextRetryDelay).toBeUndefined();
    expect(f.message).toMatch(/robinhood asked to wait 1154515 s .* more than the 60 s cap/);
    expect(f.details?.[0]).toMatchObject({ type: 'BrokerRateLimited', retryAfterMs: 1_154_515_000 });
  });

  it('the cap is configurable', () => {
    const err = new BrokerRateLimited({ broker: 'alpaca', message: 'rate limited', retryAfterMs: 90_000 });
    expect(toActivityFailure(err, { maxBrokerWaitMs: 120_000 })).toMatchObject({ nextRetryDelay: 90_000 });
    expect(toActivityFailure(err, { maxBrokerWaitMs: 30_000 })).toMatchObject({ type: 'BrokerWaitTooLong' });
  });

  it('keeps permanence and the unknown-outcome flag in the details', () => {
    expect(asFailure(new OrderRejected({ broker: 'alpaca', message: 'no' }))).toMatchObject({
      type: 'OrderRejected',
      nonRetryable: true,
    });
    const f = asFailure(new BrokerUnavailable({ broker: 'alpaca', message: '503', outcomeUnknown: true }));
    expect(f).toMatchObject({ type: 'BrokerUnavailable', nonRetryable: false });
    expect(f.details?.[0]).toMatchObject({ outcomeUnknown: true });
  });
});
