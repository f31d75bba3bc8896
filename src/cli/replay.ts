import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { type Command } from 'commander';
import { type FlowAlert } from '../domain/detectors/alerts';
import { formatAlertQualityReport } from '../domain/alert-quality';
import { AppConfigSchema, CONFIG_ENV_VARS, CONFIG_FILE_ENV, resolveConfig } from '../domain/config';
import { DetectorConfigSchema, type DetectorConfig } from '../domain/detectors/config';
import { mergeStep, type MergeSide } from '../domain/market-data/merge';
import { formatPriceE8 } from '../domain/market-data/price';
import { type MarketRecord } from '../domain/market-data/records';
import { formatNs, parseNs } from '../domain/market-data/timestamp';
import { isRejectCode, RejectCode } from '../domain/market-data/reject-codes';
import { ReplaySession, type ReplayResult } from '../domain/replay';
import { assertSomeAccepted, explainRejection, failInput, RecordStream, type Rejection } from '../domain/replay-input';
import { type RecordOutcome, type TradeVerdict } from '../domain/detectors/flow-detector';
import { parseOrThrow, ValidationError } from '../domain/validation';
import { readError, RecordFileReader, type RecordBatch } from '../market-data/record-files';
import {
  buildVolumeProfile,
  MinuteBarSchema,
  type MinuteBar,
  type VolumeProfile,
} from '../domain/detectors/volume-profile';
import { action, printJson } from './io';

export interface ReplayOptions {
  symbol?: string;
  trades?: string;
  quotes?: string;
  config?: string;
  json?: boolean;
  tradesOut?: string;
  report?: boolean;
  volumeProfile?: string;
}

const SYMBOL = /^[A-Z]{1,6}(\.[A-Z]{1,2})?$/;

function readText(path: string, flag: string): string {
  try {
    return path.endsWith('.gz') ? gunzipSync(readFileSync(path)).toString('utf8') : readFileSync(path, 'utf8');
  } catch (err) {
    throw new ValidationError([{ field: flag, rule: readError(path, err) }]);
  }
}

/** Top-level keys of the app config file (FLOWGUARD_CONFIG); none of them is a detector setting. */
const APP_CONFIG_KEYS: readonly string[] = Object.keys(AppConfigSchema.shape);

/**
 * The detector settings and the config file named in the environment (FLOWGUARD_DETECTOR_*, FLOWGUARD_CONFIG)
 * that replay does not apply: the worker does, so a user tuning with them must be told that replay did not.
 */
export function ignoredSettingsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const names = CONFIG_ENV_VARS.filter((v) => v.path.startsWith('detectors.')).map((v) => v.name);
  return [CONFIG_FILE_ENV, ...names].filter((n) => (env[n]?.trim() ?? '') !== '');
}

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

/**
 * `--volume-profile FILE`: minute aggregates of recorded days, as Polygon's `/v2/aggs/ticker/{T}/range/1/minute/…`
 * answers them (one response object, several, or JSON Lines of response objects or of bare `{t, v}` bars; .gz
 * too), turned into the intraday volume curve (domain/detectors/volume-profile.ts). Bars outside the regular
 * session are ignored. Throws ValidationError naming the flag, the file and the line.
 */
export function loadVolumeProfileFile(path: string): VolumeProfile {
  const flag = '--volume-profile';
  const text = readText(path, flag);
  const bars: MinuteBar[] = [];
  const take = (value: unknown, where: string) => {
    const response = isObject(value) && Array.isArray(value.results);
    const list: unknown[] = response ? (value.results as unknown[]) : [value];
    for (const [i, bar] of list.entries()) {
      const r = MinuteBarSchema.safeParse(bar);
      if (!r.success) {
        const issue = r.error.issues[0]!;
        const field = issue.path.length > 0 ? issue.path.join('.') : 'bar';
        const at = response ? `${where}, results[${i}]` : where;
        throw new ValidationError([{ field: flag, rule: `${path} ${at}: ${field} ${issue.message}` }]);
      }
      bars.push(r.data);
    }
  };
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined;
  }
  if (whole !== undefined) {
    for (const [i, v] of (Array.isArray(whole) ? whole : [whole]).entries()) take(v, `item ${i + 1}`);
  } else {
    for (const [i, line] of text.split('\n').entries()) {
      if (line.trim() === '') continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (err) {
        throw new ValidationError([
          { field: flag, rule: `${path} line ${i + 1} must be JSON (${(err as Error).message})` },
        ]);
      }
      take(v, `line ${i + 1}`);
    }
  }
  const profile = buildVolumeProfile(bars);
  if (profile === undefined)
    throw new ValidationError([
      {
        field: flag,
        rule: `${path} has no minute bar inside a regular session (09:30–16:00 New York): ${bars.length} bars read`,
      },
    ]);
  return profile;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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

