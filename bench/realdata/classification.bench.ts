/**
 * `npm run bench:realdata [-- --config cfg.json] [--volume-profile aggs.json] [--symbol GOOG]`: a real day (AMZN by
 * default) through replay, scored against the truth.
 * Prints classification accuracy (visible and hidden executions) and the day's alert budget.
 */
import { formatAlertQualityReport } from '../../src/domain/alert-quality';
import { measureRealDay, REAL_DAY_SYMBOLS, type RealDaySymbol } from './measure';

const i = process.argv.indexOf('--config');
const config = i >= 0 ? process.argv[i + 1] : undefined;
const j = process.argv.indexOf('--volume-profile');
const profile = j >= 0 ? process.argv[j + 1] : undefined;
const k = process.argv.indexOf('--symbol');
const symbol = (k >= 0 ? process.argv[k + 1] : 'AMZN') as RealDaySymbol;
if (!REAL_DAY_SYMBOLS.includes(symbol)) throw new Error(`--symbol must be one of ${REAL_DAY_SYMBOLS.join(', ')}`);
async function main(): Promise<void> {
  const started = Date.now();
  const f = await measureRealDay(config, profile, symbol);
  const acc = (a: { pct: number; correct: number; total: number; missing: number }) =>
    `${a.pct.toFixed(2)} % (${a.correct}/${a.total}, ${a.missing} missing)`;
  process.stdout.write(
    [
      `real day ${symbol} 2012-06-21 (NASDAQ, LOBSTER truth), default settings` +
        (config ? ` + ${config}` : '') +
        (profile ? ` + volume profile ${profile}` : ''),
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

  // Alert quality, as `flowguard replay --report` prints it (computed once, in src/domain/alert-quality.ts).
  process.stdout.write(formatAlertQualityReport(f.report).replace(/^/gm, '  '));
}

void main();
