import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { type Command } from 'commander';
import { type FlowAlert } from '../domain/detectors/alerts';
import { formatAlertQualityReport } from '../domain/alert-quality';
import { AppConfigSchema, resolveConfig } from '../domain/config';
import { DetectorConfigSchema, type DetectorConfig } from '../domain/detectors/config';
import { formatPriceE8 } from '../domain/market-data/price';
import { formatNs } from '../domain/market-data/timestamp';
import { isRejectCode } from '../domain/market-data/reject-codes';
import { recordTime, replaySession, type ReplayResult } from '../domain/replay';
import {
  assertSomeAccepted,
  explainRejection,
  parseReplayFile,
  RecordStream,
  type RecordFile,
  type Rejection,
  type StreamTally,
} from '../domain/replay-input';
import { type RecordOutcome, type TradeVerdict } from '../domain/detectors/flow-detector';
import { parseOrThrow, ValidationError } from '../domain/validation';
import { action, printJson } from './io';

export interface ReplayOptions {
  symbol?: string;
  trades?: string;
  quotes?: string;
  config?: string;
  json?: boolean;
  tradesOut?: string;
  report?: boolean;
}

const SYMBOL = /^[A-Z]{1,6}(\.[A-Z]{1,2})?$/;

function readText(path: string, flag: string): string {
  try {
    // Recorded days are kept gzipped (a day of quotes is ~12 MB as text).
    return path.endsWith('.gz') ? gunzipSync(readFileSync(path)).toString('utf8') : readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const rule = code === 'ENOENT' ? `file not found: ${path}` : `cannot read ${path} (${code ?? String(err)})`;
    throw new ValidationError([{ field: flag, rule }]);
  }
}

/** Top-level keys of the app config file (FLOWGUARD_CONFIG); none of them is a detector setting. */
const APP_CONFIG_KEYS: readonly string[] = Object.keys(AppConfigSchema.shape);

/**
 * Detector settings for replay from a JSON file: either a bare detector config ({"largeOrderSize": 20000}) or a
 * full app config (the FLOWGUARD_CONFIG file, with "detectors", "orders", "marketData"), which is validated
 * whole by the app's own resolver so a file the worker would refuse is not half-used here; its detectors
 * section is taken. FLOWGUARD_* variables are not applied: a replay depends on its files only.
 */
export function loadDetectorConfigFile(path: string): DetectorConfig {
  const text = readText(path, '--config');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ValidationError([{ field: '--config', rule: `${path} must be valid JSON (${(err as Error).message})` }]);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ValidationError([
      { field: '--config', rule: `${path} must be a JSON object: detector settings, or an app config` },
    ]);
  if (!Object.keys(json).some((k) => APP_CONFIG_KEYS.includes(k)))
    return parseOrThrow(DetectorConfigSchema, json, 'config');
  try {
    return resolveConfig({ env: {}, file: json }).detectors;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw new ValidationError(err.issues.map((i) => ({ field: `config.${i.field}`, rule: i.rule })));
  }
}

/** How many rejections are explained one by one (text summary and --json). */
const FIRST_REJECTIONS = 5;
/** SCHEMA rejections explained field by field through the zod contract (slow); the rest count as "(record)". */
const SCHEMA_EXPLAINED = 1000;

export interface ReplayRun extends ReplayResult {
  readonly rejections: {
    /** SCHEMA rejections by the field that broke the contract. */
    readonly schemaFields: Record<string, number>;
    /** The first few rejections, in replay order, with file, line, field and rule. */
    readonly first: Rejection[];
  };
}

