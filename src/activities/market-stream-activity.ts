import { CancelledFailure, Context } from '@temporalio/activity';
import { type ExitSignal, type FlowAlert, type FlowStats } from '../domain/detectors/alerts';
import { applyRecord, createFlowDetector, emptyFlowStats, type FlowDetector } from '../domain/detectors/flow-detector';
import { type MarketRecord } from '../domain/market-data/records';
import { formatNs } from '../domain/market-data/timestamp';
import { decodeWs } from '../market-data/decode';
import { type PolygonError } from '../market-data/polygon-errors';
import { cursorFrom } from '../market-data/polygon-rest';
import { type FeedSubscription, type PolygonStreamHub } from '../market-data/polygon-stream-hub';
import { toActivityFailure } from './failures';
import { logAlerts } from '../observability/business-events';
import {
  lastQuoteOf,
  lastTradeOf,
  type LastQuote,
  type LastTrade,
  type MonitorCursors,
  type PollMarketDataInput,
  type PollMarketDataResult,
} from './market-data-types';

/** Where a stream resumes: carried in heartbeats (worker restart) and in the final update (continue-as-new). */
export interface StreamCheckpoint {
  readonly detectorState: unknown;
  readonly cursors: MonitorCursors | null;
  readonly liveFromNs: string | null;
}

/** What the stream activity pushes to its monitor: only what changed, never raw ticks. */
export interface MarketUpdate {
  readonly alerts: FlowAlert[];
  readonly exitSignal: ExitSignal | null;
  readonly lastTrade: LastTrade | null;
  readonly lastQuote: LastQuote | null;
  readonly stats: FlowStats;
  readonly events: number;
  readonly reconnects: number;
  readonly live: boolean;
  /**
   * The monitor's stream generation this activity was started with (a new one per activity and per config
   * change): the monitor drops checkpoints and `live` from any other, so an older run cannot overwrite newer
   * state. Absent from activities started by runs from before this tag.
   */
  readonly generation?: number;
  /** The backfill found a detector state that did not fit the config and rebuilt the baseline (why). */
  readonly rebuilt?: string;
  /** A REST backfill whose source did not advance (not followed; see polygon-rest.ts). Absent otherwise. */
  readonly stalled?: string;
  /** Set on the last update before the activity ends (cancelled for continue-as-new or a session end). */
  readonly checkpoint?: StreamCheckpoint;
}

export interface StreamMarketDataInput extends Omit<PollMarketDataInput, 'detectorState' | 'cursors' | 'liveFromNs'> {
  readonly workflowId: string;
  readonly checkpoint: StreamCheckpoint;
  /** Push alerts at once; other changes (last trade/quote) at most this often. */
  readonly updateIntervalMs: number;
  /** Echoed in every update (see MarketUpdate.generation). */
  readonly generation?: number;
}

export interface StreamDeps {
  /** The worker's shared Polygon WebSocket (src/market-data/polygon-stream-hub.ts). */
  readonly hub: PolygonStreamHub;
  /** The poll activity's implementation: backfills the gap over REST before and after the socket. */
  readonly poll: (input: PollMarketDataInput) => Promise<PollMarketDataResult>;
  /** Signal name the monitor listens on. */
  readonly signalName: string;
}

const TICK_MS = 1000;

/**
 * Streams T./Q. for one monitor over the worker's shared WebSocket: subscribes first (holding what arrives),
 * backfills over REST from the checkpoint, then runs the detectors on the held and live messages, pushing alerts
 * to the workflow by signal the moment they fire and heartbeating a checkpoint, so a worker restart resumes from
 * it. After a reconnect it holds live messages again while REST fills the gap, so nothing is lost and the
 * detectors still see events in market order. Ends only when cancelled; the last signal carries the checkpoint
 * for continue-as-new.
 */
