/**
 * A bounded sliding-window histogram of print sizes, for the adaptive large-seller rule (largeOrderPercentile):
 * "this print is bigger than the symbol's own p-th percentile over the recent past".
 *
 * Why our own: the state travels through workflow history on every activity call (state-codec.ts, < 4 KB per
 * symbol) and the window must slide with market time. Quantile libraries (t-digest, DDSketch ports) keep
 * unbounded or float-centroid state, have no window and no codec into that text form; a fixed log-binned
 * histogram is a few dozen lines, exact to reason about, and its size never grows.
 *
 * Bins: 2 per doubling (each bin's upper edge is √2 ≈ 1.41× its lower edge: 4 per doubling took the state of a
 * 60-minute baseline past 4 KB), bin 0 holds sizes below 1 share (fractional prints), the last bin everything
 * from 2^(MAX_OCTAVES) shares up. A quantile is known to within one bin (≤ 41 %). Window: two periods of `periodSec` (the current one and the one before), so the
 * histogram always covers between one and two periods of market time; older prints are forgotten whole.
 */

/** Bins per doubling of the size. */
export const BINS_PER_OCTAVE = 2;
/** Sizes up to 2^24 (16.7 million shares) get their own bin; larger ones share the last. */
const MAX_OCTAVES = 24;
/** Number of bins in each period's histogram. */
export const SIZE_BINS = MAX_OCTAVES * BINS_PER_OCTAVE + 2;

/** Bin of a size: 0 below one share, then ⌊2·log2(size)⌋ + 1, capped. */
export function sizeBin(size: number): number {
  if (!(size >= 1)) return 0;
  const b = Math.floor(Math.log2(size) * BINS_PER_OCTAVE) + 1;
  return b >= SIZE_BINS ? SIZE_BINS - 1 : b;
}

/** Smallest whole size of bin b+1 and above, i.e. the shares a print needs to lie above bin b: ⌈2^(b/2)⌉. */
export function sizeAboveBin(b: number): number {
  // Nothing lies above the last bin.
  if (b >= SIZE_BINS - 1) return Number.POSITIVE_INFINITY;
  // The binning goes through log2, so the edge is checked against it rather than trusted to floating point.
  let s = Math.ceil(2 ** (b / BINS_PER_OCTAVE) - 1e-9);
  while (s > 1 && sizeBin(s - 1) > b) s--;
  while (sizeBin(s) <= b) s++;
  return s;
}

/** Serialized form: period index of `cur`, then the two histograms (each SIZE_BINS counts). */
export interface SizeSketchState {
  readonly k: number;
  readonly cur: readonly number[];
  readonly prev: readonly number[];
}

export class SizeSketch {
  /** Index of the current period (⌊second / periodSec⌋), -1 before the first print. */
  private k = -1;
  private cur = new Array<number>(SIZE_BINS).fill(0);
  private prev = new Array<number>(SIZE_BINS).fill(0);
  private n = 0;

  /** `periodSec`: length of one period in seconds (≥ 1); the window spans one to two of them. */
  constructor(private readonly periodSec: number) {}

  /** Prints in the window. */
  get count(): number {
    return this.n;
  }

  /** Moves the window to market second `sec` (seconds never go back: the detector rejects out-of-order data). */
  advance(sec: number): void {
    const k = Math.floor(sec / this.periodSec);
    if (k <= this.k) return;
    if (k === this.k + 1) {
      const old = this.prev;
      this.prev = this.cur;
      this.cur = old.fill(0);
    } else {
      this.prev.fill(0);
      this.cur.fill(0);
    }
    this.k = k;
    let n = 0;
    for (let i = 0; i < SIZE_BINS; i++) n += this.prev[i]!;
    this.n = n;
  }

  add(size: number): void {
    this.cur[sizeBin(size)]!++;
    this.n++;
  }

  /**
   * The shares a print needs to lie above the p-th percentile (0 < p < 100) of the window: the smallest size in
   * a bin above the one holding that percentile. Undefined when the window holds fewer than `minCount` prints.
   */
  threshold(p: number, minCount: number): number | undefined {
    if (this.n < Math.max(1, minCount)) return undefined;
    // Nearest rank: the ⌈p/100 · n⌉-th smallest print.
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let acc = 0;
    for (let b = 0; b < SIZE_BINS; b++) {
      acc += this.cur[b]! + this.prev[b]!;
      if (acc >= rank) return sizeAboveBin(b);
    }
    return sizeAboveBin(SIZE_BINS - 1);
  }

  toState(): SizeSketchState {
    return { k: this.k, cur: [...this.cur], prev: [...this.prev] };
  }

  /** Restores a toState(); lists shorter than SIZE_BINS are zero-filled, so an empty state is `{k: -1, [], []}`. */
  load(s: SizeSketchState): void {
    this.k = s.k;
    this.cur = Array.from({ length: SIZE_BINS }, (_, i) => s.cur[i] ?? 0);
    this.prev = Array.from({ length: SIZE_BINS }, (_, i) => s.prev[i] ?? 0);
    let n = 0;
    for (let i = 0; i < SIZE_BINS; i++) n += this.cur[i]! + this.prev[i]!;
    this.n = n;
  }
}
