import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTimeline, ignoredSettingsFromEnv, replayJson, runReplay, type ReplayRun } from '../../../src/cli/replay';

// Issue 12 item 2: bad replay input used to read as an all-clear ("0 alert(s) / exit signal: none", exit 0).
// Every malformed file is now exit 2, stdout empty, stderr naming the file, the line and what was wrong.
const ROOT = join(__dirname, '../../..');
const SCENARIO = join(ROOT, 'test/fixtures/scenarios/sell-burst');
const TRADES = join(SCENARIO, 'trades.json');
const QUOTES = join(SCENARIO, 'quotes.json');
const dir = mkdtempSync(join(tmpdir(), 'fg-bad-replay-'));
const file = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

// A deterministic "binary" file: bytes that are not text, let alone JSON.
const garbage = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) % 256));
const tradesText = readFileSync(TRADES, 'utf8');

// [case, --trades, --quotes, the flag named, what stderr must say after the flag]
const cases: [string, string, string, string, RegExp][] = [
  ['empty file', file('empty.json', ''), QUOTES, '--trades', /empty\.json: is empty; expected Polygon \/v3\/trades/],
  ['blank lines only', file('blank.json', '\n \n'), QUOTES, '--trades', /blank\.json: is empty/],
  ['/dev/null', '/dev/null', QUOTES, '--trades', /\/dev\/null: is empty/],
  [
    'truncated JSON',
    file('trunc.json', tradesText.slice(0, 3000)),
    QUOTES,
    '--trades',
    /trunc\.json line 18: not JSON/,
  ],
  ['null', file('null.json', 'null\n'), QUOTES, '--trades', /null\.json line 1: is null, not a list of records/],
  [
    '[1,2,3]',
    file('numbers.json', '[1,2,3]'),
    QUOTES,
    '--trades',
    /numbers\.json line 1: wrong shape: record 1 is a number/,
  ],
  ['an empty results array', file('none.json', '{"results":[]}'), QUOTES, '--trades', /none\.json: holds no records/],
  ['CSV', file('t.csv', 'id,price,size\n1,250.00,100\n'), QUOTES, '--trades', /t\.csv line 1: not JSON/],
  ['binary garbage', file('garbage.bin', garbage), QUOTES, '--trades', /garbage\.bin line 1: not JSON/],
  [
    'trades and quotes swapped',
    QUOTES,
    TRADES,
    '--trades',
    /quotes\.json line 2: holds quote records.*wrong way round/,
  ],
  ['trades given as quotes', TRADES, TRADES, '--quotes', /trades\.json line 2: holds trade records.*wrong way round/],
  [
    'every record rejected',
    file('rejected.jsonl', '{"id":"1","price":250,"size":100}\n{"id":"2","price":250,"size":100,"exchange":4}\n'),
    QUOTES,
    '--trades',
    /rejected\.jsonl line 1: all 2 record\(s\) were rejected; first: SCHEMA exchange: /,
  ],
  [
    'every JSON Lines line broken after the first',
    file(
      'broken.jsonl',
      `${tradesText
        .split('\n')[1]!
        .replace(/,$/, '')
        .replace(/"price":([0-9.]+)/, '"price":"$1"')}\n{"id"\n`,
    ),
    QUOTES,
    '--trades',
    /broken\.jsonl line 1: all 2 record\(s\) were rejected; first: SCHEMA price: /,
  ],
];

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

const cli = (args: string[]) =>
  new Promise<Run>((resolve) =>
    execFile(
      process.execPath,
      [join(ROOT, 'bin/flowguard.js'), 'replay', ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ status: err === null ? 0 : ((err as { code?: number }).code ?? -1), stdout, stderr }),
    ),
  );