export function createStreamActivity(deps: StreamDeps) {
  return async function streamMarketData(input: StreamMarketDataInput): Promise<StreamCheckpoint> {
    const ctx = Context.current();
    const handle = ctx.client.workflow.getHandle(input.workflowId);
    const signal = (update: MarketUpdate) =>
      handle.signal(
        deps.signalName,
        input.generation === undefined ? update : { ...update, generation: input.generation },
      );
    let checkpoint: StreamCheckpoint = (ctx.info.heartbeatDetails as StreamCheckpoint | undefined) ?? input.checkpoint;
    let reconnects = 0;
    let events = 0;
    let overlap = 0;
    let lastTrade: LastTrade | null = null;
    let lastQuote: LastQuote | null = null;
    let detector: FlowDetector | null = null;
    // Time (µs, ns remainder) of the last record taken, REST or WebSocket: where a restart resumes.
    let lastUs = 0;
    let lastRem = 0;
    const lastNs = () => BigInt(formatNs(lastUs, lastRem));
    let dirty = false;
    let lastPush = 0;
    let chain: Promise<unknown> = Promise.resolve();
    // Messages held while REST catches up (at start and after every reconnect).
    let held: unknown[] | null = [];
    let pendingGap = false;
    // Set from the hub's callback: a holder, so the check in the loop is not narrowed away.
    const fatal: { error: PolygonError | null } = { error: null };

    const snapshotCheckpoint = (): StreamCheckpoint =>
      detector
        ? {
            detectorState: detector.snapshot(),
            cursors: { trades: cursorFrom(lastNs()), quotes: cursorFrom(lastNs()) },
            liveFromNs: null,
          }
        : checkpoint;

    /** REST from the checkpoint up to now, then a detector restored from where REST left off. */
    async function backfill(): Promise<void> {
      for (let i = 0; i < 100; i++) {
        const r = await deps.poll({
          ...input,
          detectorState: checkpoint.detectorState,
          cursors: checkpoint.cursors,
          liveFromNs: checkpoint.liveFromNs,
        });
        checkpoint = {
          detectorState: r.detectorState,
          cursors: r.cursors,
          liveFromNs: r.live ? null : checkpoint.liveFromNs,
        };
        events += r.fetched.trades + r.fetched.quotes;
        lastTrade = r.lastTrade ?? lastTrade;
        lastQuote = r.lastQuote ?? lastQuote;
        await signal({
          alerts: r.alerts,
          exitSignal: r.exitSignal,
          lastTrade: r.lastTrade,
          lastQuote: r.lastQuote,
          stats: r.stats,
          events,
          reconnects,
          live: checkpoint.liveFromNs === null,
          ...(r.stalled ? { stalled: r.stalled.reason } : {}),
          ...(r.rebuilt ? { rebuilt: r.rebuilt } : {}),
        });
        ctx.heartbeat(checkpoint);
        if (!r.truncated) break;
      }
      detector = createFlowDetector({ symbol: input.symbol, config: input.config, state: checkpoint.detectorState });
      detector.setWarmUp(false);
      if (input.volumeProfile) detector.setVolumeProfile(input.volumeProfile);
      let from = BigInt(checkpoint.cursors?.trades.sipTimestamp ?? input.backfillFromNs);
      const quotesFrom = BigInt(checkpoint.cursors?.quotes.sipTimestamp ?? input.backfillFromNs);
      if (quotesFrom > from) from = quotesFrom;
      lastUs = Number(from / 1000n);
      lastRem = Number(from % 1000n);
    }

    const push = (force: boolean) => {
      if (!detector) return;
      const alerts = detector.drainAlerts();
      logAlerts(ctx.log, input.symbol, alerts);
      const now = Date.now();
      if (alerts.length === 0 && !force && (!dirty || now - lastPush < input.updateIntervalMs)) return;
      dirty = false;
      lastPush = now;
      const update: MarketUpdate = {
        alerts,
        exitSignal: detector.exitSignal,
        lastTrade,
        lastQuote,
        stats: detector.stats,
        events,
        reconnects,
        live: true,
      };
      // Signals go out in order; a failed one is retried by the next push carrying fresh state.
      chain = chain.then(() => signal(update)).catch(() => undefined);
    };

    const apply = (messages: readonly unknown[]) => {
      const d = detector;
      if (!d) return;
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      for (const m of messages) {
        const record = clampToLast(decodeWs(m, input.symbol), lastUs, lastRem);
        if (record.kind !== 'trade' && record.kind !== 'quote') {
          // Ignored messages (status, other symbols) were never counted here; a reject still counts.
          if (record.kind === 'reject') {
            events += 1;
            d.onReject(record.code, record.stream);
          }
          continue;
        }
        // Already taken from REST (held messages overlap the backfill): not bad data, just seen. Identity and
        // time decide, not sequence numbers (they restart each session and distinct prints can share one).
        if (d.alreadySeen(record)) {
          overlap += 1;
          continue;
        }
        events += 1;
        d.setNow(input.staleCheck ? nowNs : undefined);
        const outcome = applyRecord(d, record);
        if (outcome !== 'accepted') continue;
        const e = record.kind === 'trade' ? record.trade : record.quote;
        lastUs = e.tsUs;
        lastRem = e.tsRem;
        dirty = true;
        if (record.kind === 'trade') lastTrade = lastTradeOf(record.trade);
        else lastQuote = lastQuoteOf(record.quote);
      }
      push(false);
    };

    /** Backfill with live messages held, then the held ones, then live again. */
    async function catchUp(): Promise<void> {
      held ??= [];
      await backfill();
      const pending = held;
      held = null;
      apply(pending);
    }

    let subscription: FeedSubscription | null = null;
    try {
      subscription = await deps.hub.subscribe(input.symbol, {
        onMessages: (messages) => {
          if (held) held.push(...messages);
          else apply(messages);
        },
        onReconnect: () => {
          reconnects += 1;
          pendingGap = true;
          held ??= [];
        },
        onFatal: (error) => {
          fatal.error = error;
        },
      });
      await catchUp();

      // Live: heartbeat the checkpoint, fill gaps after reconnects, until the workflow cancels us.
      for (;;) {
        await tick(ctx.cancellationSignal, TICK_MS);
        // ctx.cancelled rejects with the SDK's CancelledFailure; awaited only once it is settled.
        if (ctx.cancellationSignal.aborted) await ctx.cancelled;
        if (fatal.error) throw fatal.error;
        if (pendingGap) {
          pendingGap = false;
          // Prints missed while the socket was down come from REST, from where the detector stands.
          checkpoint = snapshotCheckpoint();
          await catchUp();
        }
        push(false);
        ctx.heartbeat(snapshotCheckpoint());
      }
    } catch (err) {
      if (err instanceof CancelledFailure) {
        subscription?.close();
        subscription = null;
        // The workflow waits for this cancellation to complete, so it has the checkpoint before continuing.
        await signal({
          alerts: [],
          exitSignal: null,
          lastTrade: null,
          lastQuote: null,
          stats: emptyFlowStats(),
          events,
          reconnects,
          // Cancelled mid-backfill (a worker shutting down, say), the monitor is not live yet: say so.
          live: detector !== null || checkpoint.liveFromNs === null,
          checkpoint: snapshotCheckpoint(),
        }).catch(() => undefined);
        throw err;
      }
      throw toActivityFailure(err);
    } finally {
      subscription?.close();
      if (overlap > 0) ctx.log.debug('stream messages already taken from REST', { symbol: input.symbol, overlap });
    }
  };
}

