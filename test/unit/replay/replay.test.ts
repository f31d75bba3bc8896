import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTimeline, marketTimeFromNs, replayJson, runReplay } from '../../../src/cli/replay';
import { replaySession } from '../../../src/domain/replay';
import { ValidationError } from '../../../src/domain/validation';
import { decodeAll, readRecordFile } from '../detectors/helpers';

const ROOT = join(__dirname, '../../..');
const SCENARIOS = join(ROOT, 'test/fixtures/scenarios');
const names = readdirSync(SCENARIOS).sort();

interface Expected {
  alerts: Record<string, unknown>[];
  exitSignal: null | Record<string, unknown>;
  stats?: Record<string, unknown>;
}

function expectMatches(out: { alerts: unknown[]; exitSignal: unknown; stats: unknown }, expected: Expected) {
  expect(out.alerts).toHaveLength(expected.alerts.length);
  expected.alerts.forEach((a, i) => expect(out.alerts[i]).toMatchObject(a));
  if (expected.exitSignal === null) expect(out.exitSignal).toBeNull();
  else expect(out.exitSignal).toMatchObject(expected.exitSignal);
  if (expected.stats) expect(out.stats).toMatchObject(expected.stats);
}

const load = (name: string) => JSON.parse(readFileSync(join(SCENARIOS, name, 'expected.json'), 'utf8')) as Expected;
const files = (name: string) => ({
  trades: join(SCENARIOS, name, 'trades.json'),
  quotes: join(SCENARIOS, name, 'quotes.json'),
});

describe('scenarios replayed in-process', () => {
  it('has all nine scenarios', () => expect(names).toHaveLength(9));

  it.each(names)('%s', async (name) => {
    const result = await runReplay({ symbol: 'TSLA', ...files(name) });
    expectMatches(replayJson(result) as never, load(name));
    expect(result.stats.trades).toBeGreaterThan(500);
    expect(formatTimeline(result)).toContain(`replay TSLA: ${result.alerts.length} alert(s)`);
  });

  it('every scenario except malformed-records is clean: nothing rejected', async () => {
    for (const name of names.filter((n) => n !== 'malformed-records')) {
      const r = await runReplay({ symbol: 'TSLA', ...files(name) });
      expect(Object.values(r.stats.rejected).every((n) => n === 0)).toBe(true);
    }
  });

  it('a higher largeOrderSize from --config silences the cluster (config file with a "detectors" section)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-replay-'));
    const cfg = join(dir, 'config.json');
    // The 25,000-share sellers are far above the scenario's own p99.9 print size too: that rule is turned off here.
    writeFileSync(cfg, JSON.stringify({ detectors: { largeOrderSize: 30_000, largeOrderPercentile: null } }));
    const r = await runReplay({ symbol: 'TSLA', ...files('seller-cluster-exit'), config: cfg });
    expect(r.alerts).toEqual([]);
    expect(r.exitSignal).toBeNull();
  });

  describe('--config takes a bare detector config or a full app config (issue 12 item 4)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-replay-config-'));
    const write = (name: string, value: unknown) => {
      writeFileSync(join(dir, name), JSON.stringify(value));
      return join(dir, name);
    };
    // The README's own app config example (orders.strategies, marketData.sessions), with and without detectors.
    const app = {
      orders: {
        strategies: {
          protective: { sellOffset: '0' },
          scalp: { offsetMode: 'absolute', buyOffset: '0.02', sellOffset: '0.02' },
        },
      },
      marketData: { sessions: [{ name: 'regular', start: '09:30', end: '16:00', timeZone: 'America/New_York' }] },
    };
    const replay = (config: string) => runReplay({ symbol: 'TSLA', ...files('seller-cluster-exit'), config });

    it('a bare detector config', async () => {
      expect((await replay(write('bare.json', { largeOrderSize: 30_000, largeOrderPercentile: null }))).alerts).toEqual(
        [],
      );
    });

    it('a full app config: its detectors section is used', async () => {
      const r = await replay(
        write('app.json', { ...app, detectors: { largeOrderSize: 30_000, largeOrderPercentile: 0 } }),
      );
      expect(r.alerts).toEqual([]);
      expect(r.exitSignal).toBeNull();
    });

    it('a full app config without a detectors section: the detector defaults', async () => {
      const r = await replay(write('app-no-detectors.json', app));
      expectMatches(replayJson(r) as never, load('seller-cluster-exit'));
    });

    it('a full app config is validated whole: a bad orders setting is exit 2 naming its path', async () => {
      const bad = write('app-bad.json', { ...app, orders: { maxSlippagePct: 99 } });
      await expect(replay(bad)).rejects.toThrow(ValidationError);
      await expect(replay(bad)).rejects.toThrow('config.orders.maxSlippagePct: must be ≤ 10');
      const badDetector = write('app-bad-detector.json', { ...app, detectors: { exitAlertCount: 1 } });
      await expect(replay(badDetector)).rejects.toThrow('config.detectors.exitAlertCount: must be ≥ 2');
    });

    it('a file that is not a JSON object is named', async () => {
      await expect(replay(write('list.json', [1]))).rejects.toThrow(/--config: .*list\.json must be a JSON object/);
    });
  });

  it('warm-up through liveFromNs: alerts before that instant are suppressed', () => {
    const exp = load('seller-cluster-exit');
    const { trades, quotes } = files('seller-cluster-exit');
    const r = replaySession({
      symbol: 'TSLA',
      trades: decodeAll(readRecordFile(trades), 'trade'),
      quotes: decodeAll(readRecordFile(quotes), 'quote'),
      liveFromNs: exp.alerts[1]!.timestampNs as string,
    });
    expect(r.alerts.map((a) => a.timestampNs)).toEqual([exp.alerts[1]!.timestampNs, exp.alerts[2]!.timestampNs]);
    expect(r.exitSignal).toBeNull();
  });
});

