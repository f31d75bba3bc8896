import { createFlowDetector } from '../../../src/domain/detectors/flow-detector';
import { ValidationError } from '../../../src/domain/validation';
import { decodeRest } from '../../../src/market-data/decode';
import { Feed, ns, onRecord, onTradeRecord, onWsMessage, setup } from './helpers';

describe('Lee–Ready side classification (NBBO 249.50 × 249.53 unless stated)', () => {
  // Sides are observed through stats.sides; the previous trade (for the tick test) is given where it matters.
  const cases: {
    name: string;
    prev?: number;
    prev2?: number;
    price: number;
    quote?: [number, number];
    side: string;
  }[] = [
    { name: 'at the bid 249.50 → sell', price: 249.5, side: 'sell' },
    { name: 'below the bid 249.49 → sell', price: 249.49, side: 'sell' },
    { name: 'at the ask 249.53 → buy', price: 249.53, side: 'buy' },
    { name: 'above the ask 249.60 → buy', price: 249.6, side: 'buy' },
    { name: 'inside, 249.51 nearer the bid (mid 249.515) → sell', price: 249.51, side: 'sell' },
    { name: 'inside, 249.52 nearer the ask (mid 249.515) → buy', price: 249.52, side: 'buy' },
    {
      name: 'midpoint 249.51 of 249.50 × 249.52, uptick from 249.505 → buy',
      quote: [249.5, 249.52],
      prev: 249.505,
      price: 249.51,
      side: 'buy',
    },
    {
      name: 'midpoint 249.51, downtick from 249.52 → sell',
      quote: [249.5, 249.52],
      prev: 249.52,
      price: 249.51,
      side: 'sell',
    },
    {
      name: 'midpoint 249.51, zero-downtick (249.52 then 249.51) → sell',
      quote: [249.5, 249.52],
      prev2: 249.52,
      prev: 249.51,
      price: 249.51,
      side: 'sell',
    },
    {
      name: 'midpoint 249.51, zero-uptick (249.50 then 249.51) → buy',
      quote: [249.5, 249.52],
      prev2: 249.5,
      prev: 249.51,
      price: 249.51,
      side: 'buy',
    },
    { name: 'midpoint with no earlier trade → unknown', quote: [249.5, 249.52], price: 249.51, side: 'unknown' },
    {
      name: 'locked market 249.50 × 249.50, downtick from 249.55 → sell',
      quote: [249.5, 249.5],
      prev: 249.55,
      price: 249.5,
      side: 'sell',
    },
    { name: 'one-sided quote (ask 0) → unknown even at the bid', quote: [249.5, 0], price: 249.5, side: 'unknown' },
  ];
  it.each(cases)('$name', ({ prev, prev2, price, quote, side }) => {
    const { d, f } = setup();
    const [bid, ask] = quote ?? [249.5, 249.53];
    // Earlier prints go in before any quote exists, so they are "unknown" themselves and only feed the tick test.
    if (prev2 !== undefined) f.trade(0, prev2, 100);
    if (prev !== undefined) f.trade(1, prev, 100);
    f.quote(2, bid, ask, 300, ask === 0 ? 0 : 300);
    const before = d.stats.sides;
    expect(f.trade(3, price, 100)).toBe('accepted');
    const after = d.stats.sides;
    const changed = (['buy', 'sell', 'unknown'] as const).filter((s) => after[s] !== before[s]);
    expect(changed).toEqual([side]);
  });

  it('without any quote every print is unknown', () => {
    const { d, f } = setup();
    f.trade(0, 250, 100);
    f.trade(1, 250.01, 100);
    expect(d.stats.sides).toEqual({ buy: 0, sell: 0, unknown: 2 });
  });
});

