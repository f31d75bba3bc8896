import { generateSyntheticSession, LIVE_TIMELINE } from '../../../src/dev/market-simulator';
import { replaySession } from '../../../src/domain/replay';
import { decodeRest } from '../../../src/market-data/decode';

const ANCHOR_MS = Date.UTC(2025, 11, 1, 15, 0, 0);
const asWire = (r: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]));
const trade = (r: Record<string, unknown>) => decodeRest(asWire(r), 'trade');
const quote = (r: Record<string, unknown>) => decodeRest(asWire(r), 'quote');

describe('synthetic demo session', () => {
  it('is deterministic for a seed and anchor, and differs across seeds', () => {
    const a = generateSyntheticSession({ anchorMs: ANCHOR_MS, seed: 5 });
    const b = generateSyntheticSession({ anchorMs: ANCHOR_MS, seed: 5 });
    const c = generateSyntheticSession({ anchorMs: ANCHOR_MS, seed: 6 });
    expect(b.trades).toEqual(a.trades);
    expect(b.quotes).toEqual(a.quotes);
    expect(c.trades).not.toEqual(a.trades);
  });

  it.each([1, 7, 20240611])(
    'seed %i: quiet history, then three large seller-initiated events at the bid fire the exit in the live part',
    (seed) => {
      const s = generateSyntheticSession({ anchorMs: ANCHOR_MS, seed });
      const sip = (r: Record<string, unknown>) => r.sip_timestamp as bigint;
      // Time-ordered feeds with increasing SIP sequence numbers, prices around $250, no crossed NBBO.
      for (const list of [s.trades, s.quotes]) {
        for (let i = 1; i < list.length; i++) {
          expect(sip(list[i]!) >= sip(list[i - 1]!)).toBe(true);
          expect((list[i]!.sequence_number as number) > (list[i - 1]!.sequence_number as number)).toBe(true);
        }
      }
      for (const q of s.quotes) expect(q.bid_price as number).toBeLessThan(q.ask_price as number);
      for (const t of s.trades) expect(Math.abs((t.price as number) - 250)).toBeLessThan(5);
      expect(sip(s.trades[0]!) >= s.startNs && sip(s.trades[s.trades.length - 1]!) <= s.endNs).toBe(true);

      const history = replaySession({
        symbol: s.symbol,
        trades: s.trades.filter((r) => sip(r) < s.anchorNs).map(trade),
        quotes: s.quotes.filter((r) => sip(r) < s.anchorNs).map(quote),
      });
      expect(history.alerts).toEqual([]);
      const result = replaySession({
        symbol: s.symbol,
        trades: s.trades.map(trade),
        quotes: s.quotes.map(quote),
        liveFromNs: s.anchorNs.toString(),
      });
      const sellers = result.alerts.filter((a) => a.kind === 'large_seller');
      expect(sellers.map((a) => ('size' in a ? a.size : null))).toEqual([12_000, 15_000, 25_000]);
      expect(sellers.map((a) => a.price)).toEqual(s.planted.map((p) => p.price));
      expect(result.exitSignal?.reason).toBe('large_seller_cluster');
      const exitAtMs = Number((BigInt(result.exitSignal!.timestampNs) - s.anchorNs) / 1_000_000n);
      expect(exitAtMs).toBeGreaterThanOrEqual(LIVE_TIMELINE.secondBlockMs);
      expect(exitAtMs).toBeLessThan(LIVE_TIMELINE.secondBlockMs + 1_000);
      // Average-price TRF prints are in the tape and are dropped by the detectors.
      expect(result.stats.dropped.conditions['2'] ?? 0).toBeGreaterThan(0);
      // The tape keeps printing after the exit and ends lower: holding would have lost more.
      const last = s.trades[s.trades.length - 1]!.price as number;
      expect(last).toBeLessThan(Number(s.planted[2]!.price) - 0.5);
    },
  );
});