/**
 * `--trades-out` lines, written as they come (a large replay must not hold them all), to a temporary name that
 * becomes FILE only when the replay succeeds: a replay refused (exit 2) leaves no half-written audit file behind.
 */
class LineSink {
  private readonly fd: number;
  private readonly temp: string;
  private pending: string[] = [];
  private size = 0;

  constructor(private readonly path: string) {
    this.temp = `${path}.partial-${process.pid}`;
    try {
      this.fd = openSync(this.temp, 'w');
    } catch (err) {
      throw this.cannot(err);
    }
  }

  private cannot(err: unknown): ValidationError {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return new ValidationError([{ field: '--trades-out', rule: `cannot write ${this.path} (${code})` }]);
  }

  push(line: string): void {
    this.pending.push(line);
    this.size += line.length;
    if (this.size > 1 << 20) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    try {
      writeSync(this.fd, `${this.pending.join('\n')}\n`);
    } catch (err) {
      throw this.cannot(err);
    }
    this.pending = [];
    this.size = 0;
  }

  /** Writes what is pending and gives the file its name. */
  commit(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
    try {
      renameSync(this.temp, this.path);
    } catch (err) {
      rmSync(this.temp, { force: true });
      throw this.cannot(err);
    }
  }

  /** The replay failed: nothing is left at either name. */
  abort(): void {
    try {
      closeSync(this.fd);
    } finally {
      rmSync(this.temp, { force: true });
    }
  }
}

/**
 * Above this share of a stream's records rejected OUT_OF_ORDER the replay is refused (exit 2): a time-ordered
 * Polygon file has none (0 on both real days in test/fixtures/realdata), and with a tenth of the tape thrown away
 * the alert counts no longer describe the day, so they must not read as an all-clear.
 */
export const OUT_OF_ORDER_LIMIT = 0.1;

/** Trades (eligible, two-sided quote in force) sampled for the quotes-match-trades check; fewer at the end suffice. */
export const MATCH_SAMPLE = 200;
const MATCH_MIN_SAMPLE = 20;
/** A trade this far outside the NBBO (fraction of the mid) is "far"; refused when MATCH_FAR_SHARE of the sample is. */
export const MATCH_FAR = 0.1;
export const MATCH_FAR_SHARE = 0.9;

/**
 * Do the quotes belong to the trades' symbol? v3 quote results carry no ticker, so `--quotes` of another symbol is
 * only visible in the prices: Reg NMS rule 611 (no trade-throughs) makes eligible prints execute at or inside the
 * NBBO, so a print more than 10 % of the mid outside it is a stale quote in a fast market at most, never 90 % of
 * 200 prints (on the real days the share is 0). Two symbols trade at unrelated prices (AMZN 220 vs GOOG 565), and
 * every print then looks like a seller or a buyer at once: the alerts would be noise.
 */
class QuoteMatchCheck {
  private readonly prices: number[] = [];
  private readonly mids: number[] = [];
  private far = 0;
  private decided = false;

  constructor(
    private readonly trades: string,
    private readonly quotes: string,
  ) {}

  /** An accepted trade and the verdict on it; throws once the sample shows the files do not match. */
  add(record: MarketRecord, v: TradeVerdict): void {
    if (this.decided || record.kind !== 'trade' || !v.eligible || v.bidE8 <= 0 || v.askE8 <= v.bidE8) return;
    const price = record.trade.priceE8;
    const mid = (v.bidE8 + v.askE8) / 2;
    if (price < v.bidE8 - MATCH_FAR * mid || price > v.askE8 + MATCH_FAR * mid) this.far++;
    this.prices.push(price);
    this.mids.push(mid);
    if (this.prices.length >= MATCH_SAMPLE) this.decide();
  }

  /** At the end of the trades: decides on a shorter sample when it has enough. */
  decide(): void {
    if (this.decided) return;
    this.decided = true;
    const n = this.prices.length;
    if (n < MATCH_MIN_SAMPLE || this.far < MATCH_FAR_SHARE * n) return;
    const median = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return formatPriceE8(Math.round(sorted[Math.floor(sorted.length / 2)]!));
    };
    throw new ValidationError([
      {
        field: '--quotes',
        rule:
          `${this.quotes} does not look like the quotes of ${this.trades}: ${this.far} of the first ${n} trades with a ` +
          `quote in force lie more than ${MATCH_FAR * 100}% of the mid outside the NBBO (median trade price ` +
          `${median(this.prices)}, median mid ${median(this.mids)}); v3 quotes carry no ticker: check that both ` +
          'files are of --symbol',
      },
    ]);
  }
}

interface StreamTally {
  accepted: number;
  rejected: number;
  outOfOrder: number;
  first: Rejection | undefined;
}