describe('large_seller, source tape (largeOrderSize 10000)', () => {
  const cases: { name: string; prints: [number, number, number][]; expected: [string, number][] }[] = [
    {
      name: 'one 10000 print at the bid: 10000 ≥ 10000 → warning',
      prints: [[0, 249.5, 10_000]],
      expected: [['warning', 10_000]],
    },
    { name: 'one 9999 print: below the threshold → nothing', prints: [[0, 249.5, 9_999]], expected: [] },
    { name: '19999 < 2 × 10000 → warning', prints: [[0, 249.5, 19_999]], expected: [['warning', 19_999]] },
    { name: '20000 = 2 × 10000 → critical', prints: [[0, 249.5, 20_000]], expected: [['critical', 20_000]] },
    { name: '50000 at the ask is a buyer → nothing', prints: [[0, 249.53, 50_000]], expected: [] },
    {
      name: 'sweep 4000 + 3000 + 3000 at 249.50 within 6 ms: 10000 at the third print → warning',
      prints: [
        [0, 249.5, 4000],
        [3, 249.5, 3000],
        [6, 249.5, 3000],
      ],
      expected: [['warning', 10_000]],
    },
    {
      name: 'sweep 4000 + 3000 at 0 ms, 3000 at 51 ms: outside 50 ms → nothing',
      prints: [
        [0, 249.5, 4000],
        [0, 249.5, 3000],
        [51, 249.5, 3000],
      ],
      expected: [],
    },
    {
      name: 'sweep exactly 50 ms after the first print still counts: 5000 + 5000 → warning',
      prints: [
        [0, 249.5, 5000],
        [50, 249.5, 5000],
      ],
      expected: [['warning', 10_000]],
    },
    {
      name: 'prints at two prices do not sum: 6000 at 249.50 + 6000 at 249.49 → nothing',
      prints: [
        [0, 249.5, 6000],
        [1, 249.49, 6000],
      ],
      expected: [],
    },
    {
      name: 'sweep alerts once: 6000 + 6000 + 6000 → one warning of 12000 at the second print',
      prints: [
        [0, 249.5, 6000],
        [1, 249.5, 6000],
        [2, 249.5, 6000],
      ],
      expected: [['warning', 12_000]],
    },
  ];
  it.each(cases)('$name', ({ prints, expected }) => {
    const { d, f } = setup();
    f.quote(-1000, 249.5, 249.53);
    for (const [ms, price, size] of prints) f.trade(ms, price, size);
    const alerts = d.drainAlerts();
    expect(alerts.map((a) => [a.severity, a.kind === 'large_seller' ? a.size : NaN])).toEqual(expected);
    for (const a of alerts)
      expect(a).toMatchObject({ kind: 'large_seller', source: 'tape', symbol: 'TSLA', price: '249.50' });
  });

  it('carries the exact nanosecond timestamp and a rule naming what fired', () => {
    const { d, f } = setup();
    f.quote(0, 249.5, 249.53);
    onTradeRecord(f.d, {
      exchange: 4,
      id: '77',
      participant_timestamp: '1764601200999999001',
      price: 249.5,
      sequence_number: 999,
      sip_timestamp: '1764601201000000123',
      size: 15_000,
      trf_id: 202,
    });
    const [a] = d.drainAlerts();
    expect(a).toEqual({
      kind: 'large_seller',
      source: 'tape',
      severity: 'warning',
      symbol: 'TSLA',
      timestampNs: '1764601201000000123',
      price: '249.50',
      size: 15_000,
      trigger: 'shares',
      rule: 'seller-initiated print 15000 ≥ 10000 shares at 249.50',
    });
  });
});

