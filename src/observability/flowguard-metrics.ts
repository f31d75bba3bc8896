/**
 * flowguard's own metrics (names prefixed `flowguard_`; Temporal's runtime metrics are `temporal_`), and the
 * small API the rest of the code calls: `metrics.alerts.inc({ kind, severity })`, `metrics.timeBrokerCall(...)`.
 */
import { type Counter, type Gauge, type Histogram, MetricsRegistry } from './metrics';

/** Seconds; spans the paper broker (sub-millisecond) to a broker call that hits its 10 s timeout. */
export const BROKER_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30] as const;

/** What a rate limiter reports about itself (src/market-data/rate-limiter.ts `stats()`). */
export interface RateLimiterStatsSource {
  stats(): { readonly waits: number; readonly totalWaitMs: number; readonly acquired: number };
}

/** What the worker's shared Polygon WebSocket reports (src/market-data/polygon-stream-hub.ts `stats()`). */
export interface StreamHubStatsSource {
  stats(): {
    readonly connected: boolean;
    readonly symbols: number;
    readonly feeds: number;
    readonly opened: number;
    /** Absent on sources that do not check liveness. */
    readonly livenessDrops?: number;
  };
}

export interface FlowguardMetrics {
  readonly registry: MetricsRegistry;
  /** Alerts raised by the detectors. */
  readonly alerts: Counter<'kind' | 'severity'>;
  /** Order state transitions observed by the order workflow (from → to). */
  readonly orderTransitions: Counter<'from' | 'to'>;
  /** Orders that reached a terminal state, by that state. */
  readonly ordersTerminal: Counter<'state'>;
  /** Market data rejected or failed, by the stable error code (e.g. stale_data, crossed_nbbo, PolygonRateLimited). */
  readonly marketDataErrors: Counter<'code'>;
  /** A cursor, page token or resume point that did not move forward and was not followed, by what it paged. */
  readonly marketDataStalls: Counter<'source'>;
  readonly detectorStateRebuilds: Counter<never>;
  /** Polygon WebSocket connections dropped because they went silent (no message or pong within the bound). */
  readonly streamLivenessDrops: Counter<'stream'>;
  /** Requests that had to wait for a rate-limit permit, and the total time waited. */
  readonly rateLimitWaits: Counter<'limiter'>;
  readonly rateLimitWaitSeconds: Counter<'limiter'>;
  readonly rateLimitPermits: Counter<'limiter'>;
  /** Broker calls by broker, operation (submit, status, cancel, list_open) and outcome (ok or the error type). */
  readonly brokerCallDuration: Histogram<'broker' | 'operation' | 'outcome'>;
  /** 1 per running worker; labels say which. */
  readonly workerInfo: Gauge<'identity' | 'task_queue' | 'namespace'>;
  /** The worker's shared Polygon WebSocket: open or not, symbols subscribed, monitors listening. */
  readonly streamConnected: Gauge;
  readonly streamSymbols: Gauge;
  readonly streamFeeds: Gauge;
  /** Connections the hub opened (a reconnect of an open one is not counted; an open after idle or failure is). */
  readonly streamConnections: Counter;
  /** Notification sends per destination: delivered, or failed (each failed attempt; Temporal retries it). */
  readonly notifications: Counter<'destination' | 'outcome'>;
  /** Times one broker call and records its outcome ('ok', or the error's type/name). */
  timeBrokerCall<T>(broker: string, operation: string, call: () => Promise<T>): Promise<T>;
  /**
   * Reads a rate limiter's own counters at every scrape, so waits are counted without the limiter knowing
   * about metrics. One limiter per name; registering a name again replaces the source and counts from its
   * current values on.
   */
  trackRateLimiter(name: string, limiter: RateLimiterStatsSource): void;
  /** Reads the stream hub's figures at every scrape (one hub per worker; a second call replaces the first). */
  trackStreamHub(hub: StreamHubStatsSource): void;
}