/**
 * Waits `ms`, or less if the activity is cancelled. Not `ctx.sleep`, nor a race against `ctx.cancelled`: each of
 * those chains a reaction (and keeps its timer) on the still-pending cancellation promise, so a loop that ticks
 * every second for a whole session grows by that much every second (measured: ~26 retained timers per stream
 * after 26 s).
 */
function tick(signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * WebSocket times are milliseconds: a message stamped within the millisecond of the last record taken (REST has
 * nanoseconds) is moved forward to that record's time, so the detector's time order holds; its identity, not its
 * sequence number, then tells a new print from one REST already delivered.
 */
function clampToLast(record: MarketRecord, lastUs: number, lastRem: number): MarketRecord {
  if (record.kind !== 'trade' && record.kind !== 'quote') return record;
  const e = record.kind === 'trade' ? record.trade : record.quote;
  const behindNs = (lastUs - e.tsUs) * 1000 + (lastRem - e.tsRem);
  if (behindNs <= 0 || behindNs >= 1_000_000) return record;
  return record.kind === 'trade'
    ? { kind: 'trade', trade: { ...record.trade, tsUs: lastUs, tsRem: lastRem, execUs: lastUs, execRem: lastRem } }
    : { kind: 'quote', quote: { ...record.quote, tsUs: lastUs, tsRem: lastRem } };
}
