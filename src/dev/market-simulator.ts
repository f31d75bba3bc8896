/**
 * A local market simulator for the demo: a seeded generator of a SYNTHETIC trading session (a TSLA-like
 * stock around $250) in Polygon's v3 wire format, served through the Polygon stand-in so the real client,
 * activities and detectors run against it.
 *
 * The session is anchored to the wall clock: everything before the anchor is history (published at once,
 * the monitor's baseline), everything after it is released as the wall clock reaches its SIP timestamp, so
 * the data is "live" for the stale-data checks. Nothing here is recorded market data.
 */
import path from 'node:path';
import { startPolygonStandIn, type PolygonStandIn, type StandInRecord } from '../../test/support/polygon-stand-in';

const NS_PER_MS = 1_000_000n;
/** Lit (displayed) venues by Polygon exchange id: Nasdaq, NYSE Arca, Cboe EDGX, Cboe BZX, IEX, MEMX. */
const LIT_VENUES = [12, 11, 8, 19, 15, 21] as const;
/** FINRA trade reporting facility (off-exchange prints: dark pools, internalisers). */
const TRF_EXCHANGE = 4;
const TRF_IDS = [201, 202, 203] as const;
const COND = { AveragePrice: 2, IntermarketSweep: 14, OddLot: 37 } as const;

export interface SyntheticSessionOptions {
  readonly symbol?: string;
  readonly seed?: number;
  /** Wall-clock instant (ms since epoch) where history ends and the live part begins. */
  readonly anchorMs: number;
  /** Minutes of history before the anchor (the monitor backfills baselineMinutes + 1). */
  readonly historyMinutes?: number;
  /** Mid price the session starts around, in cents. */
  readonly startCents?: number;
}

export interface SessionPhase {
  readonly name: string;
  /** Offsets from the anchor, in ms (negative: history). */
  readonly fromMs: number;
  readonly toMs: number;
  readonly description: string;
}

export interface PlantedPrint {
  readonly label: string;
  readonly atMs: number;
  readonly price: string;
  readonly size: number;
  readonly prints: number;
}

export interface SyntheticSession {
  readonly symbol: string;
  readonly seed: number;
  readonly synthetic: true;
  readonly anchorNs: bigint;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly phases: readonly SessionPhase[];
  readonly planted: readonly PlantedPrint[];
  readonly trades: StandInRecord[];
  readonly quotes: StandInRecord[];
}

/** The live part's timeline (ms after the anchor). */
export const LIVE_TIMELINE = {
  firstBlockMs: 12_000,
  sweepMs: 26_000,
  secondBlockMs: 38_000,
  liquidationFromMs: 50_000,
  afterFromMs: 62_000,
  endMs: 70_000,
} as const;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cents as the JS number Polygon sends (at most two decimals). */
const px = (cents: number) => Math.round(cents) / 100;
const fmt = (cents: number) => (Math.round(cents) / 100).toFixed(2);

interface FlowProfile {
  /** Gap between prints, ms. */
  readonly tradeGap: readonly [number, number];
  /** Gap between NBBO updates, ms. */
  readonly quoteGap: readonly [number, number];
  /** Share of prints at the bid (seller-initiated). */
  readonly sellShare: number;
  readonly sizes: readonly number[];
  readonly bidSizes: readonly number[];
  readonly askSizes: readonly number[];
  readonly spread: readonly [number, number];
  /** Bid move per NBBO update, cents: (rnd → step). */
  readonly step: (session: SessionBuilder) => number;
  /** Share of prints reported off-exchange (TRF). */
  readonly trfShare: number;
}

class SessionBuilder {
  readonly rnd: () => number;
  readonly trades: StandInRecord[] = [];
  readonly quotes: StandInRecord[] = [];
  bid: number;
  ask: number;
  bidSize = 300;
  askSize = 300;
  private tradeId = 52_000 + 0;

  constructor(
    seed: number,
    readonly anchorNs: bigint,
    readonly centre: number,
  ) {
    this.rnd = mulberry32(seed);
    this.bid = centre - 1;
    this.ask = centre + 1;
    this.tradeId += this.int(0, 999);
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!;
  }

  sip(ms: number): bigint {
    return this.anchorNs + BigInt(ms) * NS_PER_MS + BigInt(this.int(0, 999_999));
  }

