import { CancelledFailure, Context } from '@temporalio/activity';
import { type ExitSignal, type FlowAlert, type FlowStats } from '../domain/detectors/alerts';
import { createFlowDetector } from '../domain/detectors/flow-detector';
import { cursorFrom } from '../market-data/polygon-rest';
import { openPolygonStream, type PolygonStream } from '../market-data/polygon-stream';
import { wireNumber, wireText } from '../market-data/wire';
import { toActivityFailure } from './failures';
import {
  type LastQuote,
  type LastTrade,
  type MonitorCursors,
  type PollMarketDataInput,
  type PollMarketDataResult,
} from './market-data-activities';

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
  /** Set on the last update before the activity ends (cancelled for continue-as-new or a session end). */
  readonly checkpoint?: StreamCheckpoint;
}

export interface StreamMarketDataInput extends Omit<PollMarketDataInput, 'detectorState' | 'cursors' | 'liveFromNs'> {
  readonly workflowId: string;
  readonly checkpoint: StreamCheckpoint;
  /** Push alerts at once; other changes (last trade/quote) at most this often. */
  readonly updateIntervalMs: number;
}

export interface StreamDeps {
  /** The stocks WebSocket's key and base URL (POLYGON_API_KEY, POLYGON_WS_URL). */
  readonly streamConfig: () => { readonly apiKey: string; readonly wsBaseUrl?: string };
  /** The poll activity's implementation: backfills the gap over REST before and after the socket. */
  readonly poll: (input: PollMarketDataInput) => Promise<PollMarketDataResult>;
  /** Signal name the monitor listens on. */
  readonly signalName: string;
}

const HEARTBEAT_MS = 1000;

/**
 * Streams T./Q. for one monitor: backfills over REST from the checkpoint, then runs the detectors on the
 * WebSocket, pushing alerts to the workflow by signal the moment they fire and heartbeating a checkpoint, so a
 * worker restart resumes from it (REST backfill of the gap). Ends only when cancelled; the last signal carries
 * the checkpoint for continue-as-new.
 */
export function createStreamActivity(deps: StreamDeps) {
  return async function streamMarketData(input: StreamMarketDataInput): Promise<StreamCheckpoint> {
    const ctx = Context.current();
    const handle = ctx.client.workflow.getHandle(input.workflowId);
    const signal = (update: MarketUpdate) => handle.signal(deps.signalName, update);
    let checkpoint: StreamCheckpoint = (ctx.info.heartbeatDetails as StreamCheckpoint | undefined) ?? input.checkpoint;
    let reconnects = 0;
    let events = 0;
    let current = (): StreamCheckpoint => checkpoint;

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
        await signal({
          alerts: r.alerts,
          exitSignal: r.exitSignal,
          lastTrade: r.lastTrade,
          lastQuote: r.lastQuote,
          stats: r.stats,
          events,
          reconnects,
          live: checkpoint.liveFromNs === null,
        });
        ctx.heartbeat(checkpoint);
        if (!r.truncated) return;
      }
    }

    let stream: PolygonStream | null = null;
    try {
      await backfill();
      const detector = createFlowDetector({
        symbol: input.symbol,
        config: input.config,
        state: checkpoint.detectorState,
      });
      detector.setWarmUp(false);
      let lastNs = BigInt(checkpoint.cursors?.trades.sipTimestamp ?? input.backfillFromNs);
      const quotesFrom = BigInt(checkpoint.cursors?.quotes.sipTimestamp ?? input.backfillFromNs);
      if (quotesFrom > lastNs) lastNs = quotesFrom;
      let lastTrade: LastTrade | null = null;
      let lastQuote: LastQuote | null = null;
      let dirty = false;
      let lastPush = 0;
      let chain: Promise<unknown> = Promise.resolve();
      let pendingGap = false;

      const snapshotCheckpoint = (): StreamCheckpoint => ({
        detectorState: detector.snapshot(),
        cursors: { trades: cursorFrom(lastNs), quotes: cursorFrom(lastNs) },
        liveFromNs: null,
      });
      current = snapshotCheckpoint;

      const push = (force: boolean) => {
        const alerts = detector.drainAlerts();
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

      const onMessages = (messages: readonly unknown[]) => {
        const nowNs = BigInt(Date.now()) * 1_000_000n;
        for (const m of messages) {
          const record = wsToRecord(m, input.symbol, lastNs);
          if (!record) continue;
          events += 1;
          detector.setNow(input.staleCheck ? nowNs : undefined);
          const outcome =
            record.kind === 'trade' ? detector.onTradeRecord(record.raw) : detector.onQuoteRecord(record.raw);
          if (outcome !== 'accepted') continue;
          lastNs = record.ns;
          dirty = true;
          if (record.kind === 'trade') {
            lastTrade = {
              price: wireText(record.raw.price) ?? '0',
              size: wireNumber(record.raw.size),
              timestampNs: record.ns.toString(),
            };
          } else {
            lastQuote = {
              bid: wireText(record.raw.bid_price) ?? '0',
              ask: wireText(record.raw.ask_price) ?? '0',
              bidSize: wireNumber(record.raw.bid_size),
              askSize: wireNumber(record.raw.ask_size),
              timestampNs: record.ns.toString(),
            };
          }
        }
        push(false);
      };

      const { apiKey, wsBaseUrl } = deps.streamConfig();
      stream = await openPolygonStream({
        apiKey,
        ...(wsBaseUrl ? { wsBaseUrl } : {}),
        symbols: [input.symbol],
        onMessages,
        onReconnect: () => {
          reconnects += 1;
          pendingGap = true;
        },
      });

      // Live: heartbeat the checkpoint, fill gaps after reconnects, until the workflow cancels us.
      for (;;) {
        await Promise.race([ctx.cancelled, ctx.sleep(HEARTBEAT_MS)]);
        if (pendingGap) {
          pendingGap = false;
          // Prints missed while the socket was down come from REST; ones already seen are rejected as duplicates.
          checkpoint = snapshotCheckpoint();
          await backfill();
        }
        push(false);
        ctx.heartbeat(snapshotCheckpoint());
      }
    } catch (err) {
      if (err instanceof CancelledFailure) {
        await stream?.close();
        stream = null;
        // The workflow waits for this cancellation to complete, so it has the checkpoint before continuing.
        await signal({
          alerts: [],
          exitSignal: null,
          lastTrade: null,
          lastQuote: null,
          stats: emptyStats(),
          events,
          reconnects,
          live: true,
          checkpoint: current(),
        }).catch(() => undefined);
        throw err;
      }
      throw toActivityFailure(err);
    } finally {
      await stream?.close();
    }
  };
}