/**
 * Validates the flags, then streams both files through the detectors in SIP-time order (market-data/merge.ts):
 * memory stays flat whatever the file size. Throws ValidationError on bad input.
 */
export async function runReplay(opts: ReplayOptions): Promise<ReplayRun> {
  const issues: { field: string; rule: string }[] = [];
  if (opts.symbol === undefined) issues.push({ field: '--symbol', rule: 'is required' });
  else if (!SYMBOL.test(opts.symbol))
    issues.push({ field: '--symbol', rule: 'must be an equity ticker like TSLA or BRK.B' });
  if (opts.trades === undefined) issues.push({ field: '--trades', rule: 'is required' });
  if (opts.quotes === undefined) issues.push({ field: '--quotes', rule: 'is required' });
  if (issues.length > 0) throw new ValidationError(issues);
  const symbol = opts.symbol!;
  const config = opts.config === undefined ? undefined : loadDetectorConfigFile(opts.config);
  const volumeProfile = opts.volumeProfile === undefined ? undefined : loadVolumeProfileFile(opts.volumeProfile);
  const readers: Record<RecordStream, RecordFileReader> = {
    trades: new RecordFileReader(opts.trades!, RecordStream.Trades, symbol),
    quotes: new RecordFileReader(opts.quotes!, RecordStream.Quotes, symbol),
  };
  const sink = opts.tradesOut === undefined ? undefined : new LineSink(opts.tradesOut);
  const tally: Record<RecordStream, StreamTally> = {
    trades: { accepted: 0, rejected: 0, outOfOrder: 0, first: undefined },
    quotes: { accepted: 0, rejected: 0, outOfOrder: 0, first: undefined },
  };
  const match = new QuoteMatchCheck(opts.trades!, opts.quotes!);
  const first: Rejection[] = [];
  const schemaFields: Record<string, number> = {};
  let schemaSeen = 0;
  const session = new ReplaySession({
    symbol,
    config,
    report: opts.report === true ? {} : undefined,
    ...(volumeProfile !== undefined ? { volumeProfile } : {}),
  });
  const sides: Record<RecordStream, MergeSide> = {
    trades: { items: [], pos: 0, done: false },
    quotes: { items: [], pos: 0, done: false },
  };
  const batches: Record<RecordStream, RecordBatch | undefined> = { trades: undefined, quotes: undefined };

  const emit = (record: MarketRecord, fromQuotes: boolean, index: number) => {
    const stream = fromQuotes ? RecordStream.Quotes : RecordStream.Trades;
    const batch = batches[stream]!;
    const outcome = session.feed(record, !fromQuotes);
    const t = tally[stream];
    if (outcome === 'accepted') {
      t.accepted++;
      if (!fromQuotes) match.add(record, session.lastTrade);
    } else if (isRejectCode(outcome)) {
      t.rejected++;
      if (outcome === RejectCode.OutOfOrder) t.outOfOrder++;
      const explain =
        t.first === undefined ||
        first.length < FIRST_REJECTIONS ||
        (outcome === 'SCHEMA' && schemaSeen < SCHEMA_EXPLAINED);
      const why = explain
        ? explainRejection(
            readers[stream],
            { line: batch.lines[index]!, record: batch.base + index + 1 },
            outcome,
            batch.raws.get(index),
          )
        : undefined;
      t.first ??= why;
      if (why !== undefined && first.length < FIRST_REJECTIONS) first.push(why);
      if (outcome === 'SCHEMA') {
        const field = schemaSeen++ < SCHEMA_EXPLAINED && why !== undefined ? why.field : '(not explained)';
        schemaFields[field] = (schemaFields[field] ?? 0) + 1;
      }
    }
    if (sink !== undefined && !fromQuotes) {
      const verdict = outcome === 'accepted' ? session.lastTrade : INELIGIBLE;
      sink.push(JSON.stringify(tradeLine(record, batch.raws.get(index), verdict, outcome)));
    }
  };

  let done = false;
  try {
    for (;;) {
      const need = mergeStep(sides.trades, sides.quotes, emit);
      if (need === null) break;
      const batch = await readers[need].next();
      if (batch === null) sides[need].done = true;
      else {
        batches[need] = batch;
        sides[need].items = batch.records;
        sides[need].pos = 0;
      }
    }
    for (const stream of [RecordStream.Trades, RecordStream.Quotes]) {
      const r = readers[stream];
      assertSomeAccepted(
        r,
        {
          records: r.count,
          accepted: tally[stream].accepted,
          rejected: tally[stream].rejected,
          firstLine: r.firstLine ?? 1,
        },
        tally[stream].first,
      );
      const late = tally[stream].outOfOrder;
      if (late > OUT_OF_ORDER_LIMIT * r.count)
        failInput(
          stream,
          r.path,
          undefined,
          `${late} of its ${r.count} records (${((100 * late) / r.count).toFixed(1)}%) were rejected OUT_OF_ORDER, ` +
            `more than ${OUT_OF_ORDER_LIMIT * 100}%: the file is not in time order; sort it by sip_timestamp`,
        );
    }
    match.decide();
    done = true;
  } finally {
    if (done) sink?.commit();
    else sink?.abort();
  }
  return { ...session.result(), rejections: { schemaFields, first } };
}

