import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTimeline, replayJson, runReplay } from '../../../src/cli/replay';
import {
  alertQualityReport,
  formatAlertQualityReport,
  MidSeries,
  type AlertQualityReport,
} from '../../../src/domain/alert-quality';
import { type FlowAlert } from '../../../src/domain/detectors/alerts';

// A synthetic tape with answers worked out by hand: the mid is 100.00 from 10:45 New York (15:45Z, December),
// 99.00 from 10:47 to the last quote at 11:25.
const T0 = Date.UTC(2025, 11, 1, 15, 45);
const MIN = 60_000;
const ns = (ms: number) => `${BigInt(ms) * 1_000_000n}`;
const QUOTES: [number, number][] = [
  [0, 100],
  [2, 99],
  [40, 99],
];
const alert = (minute: number, kind: FlowAlert['kind'], severity: FlowAlert['severity']) =>
  ({ kind, severity, symbol: 'TSLA', timestampNs: ns(T0 + minute * MIN), price: '100', rule: 'test' }) as FlowAlert;

/** Expected figures: n, mean and median bps for +1, +5 and +30 min. */
const EXPECTED = {
  // 10:46, mid 100 → 99 at every horizon: −100 bps.
  'red_burst/critical': { count: 1, 1: [1, -100, -100], 5: [1, -100, -100], 30: [1, -100, -100] },
  // 10:48 and 11:05, mid 99 → 99; 11:05 + 30 min is past the last quote, so left out there.
  'large_seller/warning': { count: 2, 1: [2, 0, 0], 5: [2, 0, 0], 30: [1, 0, 0] },
  // 40 whole minutes (10:45 … 11:24). Only the minutes 10:45 and 10:46 see the drop: +1 min only from 10:46
  // (−100 / 40 = −2.5); +5 and +30 from both (−200 / 36 = −5.6, −200 / 11 = −18.2); medians 0.
  'every minute': { count: 40, 1: [40, -2.5, 0], 5: [36, -5.6, 0], 30: [11, -18.2, 0] },
} as const;

function expectFigures(report: AlertQualityReport) {
  const rows = new Map([...report.rows, report.drift].map((r) => [r.what, r]));
  expect([...rows.keys()]).toEqual(['large_seller/warning', 'red_burst/critical', 'every minute']);
  for (const [what, e] of Object.entries(EXPECTED)) {
    const r = rows.get(what)!;
    expect(r.count).toBe(e.count);
    for (const h of [1, 5, 30] as const) expect([r.after[h].n, r.after[h].meanBps, r.after[h].medianBps]).toEqual(e[h]);
  }
}

describe('alert-quality report (domain)', () => {
  const mids = new MidSeries();
  for (const [m, mid] of QUOTES) mids.push(T0 + m * MIN, mid - 0.01, mid + 0.01);
  const alerts = [
    alert(1, 'red_burst', 'critical'),
    alert(3, 'large_seller', 'warning'),
    alert(20, 'large_seller', 'warning'),
  ];
  const report = alertQualityReport(alerts, mids);

  it('mean and median mid change after each kind/severity and after every minute', () => expectFigures(report));

  it('counts alerts per hour in New York time, quiet hours included', () => {
    expect(report.perHour).toEqual([
      { hour: 10, alerts: 2, critical: 1 },
      { hour: 11, alerts: 1, critical: 0 },
    ]);
  });

  it('prints one table; a horizon with no data shows a dash', () => {
    const text = formatAlertQualityReport(alertQualityReport([alert(39, 'red_burst', 'warning')], mids));
    expect(text).toContain('red_burst/warning         1  0.0 / 0.0       —               —');
    expect(text).toContain('every minute             40  -2.5 / 0.0      -5.6 / 0.0      -18.2 / 0.0');
    expect(text).toContain('alerts per hour (America/New_York): 10h 0, 11h 1');
  });

  it('no quotes: empty drift, no hours', () => {
    const r = alertQualityReport([], new MidSeries());
    expect(r.drift.count).toBe(0);
    expect(r.drift.after[1]).toEqual({ n: 0, meanBps: null, medianBps: null });
    expect(r.perHour).toEqual([]);
  });

  it('a quote missing a side has no mid; the median of an even count is the mean of the middle two', () => {
    const m = new MidSeries();
    m.push(T0, 0, 10);
    expect(m.length).toBe(0);
    for (const [i, mid] of [100, 101, 103, 100, 100].entries()) m.push(T0 + i * MIN, mid, mid);
    // +1 min from 0, 1, 2, 3: +100, +198.0, −291.3, 0 bps → median (0 + 100) / 2.
    expect(alertQualityReport([], m).drift.after[1]).toMatchObject({ n: 4, medianBps: 50 });
  });
});

describe('replay --report on recorded files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-report-'));
  const quotes = join(dir, 'quotes.jsonl');
  const trades = join(dir, 'trades.jsonl');
  writeFileSync(
    quotes,
    QUOTES.map(([m, mid], i) => {
      const t = ns(T0 + m * MIN);
      return `{"bid_price":${mid - 0.01},"bid_size":100,"ask_price":${mid + 0.01},"ask_size":100,"sequence_number":${i + 1},"participant_timestamp":${t},"sip_timestamp":${t}}`;
    }).join('\n'),
  );
  const t = ns(T0 + 30_000);
  writeFileSync(
    trades,
    `{"id":"1","exchange":4,"price":100,"size":100,"sequence_number":1,"participant_timestamp":${t},"sip_timestamp":${t}}\n`,
  );

  it('the drift row from the quotes read; --json has the report, text mode prints the table', async () => {
    const result = await runReplay({ symbol: 'TSLA', trades, quotes, report: true });
    expect(result.alerts).toEqual([]);
    const json = replayJson(result) as { report: AlertQualityReport };
    expect(json.report.drift).toMatchObject({
      count: 40,
      after: {
        1: { n: 40, meanBps: -2.5, medianBps: 0 },
        5: { n: 36, meanBps: -5.6 },
        30: { n: 11, meanBps: -18.2 },
      },
    });
    expect(json.report.rows).toEqual([]);
    expect(formatTimeline(result)).toContain('alert quality: mid-price change after each alert');
    expect(formatTimeline(result)).toContain('(no alerts)');
  });

  it('without --report there is no report', async () => {
    const result = await runReplay({ symbol: 'TSLA', trades, quotes });
    expect(result.report).toBeUndefined();
    expect(Object.keys(replayJson(result) as object)).not.toContain('report');
  });
});