  quote(ms: number): bigint {
    const sip = this.sip(ms);
    this.quotes.push({
      ask_exchange: this.pick(LIT_VENUES),
      ask_price: px(this.ask),
      ask_size: this.askSize,
      bid_exchange: this.pick(LIT_VENUES),
      bid_price: px(this.bid),
      bid_size: this.bidSize,
      participant_timestamp: sip - BigInt(this.int(20_000, 400_000)),
      sequence_number: 0,
      sip_timestamp: sip,
      tape: 3,
    });
    return sip;
  }

  trade(
    ms: number,
    cents: number,
    size: number,
    opts: { exchange?: number; conditions?: number[]; sipNs?: bigint } = {},
  ): bigint {
    const sip = opts.sipNs ?? this.sip(ms);
    const exchange = opts.exchange ?? this.pick(LIT_VENUES);
    const conditions = opts.conditions ?? (size < 100 ? [COND.OddLot] : []);
    this.tradeId += this.int(1, 4);
    this.trades.push({
      ...(conditions.length > 0 ? { conditions } : {}),
      exchange,
      id: String(this.tradeId),
      participant_timestamp: sip - BigInt(this.int(50_000, 900_000)),
      price: px(cents),
      sequence_number: 0,
      sip_timestamp: sip,
      size,
      tape: 3,
      ...(exchange === TRF_EXCHANGE
        ? { trf_id: this.pick(TRF_IDS), trf_timestamp: sip - BigInt(this.int(1_000, 20_000)) }
        : {}),
    });
    return sip;
  }

  /** Two-sided (or one-sided) flow from `fromMs` to `toMs` under a profile. */
  flow(fromMs: number, toMs: number, p: FlowProfile): void {
    let nextQuote = fromMs;
    let nextTrade = fromMs + this.int(p.tradeGap[0], p.tradeGap[1]);
    while (nextQuote < toMs || nextTrade < toMs) {
      if (nextQuote <= nextTrade) {
        this.bid += p.step(this);
        this.ask = this.bid + this.int(p.spread[0], p.spread[1]);
        this.bidSize = this.pick(p.bidSizes);
        this.askSize = this.pick(p.askSizes);
        this.quote(nextQuote);
        nextQuote += this.int(p.quoteGap[0], p.quoteGap[1]);
        continue;
      }
      this.organicPrint(nextTrade, p);
      nextTrade += this.int(p.tradeGap[0], p.tradeGap[1]);
    }
  }

  private organicPrint(ms: number, p: FlowProfile): void {
    const r = this.rnd();
    const size = this.pick(p.sizes);
    if (r < p.trfShare) {
      // Off-exchange: mostly inside the spread (price improvement), now and then an average-price print
      // that does not count toward volume (the detectors must drop it).
      const avg = this.rnd() < 0.08;
      const cents = avg ? (this.bid + this.ask) / 2 + this.int(-3, 3) : this.bid + Math.max(1, this.ask - this.bid) / 2;
      this.trade(ms, Math.round(cents * 100) / 100, size, {
        exchange: TRF_EXCHANGE,
        conditions: avg ? [COND.AveragePrice] : size < 100 ? [COND.OddLot] : [],
      });
      return;
    }
    const sell = this.rnd() < p.sellShare;
    const conditions = size < 100 ? [COND.OddLot] : this.rnd() < 0.12 ? [COND.IntermarketSweep] : [];
    this.trade(ms, sell ? this.bid : this.ask, size, { conditions });
  }

  finish(): void {
    const bySip = (a: StandInRecord, b: StandInRecord) => {
      const x = a.sip_timestamp as bigint;
      const y = b.sip_timestamp as bigint;
      return x < y ? -1 : x > y ? 1 : 0;
    };
    this.trades.sort(bySip);
    this.quotes.sort(bySip);
    // The SIP numbers both feeds in time order.
    let tSeq = 4_100_000 + this.int(0, 99_999);
    for (const t of this.trades) t.sequence_number = tSeq += this.int(2, 7);
    let qSeq = 9_800_000 + this.int(0, 99_999);
    for (const q of this.quotes) q.sequence_number = qSeq += this.int(2, 7);
  }
}

/** Mean-reverting one-cent random walk around the session's centre. */
const meanReverting = (s: SessionBuilder) => {
  const pull = (s.centre - s.bid) / 40;
  const r = s.rnd() + pull * 0.1;
  return r < 0.3 ? -1 : r > 0.7 ? 1 : 0;
};

const NORMAL: FlowProfile = {
  tradeGap: [90, 700],
  quoteGap: [120, 380],
  sellShare: 0.5,
  sizes: [100, 100, 100, 100, 200, 200, 300, 500, 12, 40, 65, 1000, 150],
  bidSizes: [100, 200, 300, 400, 500, 700, 900, 1200],
  askSizes: [100, 200, 300, 400, 500, 700, 900, 1200],
  spread: [1, 3],
  step: meanReverting,
  trfShare: 0.12,
};