const INELIGIBLE: TradeVerdict = { eligible: false, side: 'unknown', rule: 'unknown', bidE8: 0, askE8: 0 };

const priceOrNull = (e8: number): number | null => (e8 > 0 ? Number(formatPriceE8(e8)) : null);

/**
 * One `--trades-out` line: the record's identity and how the detector classified it. A decoded trade gives its own
 * identity; a rejected record the fields as read (`raw`), when it had them.
 */
export function tradeLine(
  record: MarketRecord,
  raw: unknown,
  v: TradeVerdict,
  outcome: RecordOutcome,
): Record<string, unknown> {
  let id: unknown = null;
  let seq: unknown = null;
  let ts: string | null = null;
  if (record.kind === 'trade') {
    id = record.trade.id;
    seq = record.trade.sequence;
    ts = formatNs(record.trade.tsUs, record.trade.tsRem);
  } else if (typeof raw === 'object' && raw !== null) {
    const r = raw as Record<string, unknown>;
    const ws = r.ev !== undefined;
    id = (ws ? r.i : r.id) ?? null;
    seq = (ws ? r.q : r.sequence_number) ?? null;
    const t = ws ? (typeof r.t === 'number' ? parseNs(r.t * 1_000_000) : undefined) : parseNs(r.sip_timestamp);
    ts = t === undefined ? null : formatNs(t.us, t.rem);
  }
  return {
    id,
    sequence_number: seq,
    sip_timestamp: ts,
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

/** The exchange's zone: the alert lines and the report's hours read in the same clock as the session. */
const MARKET_TIME_ZONE = 'America/New_York';
const MARKET_CLOCK = new Intl.DateTimeFormat('en-US', {
  timeZone: MARKET_TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'short',
});

/** "2012-06-21 10:30:44.395768851 EDT": exact nanoseconds in New York time, the zone named (EST or EDT). */
export function marketTimeFromNs(ns: string): string {
  const padded = ns.padStart(10, '0');
  const parts = Object.fromEntries(
    MARKET_CLOCK.formatToParts(new Date(Number(padded.slice(0, -9)) * 1000)).map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}.${padded.slice(-9)} ${parts.timeZoneName}`;
}

function describe(a: FlowAlert): string {
  const what = a.kind === 'large_seller' ? `large_seller/${a.source}` : 'red_burst';
  return `${marketTimeFromNs(a.timestampNs)}  ${a.severity.toUpperCase().padEnd(8)} ${what.padEnd(18)} ${a.symbol} @ ${a.price}  ${a.rule}`;
}

export function formatTimeline(result: ReplayRun): string {
  const lines: string[] = [];
  lines.push(`replay ${result.symbol}: ${result.alerts.length} alert(s) (times in ${MARKET_TIME_ZONE})`);
  for (const a of result.alerts) {
    lines.push(describe(a));
    if (result.exitSignal !== null && a.timestampNs === result.exitSignal.timestampNs) {
      lines.push(
        `${marketTimeFromNs(result.exitSignal.timestampNs)}  EXIT     ${result.exitSignal.reason}: ${result.exitSignal.rule}`,
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
    .option(
      '--trades <FILE>',
      'Polygon trades: JSON Lines of /v3/trades results, v3 response objects, or a trades_v1 flat-file CSV (.gz too)',
    )
    .option(
      '--quotes <FILE>',
      'Polygon NBBO quotes: JSON Lines of /v3/quotes results, v3 response objects, or a quotes_v1 flat-file CSV (.gz too)',
    )
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
    .option(
      '--volume-profile <FILE>',
      "Polygon minute aggregates (/v2/aggs …/range/1/minute/…) of earlier days: red_burst's baseline follows their intraday volume curve",
    )
    .action(
      action(async (opts: ReplayOptions) => {
        const ignored = ignoredSettingsFromEnv(process.env);
        if (ignored.length > 0)
          process.stderr.write(
            `note: replay ignores ${ignored.join(', ')} from the environment (a replay depends on its files only); ` +
              'put detector settings in a --config file\n',
          );
        const result = await runReplay(opts);
        if (opts.json) printJson(replayJson(result));
        else process.stdout.write(formatTimeline(result));
      }),
    );
}