describe('large_seller, source quote (one alert per episode)', () => {
  it('a large BID never alerts (it is a buyer)', () => {
    const { d, f } = setup();
    for (let i = 0; i < 10; i++) f.quote(i * 100, 249.5, 249.52, 50_000, 300);
    expect(d.drainAlerts()).toEqual([]);
  });

  it('the same large offer on 10 consecutive quotes alerts once, even as the bid moves', () => {
    const { d, f } = setup();
    for (let i = 0; i < 10; i++) f.quote(i * 100, 249.5 - (i % 3) / 100, 249.55, 300, 12_000);
    const alerts = d.drainAlerts();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      source: 'quote',
      severity: 'warning',
      price: '249.55',
      size: 12_000,
      timestampNs: ns(0),
    });
    expect(d.exitSignal).toBeNull();
  });

  it('re-arms when the size drops below the threshold: 12000, 9000, 12000 → two alerts', () => {
    const { d, f } = setup();
    f.quote(0, 249.5, 249.55, 300, 12_000);
    f.quote(100, 249.5, 249.55, 300, 9_000);
    f.quote(200, 249.5, 249.55, 300, 12_000);
    expect(d.drainAlerts().map((a) => a.timestampNs)).toEqual([ns(0), ns(200)]);
  });

  it('re-arms when the ask price changes: 12000 at 249.55 then 12000 at 249.54 → two alerts', () => {
    const { d, f } = setup();
    f.quote(0, 249.5, 249.55, 300, 12_000);
    f.quote(100, 249.5, 249.54, 300, 12_000);
    expect(d.drainAlerts().map((a) => a.kind === 'large_seller' && a.price)).toEqual(['249.55', '249.54']);
  });

  it('round-lot unit: ask_size 100 lots × 100 = 10000 shares → alert of size 10000; 99 lots → nothing', () => {
    const { d, f } = setup({ quoteSizeUnit: 'round_lots' });
    f.quote(0, 249.5, 249.55, 3, 99);
    expect(d.drainAlerts()).toEqual([]);
    f.quote(100, 249.5, 249.55, 3, 100);
    expect(d.drainAlerts()).toMatchObject([{ source: 'quote', size: 10_000 }]);
  });

  it('one-sided quote with a large offer (no bid) still shows a seller: 25000 ≥ 2 × 10000 → critical', () => {
    const { d, f } = setup();
    f.quote(0, 0, 249.55, 0, 25_000);
    expect(d.drainAlerts()).toMatchObject([{ source: 'quote', severity: 'critical', size: 25_000 }]);
  });
});

describe('exit rule: ≥ 3 large_seller alerts within 120 s of market time', () => {
  const cases: { name: string; times: number[]; exitAt?: number }[] = [
    { name: 'alerts at 0, 30, 60 s → exit at 60 s', times: [0, 30_000, 60_000], exitAt: 60_000 },
    {
      name: 'alerts at 0, 60, 120 s: 120 − 0 = 120 ≤ 120 → exit at 120 s',
      times: [0, 60_000, 120_000],
      exitAt: 120_000,
    },
    { name: 'alerts at 0, 60, 120.001 s: 120.001 > 120 → no exit', times: [0, 60_000, 120_001] },
    {
      name: 'alerts at 0, 150, 200, 250 s: last three span 100 s → exit at 250 s',
      times: [0, 150_000, 200_000, 250_000],
      exitAt: 250_000,
    },
    { name: 'only two alerts → no exit', times: [0, 1_000] },
  ];
  it.each(cases)('$name', ({ times, exitAt }) => {
    const { d, f } = setup();
    f.quote(-1, 249.5, 249.53);
    for (const t of times) f.trade(t, 249.5, 12_000);
    expect(d.drainAlerts()).toHaveLength(times.length);
    if (exitAt === undefined) expect(d.exitSignal).toBeNull();
    else expect(d.exitSignal).toMatchObject({ reason: 'large_seller_cluster', timestampNs: ns(exitAt) });
  });

  it('fires once: a fourth alert keeps the first exit', () => {
    const { d, f } = setup();
    f.quote(-1, 249.5, 249.53);
    for (const t of [0, 1000, 2000, 3000]) f.trade(t, 249.5, 12_000);
    expect(d.exitSignal?.timestampNs).toBe(ns(2000));
  });

  it('quote-source alerts count too: offer episode + two prints within 120 s → exit', () => {
    const { d, f } = setup();
    f.quote(0, 249.5, 249.53, 300, 11_000);
    f.trade(10_000, 249.5, 12_000);
    f.trade(20_000, 249.5, 12_000);
    expect(d.exitSignal?.reason).toBe('large_seller_cluster');
  });
});