/** Steady, seller-leaning distribution: more prints, bigger clips, the bid leaking a cent now and then. */
const DISTRIBUTION: FlowProfile = {
  tradeGap: [60, 320],
  quoteGap: [120, 300],
  sellShare: 0.72,
  sizes: [100, 200, 200, 300, 400, 500, 600, 800, 40],
  bidSizes: [100, 200, 300, 400],
  askSizes: [800, 1200, 1500, 2000, 2500, 3000],
  spread: [1, 2],
  step: (s) => (s.rnd() < 0.18 ? -1 : s.rnd() < 0.08 ? 1 : 0),
  trfShare: 0.1,
};

/** Buyers absorb at the block's price: the bid holds with size, prints on both sides. */
const ABSORPTION: FlowProfile = {
  tradeGap: [80, 400],
  quoteGap: [150, 350],
  sellShare: 0.5,
  sizes: [100, 100, 200, 300, 500, 40],
  bidSizes: [1500, 2000, 2500, 3000, 4000],
  askSizes: [300, 500, 800, 1200],
  spread: [1, 2],
  step: () => 0,
  trfShare: 0.08,
};

/** The seller comes back harder: a red volume burst, the bid falling away. */
const LIQUIDATION: FlowProfile = {
  tradeGap: [25, 120],
  quoteGap: [150, 300],
  sellShare: 0.86,
  sizes: [200, 300, 500, 800, 1000, 1200, 1500, 2000],
  bidSizes: [100, 200, 300, 500],
  askSizes: [1000, 2000, 3000, 4000],
  spread: [1, 3],
  step: (s) => -s.int(1, 4),
  trfShare: 0.1,
};

const AFTER: FlowProfile = { ...NORMAL, step: (s) => (s.rnd() < 0.35 ? -1 : s.rnd() < 0.3 ? 1 : 0) };

/**
 * Generates the demo's synthetic session: `historyMinutes` of normal two-sided flow before the anchor, then
 * (live) normal flow, a 12,000-share TRF block at the bid, seller-leaning distribution with an intermarket
 * sweep of 15,000 shares at the bid across three venues, a 25,000-share block at the bid, a short pause where
 * buyers absorb at that price, and a liquidation burst that drives the price down before the tape calms.
 * Deterministic for a given seed and anchor.
 */