describe('replay refuses bad input files (exit 2, the file, the line, what was wrong)', () => {
  const runs = new Map<string, Run>();
  beforeAll(async () => {
    // The binary once per case, in parallel: each start costs ~1-2 s of tsx.
    const results = await Promise.all(
      cases.map(([, trades, quotes]) => cli(['--symbol', 'TSLA', '--trades', trades, '--quotes', quotes, '--json'])),
    );
    cases.forEach(([name], i) => runs.set(name, results[i]!));
  }, 120_000);

  it.each(cases)('%s', async (name, trades, quotes, flag, message) => {
    const run = runs.get(name)!;
    expect(run.stdout).toBe('');
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^invalid input: ${flag}: `));
    expect(run.stderr).toMatch(message);
    // In-process, the same input is a ValidationError with the same message.
    await expect(runReplay({ symbol: 'TSLA', trades, quotes })).rejects.toThrow(message);
  });
});

describe('rejections that leave some records standing are explained, not fatal', () => {
  const S = join(ROOT, 'test/fixtures/scenarios/malformed-records');
  let result: ReplayRun;
  beforeAll(async () => {
    result = await runReplay({ symbol: 'TSLA', trades: join(S, 'trades.json'), quotes: join(S, 'quotes.json') });
  });

  it('the summary names the fields of SCHEMA rejections and lists the first few with file and line', () => {
    const text = formatTimeline(result);
    expect(text).toMatch(/rejected: SCHEMA 3 \(price 1, sip_timestamp 1, \(record\) 1\), NON_POSITIVE_PRICE 1/);
    expect(text).toMatch(/trades\.json line 183: SCHEMA price: /);
    expect(text).toMatch(/trades\.json line 198: SCHEMA sip_timestamp: /);
  });

  it('--json lists the first five reasons with file, line, code, field and rule', () => {
    const out = replayJson(result) as { rejections: { schemaFields: Record<string, number>; first: unknown[] } };
    expect(out.rejections.schemaFields).toEqual({ price: 1, sip_timestamp: 1, '(record)': 1 });
    expect(out.rejections.first).toHaveLength(5);
    expect(out.rejections.first).toContainEqual({
      file: join(S, 'trades.json'),
      stream: 'trades',
      line: 156,
      record: 155,
      code: 'NON_POSITIVE_PRICE',
      field: 'price',
      rule: 'must be > 0',
    });
  });
});

describe('settings in the environment', () => {
  it('names the FLOWGUARD_DETECTOR_* variables and FLOWGUARD_CONFIG that replay does not apply', () => {
    expect(ignoredSettingsFromEnv({ PATH: '/bin', TEMPORAL_ADDRESS: 'localhost:7233' })).toEqual([]);
    expect(
      ignoredSettingsFromEnv({
        FLOWGUARD_DETECTOR_LARGE_ORDER_PERCENTILE: '99.9',
        FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE: ' ',
        FLOWGUARD_CONFIG: '/etc/flowguard.json',
      }),
    ).toEqual(['FLOWGUARD_CONFIG', 'FLOWGUARD_DETECTOR_LARGE_ORDER_PERCENTILE']);
  });

  it('the CLI says so on stderr and still replays on its files (exit 0)', async () => {
    const run = await new Promise<Run>((resolve) =>
      execFile(
        process.execPath,
        [
          join(ROOT, 'bin/flowguard.js'),
          'replay',
          '--symbol',
          'TSLA',
          '--trades',
          TRADES,
          '--quotes',
          QUOTES,
          '--json',
        ],
        { timeout: 60_000, env: { ...process.env, FLOWGUARD_DETECTOR_LARGE_ORDER_PERCENTILE: '99.9' } },
        (err, stdout, stderr) =>
          resolve({ status: err === null ? 0 : ((err as { code?: number }).code ?? -1), stdout, stderr }),
      ),
    );
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/^note: replay ignores FLOWGUARD_DETECTOR_LARGE_ORDER_PERCENTILE from the environment/);
    expect(JSON.parse(run.stdout)).toHaveProperty('alerts');
  }, 60_000);
});