/** Validates the flags, reads the files and replays them; throws ValidationError on bad input. */
export function runReplay(opts: ReplayOptions): ReplayRun {
  const issues: { field: string; rule: string }[] = [];
  if (opts.symbol === undefined) issues.push({ field: '--symbol', rule: 'is required' });
  else if (!SYMBOL.test(opts.symbol))
    issues.push({ field: '--symbol', rule: 'must be an equity ticker like TSLA or BRK.B' });
  if (opts.trades === undefined) issues.push({ field: '--trades', rule: 'is required' });
  if (opts.quotes === undefined) issues.push({ field: '--quotes', rule: 'is required' });
  if (issues.length > 0) throw new ValidationError(issues);
  const config = opts.config === undefined ? undefined : loadDetectorConfigFile(opts.config);
  const files: Record<RecordStream, RecordFile> = {
    trades: parseReplayFile(readText(opts.trades!, '--trades'), RecordStream.Trades, opts.trades!),
    quotes: parseReplayFile(readText(opts.quotes!, '--quotes'), RecordStream.Quotes, opts.quotes!),
  };
  const tally: Record<RecordStream, StreamTally> = {
    trades: { accepted: 0, rejected: 0, ignored: 0, firstRejected: -1 },
    quotes: { accepted: 0, rejected: 0, ignored: 0, firstRejected: -1 },
  };
  const first: Rejection[] = [];
  const schemaFields: Record<string, number> = {};
  const firstOfStream: Partial<Record<RecordStream, Rejection>> = {};
  let schemaSeen = 0;
  const onOutcome = (stream: RecordStream, index: number, outcome: RecordOutcome) => {
    const t = tally[stream];
    if (outcome === 'accepted') t.accepted++;
    else if (outcome === 'ignored') t.ignored++;
    else if (isRejectCode(outcome)) {
      t.rejected++;
      const explain =
        t.firstRejected < 0 ||
        first.length < FIRST_REJECTIONS ||
        (outcome === 'SCHEMA' && schemaSeen < SCHEMA_EXPLAINED);
      const why = explain ? explainRejection(files[stream], index, outcome) : undefined;
      if (t.firstRejected < 0) {
        t.firstRejected = index;
        firstOfStream[stream] = why;
      }
      if (why !== undefined && first.length < FIRST_REJECTIONS) first.push(why);
      if (outcome === 'SCHEMA') {
        const field = schemaSeen++ < SCHEMA_EXPLAINED && why !== undefined ? why.field : '(not explained)';
        schemaFields[field] = (schemaFields[field] ?? 0) + 1;
      }
    }
  };
  const trades = files.trades.records;
  const quotes = files.quotes.records;
  const lines: string[] = [];
  const onTrade =
    opts.tradesOut === undefined
      ? undefined
      : (raw: unknown, v: TradeVerdict, outcome: RecordOutcome) =>
          lines.push(JSON.stringify(tradeLine(raw, v, outcome)));
  const result = replaySession({
    symbol: opts.symbol!,
    config,
    trades,
    quotes,
    onTrade,
    onOutcome,
    report: opts.report === true ? {} : undefined,
  });
  for (const stream of [RecordStream.Trades, RecordStream.Quotes]) {
    assertSomeAccepted(files[stream], tally[stream], firstOfStream[stream]);
  }
  if (opts.tradesOut !== undefined) {
    try {
      writeFileSync(opts.tradesOut, lines.length > 0 ? `${lines.join('\n')}\n` : '');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new ValidationError([{ field: '--trades-out', rule: `cannot write ${opts.tradesOut} (${code})` }]);
    }
  }
  return { ...result, rejections: { schemaFields, first } };
}

const priceOrNull = (e8: number): number | null => (e8 > 0 ? Number(formatPriceE8(e8)) : null);

/** One `--trades-out` line: the record's identity as recorded and how the detector classified it. */
export function tradeLine(raw: unknown, v: TradeVerdict, outcome: RecordOutcome): Record<string, unknown> {
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const ws = r.ev !== undefined;
  const t = recordTime(raw);
  return {
    id: (ws ? r.i : r.id) ?? null,
    sequence_number: (ws ? r.q : r.sequence_number) ?? null,
    sip_timestamp: t === undefined ? null : formatNs(t.us, t.rem),
    eligible: v.eligible,
    ...(outcome !== 'accepted' ? { outcome } : {}),
    side: v.side,
    rule: v.rule,
    bid: priceOrNull(v.bidE8),
    ask: priceOrNull(v.askE8),
  };
}

