/**
 * Measures the detectors on a real day (NASDAQ 2012-06-21 from LOBSTER's sample files, test/fixtures/realdata:
 * AMZN from ../shared/realdata, GOOG as its README says): classification accuracy against the true initiator of
 * every trade, and the day's alert budget. Shared by `npm run bench:realdata` and the unit tests that hold the
 * figures (test/unit/replay/realdata.test.ts, realdata-goog.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runReplay } from '../../src/cli/replay';
import { type AlertQualityReport } from '../../src/domain/alert-quality';
import { type FlowAlert } from '../../src/domain/detectors/alerts';

export const REALDATA_DIR = join(__dirname, '../../test/fixtures/realdata');
/** The real days in test/fixtures/realdata, all 2012-06-21 (LOBSTER's sample date). */
export const REAL_DAY_SYMBOLS = ['AMZN', 'GOOG'] as const;
export type RealDaySymbol = (typeof REAL_DAY_SYMBOLS)[number];
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
  /** The alert-quality report of `replay --report` (src/domain/alert-quality.ts) for the day. */
  readonly report: AlertQualityReport;
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

/**
 * Replays a real day through the CLI's replay (with --trades-out) and scores it. `config`: a detector config file;
 * `volumeProfile`: a file of minute aggregates (replay --volume-profile); `symbol`: which day (default AMZN).
 */
export async function measureRealDay(
  config?: string,
  volumeProfile?: string,
  symbol: RealDaySymbol = 'AMZN',
): Promise<RealDayFigures> {
  const DAY = `${symbol}-2012-06-21`;
  const dir = mkdtempSync(join(tmpdir(), 'fg-realdata-'));
  try {
    const tradesOut = join(dir, 'trades-out.jsonl');
    const result = await runReplay({
      symbol,
      trades: join(REALDATA_DIR, `${DAY}.trades.jsonl.gz`),
      quotes: join(REALDATA_DIR, `${DAY}.quotes.jsonl.gz`),
      config,
      volumeProfile,
      tradesOut,
      report: true,
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
      report: result.report!,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
