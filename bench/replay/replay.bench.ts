/**
 * `npm run bench:replay [-- --gb 2]`: `flowguard replay` timed as a user runs it (`node bin/flowguard.js replay …`,
 * startup included, the compiled build when current), on
 *   1. the real AMZN day (test/fixtures/realdata, gzipped JSON Lines, 66,490 records);
 *   2. a generated multi-GB day series: the real day repeated with timestamps shifted a day per copy, as JSON Lines
 *      (trades and quotes files together --gb GB, default 2), and the same records as gzipped Polygon flat-file CSV
 *      (trades_v1 / quotes_v1 layout).
 * For each: records/s end to end, peak RSS of the replay process, and the time of a bare JSON.parse of every line of
 * the same JSON Lines measured in this run (read, gunzip and split included, as replay must), as a ratio.
 * Generated files go to a temporary folder, removed at the end (kept with --keep).
 */
import { spawnSync } from 'node:child_process';
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { createGzip, createGunzip, gunzipSync } from 'node:zlib';

const ROOT = join(__dirname, '../..');
const REAL = join(ROOT, 'test/fixtures/realdata');
const DAY = 'AMZN-2012-06-21';
const gbArg = process.argv.indexOf('--gb');
const TARGET_BYTES = (gbArg >= 0 ? Number(process.argv[gbArg + 1]) : 2) * 1024 ** 3;
const SECONDS_PER_DAY = 86_400;

interface Run {
  readonly seconds: number;
  /** CPU time of the replay process (user + system): what it costs when other work shares the machine. */
  readonly cpuSeconds: number;
  readonly peakRssMb: number;
  readonly records: number;
  readonly alerts: number;
}

/** Peak RSS of the child: a preload (written to a temporary file) records process.resourceUsage().maxRSS at exit. */
const PRELOAD = join(mkdtempSync(join(tmpdir(), 'fg-bench-rss-')), 'peak-rss.js');
writeFileSync(
  PRELOAD,
  "process.on('exit', () => { const u = process.resourceUsage(); require('node:fs').writeFileSync(process.env.FG_BENCH_RSS_FILE, JSON.stringify(u)); });\n",
);

function replay(trades: string, quotes: string): Run {
  const rssFile = join(tmpdir(), `fg-bench-rss-${process.pid}`);
  const started = process.hrtime.bigint();
  const res = spawnSync(
    process.execPath,
    [join(ROOT, 'bin/flowguard.js'), 'replay', '--symbol', 'AMZN', '--trades', trades, '--quotes', quotes, '--json'],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, NODE_OPTIONS: `--require ${PRELOAD}`, FG_BENCH_RSS_FILE: rssFile },
    },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (res.status !== 0) throw new Error(`replay failed (${res.status}): ${res.stderr}`);
  const out = JSON.parse(res.stdout) as { stats: { trades: number; quotes: number }; alerts: unknown[] };
  const usage = JSON.parse(readFileSync(rssFile, 'utf8')) as NodeJS.ResourceUsage;
  rmSync(rssFile, { force: true });
  return {
    seconds,
    cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
    peakRssMb: usage.maxRSS / 1024,
    records: out.stats.trades + out.stats.quotes,
    alerts: out.alerts.length,
  };
}

interface Bare {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly lines: number;
}

/** Reads a (gzipped) file as a user's replay must and JSON.parses every line: the floor for any JSON reader. */
async function bareJsonParse(paths: readonly string[]): Promise<Bare> {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  let lines = 0;
  for (const path of paths) {
    const file = createReadStream(path, { highWaterMark: 1 << 20 });
    const source = path.endsWith('.gz') ? file.pipe(createGunzip({ chunkSize: 1 << 20 })) : file;
    const decoder = new StringDecoder('utf8');
    let rest = '';
    for await (const chunk of source) {
      const text = rest + decoder.write(chunk as Buffer);
      let start = 0;
      for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
        if (end > start) {
          JSON.parse(text.slice(start, end));
          lines++;
        }
        start = end + 1;
      }
      rest = text.slice(start);
    }
    if (rest.trim() !== '') {
      JSON.parse(rest);
      lines++;
    }
  }
  const used = process.cpuUsage(cpu);
  return {
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    cpuSeconds: (used.user + used.system) / 1e6,
    lines,
  };
}

/** A nanosecond timestamp (digits) moved by whole seconds, exactly, without bigint. */
const shiftNs = (digits: string, seconds: number) => `${Number(digits.slice(0, -9)) + seconds}${digits.slice(-9)}`;
const TS = /("(?:sip|participant)_timestamp":)(\d{19})/g;

function lines(kind: 'trades' | 'quotes'): string[] {
  return gunzipSync(readFileSync(join(REAL, `${DAY}.${kind}.jsonl.gz`)))
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
}

const TRADE_COLUMNS =
  'ticker,conditions,correction,exchange,id,participant_timestamp,price,sequence_number,sip_timestamp,size,tape,trf_id,trf_timestamp';
const QUOTE_COLUMNS =
  'ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,bid_size,conditions,indicators,participant_timestamp,sequence_number,sip_timestamp,tape,trf_timestamp';

/** One JSON Lines record as a flat-file CSV row (the real day's records have no correction, TRF or indicators). */
function csvRow(line: string, kind: 'trades' | 'quotes'): string {
  const r = JSON.parse(line.replace(TS, '$1"$2"')) as Record<string, unknown>;
  const cell = (k: string) => {
    const v = r[k];
    if (v === undefined) return '';
    if (Array.isArray(v)) return v.length > 1 ? `"${v.join(',')}"` : v.join(',');
    return typeof v === 'number' || typeof v === 'string' ? String(v) : '';
  };
  const columns = (kind === 'trades' ? TRADE_COLUMNS : QUOTE_COLUMNS).split(',');
  return columns.map((k) => (k === 'ticker' ? 'AMZN' : cell(k))).join(',');
}

