import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadVolumeProfileFile, runReplay } from '../../../src/cli/replay';
import { type RedBurstAlert } from '../../../src/domain/detectors/alerts';

// `replay --volume-profile FILE`: minute aggregates of recorded days give red_burst's baseline the intraday curve.
const SCENARIO = join(__dirname, '../../fixtures/scenarios/sell-burst');
const files = { trades: join(SCENARIO, 'trades.json'), quotes: join(SCENARIO, 'quotes.json') };
const OPEN = Date.UTC(2025, 10, 28, 14, 30); // a Friday before the scenario's day, 09:30 New York
const dir = mkdtempSync(join(tmpdir(), 'fg-volume-profile-'));
const write = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
/** One aggregates response (Polygon's wire form) with `perMinute(m)` shares in each session minute. */
const response = (perMinute: (m: number) => number) =>
  JSON.stringify({
    ticker: 'TSLA',
    status: 'OK',
    adjusted: true,
    queryCount: 390,
    resultsCount: 390,
    request_id: 'r',
    results: Array.from({ length: 390 }, (_, m) => ({ t: OPEN + m * 60_000, v: perMinute(m), o: 1, h: 1, l: 1, c: 1 })),
  });

describe('replay --volume-profile', () => {
  it('a flat curve changes nothing (scale 1, said on each red_burst)', async () => {
    const flat = write(
      'flat.json',
      response(() => 1000),
    );
    const r = await runReplay({ symbol: 'TSLA', ...files, volumeProfile: flat });
    const bursts = r.alerts as RedBurstAlert[];
    expect(bursts.map((a) => [a.severity, a.profileScale])).toEqual([
      ['warning', 1],
      ['critical', 1],
    ]);
    expect(r.exitSignal?.reason).toBe('red_burst');
  });

  it('where the curve always surges (doubling every 2 minutes), the same selling is no burst', async () => {
    // The scenario's burst is at 10:06–10:07 New York (session minutes 36–37); the curve is smoothed over 15
    // minutes, so a surge it can tell from noise is one that builds: here ≈ 2.5× the 5 minutes before.
    const surge = write('surge.jsonl', `${response((m) => Math.round(1000 * 2 ** (Math.min(m, 60) / 2)))}\n`);
    const r = await runReplay({ symbol: 'TSLA', ...files, volumeProfile: surge });
    expect(r.alerts).toEqual([]);
    expect(r.exitSignal).toBeNull();
  });

  it('takes JSON Lines of bare bars too, and refuses bad files naming the flag, file and place', () => {
    const bars = write('bars.jsonl', `{"t":${OPEN},"v":10}\n{"t":${OPEN + 60_000},"v":20}\n`);
    expect(loadVolumeProfileFile(bars).days).toBe(1);
    expect(() => loadVolumeProfileFile(join(dir, 'missing.json'))).toThrow('--volume-profile: file not found');
    const bad = write('bad.jsonl', `{"t":${OPEN},"v":10}\n{"t":"x","v":20}\n`);
    expect(() => loadVolumeProfileFile(bad)).toThrow(`--volume-profile: ${bad} line 2: t `);
    const notJson = write('not-json.jsonl', `{"t":${OPEN},"v":10}\n{oops\n`);
    expect(() => loadVolumeProfileFile(notJson)).toThrow(`${notJson} line 2 must be JSON`);
    const night = write('night.json', JSON.stringify({ results: [{ t: OPEN - 3_600_000, v: 5 }] }));
    expect(() => loadVolumeProfileFile(night)).toThrow('has no minute bar inside a regular session');
  });
});