/** The `--json` document: exactly the fields promised to scripts. */
export function replayJson(result: ReplayRun): unknown {
  return {
    symbol: result.symbol,
    alerts: result.alerts,
    exitSignal:
      result.exitSignal === null
        ? null
        : {
            timestampNs: result.exitSignal.timestampNs,
            reason: result.exitSignal.reason,
            rule: result.exitSignal.rule,
          },
    stats: result.stats,
    rejections: result.rejections,
    ...(result.report !== undefined ? { report: result.report } : {}),
  };
}

/** "2025-11-03T14:35:01.123456789Z" from exact nanoseconds. */
export function isoFromNs(ns: string): string {
  const padded = ns.padStart(10, '0');
  const ms = Number(padded.slice(0, -6));
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, -1)}${padded.slice(-6)}Z`;
}

function describe(a: FlowAlert): string {
  const what = a.kind === 'large_seller' ? `large_seller/${a.source}` : 'red_burst';
  return `${isoFromNs(a.timestampNs)}  ${a.severity.toUpperCase().padEnd(8)} ${what.padEnd(18)} ${a.symbol} @ ${a.price}  ${a.rule}`;
}

export function formatTimeline(result: ReplayRun): string {
  const lines: string[] = [];
  lines.push(`replay ${result.symbol}: ${result.alerts.length} alert(s)`);
  for (const a of result.alerts) {
    lines.push(describe(a));
    if (result.exitSignal !== null && a.timestampNs === result.exitSignal.timestampNs) {
      lines.push(
        `${isoFromNs(result.exitSignal.timestampNs)}  EXIT     ${result.exitSignal.reason}: ${result.exitSignal.rule}`,
      );
    }
  }
  if (result.exitSignal === null) lines.push('exit signal: none');
  const s = result.stats;
  const rejected = Object.entries(s.rejected)
    .filter(([, n]) => n > 0)
    .map(([c, n]) => {
      // SCHEMA alone says nothing a user can fix: name the fields that broke the contract.
      const fields = Object.entries(result.rejections.schemaFields).sort((a, b) => b[1] - a[1]);
      return c === 'SCHEMA' && fields.length > 0
        ? `${c} ${n} (${fields.map(([f, k]) => `${f} ${k}`).join(', ')})`
        : `${c} ${n}`;
    });
  const dropped = Object.entries(s.dropped.conditions).map(([c, n]) => `condition ${c}: ${n}`);
  if (s.dropped.correction > 0) dropped.unshift(`correction: ${s.dropped.correction}`);
  lines.push(
    `trades ${s.trades} (eligible ${s.eligibleTrades}: buy ${s.sides.buy}, sell ${s.sides.sell}, unknown ${s.sides.unknown}), quotes ${s.quotes}`,
  );
  lines.push(`rejected: ${rejected.length > 0 ? rejected.join(', ') : 'none'}`);
  for (const r of result.rejections.first) lines.push(`  ${r.file} line ${r.line}: ${r.code} ${r.field}: ${r.rule}`);
  lines.push(`dropped (ineligible): ${dropped.length > 0 ? dropped.join(', ') : 'none'}`);
  const report = result.report === undefined ? '' : formatAlertQualityReport(result.report);
  return `${lines.join('\n')}\n${report}`;
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('replay recorded Polygon trades and NBBO quotes through the order-flow detectors (offline)')
    .option('--symbol <SYM>', 'ticker the recording belongs to')
    .option('--trades <FILE>', 'Polygon /v3/trades response JSON, or JSON Lines of trade results')
    .option('--quotes <FILE>', 'Polygon /v3/quotes response JSON, or JSON Lines of quote results')
    .option(
      '--config <FILE>',
      'JSON detector settings, or an app config file (FLOWGUARD_CONFIG layout) whose "detectors" section is used',
    )
    .option('--json', 'print one JSON object')
    .option(
      '--trades-out <FILE>',
      'write one JSON line per trade record: identity, eligible, side, rule, bid and ask used',
    )
    .option(
      '--report',
      'alert quality: per alert kind and severity, the mid-price change 1, 5 and 30 min later vs every minute (drift), and alerts per hour',
    )
    .action(
      action((opts: ReplayOptions) => {
        const result = runReplay(opts);
        if (opts.json) printJson(replayJson(result));
        else process.stdout.write(formatTimeline(result));
      }),
    );
}
