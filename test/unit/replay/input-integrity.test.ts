import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runReplay } from '../../../src/cli/replay';

// Inputs that cannot be read correctly must never read as an all-clear (issue 12's rule): each is refused (a
// ValidationError, exit 2 in the CLI) naming the file and what is wrong.
const dir = mkdtempSync(join(tmpdir(), 'fg-integrity-'));
const file = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const T0 = 1764601200_000_000_000n; // 2025-12-01 15:00 UTC, 10:00 New York
const ns = (ms: number) => (T0 + BigInt(ms) * 1_000_000n).toString();
const trade = (i: number, ms: number, price = 250) =>
  `{"exchange":11,"id":"${i}","participant_timestamp":${ns(ms)},"price":${price},"sequence_number":${i},"sip_timestamp":${ns(ms)},"size":100,"tape":3}`;
const quote = (i: number, ms: number, bid = 249.99, ask = 250.01) =>
  `{"ask_exchange":11,"ask_price":${ask},"ask_size":100,"bid_exchange":11,"bid_price":${bid},"bid_size":100,"participant_timestamp":${ns(ms)},"sequence_number":${i},"sip_timestamp":${ns(ms)},"tape":3}`;
const QUOTES = file('quotes.jsonl', `${quote(1, 0)}\n`);

describe('replay refuses a file saved newest first (Polygon order=desc)', () => {
  const message = /newest first \(Polygon's order=desc.*fetch with order=asc, or sort the file/;

  it('two trades, newest first, as JSON Lines', async () => {
    const trades = file('desc.jsonl', `${trade(2, 2000)}\n${trade(1, 1000)}\n`);
    await expect(runReplay({ symbol: 'TSLA', trades, quotes: QUOTES })).rejects.toThrow(
      new RegExp(`--trades: .*desc\\.jsonl: records are ${message.source}`),
    );
  });

  it('quotes, newest first, as a v3 response object', async () => {
    const quotes = file('desc-quotes.json', `{"results":[${[3, 2, 1].map((i) => quote(i, i * 1000)).join(',')}]}`);
    const trades = file('one-trade.jsonl', `${trade(1, 5000)}\n`);
    await expect(runReplay({ symbol: 'TSLA', trades, quotes })).rejects.toThrow(
      new RegExp(`--quotes: .*desc-quotes\\.json: records are ${message.source}`),
    );
  });

  it('a time-ordered file with a stray late print at the start still replays', async () => {
    const lines = [trade(0, 5000), ...Array.from({ length: 60 }, (_, i) => trade(i + 1, 1000 + i * 1000))];
    const trades = file('one-late.jsonl', `${lines.join('\n')}\n`);
    const run = await runReplay({ symbol: 'TSLA', trades, quotes: QUOTES });
    expect(run.stats.rejected.OUT_OF_ORDER).toBe(4);
  });
});

describe('replay refuses a stream mostly rejected OUT_OF_ORDER (more than 10%)', () => {
  it('a file in order for 70 records, then 10 from earlier (12.5%)', async () => {
    const lines = [
      ...Array.from({ length: 70 }, (_, i) => trade(i + 1, 1000 + i * 100)),
      ...Array.from({ length: 10 }, (_, i) => trade(100 + i, 500 + i)),
    ];
    const trades = file('late-tail.jsonl', `${lines.join('\n')}\n`);
    await expect(runReplay({ symbol: 'TSLA', trades, quotes: QUOTES })).rejects.toThrow(
      /--trades: .*late-tail\.jsonl: 10 of its 80 records \(12\.5%\) were rejected OUT_OF_ORDER, more than 10%/,
    );
  });

  it('one late record in 11 (9.1%) replays, counted', async () => {
    const lines = [...Array.from({ length: 10 }, (_, i) => trade(i + 1, 1000 + i * 100)), trade(99, 500)];
    const trades = file('late-one.jsonl', `${lines.join('\n')}\n`);
    const run = await runReplay({ symbol: 'TSLA', trades, quotes: QUOTES });
    expect(run.stats.rejected.OUT_OF_ORDER).toBe(1);
  });
});

describe('replay refuses quotes of another symbol (v3 quotes carry no ticker)', () => {
  const REAL = join(__dirname, '../../fixtures/realdata');

  it('20 trades at 100.00 against a 250.00 NBBO: the smallest sample that decides', async () => {
    const trades = file(
      'cheap.jsonl',
      `${Array.from({ length: 20 }, (_, i) => trade(i + 1, 1000 + i, 100)).join('\n')}\n`,
    );
    await expect(runReplay({ symbol: 'TSLA', trades, quotes: QUOTES })).rejects.toThrow(
      /--quotes: .*quotes\.jsonl does not look like the quotes of .*cheap\.jsonl: 20 of the first 20 trades .* more than 10% of the mid outside the NBBO \(median trade price 100\.00, median mid 250\.00\)/,
    );
  });

  it('19 such trades are too few to decide, and 10% outside the NBBO is not far', async () => {
    const few = file('few.jsonl', `${Array.from({ length: 19 }, (_, i) => trade(i + 1, 1000 + i, 100)).join('\n')}\n`);
    await expect(runReplay({ symbol: 'TSLA', trades: few, quotes: QUOTES })).resolves.toBeDefined();
    // 250.01 + 10% of the 250.00 mid = 275.01: a print at 275.00 is near enough.
    const near = file(
      'near.jsonl',
      `${Array.from({ length: 30 }, (_, i) => trade(i + 1, 1000 + i, 275)).join('\n')}\n`,
    );
    await expect(runReplay({ symbol: 'TSLA', trades: near, quotes: QUOTES })).resolves.toBeDefined();
  });

  it('AMZN trades with GOOG quotes (the real day): refused, and --trades-out is not left behind', async () => {
    const out = join(dir, 'mismatch-out.jsonl');
    await expect(
      runReplay({
        symbol: 'AMZN',
        trades: join(REAL, 'AMZN-2012-06-21.trades.jsonl.gz'),
        quotes: join(REAL, 'GOOG-2012-06-21.quotes.jsonl.gz'),
        tradesOut: out,
      }),
    ).rejects.toThrow(
      /GOOG-2012-06-21\.quotes\.jsonl\.gz does not look like the quotes of .*AMZN-2012-06-21\.trades\.jsonl\.gz: 200 of the first 200 .*\(median trade price 224\.00, median mid 578\.70\)/,
    );
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('mismatch-out'))).toEqual([]);
  });
});