describe('red_burst (baselineMinutes 1; baseline 100 shares/s → mean 6000 per 60 s)', () => {
  /**
   * One 100-share print per second at t = 0..119 s before any quote (side unknown): at t = 120 s the trailing
   * window (61..120 s) holds 59 × 100 = 5900 shares and the baseline (1..60 s) 6000. Then sells at 249.50.
   */
  function warm(config = {}) {
    const s = setup({ baselineMinutes: 1, largeOrderSize: 1_000_000, ...config });
    for (let t = 0; t < 120; t++) s.f.trade(t * 1000, 250, 100);
    s.f.quote(120_000, 249.5, 249.53);
    return s;
  }

  const cases: { name: string; sells: number[]; expected: [string, number][] }[] = [
    { name: '5900 + 9000 = 14900 → ratio 2.4833 ≤ 3 → nothing', sells: [9000], expected: [] },
    { name: '5900 + 12100 = 18000 → ratio exactly 3, not > 3 → nothing', sells: [12_100], expected: [] },
    { name: '5900 + 12160 = 18060 → ratio 3.01 > 3 → warning', sells: [12_160], expected: [['warning', 3.01]] },
    { name: '5900 + 18100 = 24000 → ratio exactly 4 → warning only', sells: [18_100], expected: [['warning', 4]] },
    {
      name: '5900 + 18160 = 24060 → ratio 4.01 > 4 → critical (no warning first)',
      sells: [18_160],
      expected: [['critical', 4.01]],
    },
    {
      name: 'sells 9000, 9000, 9000 → ratios 2.4833, 3.9833 (warning), 5.4833 (critical)',
      sells: [9000, 9000, 9000],
      expected: [
        ['warning', 3.9833],
        ['critical', 5.4833],
      ],
    },
    {
      name: 'one alert per severity per episode: 9000 × 5 → warning, critical, then silence',
      sells: [9000, 9000, 9000, 9000, 9000],
      expected: [
        ['warning', 3.9833],
        ['critical', 5.4833],
      ],
    },
  ];
  it.each(cases)('$name', ({ sells, expected }) => {
    const { d, f } = warm();
    // 200 ms apart and alternating prices so no two prints form a sweep.
    sells.forEach((size, i) => f.trade(120_000 + 200 * (i + 1), i % 2 === 0 ? 249.5 : 249.49, size));
    const alerts = d.drainAlerts();
    expect(alerts.map((a) => [a.severity, a.kind === 'red_burst' ? a.ratio : NaN])).toEqual(expected);
    for (const a of alerts) expect(a).toMatchObject({ kind: 'red_burst', sellShare: 1, baselineVolume: 6000 });
    if (expected.some(([s]) => s === 'critical')) expect(d.exitSignal?.reason).toBe('red_burst');
    else expect(d.exitSignal).toBeNull();
  });

  it('sell share below 0.60 → nothing: buys and sells of 9000 alternating → share ≤ 0.5', () => {
    const { d, f } = warm();
    // Buy, sell, buy, sell: after each print the sell share is 0, 0.5, 0.333, 0.5 while the ratio climbs to
    // (5900 + 36000) / 6000 = 6.98.
    f.trade(120_100, 249.53, 9000);
    f.trade(120_200, 249.5, 9000);
    f.trade(120_300, 249.54, 9000);
    f.trade(120_400, 249.49, 9000);
    expect(d.drainAlerts()).toEqual([]);
  });

  it('sell share exactly 0.60 qualifies: sells 9000 + 9000 + 9000, buys 9000 + 9000 → share 27000 / 45000 = 0.6', () => {
    const { d, f } = warm();
    [249.53, 249.54, 249.5, 249.49, 249.48].forEach((p, i) => f.trade(120_100 + i * 100, p, 9000));
    const alerts = d.drainAlerts();
    expect(alerts.map((a) => a.severity)).toEqual(['critical']);
    expect(alerts[0]).toMatchObject({ sellShare: 0.6, ratio: 8.4833 });
  });

  it('no red_burst before a full baseline: the same burst at t = 118 s (baseline 59 of 60 s) → nothing', () => {
    const { d, f } = setup({ baselineMinutes: 1, largeOrderSize: 1_000_000 });
    for (let t = 0; t < 118; t++) f.trade(t * 1000, 250, 100);
    f.quote(118_000, 249.5, 249.53);
    [9000, 9000, 9000, 9000].forEach((s, i) => f.trade(118_000 + 200 * (i + 1), i % 2 ? 249.49 : 249.5, s));
    expect(d.drainAlerts()).toEqual([]);
  });

  it('an empty baseline (no volume) never yields a ratio', () => {
    const { d, f } = setup({ baselineMinutes: 1, largeOrderSize: 1_000_000 });
    f.quote(0, 249.5, 249.53);
    f.quote(150_000, 249.5, 249.53);
    f.trade(150_100, 249.5, 50_000);
    expect(d.drainAlerts()).toEqual([]);
  });

  it('a new episode after the ratio falls back: warning again (redBurstRearmSeconds 0: no hysteresis)', () => {
    const { d, f } = warm({ redBurstRearmSeconds: 0, redBurstMinTrades: 0 });
    f.trade(120_200, 249.5, 12_160);
    expect(d.drainAlerts().map((a) => a.severity)).toEqual(['warning']);
    // At 200 s the trailing window (141..200 s) holds only a 100-share print; the baseline (81..140 s) is
    // 39 × 100 + 12160 = 16060, ratio 100 / 16060 ≤ 3 ends the episode.
    f.trade(200_000, 249.5, 100);
    // Sells of 16100 at alternating prices: (100 + 3 × 16100) / 16060 = 48400 / 16060 = 3.0137 > 3 → a fresh warning.
    f.trade(200_200, 249.49, 16_100);
    f.trade(200_400, 249.5, 16_100);
    f.trade(200_600, 249.49, 16_100);
    expect(d.drainAlerts().map((a) => [a.severity, a.kind === 'red_burst' && a.ratio])).toEqual([['warning', 3.0137]]);
  });
});