function emptyStats(): FlowStats {
  return {
    trades: 0,
    quotes: 0,
    eligibleTrades: 0,
    rejected: {} as FlowStats['rejected'],
    dropped: { correction: 0, conditions: {} },
    staleWarnings: 0,
    sides: { buy: 0, sell: 0, unknown: 0 },
    ignored: 0,
  };
}

/**
 * A WebSocket T/Q message as a REST-shaped record. WebSocket times are milliseconds; within the millisecond
 * of the last REST record they are clamped forward so the detector's time order holds (sequence numbers
 * still order them exactly).
 */
export function wsToRecord(
  m: unknown,
  symbol: string,
  lastNs: bigint,
): { kind: 'trade' | 'quote'; ns: bigint; raw: Record<string, unknown> } | null {
  if (!m || typeof m !== 'object') return null;
  const w = m as Record<string, unknown>;
  if (w.sym !== symbol || (w.ev !== 'T' && w.ev !== 'Q')) return null;
  const ms = typeof w.t === 'number' && Number.isSafeInteger(w.t) ? BigInt(w.t) * 1_000_000n : null;
  const ns = ms === null ? null : ms < lastNs && ms + 1_000_000n > lastNs ? lastNs : ms;
  // Quote messages carry one condition number, trade messages a list; REST records always a list.
  const conditions = Array.isArray(w.c) ? w.c : typeof w.c === 'number' ? [w.c] : undefined;
  const sip = ns === null ? w.t : ns.toString();
  // The WebSocket carries no participant time; the SIP time stands in for it (REST records require one).
  const common = { sip_timestamp: sip, participant_timestamp: sip, sequence_number: w.q, conditions, tape: w.z };
  if (w.ev === 'T') {
    return {
      kind: 'trade',
      ns: ns ?? -1n,
      raw: defined({ ...common, price: w.p, size: w.s, exchange: w.x, id: w.i, trf_id: w.trfi }),
    };
  }
  return {
    kind: 'quote',
    ns: ns ?? -1n,
    raw: defined({
      ...common,
      bid_price: w.bp,
      bid_size: w.bs,
      bid_exchange: w.bx,
      ask_price: w.ap,
      ask_size: w.as,
      ask_exchange: w.ax,
      indicators: w.i,
    }),
  };
}

/** Absent on the wire stays absent in the record (the validators treat a present `undefined` as malformed). */
function defined(record: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(record)) if (record[k] === undefined) delete record[k];
  return record;
}