export function generateSyntheticSession(options: SyntheticSessionOptions): SyntheticSession {
  const symbol = options.symbol ?? 'TSLA';
  const seed = options.seed ?? 20_240_611;
  const historyMs = (options.historyMinutes ?? 7) * 60_000;
  const anchorNs = BigInt(Math.floor(options.anchorMs)) * NS_PER_MS;
  const s = new SessionBuilder(seed, anchorNs, options.startCents ?? 25_000);
  const L = LIVE_TIMELINE;
  const planted: PlantedPrint[] = [];

  const block = (label: string, atMs: number, size: number) => {
    // The seller hits the bid: the NBBO in force just before the print has a thin bid.
    s.bidSize = s.pick([100, 200, 300]);
    s.quote(atMs - 300);
    s.trade(atMs, s.bid, size, { exchange: TRF_EXCHANGE });
    planted.push({ label, atMs, price: fmt(s.bid), size, prints: 1 });
    // The market leans on the news: the bid steps down a cent or two afterwards.
    s.bid -= s.int(1, 2);
    s.ask = s.bid + 2;
    s.quote(atMs + 250);
  };

  const sweep = (atMs: number) => {
    s.bidSize = 400;
    s.quote(atMs - 300);
    const base = s.sip(atMs);
    const legs = [
      [12, 4_000],
      [11, 5_000],
      [8, 6_000],
    ] as const;
    // One order routed to three venues as intermarket sweep orders, printing within a few milliseconds.
    legs.forEach(([venue, size], k) => {
      s.trade(atMs, s.bid, size, {
        exchange: venue,
        conditions: [COND.IntermarketSweep],
        sipNs: base + BigInt(k * 1_700_000),
      });
    });
    planted.push({
      label: 'intermarket sweep at the bid (3 venues, 4 ms)',
      atMs,
      price: fmt(s.bid),
      size: 15_000,
      prints: 3,
    });
    s.bid -= 1;
    s.ask = s.bid + 2;
    s.quote(atMs + 250);
  };

  // Planted prints get the tape to themselves for a moment, so their NBBO and sizes are exactly as planted.
  s.flow(-historyMs, L.firstBlockMs - 600, NORMAL);
  block('TRF block print at the bid', L.firstBlockMs, 12_000);
  s.flow(L.firstBlockMs + 400, L.sweepMs - 600, DISTRIBUTION);
  sweep(L.sweepMs);
  s.flow(L.sweepMs + 400, L.secondBlockMs - 600, DISTRIBUTION);
  block('TRF block print at the bid', L.secondBlockMs, 25_000);
  // Buyers step in at the block's price for a few seconds.
  s.bid += 1;
  s.flow(L.secondBlockMs + 400, L.liquidationFromMs, ABSORPTION);
  s.flow(L.liquidationFromMs, L.afterFromMs, LIQUIDATION);
  s.flow(L.afterFromMs, L.endMs, AFTER);
  s.finish();

  return {
    symbol,
    seed,
    synthetic: true,
    anchorNs,
    startNs: anchorNs - BigInt(historyMs) * NS_PER_MS,
    endNs: anchorNs + BigInt(L.endMs) * NS_PER_MS,
    planted,
    phases: [
      { name: 'history', fromMs: -historyMs, toMs: 0, description: 'normal two-sided flow (the baseline)' },
      { name: 'normal', fromMs: 0, toMs: L.firstBlockMs, description: 'normal two-sided flow, live' },
      {
        name: 'distribution',
        fromMs: L.firstBlockMs,
        toMs: L.secondBlockMs,
        description: 'institutional selling: block prints and a sweep at the bid, sellers leaning',
      },
      {
        name: 'absorption',
        fromMs: L.secondBlockMs,
        toMs: L.liquidationFromMs,
        description: 'buyers absorb at the block price',
      },
      {
        name: 'liquidation',
        fromMs: L.liquidationFromMs,
        toMs: L.afterFromMs,
        description: 'red volume burst, the bid falls away',
      },
      { name: 'after', fromMs: L.afterFromMs, toMs: L.endMs, description: 'the tape calms at the lower level' },
    ],
    trades: s.trades,
    quotes: s.quotes,
  };
}

export interface MarketSimulator {
  readonly standIn: PolygonStandIn;
  readonly session: SyntheticSession;
  close(): Promise<void>;
}

/**
 * Serves a synthetic session through the Polygon stand-in: history is published at once, the live part is
 * released as the wall clock reaches each event's SIP time.
 */
export async function startMarketSimulator(
  options: SyntheticSessionOptions & { readonly port?: number; readonly apiKey?: string },
): Promise<MarketSimulator> {
  const standIn = await startPolygonStandIn({
    port: options.port ?? 0,
    clock: { mode: 'replay', speed: 1 },
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
  });
  const session = generateSyntheticSession(options);
  standIn.loadScenario(session.symbol, { trades: session.trades, quotes: session.quotes });
  // Re-anchors the replay clock: everything up to the anchor is history, published now.
  standIn.advanceTo(session.anchorNs);
  return { standIn, session, close: () => standIn.close() };
}

// ---- command line: the demo runs the simulator as its own process ----

function parseArgs(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const name = arg.slice(2);
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out[name] = next;
      i++;
    } else out[name] = 'true';
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(
      `usage: tsx ${path.relative(process.cwd(), __filename)} [--port 0] [--key K] [--symbol TSLA] [--seed N] [--anchor-ms MS]\n` +
        'Serves a SYNTHETIC session (seeded) in Polygon wire format; prints one JSON line when ready.\n',
    );
    return;
  }
  const seed = args.seed === undefined ? undefined : Number(args.seed);
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw new Error('--seed must be an integer');
  const port = Number(args.port ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error('--port must be an integer 0-65535');
  const sim = await startMarketSimulator({
    anchorMs: args['anchor-ms'] ? Number(args['anchor-ms']) : Date.now(),
    port,
    ...(args.symbol ? { symbol: args.symbol } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(args.key ? { apiKey: args.key } : {}),
  });
  const { session, standIn } = sim;
  process.stdout.write(
    `${JSON.stringify({
      ready: true,
      synthetic: true,
      symbol: session.symbol,
      seed: session.seed,
      restUrl: standIn.restUrl,
      wsUrl: standIn.wsUrl,
      anchorNs: session.anchorNs.toString(),
      endNs: session.endNs.toString(),
      trades: session.trades.length,
      quotes: session.quotes.length,
      phases: session.phases,
      planted: session.planted,
    })}\n`,
  );
  const stop = () => void sim.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`market simulator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
