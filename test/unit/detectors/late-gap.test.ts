import { createFlowDetector, staleness } from '../../../src/domain/detectors/flow-detector';
import { ns, setup } from './helpers';

const S = 1_000_000;
const bounds = { warnUs: 10 * S, rejectUs: 30 * S };

describe('staleness(): the live edge is stale, a gap being filled is late', () => {
  it.each([
    ['fresh within the warn bound', 10 * S, undefined, 'fresh'],
    ['warn between the bounds', 30 * S, undefined, 'warn'],
    ['live data past the reject bound → stale', 30 * S + 1, undefined, 'stale'],
    ['printed after we last caught up (negative age then) → late', 120 * S, -90 * S, 'late'],
    ['within the bound when we last caught up → late', 120 * S, 30 * S, 'late'],
    ['already past the bound when we last caught up: the feed is behind → stale', 120 * S, 30 * S + 1, 'stale'],
    ['a caught-up time does not turn fresh data late', 5 * S, -100 * S, 'fresh'],
  ] as const)('%s', (_name, age, ageAtCaughtUp, verdict) => {
    expect(staleness(age, ageAtCaughtUp, bounds)).toBe(verdict);
  });
});

describe('flow detector: records of a gap are processed late, not rejected as STALE', () => {
  /** The NBBO, then three 12,000-share prints at the bid 1 s apart (an exit on the third), times in ms after T0. */
  function cluster(f: ReturnType<typeof setup>['f']) {
    f.quote(0, 249.5, 249.53);
    return [f.trade(1000, 249.5, 12_000), f.trade(2000, 249.5, 12_000), f.trade(3000, 249.5, 12_000)];
  }

  it('without a caught-up time, data 2 minutes old is STALE: no alert, no exit (the blinded monitor)', () => {
    const { d, f } = setup();
    d.setNow(ns(120_000));
    expect(cluster(f)).toEqual(['STALE', 'STALE', 'STALE']);
    expect(d.drainAlerts()).toEqual([]);
    expect(d.exitSignal).toBeNull();
    expect(d.stats.rejected.STALE).toBe(4);
  });

  it('caught up just before the prints: the same data is accepted, alerts and exit are late with their market time', () => {
    const { d, f } = setup();
    d.setNow(ns(120_000), ns(-1000));
    expect(cluster(f)).toEqual(['accepted', 'accepted', 'accepted']);
    const alerts = d.drainAlerts();
    expect(alerts.map((a) => [a.kind, a.late, a.timestampNs])).toEqual([
      ['large_seller', true, ns(1000)],
      ['large_seller', true, ns(2000)],
      ['large_seller', true, ns(3000)],
    ]);
    expect(d.exitSignal).toMatchObject({ reason: 'large_seller_cluster', timestampNs: ns(3000), late: true });
    expect(d.stats.rejected.STALE).toBe(0);
    // Accepted past the warn bound: still counted as stale warnings.
    expect(d.stats.staleWarnings).toBe(4);
  });

  it('a feed that is itself behind stays STALE: records already past the bound when we last caught up', () => {
    const { d, f } = setup();
    // Caught up 1 s ago, yet the records are 2 minutes old: the delay is the feed's, not a gap of ours.
    d.setNow(ns(120_000), ns(119_000));
    expect(cluster(f)).toEqual(['STALE', 'STALE', 'STALE']);
    expect(d.drainAlerts()).toEqual([]);
  });

  it('live alerts carry no late flag; the flag survives snapshot and restore of the exit', () => {
    const { d, f } = setup();
    d.setNow(ns(3500), ns(-1000));
    cluster(f);
    const alerts = d.drainAlerts();
    expect(alerts).toHaveLength(3);
    for (const a of alerts) expect('late' in a).toBe(false);
    expect(d.exitSignal && 'late' in d.exitSignal).toBe(false);

    const late = setup();
    late.d.setNow(ns(120_000), ns(-1000));
    cluster(late.f);
    const again = createFlowDetector({ symbol: 'TSLA', state: late.d.snapshot() });
    expect(again.exitSignal).toMatchObject({ late: true });
  });

  it('setNow(undefined) clears the caught-up time with the clock', () => {
    const { d, f } = setup();
    d.setNow(ns(120_000), ns(-1000));
    d.setNow(undefined);
    d.setNow(ns(120_000));
    expect(f.trade(0, 249.5, 100)).toBe('STALE');
  });
});
