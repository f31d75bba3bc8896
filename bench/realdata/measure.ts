/**
 * Measures the detectors on the real day (AMZN 2012-06-21, test/fixtures/realdata, from ../shared/realdata):
 * classification accuracy against the true initiator of every trade (LOBSTER), and the day's alert budget.
 * Shared by `npm run bench:realdata` and the unit test that holds the figures (test/unit/replay/realdata.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runReplay } from '../../src/cli/replay';
import { type FlowAlert } from '../../src/domain/detectors/alerts';

export const REALDATA_DIR = join(__dirname, '../../test/fixtures/realdata');
const DAY = 'AMZN-2012-06-21';
/** 09:30 EDT on 2012-06-21 in Unix ms (EDT is UTC−4). */
export const SESSION_OPEN_MS = Date.UTC(2012, 5, 21, 13, 30);

export interface Accuracy {
  readonly total: number;
  readonly correct: number;
  /** Truth trades with no line in --trades-out, or a line that is not eligible. */
  readonly missing: number;
  readonly pct: number;
}

export interface RealDayFigures {
  readonly visible: Accuracy;
  readonly hidden: Accuracy;
  readonly redBurst: number;
  readonly redBurstCritical: number;
  readonly largeSeller: number;
  /** Alerts that would each fire the exit signal on their own: critical red bursts and completed large-seller clusters. */
  readonly exitEvents: number;
  /** First exit signal as EDT wall-clock time (HH:MM:SS), null when none. */
  readonly firstExit: string | null;
  /** Minutes after the 09:30 open of the first exit signal. */
  readonly firstExitMinutes: number | null;
  readonly alerts: FlowAlert[];
}

function jsonLines(path: string): Record<string, unknown>[] {
  const text = path.endsWith('.gz') ? gunzipSync(readFileSync(path)).toString('utf8') : readFileSync(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function edt(ns: string): { clock: string; minutes: number } {
  const ms = Number(BigInt(ns) / 1_000_000n);
  const clock = new Date(ms - 4 * 3_600_000).toISOString().slice(11, 19);
  return { clock, minutes: (ms - SESSION_OPEN_MS) / 60_000 };
}

/** Replays the real day through the CLI's replay (with --trades-out) and scores it. `config`: a detector config file. */
export function measureRealDay(config?: string): RealDayFigures {
  const dir = mkdtempSync(join(tmpdir(), 'fg-realdata-'));
  try {
    const tradesOut = join(dir, 'trades-out.jsonl');
    const result = runReplay({
      symbol: 'AMZN',
      trades: join(REALDATA_DIR, `${DAY}.trades.jsonl.gz`),
      quotes: join(REALDATA_DIR, `${DAY}.quotes.jsonl.gz`),
      config,
      tradesOut,
    });
    const verdicts = new Map<string, Record<string, unknown>>();
    for (const line of jsonLines(tradesOut)) verdicts.set(String(line.id), line);
    const score = { visible: { total: 0, correct: 0, missing: 0 }, hidden: { total: 0, correct: 0, missing: 0 } };
    for (const truth of jsonLines(join(REALDATA_DIR, `${DAY}.truth.jsonl.gz`))) {
      const s = truth.hidden === true ? score.hidden : score.visible;
      s.total++;
      const v = verdicts.get(String(truth.id));
      if (v === undefined || v.eligible !== true) s.missing++;
      else if (v.side === truth.side) s.correct++;
    }
    const pct = (a: { total: number; correct: number }) => Math.round((10_000 * a.correct) / a.total) / 100;
    const bursts = result.alerts.filter((a) => a.kind === 'red_burst');
    const sellers = result.alerts.filter((a) => a.kind === 'large_seller');
    // Each critical burst would fire the exit by itself; so would every large-seller alert that completes a cluster.
    let clusters = 0;
    const times = sellers.map((a) => Number(BigInt(a.timestampNs) / 1_000_000n));
    const { exitAlertCount: n, alertWindowSeconds: w } = { exitAlertCount: 3, alertWindowSeconds: 120 };
    for (let i = n - 1; i < times.length; i++) if (times[i]! - times[i - n + 1]! <= w * 1000) clusters++;
    const critical = bursts.filter((a) => a.severity === 'critical').length;
    const exit = result.exitSignal === null ? null : edt(result.exitSignal.timestampNs);
    return {
      visible: { ...score.visible, pct: pct(score.visible) },
      hidden: { ...score.hidden, pct: pct(score.hidden) },
      redBurst: bursts.length,
      redBurstCritical: critical,
      largeSeller: sellers.length,
      exitEvents: critical + clusters,
      firstExit: exit?.clock ?? null,
      firstExitMinutes: exit === null ? null : Math.round(exit.minutes * 10) / 10,
      alerts: result.alerts,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Mean and median mid-price change (in bps) h minutes after each instant, per alert kind and for every minute. */
export interface QualityRow {
  readonly what: string;
  readonly count: number;
  /** Horizon in minutes → [mean bps, median bps]. */
  readonly after: Record<number, [number, number]>;
}

/**
 * The alert-quality view of issue 16: after each alert kind/severity, how did the mid move 1, 5 and 30 minutes
 * later, next to the same for every minute of the session (the day's drift). Negative: the price fell.
 */
export function alertQuality(alerts: readonly FlowAlert[]): QualityRow[] {
  const mids: { ms: number; mid: number }[] = [];
  for (const q of jsonLines(join(REALDATA_DIR, `${DAY}.quotes.jsonl.gz`))) {
    const bid = Number(q.bid_price);
    const ask = Number(q.ask_price);
    if (bid > 0 && ask > 0)
      mids.push({ ms: Number(BigInt(String(q.sip_timestamp)) / 1_000_000n), mid: (bid + ask) / 2 });
  }
  const midAt = (ms: number): number | undefined => {
    let lo = 0;
    let hi = mids.length - 1;
    if (hi < 0 || mids[0]!.ms > ms) return undefined;
    while (lo < hi) {
      const m = (lo + hi + 1) >> 1;
      if (mids[m]!.ms <= ms) lo = m;
      else hi = m - 1;
    }
    return mids[lo]!.mid;
  };
  const close = mids[mids.length - 1]!.ms;
  const row = (what: string, instants: readonly number[]): QualityRow => {
    const after: Record<number, [number, number]> = {};
    for (const h of [1, 5, 30]) {
      const moves: number[] = [];
      for (const t of instants) {
        const a = midAt(t);
        const b = t + h * 60_000 <= close ? midAt(t + h * 60_000) : undefined;
        if (a !== undefined && b !== undefined) moves.push(((b - a) / a) * 10_000);
      }
      moves.sort((x, y) => x - y);
      const mean = moves.length > 0 ? moves.reduce((s, x) => s + x, 0) / moves.length : NaN;
      const median = moves.length > 0 ? moves[Math.floor(moves.length / 2)]! : NaN;
      after[h] = [Math.round(mean * 10) / 10, Math.round(median * 10) / 10];
    }
    return { what, count: instants.length, after };
  };
  const rows: QualityRow[] = [];
  const groups = new Map<string, number[]>();
  for (const a of alerts) {
    const key = `${a.kind}/${a.severity}`;
    groups.set(key, [...(groups.get(key) ?? []), Number(BigInt(a.timestampNs) / 1_000_000n)]);
  }
  for (const [key, instants] of [...groups].sort()) rows.push(row(key, instants));
  const minutes: number[] = [];
  for (let t = SESSION_OPEN_MS; t < close; t += 60_000) minutes.push(t);
  rows.push(row('every minute (drift)', minutes));
  return rows;
}