describe('red_burst hysteresis, floors and the opening guard (issue 16)', () => {
  /** baselineMinutes 1: 100 shares/s for 120 s, then a quote; the same warm-up as above. */
  function warm(config = {}) {
    const s = setup({ baselineMinutes: 1, largeOrderSize: 1_000_000, ...config });
    for (let t = 0; t < 120; t++) s.f.trade(t * 1000, 250, 100);
    s.f.quote(120_000, 249.5, 249.53);
    return s;
  }

  it('an episode hovering around the threshold alerts once: it re-arms only after redBurstRearmSeconds below the re-arm level', () => {
    const { d, f } = warm({ redBurstRearmSeconds: 120, redBurstMinTrades: 0 });
    f.trade(120_200, 249.5, 12_160);
    expect(d.drainAlerts().map((a) => a.severity)).toEqual(['warning']);
    // Back below the re-arm level at 200 s, up again at 200.2 s: the same episode, no new alert.
    f.trade(200_000, 249.5, 100);
    [249.49, 249.5, 249.49].forEach((p, i) => f.trade(200_200 + i * 200, p, 16_100));
    expect(d.drainAlerts()).toEqual([]);
  });

  it('1,234 shares in 60 s against a baseline of 308 per minute is no burst (volume and trade-count floors)', () => {
    const { d, f } = setup({ baselineMinutes: 1, largeOrderSize: 1_000_000 });
    // Baseline: 308 shares a minute (a 100-share print every ~20 s, the last 8 shares at 59 s).
    for (let t = 0; t < 120; t += 20) f.trade(t * 1000, 250, 100);
    f.trade(59_000, 250, 8);
    f.trade(119_000, 250, 8);
    f.quote(120_000, 249.5, 249.53);
    // 1,234 shares of sells within a minute: ratio ≈ 4, every print seller-initiated.
    for (let i = 0; i < 12; i++) f.trade(121_000 + i * 4000, 249.5, i < 11 ? 100 : 134);
    expect(d.drainAlerts()).toEqual([]);
    expect(d.exitSignal).toBeNull();
    // With the floors off, the same tape is a critical burst and an exit: what the issue saw.
    const off = setup({ baselineMinutes: 1, largeOrderSize: 1_000_000, redBurstMinVolume: 0, redBurstMinTrades: 0 });
    for (let t = 0; t < 120; t += 20) off.f.trade(t * 1000, 250, 100);
    off.f.trade(59_000, 250, 8);
    off.f.trade(119_000, 250, 8);
    off.f.quote(120_000, 249.5, 249.53);
    for (let i = 0; i < 12; i++) off.f.trade(121_000 + i * 4000, 249.5, i < 11 ? 100 : 134);
    expect(off.d.drainAlerts().map((a) => a.severity)).toContain('critical');
  });

  it('no red burst in the first redBurstOpeningGuardMinutes after 09:30 New York time', () => {
    // T0 is 10:00 New York (15:00 UTC in December): inside a 45-minute guard, outside the default 15.
    const guarded = warm({ redBurstOpeningGuardMinutes: 45 });
    guarded.f.trade(120_200, 249.5, 18_160);
    expect(guarded.d.drainAlerts()).toEqual([]);
    const open = warm();
    open.f.trade(120_200, 249.5, 18_160);
    expect(open.d.drainAlerts().map((a) => a.severity)).toEqual(['critical']);
  });

  it('settings are validated', () => {
    for (const bad of [
      { redBurstMinVolume: -1 },
      { redBurstMinTrades: 1.5 },
      { redBurstRearmRatio: 0.1 },
      { redBurstRearmSeconds: 4000 },
      { redBurstOpeningGuardMinutes: 121 },
    ]) {
      expect(() => setup(bad)).toThrow(new RegExp(Object.keys(bad)[0]!));
    }
  });
});

