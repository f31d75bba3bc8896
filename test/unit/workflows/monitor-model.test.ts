import { ALWAYS_OPEN_SESSION } from '../../../src/domain/config';
import { DetectorConfigSchema } from '../../../src/domain/detectors/config';
import {
  MONITOR_EVENTS,
  MONITOR_TRANSITIONS,
  MonitorEvent,
  MonitorState,
  nextMonitorState,
} from '../../../src/domain/monitor/monitor-machine';
import { type FlowAlert } from '../../../src/domain/detectors/alerts';
import {
  MonitorModel,
  UNAUTHORIZED_RETRY_MS,
  canonicalPrice,
  type MonitorSettings,
} from '../../../src/domain/monitor/monitor-model';

const settings: MonitorSettings = {
  detectors: DetectorConfigSchema.parse({}),
  pollIntervalSeconds: 5,
  sessions: [ALWAYS_OPEN_SESSION],
  staleCheck: false,
  exit: { broker: 'paper', account: 'main', pricing: { strategies: {} } as never },
};
const identity = { positionId: 'p1', symbol: 'AAPL', quantity: 100, mode: 'auto-exit', dataMode: 'poll' } as const;
const T = '2026-01-05T15:00:00.000Z';

function model(): MonitorModel {
  return new MonitorModel(identity, MonitorModel.initial(identity, settings, Date.parse(T)));
}

describe('monitor transition table', () => {
  it('answers every event in every state with a known state or stay', () => {
    const states = Object.values(MonitorState) as string[];
    for (const s of Object.values(MonitorState)) {
      expect(Object.keys(MONITOR_TRANSITIONS[s]).sort()).toEqual([...MONITOR_EVENTS].sort());
      for (const e of MONITOR_EVENTS) expect([...states, 'stay']).toContain(MONITOR_TRANSITIONS[s][e]);
    }
  });

  it('lets a poll result move only a monitor that is waiting for data', () => {
    expect(nextMonitorState('data_error', MonitorEvent.PollLive)).toBe('monitoring');
    expect(nextMonitorState('outside_session', MonitorEvent.PollBackfilling)).toBe('backfilling');
    expect(nextMonitorState('exiting', MonitorEvent.PollLive)).toBeNull();
    expect(nextMonitorState('exit_failed', MonitorEvent.PollLive)).toBeNull();
    expect(nextMonitorState('backfilling', MonitorEvent.StreamCaughtUp)).toBe('monitoring');
    expect(nextMonitorState('monitoring', MonitorEvent.StreamCaughtUp)).toBeNull();
  });

  it('keeps exited when the run ends', () => {
    expect(nextMonitorState('exited', MonitorEvent.Stopped)).toBeNull();
    expect(nextMonitorState('exited', MonitorEvent.PositionClosed)).toBeNull();
    expect(nextMonitorState('exit_failed', MonitorEvent.Stopped)).toBe('stopped');
  });
});