describe('input errors', () => {
  const cases: [string, Record<string, string | undefined>, string][] = [
    ['missing --symbol', { trades: 'a', quotes: 'b' }, '--symbol: is required'],
    ['lower-case symbol', { symbol: 'tsla', trades: 'a', quotes: 'b' }, '--symbol: must be an equity ticker'],
    ['missing --quotes', { symbol: 'TSLA', trades: 'a' }, '--quotes: is required'],
    [
      'missing file',
      { symbol: 'TSLA', trades: '/nonexistent/t.json', quotes: '/nonexistent/q.json' },
      '--trades: file not found',
    ],
  ];
  it.each(cases)('%s', async (_n, opts, message) => {
    await expect(runReplay(opts)).rejects.toThrow(ValidationError);
    await expect(runReplay(opts)).rejects.toThrow(message);
  });

  it('an out-of-range config names the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-replay-'));
    const cfg = join(dir, 'c.json');
    writeFileSync(cfg, '{"exitAlertCount": 1}');
    await expect(runReplay({ symbol: 'TSLA', ...files('sell-burst'), config: cfg })).rejects.toThrow(
      'config.exitAlertCount: must be ≥ 2',
    );
  });
});

describe('the flowguard binary', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'bin/flowguard.js'), 'replay', ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });

  it.each(['seller-cluster-exit', 'sell-burst', 'malformed-records'])('replay %s --json', (name) => {
    const { trades, quotes } = files(name);
    const res = cli(['--symbol', 'TSLA', '--trades', trades, '--quotes', quotes, '--json']);
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    const out = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['symbol', 'alerts', 'exitSignal', 'stats', 'rejections']);
    expectMatches(out as never, load(name));
  });

  it('prints a readable timeline without --json', () => {
    const res = cli([
      '--symbol',
      'TSLA',
      ...Object.entries(files('seller-cluster-exit')).flatMap(([k, v]) => [`--${k}`, v]),
    ]);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/2025-12-01 10:07:10\.\d{9} EST {2}CRITICAL large_seller\/tape/);
    expect(res.stdout).toContain('EXIT     large_seller_cluster');
  });

  it('exits 2 with "invalid input: field: rule" and nothing on stdout for a missing file', () => {
    const res = cli(['--symbol', 'TSLA', '--trades', '/nonexistent.json', '--quotes', '/nonexistent.json', '--json']);
    expect(res.status).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('invalid input: --trades: file not found: /nonexistent.json');
  });

  it('reads JSON Lines files too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-replay-'));
    const { trades, quotes } = files('seller-cluster-exit');
    // Re-emit each results element as one line, keeping the exact integer text.
    const toLines = (path: string) => {
      const text = readFileSync(path, 'utf8');
      return text
        .split('\n')
        .filter((l) => l.startsWith('{"') && !l.startsWith('{"results"'))
        .map((l) => l.replace(/,$/, ''))
        .join('\n');
    };
    writeFileSync(join(dir, 't.jsonl'), toLines(trades));
    writeFileSync(join(dir, 'q.jsonl'), toLines(quotes));
    const res = cli(['--symbol', 'TSLA', '--trades', join(dir, 't.jsonl'), '--quotes', join(dir, 'q.jsonl'), '--json']);
    expect(res.status).toBe(0);
    expectMatches(JSON.parse(res.stdout) as never, load('seller-cluster-exit'));
  });
});

describe('marketTimeFromNs', () => {
  it('prints exact nanoseconds in New York time with the zone in force (EDT in summer, EST in winter)', () => {
    expect(marketTimeFromNs('1340289044395768851')).toBe('2012-06-21 10:30:44.395768851 EDT');
    expect(marketTimeFromNs('1764601200000000001')).toBe('2025-12-01 10:00:00.000000001 EST');
    expect(marketTimeFromNs('5')).toBe('1969-12-31 19:00:00.000000005 EST');
  });
});
