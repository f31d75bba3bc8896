import { resolveConfig } from '../../../src/domain/config';
import { type LargeSellerAlert } from '../../../src/domain/detectors/alerts';
import { DetectorConfigSchema, type DetectorConfigInput } from '../../../src/domain/detectors/config';
import { createFlowDetector } from '../../../src/domain/detectors/flow-detector';
import { onQuoteRecord, onTradeRecord } from './helpers';

// Issue 16 item 4: a share count does not travel across symbols. largeOrderNotional (dollars) makes a large
// seller of a print, sweep or NBBO ask worth that much; largeOrderSize (shares) stays the default rule.
const T0 = 1_764_601_200_000_000_000n; // 2025-12-01 15:00 UTC
let seq = 0;
const at = (ms: number) => `${T0 + BigInt(ms) * 1_000_000n}`;
const quote = (ms: number, bid: number, ask: number, askSize = 100) => ({
  bid_price: bid,
  bid_size: 100,
  ask_price: ask,
  ask_size: askSize,
  sequence_number: ++seq,
  participant_timestamp: at(ms),
  sip_timestamp: at(ms),
});
const trade = (ms: number, price: number, size: number) => ({
  id: String(++seq),
  exchange: 4,
  price,
  size,
  sequence_number: seq,
  participant_timestamp: at(ms),
  sip_timestamp: at(ms),
});

/** One seller print at the bid after a quote; returns the large-seller alerts. */
function sellAtBid(config: DetectorConfigInput, bid: number, size: number, askSize = 100): LargeSellerAlert[] {
  const d = createFlowDetector({ symbol: 'AMZN', config });
  expect(onQuoteRecord(d, quote(0, bid, bid + 0.01, askSize))).toBe('accepted');
  expect(onTradeRecord(d, trade(1000, bid, size))).toBe('accepted');
  return d.drainAlerts().filter((a): a is LargeSellerAlert => a.kind === 'large_seller');
}

describe('large seller by notional', () => {
  it('off by default: 3,000 AMZN shares ($660k) at the bid is no alert', () => {
    expect(DetectorConfigSchema.parse({}).largeOrderNotional).toBe('0');
    expect(sellAtBid({}, 219.99, 3000)).toEqual([]);
  });

  it('$500k: 3,000 shares at 219.99 fires, saying the notional rule fired', () => {
    const [a, ...rest] = sellAtBid({ largeOrderNotional: '500000' }, 219.99, 3000);
    expect(rest).toEqual([]);
    expect(a).toMatchObject({ source: 'tape', severity: 'warning', size: 3000, trigger: 'notional' });
    expect(a!.rule).toBe('seller-initiated print 3000 shares = $659970.00 ≥ $500000 notional at 219.99');
  });

  it('below the threshold nothing fires; exactly at it fires (≥, in decimal)', () => {
    expect(sellAtBid({ largeOrderNotional: '500000' }, 219.99, 2000)).toEqual([]);
    expect(sellAtBid({ largeOrderNotional: '500000' }, 200, 2500)).toHaveLength(1);
    expect(sellAtBid({ largeOrderNotional: '500000.01' }, 200, 2500)).toEqual([]);
  });

  it('twice the notional is critical', () => {
    expect(sellAtBid({ largeOrderNotional: '500000' }, 219.99, 5000)[0]).toMatchObject({ severity: 'critical' });
  });

  it('the share rule comes first and says so', () => {
    const [a] = sellAtBid({ largeOrderNotional: '500000' }, 10, 12_000);
    expect(a).toMatchObject({ trigger: 'shares', severity: 'warning' });
    expect(a!.rule).toBe('seller-initiated print 12000 ≥ 10000 shares at 10.00');
  });

  it('a large offer at the NBBO ask counts by notional too', () => {
    const d = createFlowDetector({ symbol: 'AMZN', config: { largeOrderNotional: '500000' } });
    onQuoteRecord(d, quote(0, 219.99, 220, 3000));
    const [a] = d.drainAlerts() as LargeSellerAlert[];
    expect(a).toMatchObject({ source: 'quote', trigger: 'notional', size: 3000 });
    expect(a!.rule).toBe('NBBO ask size 3000 shares = $660000.00 ≥ $500000 notional at 220.00');
  });

  it.each([
    ['5000', 'must be 0 (off) or ≥ 10000'],
    ['-1', 'must be a non-negative decimal number'],
    ['1000000.001', 'must have at most 2 decimal places'],
    ['2000000000', 'must be ≤ 1000000000'],
  ])('validated: %s → %s', (value, rule) => {
    const r = DetectorConfigSchema.safeParse({ largeOrderNotional: value });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toContain(rule);
  });

  it('set through FLOWGUARD_DETECTOR_LARGE_ORDER_NOTIONAL, named when wrong', () => {
    expect(resolveConfig({ env: { FLOWGUARD_DETECTOR_LARGE_ORDER_NOTIONAL: '750000.50' } }).detectors).toMatchObject({
      largeOrderNotional: '750000.5',
      largeOrderSize: 10_000,
    });
    expect(() => resolveConfig({ env: { FLOWGUARD_DETECTOR_LARGE_ORDER_NOTIONAL: '1' } })).toThrow(
      'FLOWGUARD_DETECTOR_LARGE_ORDER_NOTIONAL: must be 0 (off) or ≥ 10000',
    );
  });
});
