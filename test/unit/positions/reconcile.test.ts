import {
  SkipReason,
  WatchStatus,
  OPENING_SUFFIX,
  monitorIdentity,
  planReconcile,
  wholeShares,
  type WatchedMonitor,
} from '../../../src/domain/positions/reconcile';

const base = { broker: 'alpaca', account: 'main' };
const running = (symbol: string, quantity: number): WatchedMonitor => ({
  symbol,
  ...monitorIdentity('alpaca', 'main', symbol),
  quantity,
  entryPrice: null,
  status: WatchStatus.Running,
});

describe('planReconcile', () => {
  it('starts a monitor for each long position without one, with quantity and entry price, ids from account + symbol', () => {
    const plan = planReconcile({
      ...base,
      positions: [
        { symbol: 'TSLA', quantity: '10', averageEntryPrice: '250.1' },
        { symbol: 'AAPL', quantity: '5', averageEntryPrice: null },
      ],
      monitors: [],
    });
    expect(plan.actions).toEqual([
      {
        kind: 'start',
        symbol: 'AAPL',
        positionId: 'alpaca:main:AAPL',
        workflowId: 'position:alpaca:main:AAPL',
        quantity: 5,
        entryPrice: null,
      },
      {
        kind: 'start',
        symbol: 'TSLA',
        positionId: 'alpaca:main:TSLA',
        workflowId: 'position:alpaca:main:TSLA',
        quantity: 10,
        entryPrice: '250.1',
      },
    ]);
    expect(plan.skipped).toEqual([]);
  });

  it('a monitor started at a sync names its opening in the position id; the workflow id stays account + symbol', () => {
    const at = Date.UTC(2026, 11, 5, 14, 31, 2, 345);
    const first = planReconcile({
      ...base,
      positions: [{ symbol: 'AAPL', quantity: '10', averageEntryPrice: null }],
      monitors: [],
      nowMs: at,
    });
    expect(first.actions[0]).toMatchObject({
      kind: 'start',
      positionId: 'alpaca:main:AAPL:20261205T143102.345Z',
      workflowId: 'position:alpaca:main:AAPL',
    });
    // Sold and bought back a second later: same monitor workflow id, another position id, so another exit order id.
    const again = planReconcile({
      ...base,
      positions: [{ symbol: 'AAPL', quantity: '8', averageEntryPrice: null }],
      monitors: [],
      nowMs: at + 1000,
    });
    expect(again.actions[0]).toMatchObject({ workflowId: 'position:alpaca:main:AAPL' });
    const ids = [first, again].map((p) => (p.actions[0] as { positionId: string }).positionId);
    expect(ids[0]).not.toBe(ids[1]);
    for (const id of ids) {
      expect(`exit-${id}`).toMatch(/^[A-Za-z0-9_\-:.]{1,128}$/);
      expect(id.replace(OPENING_SUFFIX, '')).toBe('alpaca:main:AAPL');
    }
  });

  it('is idempotent: the same positions against the monitors it started plan nothing', () => {
    const plan = planReconcile({
      ...base,
      positions: [{ symbol: 'TSLA', quantity: '10', averageEntryPrice: '250' }],
      monitors: [running('TSLA', 10)],
    });
    expect(plan).toEqual({ actions: [], skipped: [] });
  });

  it('a symbol listed twice (a repeated page) starts one monitor', () => {
    const plan = planReconcile({
      ...base,
      positions: [
        { symbol: 'TSLA', quantity: '10', averageEntryPrice: '250' },
        { symbol: 'TSLA', quantity: '10', averageEntryPrice: '250' },
      ],
      monitors: [],
    });
    expect(plan.actions.filter((a) => a.kind === 'start')).toHaveLength(1);
  });

  it('resizes on a quantity change (partly sold) and ends a monitor whose position closed', () => {
    const plan = planReconcile({
      ...base,
      positions: [{ symbol: 'TSLA', quantity: '4', averageEntryPrice: '250' }],
      monitors: [running('TSLA', 10), running('AAPL', 5)],
    });
    expect(plan.actions).toEqual([
      { kind: 'resize', symbol: 'TSLA', workflowId: 'position:alpaca:main:TSLA', quantity: 4, previous: 10 },
      { kind: 'end', symbol: 'AAPL', workflowId: 'position:alpaca:main:AAPL', previous: 5 },
    ]);
  });

  it('skips shorts with a note, and ends a monitor whose long turned short', () => {
    const plan = planReconcile({
      ...base,
      positions: [{ symbol: 'NVDA', quantity: '-20', averageEntryPrice: '120' }],
      monitors: [running('NVDA', 20)],
    });
    expect(plan.actions).toEqual([
      { kind: 'end', symbol: 'NVDA', workflowId: 'position:alpaca:main:NVDA', previous: 20 },
    ]);
    expect(plan.skipped).toEqual([
      expect.objectContaining({ symbol: 'NVDA', quantity: '-20', reason: SkipReason.Short }),
    ]);
    expect(plan.skipped[0]!.note).toMatch(
      /short 20 NVDA: not monitored — the detectors watch for selling pressure against a long/,
    );
  });

  it('skips fractions under a share and non-equity symbols; watches the whole shares of a fractional long', () => {
    const plan = planReconcile({
      ...base,
      positions: [
        { symbol: 'AMZN', quantity: '0.5', averageEntryPrice: '180' },
        { symbol: 'BTCUSD', quantity: '1', averageEntryPrice: '60000' },
        { symbol: 'MSFT', quantity: '3.75', averageEntryPrice: '400' },
      ],
      monitors: [],
    });
    expect(plan.skipped.map((s) => [s.symbol, s.reason])).toEqual([
      ['AMZN', SkipReason.Fractional],
      ['BTCUSD', SkipReason.Unsupported],
    ]);
    expect(plan.actions).toEqual([expect.objectContaining({ kind: 'start', symbol: 'MSFT', quantity: 3 })]);
  });

  it('a monitor that ended while the position stayed is not restarted until the quantity changes', () => {
    const ended: WatchedMonitor = { ...running('TSLA', 10), status: WatchStatus.Ended, endedReason: 'stopped' };
    const same = planReconcile({
      ...base,
      positions: [{ symbol: 'TSLA', quantity: '10', averageEntryPrice: '250' }],
      monitors: [ended],
    });
    expect(same.actions).toEqual([]);
    expect(same.skipped).toEqual([expect.objectContaining({ symbol: 'TSLA', reason: SkipReason.MonitorEnded })]);
    const changed = planReconcile({
      ...base,
      positions: [{ symbol: 'TSLA', quantity: '12', averageEntryPrice: '250' }],
      monitors: [ended],
    });
    expect(changed.actions).toEqual([expect.objectContaining({ kind: 'start', symbol: 'TSLA', quantity: 12 })]);
    const gone = planReconcile({ ...base, positions: [], monitors: [ended] });
    expect(gone.actions).toEqual([{ kind: 'forget', symbol: 'TSLA' }]);
  });

  it('wholeShares rounds toward zero and refuses what is not a decimal', () => {
    expect(wholeShares('12.9')).toBe(12);
    expect(wholeShares('-12.9')).toBe(-12);
    expect(wholeShares('0')).toBe(0);
    expect(wholeShares('1e3')).toBeNaN();
  });
});
