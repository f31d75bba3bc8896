import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runReplay } from '../../../src/cli/replay';
import { ValidationError } from '../../../src/domain/validation';

const SCENARIOS = join(__dirname, '../../fixtures/scenarios');

describe('replay --trades-out', () => {
  it('writes one line per trade record read, with identity, side, rule and the quote used', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-trades-out-'));
    const out = join(dir, 'out.jsonl');
    const name = 'malformed-records';
    const result = await runReplay({
      symbol: 'TSLA',
      trades: join(SCENARIOS, name, 'trades.json'),
      quotes: join(SCENARIOS, name, 'quotes.json'),
      tradesOut: out,
    });
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(result.stats.trades);
    const eligible = lines.filter((l) => l.eligible === true);
    expect(eligible).toHaveLength(result.stats.eligibleTrades);
    expect(eligible.filter((l) => l.side === 'sell')).toHaveLength(result.stats.sides.sell ?? 0);
    for (const l of eligible) {
      expect(Object.keys(l)).toEqual([
        'id',
        'sequence_number',
        'sip_timestamp',
        'eligible',
        'side',
        'rule',
        'bid',
        'ask',
      ]);
      expect(['quote', 'tick', 'unknown']).toContain(l.rule);
      expect(typeof l.sip_timestamp).toBe('string');
    }
    // Rejected records are listed too, ineligible, with the reject code.
    expect(lines.some((l) => l.eligible === false && typeof l.outcome === 'string')).toBe(true);
  });

  it('an unwritable path is invalid input naming --trades-out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-trades-out-'));
    writeFileSync(join(dir, 'file'), '');
    const run = () =>
      runReplay({
        symbol: 'TSLA',
        trades: join(SCENARIOS, 'sell-burst', 'trades.json'),
        quotes: join(SCENARIOS, 'sell-burst', 'quotes.json'),
        tradesOut: join(dir, 'file', 'nested.jsonl'),
      });
    await expect(run()).rejects.toThrow(ValidationError);
    await expect(run()).rejects.toThrow(/--trades-out/);
  });
});
