import { measureRealDay, type RealDayFigures } from '../../../bench/realdata/measure';

// The real AMZN day (test/fixtures/realdata, NASDAQ 2012-06-21 with LOBSTER's true initiator of every trade) at
// default settings: the Done-when figures of issue 16. `npm run bench:realdata` prints the same measurement.
describe('real day: AMZN 2012-06-21 at default settings', () => {
  let f: RealDayFigures;
  beforeAll(async () => {
    f = await measureRealDay();
  });

  it('classifies ≥ 99 % of visible executions and ≥ 88 % of hidden ones; no visible trade missing', () => {
    expect(f.visible.total).toBe(8974);
    expect(f.visible.missing).toBe(0);
    expect(f.visible.pct).toBeGreaterThanOrEqual(99);
    expect(f.hidden.total).toBe(2445);
    expect(f.hidden.pct).toBeGreaterThanOrEqual(88);
  });

  it('keeps the alert budget: ≤ 12 red_burst, ≤ 3 critical, no exit signal in the first 15 minutes', () => {
    expect(f.redBurst).toBeLessThanOrEqual(12);
    expect(f.redBurstCritical).toBeLessThanOrEqual(3);
    if (f.firstExitMinutes !== null) expect(f.firstExitMinutes).toBeGreaterThanOrEqual(15);
    expect(f.alerts.every((a) => Number(BigInt(a.timestampNs) / 1_000_000n) >= Date.UTC(2012, 5, 21, 13, 45))).toBe(
      true,
    );
  });

  it('replay --report on the day: one row per alert kind/severity that fired, the drift over all 390 minutes', () => {
    const r = f.report;
    expect(r.rows.map((x) => x.count).reduce((a, b) => a + b, 0)).toBe(f.alerts.length);
    expect(r.drift.count).toBe(390);
    // AMZN drifted down with the market that afternoon: −11.7 bps mean 30 minutes after any minute.
    expect(r.drift.after[30].meanBps).toBeCloseTo(-11.7, 1);
    expect(r.perHour.map((h) => h.hour)).toEqual([9, 10, 11, 12, 13, 14, 15]);
    expect(r.perHour.reduce((a, h) => a + h.alerts, 0)).toBe(f.alerts.length);
  });
});