describe('replay --trades-out is written only when the replay succeeds', () => {
  it('a refused replay leaves no file; a good one leaves exactly FILE', async () => {
    const out = join(dir, 'out.jsonl');
    const desc = file('desc2.jsonl', `${trade(2, 2000)}\n${trade(1, 1000)}\n`);
    await expect(runReplay({ symbol: 'TSLA', trades: desc, quotes: QUOTES, tradesOut: out })).rejects.toThrow(
      /newest first/,
    );
    expect(readdirSync(dir).filter((f) => f.startsWith('out.jsonl'))).toEqual([]);
    const good = file('good.jsonl', `${trade(1, 1000)}\n${trade(2, 2000)}\n`);
    await runReplay({ symbol: 'TSLA', trades: good, quotes: QUOTES, tradesOut: out });
    expect(readdirSync(dir).filter((f) => f.startsWith('out.jsonl'))).toEqual(['out.jsonl']);
  });
});

describe('replay names a damaged gzip file for what it is', () => {
  const gz = gzipSync(Array.from({ length: 2000 }, (_, i) => trade(i + 1, 1000 + i)).join('\n'));

  it('cut short: truncated', async () => {
    const trades = file('cut.jsonl.gz', gz.subarray(0, Math.floor(gz.length / 2)));
    await expect(runReplay({ symbol: 'TSLA', trades, quotes: QUOTES })).rejects.toThrow(
      /--trades: .*cut\.jsonl\.gz is truncated \(the gzip stream ends early\) \(Z_BUF_ERROR\)/,
    );
  });

  it('corrupted: not a valid gzip stream', async () => {
    const bad = Buffer.from(gz);
    for (let i = 20; i < 60; i++) bad[i] = 0xff;
    const trades = file('corrupt.jsonl.gz', bad);
    await expect(runReplay({ symbol: 'TSLA', trades, quotes: QUOTES })).rejects.toThrow(
      /--trades: .*corrupt\.jsonl\.gz is not a valid gzip stream \(corrupt data\) \(Z_DATA_ERROR\)/,
    );
  });

  it('a gzipped --volume-profile cut short says the same', async () => {
    const profile = file('profile.json.gz', gzipSync('{"results":[]}'.repeat(200)).subarray(0, 20));
    await expect(runReplay({ symbol: 'TSLA', trades: QUOTES, quotes: QUOTES, volumeProfile: profile })).rejects.toThrow(
      /--volume-profile: .*profile\.json\.gz is truncated \(the gzip stream ends early\) \(Z_BUF_ERROR\)/,
    );
  });
});
