/**
 * `npm run bench:realdata [-- --config cfg.json]`: the real AMZN day through replay, scored against the truth.
 * Prints classification accuracy (visible and hidden executions) and the day's alert budget.
 */
import { alertQuality, measureRealDay } from './measure';

const i = process.argv.indexOf('--config');
const config = i >= 0 ? process.argv[i + 1] : undefined;
const started = Date.now();
const f = measureRealDay(config);
const acc = (a: { pct: number; correct: number; total: number; missing: number }) =>
  `${a.pct.toFixed(2)} % (${a.correct}/${a.total}, ${a.missing} missing)`;
process.stdout.write(
  [
    'real day AMZN 2012-06-21 (NASDAQ, LOBSTER truth), default settings' + (config ? ` + ${config}` : ''),
    `  classification, visible executions  ${acc(f.visible)}`,
    `  classification, hidden executions   ${acc(f.hidden)}`,
    `  red_burst alerts                    ${f.redBurst} (${f.redBurstCritical} critical)`,
    `  large_seller alerts                 ${f.largeSeller}`,
    `  events that would fire the exit     ${f.exitEvents}`,
    `  first exit signal                   ${f.firstExit === null ? 'none' : `${f.firstExit} EDT (${f.firstExitMinutes} min after the open)`}`,
    `  (${Date.now() - started} ms)`,
    '',
  ].join('\n'),
);

// Alert quality: mid-price change after each alert kind vs every minute of the session (bps; negative = fell).
const fmt = (v: [number, number]) => `${v[0].toFixed(1)} / ${v[1].toFixed(1)}`.padEnd(16);
process.stdout.write(
  `  ${'alert'.padEnd(24)} ${'n'.padStart(4)}  ${'+1 min mean/med'.padEnd(16)}${'+5 min'.padEnd(16)}+30 min (bps)\n`,
);
for (const r of alertQuality(f.alerts)) {
  process.stdout.write(
    `  ${r.what.padEnd(24)} ${String(r.count).padStart(4)}  ${fmt(r.after[1]!)}${fmt(r.after[5]!)}${fmt(r.after[30]!)}\n`,
  );
}
const hours = new Map<number, number>();
for (const a of f.alerts) {
  const h = new Date(Number(BigInt(a.timestampNs) / 1_000_000n) - 4 * 3_600_000).getUTCHours();
  hours.set(h, (hours.get(h) ?? 0) + 1);
}
process.stdout.write(
  `  alerts per hour (EDT): ${
    [...hours]
      .sort((a, b) => a[0] - b[0])
      .map(([h, n]) => `${h}h ${n}`)
      .join(', ') || 'none'
  }\n`,
);
