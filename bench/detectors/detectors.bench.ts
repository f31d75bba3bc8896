/**
 * Detector throughput on a synthetic session (default 5,000,000 events: 60 % NBBO quotes, 40 % prints):
 *   1. detect only: pre-decoded events through createFlowDetector (onTrade/onQuote);
 *   2. decode + detect: Polygon v3 JSON text lines through the edge decoder production uses
 *      (src/market-data/decode.ts: JSON.parse, exact ns read back from the text, the validators) into the detector: what replay runs
 *      per recorded line;
 *   3. the same for REST pages: parsePolygonJson of 10,000-record pages (what the poll activity gets), then decodeRest;
 *   4. for reference, bare JSON.parse of the same lines (ns rounded), and the zod contract alone (250k events).
 * Lines are generated in chunks outside the timed sections so memory stays bounded.
 * Run: npm run bench:detectors [-- EVENTS]
 */
import { applyRecord, createFlowDetector } from '../../src/domain/detectors/flow-detector';
import { checkRecord, RecordKind, type MarketRecord } from '../../src/domain/market-data/records';
import { decodeRecordedLine, decodeRest, parsePolygonJson } from '../../src/market-data/decode';

const TOTAL = Number(process.argv[2] ?? 5_000_000);
const CHUNK = 250_000;
const REFERENCE_EVENTS = Math.min(TOTAL, 1_000_000);
const T0 = 1_764_601_200_000_000_000n;

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One chunk of lines; state carries across chunks so time, sequences and prices continue. */
function makeChunk(
  state: { i: number; bid: number; tseq: number; qseq: number; r: () => number },
  n: number,
): string[] {
  const out: string[] = [];
  const r = state.r;
  for (let k = 0; k < n; k++, state.i++) {
    // ~2,000 events per second of market time: a 5M-event session spans ~42 minutes.
    const sip = (T0 + BigInt(state.i) * 500_000n + BigInt(Math.floor(r() * 1000))).toString();
    const part = (BigInt(sip) - 150_000n).toString();
    if (r() < 0.6) {
      if (r() < 0.3) state.bid += r() < 0.5 ? -1 : 1;
      const ask = state.bid + 1 + Math.floor(r() * 2);
      out.push(
        `{"ask_exchange":11,"ask_price":${ask / 100},"ask_size":${100 * (1 + Math.floor(r() * 20))},"bid_exchange":12,"bid_price":${state.bid / 100},"bid_size":${100 * (1 + Math.floor(r() * 20))},"participant_timestamp":${part},"sequence_number":${(state.qseq += 3)},"sip_timestamp":${sip},"tape":3}`,
      );
    } else {
      const px = state.bid + Math.floor(r() * 3);
      const size = r() < 0.001 ? 12_000 : 100 * (1 + Math.floor(r() * 5));
      out.push(
        `{"conditions":[${r() < 0.1 ? 37 : 14}],"exchange":4,"id":"${state.i}","participant_timestamp":${part},"price":${px / 100},"sequence_number":${(state.tseq += 3)},"sip_timestamp":${sip},"size":${size},"tape":3,"trf_id":202,"trf_timestamp":${part}}`,
      );
    }
  }
  // Lines as read from a file or socket (split from one text: flat or sliced strings). Template literals
  // build rope (cons) strings; the first read of each would flatten it inside the timed section, measuring
  // string building instead of parsing.
  return out.join('\n').split('\n');
}

const isQuote = (line: string) => line.charCodeAt(2) === 97; // {"ask_…

function bench<P>(
  name: string,
  prepare: (lines: string[]) => P,
  run: (prepared: P) => void,
  total: number = TOTAL,
): number {
  const state = { i: 0, bid: 25_000, tseq: 0, qseq: 0, r: rng(42) };
  let ms = 0;
  for (let done = 0; done < total; done += CHUNK) {
    const prepared = prepare(makeChunk(state, Math.min(CHUNK, total - done)));
    const t = performance.now();
    run(prepared);
    ms += performance.now() - t;
  }
  const rate = total / (ms / 1000);
  process.stdout.write(
    `${name.padEnd(60)} ${(rate / 1e6).toFixed(2).padStart(6)} M events/s  (${(ms / 1000).toFixed(2)} s, ${total.toLocaleString('en-US')} events)\n`,
  );
  return rate;
}

