import { type FlowAlert, type Severity } from './detectors/alerts';

/**
 * The alert-quality report of `flowguard replay --report` and `npm run bench:realdata` (issue 16): after each
 * alert kind and severity, how far the mid-price moved 1, 5 and 30 minutes later, next to the same after every
 * minute of the session (the day's drift), and alerts per hour. An alert worth acting on is followed by a drop
 * larger than the drift; one that is not is noise however loud it was. Pure: the caller feeds the mids.
 */

export const REPORT_HORIZONS_MINUTES = [1, 5, 30] as const;
export type ReportHorizon = (typeof REPORT_HORIZONS_MINUTES)[number];

const MINUTE_MS = 60_000;

/** Mean and median mid-price change in basis points (negative: the price fell), rounded to 0.1 bps. */
export interface MoveStats {
  /** Instants with a mid at both ends (an instant whose horizon passes the last quote is left out). */
  readonly n: number;
  readonly meanBps: number | null;
  readonly medianBps: number | null;
}

export interface QualityRow {
  /** `large_seller/critical`, `red_burst/warning`, …, or `every minute` for the drift row. */
  readonly what: string;
  readonly kind: FlowAlert['kind'] | null;
  readonly severity: Severity | null;
  readonly count: number;
  readonly after: Readonly<Record<ReportHorizon, MoveStats>>;
}

export interface HourCount {
  /** Hour of day in the report's time zone, 0–23. */
  readonly hour: number;
  readonly alerts: number;
  readonly critical: number;
}

export interface AlertQualityReport {
  readonly timeZone: string;
  readonly horizonsMinutes: readonly ReportHorizon[];
  /** One row per alert kind and severity that fired, sorted by name. */
  readonly rows: readonly QualityRow[];
  /** The same figures after every whole minute from the first quote's minute to the last quote. */
  readonly drift: QualityRow;
  /** Every hour the quotes span, alerts or not. */
  readonly perHour: readonly HourCount[];
}

/**
 * Mid-prices in time order (ms since the epoch). Consecutive equal mids are kept once, so a day of quotes costs
 * one entry per change of the mid, not per quote.
 */
export class MidSeries {
  private readonly ms: number[] = [];
  private readonly mid: number[] = [];
  /** The last quote's time, kept apart: a quote repeating the mid adds no entry but still extends the series. */
  private end: number | undefined;

  /** A quote's bid and ask (dollars); a quote missing a side has no mid and is skipped. */
  push(ms: number, bid: number, ask: number): void {
    if (!(bid > 0 && ask > 0 && Number.isFinite(ms))) return;
    const m = (bid + ask) / 2;
    const n = this.ms.length;
    if (this.end !== undefined && ms < this.end) return; // out of order: the detector rejects it too
    this.end = ms;
    if (n > 0 && this.mid[n - 1] === m) return;
    this.ms.push(ms);
    this.mid.push(m);
  }

  get length(): number {
    return this.ms.length;
  }
  get firstMs(): number | undefined {
    return this.ms[0];
  }
  get lastMs(): number | undefined {
    return this.end;
  }