describe('data validation: rejected with a stable code, counted, never thrown', () => {
  it('duplicates, out-of-order, crossed, non-positive', () => {
    const { d, f } = setup();
    f.quote(0, 249.5, 249.53);
    const t = {
      exchange: 11,
      id: 'a',
      participant_timestamp: ns(1),
      price: 249.5,
      sequence_number: 500,
      sip_timestamp: ns(1),
      size: 100,
    };
    expect(onTradeRecord(d, t)).toBe('accepted');
    expect(onTradeRecord(d, t)).toBe('DUPLICATE');
    // Identity (id + exchange + TRF) makes a duplicate whatever its sequence number; time alone orders (issue 16).
    expect(onTradeRecord(d, { ...t, sequence_number: 499 })).toBe('DUPLICATE');
    expect(onTradeRecord(d, { ...t, sequence_number: 501 })).toBe('DUPLICATE'); // same exchange + trade id
    expect(onTradeRecord(d, { ...t, id: 'b', sequence_number: 502, sip_timestamp: ns(0) })).toBe('OUT_OF_ORDER');
    expect(onTradeRecord(d, { ...t, id: 'b2', sequence_number: 400, sip_timestamp: ns(0) })).toBe('OUT_OF_ORDER');
    expect(onTradeRecord(d, { ...t, id: 'c', sequence_number: 503, price: 0 })).toBe('NON_POSITIVE_PRICE');
    expect(onTradeRecord(d, { ...t, id: 'd', sequence_number: 504, size: 0 })).toBe('NON_POSITIVE_SIZE');
    expect(onTradeRecord(d, { ...t, id: 'e', sequence_number: 505, price: '249.5' })).toBe('SCHEMA');
    expect(onTradeRecord(d, 'garbage')).toBe('SCHEMA');
    expect(f.quote(2, 249.6, 249.5)).toBe('CROSSED_QUOTE');
    expect(f.quote(3, 249.5, 0, 300, 0)).toBe('accepted'); // one-sided: valid
    const s = d.stats;
    expect(s.rejected).toEqual({
      SCHEMA: 2,
      NON_POSITIVE_PRICE: 1,
      NON_POSITIVE_SIZE: 1,
      CROSSED_QUOTE: 1,
      OUT_OF_ORDER: 2,
      DUPLICATE: 3,
      STALE: 0,
    });
    expect([s.trades, s.quotes, s.eligibleTrades]).toEqual([10, 3, 1]);
  });

  it('a crossed quote does not replace the NBBO in force', () => {
    const { d, f } = setup();
    f.quote(0, 249.5, 249.53);
    f.quote(1, 249.6, 249.55);
    f.trade(2, 249.5, 12_000);
    expect(d.drainAlerts()).toHaveLength(1);
  });

  it('stale: with now = t + 31 s → STALE (> 30 s); t + 11 s → accepted with a warning (> 10 s); no now → never stale', () => {
    const { d, f } = setup();
    d.setNow(ns(31_000));
    expect(f.trade(0, 250, 100)).toBe('STALE');
    d.setNow(ns(11_001));
    expect(f.trade(1, 250, 100)).toBe('accepted');
    expect(d.stats.staleWarnings).toBe(1);
    d.setNow(undefined);
    expect(f.trade(2, 250, 100)).toBe('accepted');
    expect(d.stats.rejected.STALE).toBe(1);
  });

  it('sequence numbers restart on a new UTC day', () => {
    const { d } = setup();
    const t = {
      exchange: 11,
      id: 'a',
      participant_timestamp: 0,
      price: 250,
      sequence_number: 9000,
      sip_timestamp: ns(0),
      size: 100,
    };
    expect(onTradeRecord(d, t)).toBe('accepted');
    expect(onTradeRecord(d, { ...t, id: 'b', sequence_number: 5, sip_timestamp: ns(86_400_000) })).toBe('accepted');
  });

  it('WebSocket messages: T and Q of this symbol are used, others ignored', () => {
    const { d } = setup();
    const t = 1_764_601_200_000;
    expect(onWsMessage(d, { ev: 'status', status: 'connected' })).toBe('ignored');
    expect(
      onWsMessage(d, { ev: 'Q', sym: 'TSLA', bx: 11, bp: 249.5, bs: 300, ax: 11, ap: 249.53, as: 300, t, q: 1, z: 3 }),
    ).toBe('accepted');
    expect(onWsMessage(d, { ev: 'T', sym: 'AAPL', x: 11, i: '1', p: 180, s: 50_000, t, q: 2 })).toBe('ignored');
    expect(
      onRecord(d, { ev: 'T', sym: 'TSLA', x: 11, i: '1', p: 249.5, s: 12_000, c: [14], t: t + 1, q: 3, z: 3 }),
    ).toBe('accepted');
    expect(d.drainAlerts()).toMatchObject([{ source: 'tape', timestampNs: '1764601200001000000' }]);
  });
});