process.stdout.write(`synthetic session: ${TOTAL.toLocaleString('en-US')} events, node ${process.version}, one core\n`);

const decodeLine = (l: string): MarketRecord =>
  decodeRecordedLine(JSON.parse(l), l, isQuote(l) ? 'quote' : 'trade', 'TSLA');

let alerts = 0;
let detector = createFlowDetector({ symbol: 'TSLA' });
bench(
  'detect only (pre-decoded events)',
  (lines) => lines.map(decodeLine),
  (records) => {
    for (const r of records) applyRecord(detector, r);
    alerts += detector.drainAlerts().length;
  },
);
const stats1 = detector.stats;
const state = JSON.stringify(detector.snapshot());

detector = createFlowDetector({ symbol: 'TSLA' });
const id = (lines: string[]) => lines;
const jsonParse = bench('reference: bare JSON.parse of every line (ns rounded)', id, (lines) => {
  for (const l of lines) JSON.parse(l);
});
const decoded = bench('decode + detect (decodeRecordedLine, as replay runs it; exact ns)', id, (lines) => {
  for (const l of lines) applyRecord(detector, decodeLine(l));
  detector.drainAlerts();
});
const stats2 = detector.stats;
const stateDecoded = JSON.stringify(detector.snapshot());

detector = createFlowDetector({ symbol: 'TSLA' });
bench(
  'decode + detect, REST pages (parsePolygonJson of 10,000-record pages)',
  (lines) => {
    const pages: { quote: boolean; text: string }[] = [];
    for (let i = 0; i < lines.length; i += 10_000) {
      const slice = lines.slice(i, i + 10_000);
      // One page per stream as Polygon serves them; interleaving is the merge's job, not measured here.
      pages.push({ quote: true, text: `{"results":[${slice.filter(isQuote).join(',')}],"status":"OK"}` });
      pages.push({ quote: false, text: `{"results":[${slice.filter((l) => !isQuote(l)).join(',')}],"status":"OK"}` });
    }
    return pages;
  },
  (pages) => {
    for (const p of pages) {
      const results = (parsePolygonJson(p.text) as { results: unknown[] }).results;
      for (const r of results) applyRecord(detector, decodeRest(r, p.quote ? 'quote' : 'trade'));
    }
    detector.drainAlerts();
  },
  REFERENCE_EVENTS,
);

{
  const sample = Math.min(TOTAL, 250_000);
  const st = { i: 0, bid: 25_000, tseq: 0, qseq: 0, r: rng(42) };
  const recs = makeChunk(st, sample).map((l) => [isQuote(l), parsePolygonJson(l)] as const);
  const t = performance.now();
  for (const [q, rec] of recs) checkRecord(q ? RecordKind.RestQuote : RecordKind.RestTrade, rec);
  const sec = (performance.now() - t) / 1000;
  process.stdout.write(
    `${'reference: validate only (zod contract, checkRecord), 250k'.padEnd(60)} ${(sample / sec / 1e6).toFixed(2).padStart(6)} M events/s\n`,
  );
}

process.stdout.write(
  `decode + detect runs at ${(jsonParse / decoded).toFixed(2)}× the time of bare JSON.parse of the same lines\n` +
    `eligible trades ${stats2.eligibleTrades.toLocaleString('en-US')}, rejected ${JSON.stringify(stats2.rejected)}, alerts ${alerts}\n` +
    `serialized detector state: ${state.length} bytes of JSON; identical stats and state decoding per line and pre-decoded: ${JSON.stringify(stats1) === JSON.stringify(stats2) && state === stateDecoded}\n`,
);
