/**
 * The paper account's positions, derived from its store: every execution of every order (open or not) in time
 * order, netted per symbol. The entry price is the average cost of the shares still held (a sale leaves it
 * unchanged; a position that crosses zero starts a new average at the crossing execution's price).
 */
import Decimal from 'decimal.js';
import { type BrokerPosition } from '../broker';
import { type PaperOrderRecord } from './store';

export function paperPositions(orders: readonly PaperOrderRecord[]): BrokerPosition[] {
  const executions = orders
    .flatMap((o) => o.executions.map((e) => ({ symbol: o.symbol, side: o.side, ...e })))
    // ISO-8601 UTC timestamps sort as text; the id breaks ties so the order is stable across reads.
    .sort((a, b) => (a.timestamp === b.timestamp ? a.id.localeCompare(b.id) : a.timestamp < b.timestamp ? -1 : 1));
  const book = new Map<string, { quantity: Decimal; average: Decimal }>();
  for (const e of executions) {
    const held = book.get(e.symbol) ?? { quantity: new Decimal(0), average: new Decimal(0) };
    const delta = new Decimal(e.quantity).times(e.side === 'buy' ? 1 : -1);
    const next = held.quantity.plus(delta);
    const price = new Decimal(e.price);
    let average = held.average;
    if (held.quantity.isZero() || held.quantity.isNeg() !== next.isNeg() || next.isZero()) {
      // Opening, crossing zero or closing: what is held now was all bought (or sold short) at this price.
      average = next.isZero() ? new Decimal(0) : price;
    } else if (next.abs().gt(held.quantity.abs())) {
      // Adding to the position: weighted average of the old shares and the new ones.
      average = held.average.times(held.quantity.abs()).plus(price.times(delta.abs())).div(next.abs());
    }
    book.set(e.symbol, { quantity: next, average });
  }
  return [...book.entries()]
    .filter(([, p]) => !p.quantity.isZero())
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([symbol, p]) => ({
      symbol,
      quantity: p.quantity.toFixed(),
      averageEntryPrice: p.average.toDecimalPlaces(6, Decimal.ROUND_HALF_EVEN).toFixed(),
    }));
}