const rec = (id: string, seq: number, ms: number) => ({
  exchange: 11,
  id,
  participant_timestamp: ns(ms),
  price: 249.5,
  sequence_number: seq,
  sip_timestamp: ns(ms),
  size: 100,
});

describe('alreadySeen (a feed overlapping REST)', () => {
  it('is true for records stamped before the last accepted one or with a known identity, never by sequence', () => {
    const { d, f } = setup();
    expect(d.alreadySeen(decodeRest(rec('x', 1, 0), 'trade'))).toBe(false); // nothing accepted yet
    f.quote(0, 249.5, 249.53);
    onTradeRecord(d, rec('a', 102, 1));
    onTradeRecord(d, rec('b', 104, 2));
    expect(d.alreadySeen(decodeRest(rec('b', 104, 2), 'trade'))).toBe(true); // same print
    expect(d.alreadySeen(decodeRest(rec('a', 102, 1), 'trade'))).toBe(true); // earlier
    expect(d.alreadySeen(decodeRest(rec('c', 104, 2), 'trade'))).toBe(false); // same sequence and time, another print
    expect(d.alreadySeen(decodeRest(rec('d', 5, 3), 'trade'))).toBe(false); // later, whatever its sequence number
    const q = { ...rec('q', 0, 0), bid_price: 249.5, ask_price: 249.53, bid_size: 300, ask_size: 300 };
    expect(d.alreadySeen(decodeRest(q, 'quote'))).toBe(true); // the quote taken at 0
    expect(d.alreadySeen(decodeRest({ ...q, ask_price: 249.54 }, 'quote'))).toBe(false); // another quote at that instant
    // Sequence numbers restart every session: a low number tomorrow is new.
    expect(d.alreadySeen(decodeRest(rec('e', 5, 86_400_000), 'trade'))).toBe(false);
  });
});

describe('sequence numbers are not identities (issue 16)', () => {
  it('two distinct TSLA prints in one millisecond sharing sequence 130924: both kept, the 12,000-share seller alerts', () => {
    const { d } = setup();
    const t = 1_764_601_200_534;
    onWsMessage(d, {
      ev: 'Q',
      sym: 'TSLA',
      bx: 12,
      bp: 249.95,
      bs: 300,
      ax: 12,
      ap: 249.97,
      as: 300,
      t: t - 1,
      q: 130_900,
      z: 3,
    });
    expect(onWsMessage(d, { ev: 'T', sym: 'TSLA', i: '00220725', x: 12, p: 249.95, s: 100, t, q: 130_924, z: 3 })).toBe(
      'accepted',
    );
    expect(
      onWsMessage(d, { ev: 'T', sym: 'TSLA', i: '00220726', x: 12, p: 249.95, s: 12_000, t, q: 130_924, z: 3 }),
    ).toBe('accepted');
    expect(d.stats.rejected.DUPLICATE).toBe(0);
    expect(d.drainAlerts()).toMatchObject([{ kind: 'large_seller', source: 'tape', size: 12_000 }]);
    // The same print again is still a duplicate.
    expect(
      onWsMessage(d, { ev: 'T', sym: 'TSLA', i: '00220726', x: 12, p: 249.95, s: 12_000, t, q: 130_924, z: 3 }),
    ).toBe('DUPLICATE');
  });

  it('a quote repeated with the same fields and timestamp is a duplicate; a different one at that instant is not', () => {
    const { d, f } = setup();
    expect(f.quote(0, 249.5, 249.53)).toBe('accepted');
    f.quoteSeq -= 2;
    expect(f.quote(0, 249.5, 249.53)).toBe('DUPLICATE');
    f.quoteSeq -= 2;
    expect(f.quote(0, 249.5, 249.54)).toBe('accepted'); // same sequence number, another quote
    expect(d.stats.rejected.DUPLICATE).toBe(1);
  });

  it('a session boundary (post-market into the next morning) never makes valid data look out of order', () => {
    const { d } = setup();
    expect(onTradeRecord(d, rec('late', 9_000_000, 0))).toBe('accepted');
    expect(onTradeRecord(d, rec('early', 3, 36_000_000))).toBe('accepted');
  });
});