async function write(path: string, gzip: boolean, produce: (push: (text: string) => Promise<void>) => Promise<void>) {
  const file = createWriteStream(path);
  const sink = gzip ? createGzip({ level: 1 }) : file;
  if (gzip) (sink as ReturnType<typeof createGzip>).pipe(file);
  const push = (text: string) =>
    new Promise<void>((resolve, reject) => sink.write(text, (err) => (err ? reject(err) : resolve())));
  await produce(push);
  await new Promise<void>((resolve) => {
    file.on('close', resolve);
    sink.end();
  });
}

/** The real day repeated `copies` times, a day later each time: JSON Lines and gzipped flat-file CSV. */
async function generate(dir: string, copies: number) {
  const day = { trades: lines('trades'), quotes: lines('quotes') };
  const csvDay = {
    trades: day.trades.map((l) => csvRow(l, 'trades')),
    quotes: day.quotes.map((l) => csvRow(l, 'quotes')),
  };
  const out: Record<string, string> = {};
  for (const kind of ['trades', 'quotes'] as const) {
    out[`${kind}Jsonl`] = join(dir, `${kind}.jsonl`);
    out[`${kind}Csv`] = join(dir, `${kind}.csv.gz`);
    await write(out[`${kind}Jsonl`]!, false, async (push) => {
      for (let k = 0; k < copies; k++) {
        const shift = k * SECONDS_PER_DAY;
        await push(
          `${day[kind].map((l) => (k === 0 ? l : l.replace(TS, (_m, key: string, ts: string) => key + shiftNs(ts, shift)))).join('\n')}\n`,
        );
      }
    });
    await write(out[`${kind}Csv`]!, true, async (push) => {
      await push(`${kind === 'trades' ? TRADE_COLUMNS : QUOTE_COLUMNS}\n`);
      for (let k = 0; k < copies; k++) {
        const shift = k * SECONDS_PER_DAY;
        await push(
          `${csvDay[kind].map((l) => (k === 0 ? l : l.replace(/(,)(\d{19})(?=,)/g, (_m, c: string, ts: string) => c + shiftNs(ts, shift)))).join('\n')}\n`,
        );
      }
    });
  }
  return out as { tradesJsonl: string; quotesJsonl: string; tradesCsv: string; quotesCsv: string };
}

const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MB`;
const rate = (n: number, s: number) => `${(n / s / 1e6).toFixed(2)} M records/s`;

function report(name: string, run: Run, bare: Bare | undefined) {
  const ratio =
    bare === undefined
      ? ''
      : `\n  bare JSON.parse of every line: ${bare.seconds.toFixed(2)} s (CPU ${bare.cpuSeconds.toFixed(2)} s), ${rate(bare.lines, bare.seconds)}; replay / JSON.parse: ${(run.seconds / bare.seconds).toFixed(2)}× wall, ${(run.cpuSeconds / bare.cpuSeconds).toFixed(2)}× CPU`;
  process.stdout.write(
    `${name}\n  ${run.records.toLocaleString('en-US')} records, ${run.alerts} alerts in ${run.seconds.toFixed(2)} s end to end (CPU ${run.cpuSeconds.toFixed(2)} s): ${rate(run.records, run.seconds)}, peak RSS ${run.peakRssMb.toFixed(0)} MB${ratio}\n`,
  );
}

async function main(): Promise<void> {
  const built = spawnSync(process.execPath, [join(ROOT, 'bin/dist-current.js')]).status === 0;
  process.stdout.write(
    `flowguard replay, node ${process.version}; CLI runs ${built ? 'dist/ (current build)' : 'src/ through tsx (dist/ missing or stale: npm run build)'}\n`,
  );
  const realTrades = join(REAL, `${DAY}.trades.jsonl.gz`);
  const realQuotes = join(REAL, `${DAY}.quotes.jsonl.gz`);
  report(
    'real day AMZN 2012-06-21 (gzipped JSON Lines)',
    replay(realTrades, realQuotes),
    await bareJsonParse([realTrades, realQuotes]),
  );

  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-replay-'));
  try {
    const dayBytes = lines('trades').join('\n').length + lines('quotes').join('\n').length + 2;
    const copies = Math.max(1, Math.ceil(TARGET_BYTES / dayBytes));
    const t0 = Date.now();
    const f = await generate(dir, copies);
    const jsonlBytes = statSync(f.tradesJsonl).size + statSync(f.quotesJsonl).size;
    const csvBytes = statSync(f.tradesCsv).size + statSync(f.quotesCsv).size;
    process.stdout.write(
      `generated ${copies} days in ${((Date.now() - t0) / 1000).toFixed(0)} s: JSON Lines ${mb(jsonlBytes)}, flat-file CSV ${mb(csvBytes)} gzipped (in ${dir})\n`,
    );
    const bare = await bareJsonParse([f.tradesJsonl, f.quotesJsonl]);
    report(`${copies} days, JSON Lines (${mb(jsonlBytes)})`, replay(f.tradesJsonl, f.quotesJsonl), bare);
    report(`${copies} days, flat-file CSV gzipped (${mb(csvBytes)})`, replay(f.tradesCsv, f.quotesCsv), bare);
  } finally {
    if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
    rmSync(PRELOAD, { force: true });
  }
}

void main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