export function createFlowguardMetrics(registry = new MetricsRegistry()): FlowguardMetrics {
  const alerts = registry.counter({
    name: 'flowguard_alerts_total',
    help: 'Order-flow alerts raised, by kind and severity.',
    labelNames: ['kind', 'severity'],
  });
  const orderTransitions = registry.counter({
    name: 'flowguard_order_transitions_total',
    help: 'Order state transitions applied by order workflows, by previous and new state.',
    labelNames: ['from', 'to'],
  });
  const ordersTerminal = registry.counter({
    name: 'flowguard_orders_terminal_total',
    help: 'Orders that reached a terminal state (filled, cancelled, rejected, expired, failed).',
    labelNames: ['state'],
  });
  const marketDataErrors = registry.counter({
    name: 'flowguard_market_data_errors_total',
    help: 'Market data rejected or failed, by stable error code.',
    labelNames: ['code'],
  });
  const marketDataStalls = registry.counter({
    name: 'flowguard_market_data_stalled_cursors_total',
    help: 'Market-data cursors, next_url chains or resume points that did not advance and were not followed.',
    labelNames: ['source'],
  });
  const detectorStateRebuilds = registry.counter({
    name: 'flowguard_detector_state_rebuilds_total',
    help: 'Detector states that did not fit the configuration (a config change, an older checkpoint) and were rebuilt from history.',
  });
  const streamLivenessDrops = registry.counter({
    name: 'flowguard_stream_liveness_drops_total',
    help: 'Long-lived streams dropped and reconnected because they went silent (half-open link), by stream.',
    labelNames: ['stream'],
  });
  const rateLimitWaits = registry.counter({
    name: 'flowguard_rate_limit_waits_total',
    help: 'Requests that waited for a rate-limit permit.',
    labelNames: ['limiter'],
  });
  const rateLimitWaitSeconds = registry.counter({
    name: 'flowguard_rate_limit_wait_seconds_total',
    help: 'Total time requests waited for rate-limit permits, in seconds.',
    labelNames: ['limiter'],
  });
  const rateLimitPermits = registry.counter({
    name: 'flowguard_rate_limit_permits_total',
    help: 'Rate-limit permits granted (requests made), waiting or not.',
    labelNames: ['limiter'],
  });
  const brokerCallDuration = registry.histogram({
    name: 'flowguard_broker_call_duration_seconds',
    help: 'Broker API call latency in seconds, by broker, operation and outcome (ok or the error type).',
    labelNames: ['broker', 'operation', 'outcome'],
    buckets: BROKER_LATENCY_BUCKETS,
  });
  const workerInfo = registry.gauge({
    name: 'flowguard_worker_info',
    help: 'A running flowguard worker (always 1).',
    labelNames: ['identity', 'task_queue', 'namespace'],
  });

  const streamConnected = registry.gauge({
    name: 'flowguard_polygon_stream_connected',
    help: "1 while the worker's shared Polygon WebSocket is open and authenticated.",
  });
  const streamSymbols = registry.gauge({
    name: 'flowguard_polygon_stream_symbols',
    help: "Symbols subscribed on the worker's shared Polygon WebSocket.",
  });
  const streamFeeds = registry.gauge({
    name: 'flowguard_polygon_stream_feeds',
    help: "Stream-mode monitors listening on the worker's shared Polygon WebSocket.",
  });
  const streamConnections = registry.counter({
    name: 'flowguard_polygon_stream_connections_total',
    help: 'Polygon WebSocket connections the worker opened (reconnects of an open connection not included).',
  });
  const notifications = registry.counter({
    name: 'flowguard_notifications_total',
    help: 'Notification sends per destination, by outcome: delivered, or failed (each failed attempt, retried).',
    labelNames: ['destination', 'outcome'],
  });
  let hub: { source: StreamHubStatsSource; opened: number; livenessDrops: number } | undefined;
  registry.addCollector(() => {
    if (!hub) return;
    const stats = hub.source.stats();
    streamConnected.set({}, stats.connected ? 1 : 0);
    streamSymbols.set({}, stats.symbols);
    streamFeeds.set({}, stats.feeds);
    if (stats.opened > hub.opened) streamConnections.inc({}, stats.opened - hub.opened);
    hub.opened = stats.opened;
    const drops = stats.livenessDrops ?? 0;
    if (drops > hub.livenessDrops) streamLivenessDrops.inc({ stream: 'polygon' }, drops - hub.livenessDrops);
    hub.livenessDrops = drops;
  });

  // Limiter counters are cumulative since the limiter was created: the scrape copies them (after
  // subtracting what was already added), so counting stays monotonic even if a limiter is swapped.
  const limiters = new Map<
    string,
    { source: RateLimiterStatsSource; seen: { waits: number; ms: number; n: number } }
  >();
  registry.addCollector(() => {
    for (const [name, entry] of limiters) {
      const stats = entry.source.stats();
      const d = {
        waits: stats.waits - entry.seen.waits,
        ms: stats.totalWaitMs - entry.seen.ms,
        n: stats.acquired - entry.seen.n,
      };
      if (d.waits > 0) rateLimitWaits.inc({ limiter: name }, d.waits);
      if (d.ms > 0) rateLimitWaitSeconds.inc({ limiter: name }, d.ms / 1000);
      if (d.n > 0) rateLimitPermits.inc({ limiter: name }, d.n);
      entry.seen = { waits: stats.waits, ms: stats.totalWaitMs, n: stats.acquired };
    }
  });

  return {
    registry,
    alerts,
    orderTransitions,
    ordersTerminal,
    marketDataErrors,
    marketDataStalls,
    detectorStateRebuilds,
    streamLivenessDrops,
    rateLimitWaits,
    rateLimitWaitSeconds,
    rateLimitPermits,
    brokerCallDuration,
    workerInfo,
    streamConnected,
    streamSymbols,
    streamFeeds,
    streamConnections,
    notifications,
    trackStreamHub(source) {
      hub = hub?.source === source ? hub : { source, opened: 0, livenessDrops: 0 };
    },
    async timeBrokerCall(broker, operation, call) {
      const started = performance.now();
      let outcome = 'ok';
      try {
        return await call();
      } catch (err) {
        outcome = errorOutcome(err);
        throw err;
      } finally {
        brokerCallDuration.observe({ broker, operation, outcome }, (performance.now() - started) / 1000);
      }
    },
    trackRateLimiter(name, source) {
      const previous = limiters.get(name);
      if (previous) {
        // Re-tracking (the same limiter again, or its replacement) continues from its current values, so
        // nothing is counted twice.
        const now = source.stats();
        limiters.set(name, { source, seen: { waits: now.waits, ms: now.totalWaitMs, n: now.acquired } });
        return;
      }
      // The first time, count what the limiter already did before it was tracked: it happened in this process.
      limiters.set(name, { source, seen: { waits: 0, ms: 0, n: 0 } });
    },
  };
}

/** Broker errors carry a stable `type` (BrokerTimeout, InsufficientFunds, ...); anything else its class name. */
function errorOutcome(err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const type = (err as { type?: unknown }).type;
    if (typeof type === 'string' && /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(type)) return type;
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string' && /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name)) return name;
  }
  return 'error';
}

/** Metrics that nobody scrapes: the default for activities built without a metrics server (tests, tools). */
export function unscrapedMetrics(): FlowguardMetrics {
  return createFlowguardMetrics();
}
