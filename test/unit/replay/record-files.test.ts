import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runReplay } from '../../../src/cli/replay';
import { RecordStream } from '../../../src/domain/replay-input';
import { RecordFileReader, splitCsv } from '../../../src/market-data/record-files';

// Issue 10: replay streams every recorded format with flat memory; each is read into the same decoded records.
const SCENARIO = join(__dirname, '../../fixtures/scenarios/seller-cluster-exit');
const dir = mkdtempSync(join(tmpdir(), 'fg-record-files-'));
// Some files here are megabytes: not left behind.
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

/** The scenario's records as JSON texts with their exact integers (one per line in the fixture). */
const recordLines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{"') && !l.startsWith('{"results"'))
    .map((l) => l.replace(/,$/, ''));
const trades = recordLines(join(SCENARIO, 'trades.json'));
const quotes = recordLines(join(SCENARIO, 'quotes.json'));

const TRADE_COLUMNS = [
  'ticker',
  'conditions',
  'correction',
  'exchange',
  'id',
  'participant_timestamp',
  'price',
  'sequence_number',
  'sip_timestamp',
  'size',
  'tape',
  'trf_id',
  'trf_timestamp',
];
const QUOTE_COLUMNS = [
  'ticker',
  'ask_exchange',
  'ask_price',
  'ask_size',
  'bid_exchange',
  'bid_price',
  'bid_size',
  'conditions',
  'indicators',
  'participant_timestamp',
  'sequence_number',
  'sip_timestamp',
  'tape',
  'trf_timestamp',
];

/** A Polygon flat file (trades_v1 / quotes_v1 layout) holding the scenario's TSLA rows among another ticker's. */
function flatFile(lines: string[], columns: string[]): string {
  const rows = [columns.join(',')];
  lines.forEach((line, i) => {
    // Integers copied as written (the 19-digit timestamps stay exact).
    const cell = (k: string) => {
      const m = new RegExp(`"${k}":(\\[[^\\]]*\\]|"[^"]*"|[^,}]*)`).exec(line);
      if (m === null) return '';
      const v = m[1]!;
      if (v.startsWith('[')) {
        const list = v.slice(1, -1);
        return list.includes(',') ? `"${list}"` : list;
      }
      return v.startsWith('"') ? v.slice(1, -1) : v;
    };
    // Flat files hold every ticker of the day, interleaved.
    if (i % 3 === 0) rows.push(columns.map((k) => (k === 'ticker' ? 'AAPL' : cell(k))).join(','));
    rows.push(columns.map((k) => (k === 'ticker' ? 'TSLA' : cell(k))).join(','));
  });
  return `${rows.join('\n')}\n`;
}

async function replayOf(t: string, q: string) {
  const r = await runReplay({ symbol: 'TSLA', trades: t, quotes: q });
  return { alerts: r.alerts, exitSignal: r.exitSignal, stats: r.stats };
}

describe('recorded files in every format replay to the same result', () => {
  let reference: Awaited<ReturnType<typeof replayOf>>;
  beforeAll(async () => {
    reference = await replayOf(join(SCENARIO, 'trades.json'), join(SCENARIO, 'quotes.json'));
    expect(reference.alerts.length).toBeGreaterThan(0);
    expect(reference.exitSignal).not.toBeNull();
  });

  const formats: [string, () => [string, string]][] = [
    ['JSON Lines', () => [file('t.jsonl', trades.join('\n')), file('q.jsonl', quotes.join('\n'))]],
    [
      'JSON Lines, gzipped',
      () => [file('t.jsonl.gz', gzipSync(trades.join('\n'))), file('q.jsonl.gz', gzipSync(quotes.join('\n')))],
    ],
    [
      'gzip detected by its bytes, whatever the name',
      () => [file('t.data', gzipSync(trades.join('\n'))), file('q.data', gzipSync(quotes.join('\n')))],
    ],
    [
      'a JSON array of records, pretty-printed',
      () => [
        file('t-array.json', `[\n  ${trades.join(',\n  ')}\n]\n`),
        file('q-array.json', `[\n  ${quotes.join(',\n  ')}\n]\n`),
      ],
    ],
    [
      'v3 response pages, one per line; a page with no "results" is an empty answer',
      () => {
        const pages = (lines: string[]) => {
          const out: string[] = [];
          for (let i = 0; i < lines.length; i += 100)
            out.push(`{"results":[${lines.slice(i, i + 100).join(',')}],"status":"OK","next_url":"x"}`);
          out.push('{"status":"OK","request_id":"empty"}');
          return out.join('\n');
        };
        return [file('t-pages.json', pages(trades)), file('q-pages.json', pages(quotes))];
      },
    ],
    [
      'flat-file CSV, gzipped, other tickers filtered out while streaming',
      () => [
        file('trades.csv.gz', gzipSync(flatFile(trades, TRADE_COLUMNS))),
        file('quotes.csv.gz', gzipSync(flatFile(quotes, QUOTE_COLUMNS))),
      ],
    ],
  ];

  it.each(formats)('%s', async (_name, make) => {
    const [t, q] = make();
    expect(await replayOf(t, q)).toEqual(reference);
  });
});

describe('RecordFileReader', () => {
  it('reads a big file in batches, never all at once', async () => {
    const many = Array.from({ length: 30 }, () => trades.join('\n')).join('\n');
    const reader = new RecordFileReader(file('many.jsonl', many), RecordStream.Trades, 'TSLA');
    let batches = 0;
    let records = 0;
    for (let b = await reader.next(); b !== null; b = await reader.next()) {
      batches++;
      records += b.records.length;
      expect(b.records.length).toBeLessThanOrEqual(8192);
    }
    expect(records).toBe(30 * trades.length);
    expect(batches).toBeGreaterThan(3);
  });

  it('a flat file without rows of the symbol is invalid input naming the file', async () => {
    const path = file('other.csv', `${TRADE_COLUMNS.join(',')}\nAAPL,,,4,1,1,1.5,1,1,100,3,,\n`);
    await expect(runReplay({ symbol: 'TSLA', trades: path, quotes: join(SCENARIO, 'quotes.json') })).rejects.toThrow(
      /--trades: .*other\.csv: holds no records of TSLA/,
    );
  });

  it('UTF-8 text split across chunks reads intact (ASCII chunks take a shortcut, others the decoder)', async () => {
    // Multi-byte trade ids in runs of a few MiB between ASCII runs: chunks of both kinds, and characters straddling
    // chunk boundaries.
    const ids: string[] = [];
    const lines: string[] = [];
    for (let copy = 0; lines.length < 80_000; copy++)
      trades.forEach((l, i) => {
        const id = Math.floor(copy / 10) % 2 === 0 ? `é€${copy}-${i}` : `a${copy}-${i}`;
        ids.push(id);
        lines.push(l.replace(/"id":"[^"]*"/, `"id":"${id}"`));
      });
    const path = file('utf8.jsonl', lines.join('\n'));
    expect(readFileSync(path).length).toBeGreaterThan(3 * 1024 * 1024);
    const reader = new RecordFileReader(path, RecordStream.Trades, 'TSLA');
    const read: string[] = [];
    for (let b = await reader.next(); b !== null; b = await reader.next())
      for (const r of b.records) read.push(r.kind === 'trade' ? r.trade.id : `(${r.kind})`);
    expect(read).toEqual(ids);
  });

  it('a gzip file cut short is invalid input naming the file, not a crash', async () => {
    const gz = gzipSync(trades.join('\n'));
    const path = file('cut.jsonl.gz', gz.subarray(0, Math.floor(gz.length / 2)));
    await expect(runReplay({ symbol: 'TSLA', trades: path, quotes: join(SCENARIO, 'quotes.json') })).rejects.toThrow(
      /--trades: .*cut\.jsonl\.gz is truncated \(the gzip stream ends early\) \(Z_BUF_ERROR\)/,
    );
  });

  it('splits quoted CSV cells (flat-file condition lists)', () => {
    expect(splitCsv('TSLA,"12,37",,4,"a""b"')).toEqual(['TSLA', '12,37', '', '4', 'a"b']);
  });
});