describe('MonitorModel', () => {
  it('starts with a quiet backfill of baseline + 1 minutes up to now', () => {
    const m = model();
    const nowNs = BigInt(Date.parse(T)) * 1_000_000n;
    expect(m.snapshot.liveFromNs).toBe(nowNs.toString());
    const minutes = settings.detectors.baselineMinutes + 1;
    expect(BigInt(m.snapshot.backfillFromNs)).toBe(nowNs - BigInt(minutes * 60_000) * 1_000_000n);
  });

  it('shows the session it waits for only while outside it', () => {
    const m = model();
    expect(m.waitForSession({ sessions: ['regular'], nextOpenAt: '2026-01-06T14:30:00.000Z' })).toBe('outside_session');
    expect(m.view('w').sessionWait).toEqual({ sessions: ['regular'], nextOpenAt: '2026-01-06T14:30:00.000Z' });
    m.fire(MonitorEvent.BackfillStarted);
    expect(m.view('w').sessionWait).toBeNull();
  });

  it('pauses on an unauthorized key with one critical health alert per episode', () => {
    const m = model();
    const failure = { type: 'PolygonUnauthorized', message: 'bad key' };
    const first = m.dataFailed(failure, '', T);
    expect(first).toEqual({ event: MonitorEvent.Unauthorized, backoffMs: UNAUTHORIZED_RETRY_MS });
    m.fire(first.event);
    m.dataFailed(failure, '', T);
    expect(m.snapshot.healthAlerts.filter((a) => a.severity === 'critical')).toHaveLength(1);
    expect(m.dataFailed({ type: 'PolygonUnavailable', message: 'x' }, '', T).backoffMs).toBe(20_000);
  });

  it('places one exit, priced from the bid, and ends on its fill', () => {
    const m = model();
    m.takePrices({ lastQuote: { bid: '10.00', ask: '10.02', bidSize: 1, askSize: 1, timestampNs: '1' } });
    expect(m.wantsExit()).toBe(true);
    const order = m.openExit(m.referencePrice(), (id) => `order:${id}`);
    expect(order).toMatchObject({ clientOrderId: 'exit-p1', referencePrice: '10.00', quantity: 100 });
    expect(m.wantsExit()).toBe(false);
    expect(
      m.exitOrderEnded({
        clientOrderId: 'other',
        state: 'filled',
        filledQuantity: 1,
        averageFillPrice: null,
        reason: null,
      }),
    ).toBeNull();
    expect(
      m.exitOrderEnded({
        clientOrderId: 'exit-p1',
        state: 'filled',
        filledQuantity: 100,
        averageFillPrice: '10',
        reason: null,
      }),
    ).toBe(MonitorEvent.ExitFilled);
    expect(m.stopReason).toBe('protective exit filled');
  });

  it('drops stream state from an older generation but keeps its prices', () => {
    const m = model();
    m.nextStreamGeneration();
    const stats = { trades: 1, quotes: 0 } as never;
    const trade = { price: '9.99', size: 5, timestampNs: '2' };
    m.applyStreamPush(
      { alerts: [], exitSignal: null, lastTrade: trade, lastQuote: null, stats, live: true, generation: 0 },
      T,
    );
    expect(m.live).toBe(false);
    expect(m.snapshot.health.staleUpdatesDropped).toBe(1);
    expect(m.snapshot.lastTrade).toEqual(trade);
    m.applyStreamPush(
      { alerts: [], exitSignal: null, lastTrade: null, lastQuote: null, stats, live: true, generation: 1 },
      T,
    );
    expect(m.live).toBe(true);
  });

  it('drops an alert raised again after a failover (same identity, even when now late), keeps a distinct one', () => {
    const m = model();
    const seller: FlowAlert = {
      kind: 'large_seller',
      source: 'tape',
      severity: 'warning',
      symbol: 'AAPL',
      timestampNs: '1000',
      price: '10.00',
      size: 12_000,
      rule: 'print 12000 ≥ 10000 shares',
    };
    const burst: FlowAlert = {
      kind: 'red_burst',
      severity: 'critical',
      symbol: 'AAPL',
      timestampNs: '2000',
      price: '9.90',
      ratio: 5,
      sellShare: 0.9,
      volume: 50_000,
      baselineVolume: 10_000,
      rule: 'burst',
    };
    expect(m.acceptAlerts([seller, burst], true).recorded).toHaveLength(2);
    // The socket's ms stamp and price text, then the backfill's ns and its own text: one print.
    const fromSocket = { ...seller, timestampNs: '1764601200534000000' };
    const fromBackfill = { ...seller, timestampNs: '1764601200534123456', price: '10', late: true as const };
    expect(m.acceptAlerts([fromSocket], true).recorded).toHaveLength(1);
    expect(m.acceptAlerts([fromBackfill], true).recorded).toEqual([]);
    // Two prints stamped in ns within one millisecond are two events.
    const ns = ['1764601200535123456', '1764601200535123457'].map((t) => ({ ...seller, timestampNs: t }));
    expect(m.acceptAlerts(ns, true).recorded).toEqual(ns);
    const again = m.acceptAlerts([{ ...seller, late: true }, burst, { ...seller, timestampNs: '1001' }], true);
    expect(again.recorded).toEqual([{ ...seller, timestampNs: '1001' }]);
    expect(m.snapshot.alertTotal).toBe(6);
    expect(m.snapshot.health.duplicateAlertsDropped).toBe(3);
    // Runs recorded before the identity rule replay as they ran: every alert counted.
    expect(m.acceptAlerts([burst], false).recorded).toEqual([burst]);
    expect(m.snapshot.alertTotal).toBe(7);
  });

  it.each([
    ['10.50', '10.5'],
    ['10.00', '10'],
    ['010.5', '10.5'],
    ['0.0100', '0.01'],
    ['10', '10'],
    ['1e2', '1e2'],
  ])('canonical price %s → %s', (raw, want) => expect(canonicalPrice(raw)).toBe(want));
});