describe('eligibility', () => {
  const cases: { name: string; extra: Record<string, unknown>; eligible: boolean }[] = [
    { name: 'regular (no conditions)', extra: {}, eligible: true },
    { name: 'intermarket sweep [14]', extra: { conditions: [14] }, eligible: true },
    { name: 'odd lot [37]', extra: { conditions: [37] }, eligible: true },
    { name: '[12, 41] Form T', extra: { conditions: [12, 41] }, eligible: false },
    { name: '[2] average price', extra: { conditions: [2] }, eligible: false },
    { name: '[38] corrected close', extra: { conditions: [38] }, eligible: false },
    { name: 'correction 1', extra: { correction: 1 }, eligible: false },
  ];
  it.each(cases)('$name → eligible: $eligible', ({ extra, eligible }) => {
    const { d, f } = setup();
    f.quote(0, 249.5, 249.53);
    f.trade(1, 249.5, 30_000, extra);
    expect(d.stats.eligibleTrades).toBe(eligible ? 1 : 0);
    expect(d.drainAlerts()).toHaveLength(eligible ? 1 : 0);
  });

  it('counts drops by reason', () => {
    const { d, f } = setup();
    f.trade(0, 250, 100, { conditions: [12] });
    f.trade(1, 250, 100, { conditions: [12, 37] });
    f.trade(2, 250, 100, { conditions: [2] });
    f.trade(3, 250, 100, { correction: 7 });
    expect(d.stats.dropped).toEqual({ correction: 1, conditions: { '12': 2, '2': 1 } });
  });
});

describe('warm-up', () => {
  it('builds state without alerts; a resting offer seen in warm-up does not alert when live', () => {
    const d = createFlowDetector({ symbol: 'TSLA', warmUp: true });
    const f = new Feed(d);
    f.quote(0, 249.5, 249.55, 300, 12_000);
    f.trade(1, 249.5, 12_000);
    f.trade(2, 249.5, 12_000);
    f.trade(3, 249.5, 12_000);
    expect(d.drainAlerts()).toEqual([]);
    expect(d.exitSignal).toBeNull();
    d.setWarmUp(false);
    f.quote(4, 249.5, 249.55, 300, 12_000);
    expect(d.drainAlerts()).toEqual([]);
    f.trade(5, 249.5, 12_000);
    expect(d.drainAlerts()).toHaveLength(1);
    // Warm-up alerts never count toward the exit.
    expect(d.exitSignal).toBeNull();
  });
});

describe('createFlowDetector input', () => {
  it('rejects a bad config naming the field', () => {
    expect(() => createFlowDetector({ symbol: 'TSLA', config: { largeOrderSize: 5 } })).toThrow(
      'config.largeOrderSize: must be ≥ 1000',
    );
  });
  it('rejects a state of another symbol or shape', () => {
    const snap = createFlowDetector({ symbol: 'TSLA' }).snapshot();
    expect(() => createFlowDetector({ symbol: 'AAPL', state: snap })).toThrow(ValidationError);
    expect(() => createFlowDetector({ symbol: 'TSLA', state: { ...snap, vol: [1] } })).toThrow('state.vol');
    expect(() => createFlowDetector({ symbol: 'TSLA', config: { baselineMinutes: 2 }, state: snap })).toThrow(
      'state.base',
    );
  });
});
