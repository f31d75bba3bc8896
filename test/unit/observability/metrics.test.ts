import { createFlowguardMetrics } from '../../../src/observability/flowguard-metrics';
import {
  escapeHelp,
  escapeLabelValue,
  formatValue,
  MetricsRegistry,
  PROMETHEUS_CONTENT_TYPE,
} from '../../../src/observability/metrics';
import { orderTransitionObserver } from '../../../src/observability/order-metrics';

/** The 0.0.4 sample grammar: name, optional {label="escaped value",...}, one space, a Go-parseable float. */
const SAMPLE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? (-?\d+(\.\d+)?(e[+-]?\d+)?|\+Inf|-Inf|NaN)$/;

function expectValidExposition(text: string): void {
  expect(text.endsWith('\n')).toBe(true);
  const families = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      expect(['counter', 'gauge', 'histogram']).toContain(type);
      expect(families.has(name!)).toBe(false); // one TYPE line per family
      families.add(name!);
      continue;
    }
    expect(line).toMatch(SAMPLE);
  }
}

describe('Prometheus text format', () => {
  it('escapes HELP text and label values as the 0.0.4 format requires', () => {
    expect(escapeHelp('a \\ b\nc "q"')).toBe('a \\\\ b\\nc "q"');
    expect(escapeLabelValue('a \\ b\nc "q"')).toBe('a \\\\ b\\nc \\"q\\"');
    expect(formatValue(Infinity)).toBe('+Inf');
    expect(formatValue(-Infinity)).toBe('-Inf');
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue(0.1)).toBe('0.1');
    expect(formatValue(1e21)).toBe('1e+21');
    expect(PROMETHEUS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('renders counters and gauges with HELP, TYPE and escaped labels', () => {
    const registry = new MetricsRegistry();
    const c = registry.counter({ name: 'x_events_total', help: 'Events\nby "kind" \\ path.', labelNames: ['kind'] });
    const g = registry.gauge({ name: 'x_level', help: 'Level.' });
    c.inc({ kind: 'a"b' });
    c.inc({ kind: 'a"b' }, 2.5);
    c.inc({ kind: 'line\nbreak\\' });
    g.set({}, -3);
    const text = registry.render();
    expect(text).toBe(
      [
        '# HELP x_events_total Events\\nby "kind" \\\\ path.',
        '# TYPE x_events_total counter',
        'x_events_total{kind="a\\"b"} 3.5',
        'x_events_total{kind="line\\nbreak\\\\"} 1',
        '# HELP x_level Level.',
        '# TYPE x_level gauge',
        'x_level -3',
        '',
      ].join('\n'),
    );
    expectValidExposition(text);
  });

  it('renders label-less metrics as 0 before first use and labelled ones without samples', () => {
    const registry = new MetricsRegistry();
    registry.counter({ name: 'plain_total', help: 'p' });
    registry.counter({ name: 'labelled_total', help: 'l', labelNames: ['a'] });
    expect(registry.render()).toBe(
      '# HELP plain_total p\n# TYPE plain_total counter\nplain_total 0\n# HELP labelled_total l\n# TYPE labelled_total counter\n',
    );
  });

  it('renders histograms with cumulative buckets, +Inf, sum and count', () => {
    const registry = new MetricsRegistry();
    const h = registry.histogram({ name: 'lat_seconds', help: 'Latency.', labelNames: ['op'], buckets: [0.1, 1] });
    for (const v of [0.05, 0.1, 0.5, 3]) h.observe({ op: 'submit' }, v);
    const text = registry.render();
    expect(text).toContain(
      [
        'lat_seconds_bucket{op="submit",le="0.1"} 2',
        'lat_seconds_bucket{op="submit",le="1"} 3',
        'lat_seconds_bucket{op="submit",le="+Inf"} 4',
        'lat_seconds_sum{op="submit"} 3.65',
        'lat_seconds_count{op="submit"} 4',
      ].join('\n'),
    );
    expect(h.get({ op: 'submit' })).toEqual({ count: 4, sum: 3.65 });
    expectValidExposition(text);
  });

  it('refuses what would corrupt the output or split series silently', () => {
    const registry = new MetricsRegistry();
    expect(() => registry.counter({ name: 'bad-name', help: '' })).toThrow(/invalid metric name/);
    expect(() => registry.counter({ name: 'ok_total', help: '', labelNames: ['__x'] })).toThrow(/invalid label/);
    expect(() => registry.histogram({ name: 'h', help: '', labelNames: ['le'], buckets: [1] })).toThrow(/reserved/);
    expect(() => registry.histogram({ name: 'h2', help: '', buckets: [1, 1] })).toThrow(/increase/);
    const c = registry.counter({ name: 'c_total', help: '', labelNames: ['a'] });
    expect(() => registry.counter({ name: 'c_total', help: '' })).toThrow(/already registered/);
    expect(() => c.inc({ a: 'x' }, -1)).toThrow(/cannot decrease/);
    expect(() => c.inc({ a: 'x' }, NaN)).toThrow(/finite/);
    expect(() => c.inc({} as { a: string })).toThrow(/label 'a' is missing/);
    expect(() => c.inc({ a: 'x', b: 'y' } as { a: string })).toThrow(/unknown label/);
    registry.histogram({ name: 'dur', help: '', buckets: [1] });
    expect(() => registry.counter({ name: 'dur_count', help: '' })).toThrow(/already registered/);
  });
});

describe('flowguard metrics', () => {
  it('times broker calls by broker, operation and outcome (error type for failures)', async () => {
    const m = createFlowguardMetrics();
    await expect(m.timeBrokerCall('paper', 'submit', async () => 'done')).resolves.toBe('done');
    const failure = Object.assign(new Error('no money'), { type: 'InsufficientFunds' });
    await expect(m.timeBrokerCall('alpaca', 'submit', () => Promise.reject(failure))).rejects.toBe(failure);
    await expect(m.timeBrokerCall('alpaca', 'cancel', () => Promise.reject(new TypeError('x')))).rejects.toThrow();
    expect(m.brokerCallDuration.get({ broker: 'paper', operation: 'submit', outcome: 'ok' }).count).toBe(1);
    expect(
      m.brokerCallDuration.get({ broker: 'alpaca', operation: 'submit', outcome: 'InsufficientFunds' }).count,
    ).toBe(1);
    expect(m.brokerCallDuration.get({ broker: 'alpaca', operation: 'cancel', outcome: 'TypeError' }).count).toBe(1);
    expectValidExposition(m.registry.render());
  });

  it('reads rate-limiter stats at scrape time and counts only what is new', () => {
    const m = createFlowguardMetrics();
    const stats = { waits: 2, totalWaitMs: 1500, acquired: 10 };
    m.trackRateLimiter('polygon', { stats: () => stats });
    m.registry.render();
    expect(m.rateLimitWaits.get({ limiter: 'polygon' })).toBe(2);
    expect(m.rateLimitWaitSeconds.get({ limiter: 'polygon' })).toBe(1.5);
    expect(m.rateLimitPermits.get({ limiter: 'polygon' })).toBe(10);
    Object.assign(stats, { waits: 3, totalWaitMs: 2000, acquired: 12 });
    const text = m.registry.render();
    expect(text).toContain('flowguard_rate_limit_waits_total{limiter="polygon"} 3');
    expect(text).toContain('flowguard_rate_limit_wait_seconds_total{limiter="polygon"} 2');
    expect(text).toContain('flowguard_rate_limit_permits_total{limiter="polygon"} 12');
    // Tracking the same limiter again must not count its history twice.
    m.trackRateLimiter('polygon', { stats: () => stats });
    m.registry.render();
    expect(m.rateLimitWaits.get({ limiter: 'polygon' })).toBe(3);
  });

  it("reads the shared Polygon WebSocket's figures at scrape time", () => {
    const m = createFlowguardMetrics();
    const stats = { connected: true, symbols: 3, feeds: 4, opened: 1 };
    m.trackStreamHub({ stats: () => stats });
    const text = m.registry.render();
    expect(text).toContain('flowguard_polygon_stream_connected 1');
    expect(text).toContain('flowguard_polygon_stream_symbols 3');
    expect(text).toContain('flowguard_polygon_stream_feeds 4');
    expect(text).toContain('flowguard_polygon_stream_connections_total 1');
    Object.assign(stats, { connected: false, symbols: 0, feeds: 0, opened: 2 });
    const later = m.registry.render();
    expect(later).toContain('flowguard_polygon_stream_connected 0');
    expect(later).toContain('flowguard_polygon_stream_connections_total 2');
    expectValidExposition(later);
  });

  it('counts order transitions and first terminal outcomes from the order workflow log line', () => {
    const m = createFlowguardMetrics();
    const observe = orderTransitionObserver(m);
    const wf = { sdkComponent: 'workflow', workflowId: 'order:1' };
    observe('INFO', 'order state changed', { ...wf, from: 'pending_submit', to: 'queued' });
    observe('INFO', 'order state changed', { ...wf, from: 'queued', to: 'pending_cancel' });
    observe('INFO', 'order state changed', { ...wf, from: 'pending_cancel', to: 'cancelled' });
    // A fill that raced the cancel: a transition, but the order's outcome was already counted.
    observe('INFO', 'order state changed', { ...wf, from: 'cancelled', to: 'filled' });
    // Not the order workflow's line, or not a state: ignored.
    observe('INFO', 'order state changed', { sdkComponent: 'activity', from: 'queued', to: 'filled' });
    observe('INFO', 'something else', { ...wf, from: 'queued', to: 'filled' });
    observe('INFO', 'order state changed', { ...wf, from: 'queued', to: 'exploded' });
    expect(m.orderTransitions.get({ from: 'pending_submit', to: 'queued' })).toBe(1);
    expect(m.orderTransitions.get({ from: 'cancelled', to: 'filled' })).toBe(1);
    expect(m.ordersTerminal.get({ state: 'cancelled' })).toBe(1);
    expect(m.ordersTerminal.get({ state: 'filled' })).toBe(0);
    const text = m.registry.render();
    expect(text).toContain('flowguard_orders_terminal_total{state="cancelled"} 1');
    expect(text).not.toContain('exploded');
  });

  it('exposes the counters other modules call', () => {
    const m = createFlowguardMetrics();
    m.alerts.inc({ kind: 'large_seller', severity: 'critical' });
    m.marketDataErrors.inc({ code: 'crossed_nbbo' }, 3);
    const text = m.registry.render();
    expect(text).toContain('flowguard_alerts_total{kind="large_seller",severity="critical"} 1');
    expect(text).toContain('flowguard_market_data_errors_total{code="crossed_nbbo"} 3');
    expectValidExposition(text);
  });
});
