import { recordRem, recordUs, type MarketRecord } from './records';

/**
 * The trades-and-quotes merge by SIP time, written once for polling, streaming backfill and replay.
 *
 * Each side keeps its own order (an out-of-order or repeated record still reaches the detector, which rejects and
 * counts it). At the same instant the quote is fed first: feeding order does not decide a classification, since
 * the detector compares each print with the last quote stamped strictly before it (issue 16, the tie rule; see
 * quoteBefore in detectors/flow-detector.ts). A reject or ignored message has no usable time and is fed where it
 * stands.
 */
export interface MergeSide {
  /** Records buffered for this side; `pos` is the next one to feed. */
  items: readonly MarketRecord[];
  pos: number;
  /** No more records will come on this side once `items` is used up. */
  done: boolean;
}

/** True when the quote goes before the trade: earlier, or at the same instant (see above). */
export function quoteFirst(q: MarketRecord, t: MarketRecord): boolean {
  const qUs = recordUs(q);
  if (qUs < 0) return true;
  const tUs = recordUs(t);
  if (tUs < 0) return false;
  return qUs < tUs || (qUs === tUs && recordRem(q) <= recordRem(t));
}

/**
 * Feeds records in time order until a side that is not done runs out of buffered records (returns that side, to
 * be refilled before calling again) or both sides are exhausted (returns null). `emit` gets each record, whether
 * it came from the quote side, and its index within its side's buffer.
 */
export function mergeStep(
  trades: MergeSide,
  quotes: MergeSide,
  emit: (record: MarketRecord, fromQuotes: boolean, index: number) => void,
): 'trades' | 'quotes' | null {
  for (;;) {
    const tLeft = trades.pos < trades.items.length;
    const qLeft = quotes.pos < quotes.items.length;
    if (!tLeft && !trades.done) return 'trades';
    if (!qLeft && !quotes.done) return 'quotes';
    if (!tLeft && !qLeft) return null;
    const takeQuote = !tLeft || (qLeft && quoteFirst(quotes.items[quotes.pos]!, trades.items[trades.pos]!));
    const side = takeQuote ? quotes : trades;
    const index = side.pos++;
    emit(side.items[index]!, takeQuote, index);
  }
}

/** Both sides complete in memory (one poll's pages, a test's records). */
export function mergeByTime(
  trades: readonly MarketRecord[],
  quotes: readonly MarketRecord[],
  emit: (record: MarketRecord, fromQuotes: boolean, index: number) => void,
): void {
  mergeStep({ items: trades, pos: 0, done: true }, { items: quotes, pos: 0, done: true }, emit);
}