  /** The mid in force at `ms`: the last one stamped at or before it. */
  at(ms: number): number | undefined {
    const times = this.ms;
    if (times.length === 0 || times[0]! > ms) return undefined;
    let lo = 0;
    let hi = times.length - 1;
    while (lo < hi) {
      const m = (lo + hi + 1) >> 1;
      if (times[m]! <= ms) lo = m;
      else hi = m - 1;
    }
    return this.mid[lo];
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function moves(mids: MidSeries, instants: readonly number[], horizon: number): MoveStats {
  const last = mids.lastMs;
  const out: number[] = [];
  if (last !== undefined) {
    for (const t of instants) {
      const end = t + horizon * MINUTE_MS;
      if (end > last) continue;
      const a = mids.at(t);
      const b = mids.at(end);
      if (a !== undefined && b !== undefined) out.push(((b - a) / a) * 10_000);
    }
  }
  if (out.length === 0) return { n: 0, meanBps: null, medianBps: null };
  out.sort((x, y) => x - y);
  const mid = out.length >> 1;
  const median = out.length % 2 === 1 ? out[mid]! : (out[mid - 1]! + out[mid]!) / 2;
  return { n: out.length, meanBps: round1(out.reduce((s, x) => s + x, 0) / out.length), medianBps: round1(median) };
}

function row(
  what: string,
  kind: QualityRow['kind'],
  severity: Severity | null,
  mids: MidSeries,
  instants: number[],
): QualityRow {
  const after = {} as Record<ReportHorizon, MoveStats>;
  for (const h of REPORT_HORIZONS_MINUTES) after[h] = moves(mids, instants, h);
  return { what, kind, severity, count: instants.length, after };
}

const hourFormatters = new Map<string, Intl.DateTimeFormat>();
function hourIn(ms: number, timeZone: string): number {
  let f = hourFormatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', hour: 'numeric' });
    hourFormatters.set(timeZone, f);
  }
  return Number(f.formatToParts(new Date(ms)).find((p) => p.type === 'hour')?.value ?? 0);
}

const alertMs = (a: FlowAlert) => Number(BigInt(a.timestampNs) / 1_000_000n);

/** The report for alerts raised on a session whose quotes gave `mids`. `timeZone`: for the per-hour counts. */
export function alertQualityReport(
  alerts: readonly FlowAlert[],
  mids: MidSeries,
  timeZone = 'America/New_York',
): AlertQualityReport {
  const groups = new Map<string, { kind: FlowAlert['kind']; severity: Severity; instants: number[] }>();
  for (const a of alerts) {
    const key = `${a.kind}/${a.severity}`;
    const g = groups.get(key) ?? { kind: a.kind, severity: a.severity, instants: [] };
    g.instants.push(alertMs(a));
    groups.set(key, g);
  }
  const rows = [...groups]
    .sort((x, y) => (x[0] < y[0] ? -1 : 1))
    .map(([key, g]) => row(key, g.kind, g.severity, mids, g.instants));
  const minutes: number[] = [];
  const perHour: HourCount[] = [];
  const first = mids.firstMs;
  const last = mids.lastMs;
  if (first !== undefined && last !== undefined) {
    for (let t = Math.floor(first / MINUTE_MS) * MINUTE_MS; t < last; t += MINUTE_MS) minutes.push(t);
    // Every hour of the span listed, quiet ones too: where in the day alerts bunch is the point.
    const counts = new Map<number, { alerts: number; critical: number }>();
    for (let t = Math.floor(first / 3_600_000) * 3_600_000; t <= last; t += 3_600_000)
      counts.set(hourIn(t, timeZone), { alerts: 0, critical: 0 });
    for (const a of alerts) {
      const h = hourIn(alertMs(a), timeZone);
      const c = counts.get(h) ?? { alerts: 0, critical: 0 };
      c.alerts++;
      if (a.severity === 'critical') c.critical++;
      counts.set(h, c);
    }
    for (const [hour, c] of [...counts].sort((x, y) => x[0] - y[0])) perHour.push({ hour, ...c });
  }
  return {
    timeZone,
    horizonsMinutes: REPORT_HORIZONS_MINUTES,
    rows,
    drift: row('every minute', null, null, mids, minutes),
    perHour,
  };
}

const cell = (s: MoveStats) =>
  (s.meanBps === null || s.medianBps === null ? '—' : `${s.meanBps.toFixed(1)} / ${s.medianBps.toFixed(1)}`).padEnd(16);

/** The report as a text table (the CLI's `--report` and the bench print the same). */
export function formatAlertQualityReport(r: AlertQualityReport): string {
  const lines = [
    'alert quality: mid-price change after each alert vs after every minute (bps, mean / median; negative = fell)',
    `  ${'alert'.padEnd(22)} ${'n'.padStart(4)}  ${REPORT_HORIZONS_MINUTES.map((h) => `+${h} min`.padEnd(16)).join('')}`.trimEnd(),
  ];
  for (const x of [...r.rows, r.drift])
    lines.push(
      `  ${x.what.padEnd(22)} ${String(x.count).padStart(4)}  ${REPORT_HORIZONS_MINUTES.map((h) => cell(x.after[h])).join('')}`.trimEnd(),
    );
  if (r.rows.length === 0) lines.push('  (no alerts)');
  lines.push(
    `  alerts per hour (${r.timeZone}): ${
      r.perHour
        .map(
          (h) => `${String(h.hour).padStart(2, '0')}h ${h.alerts}${h.critical > 0 ? ` (${h.critical} critical)` : ''}`,
        )
        .join(', ') || 'none'
    }`,
  );
  return `${lines.join('\n')}\n`;
}
