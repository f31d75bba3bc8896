/**
 * The paper broker's fill rules (pure functions over one order and the market data it is shown).
 *
 * 1. Marketable against the NBBO — on submit and whenever the order is read: a buy with limit ≥ ask fills
 *    at the ask, a sell with limit ≤ bid fills at the bid, up to the displayed size. The displayed size of
 *    one quote (identified by its SIP timestamp) is used once: re-reading the same quote fills nothing more.
 * 2. Resting — trades printed after the order was placed (after its watermark), oldest first:
 *    - traded through (buy: print < limit; sell: print > limit): fill min(remaining, print size) at the limit;
 *    - printed exactly at the limit: we do not know our queue position, so only `atLimitParticipation` of
 *      the print's size (default 0.5, floor) is ours;
 *    - worse prices fill nothing.
 * 3. No quote and no trades: the order rests open. Every order is matched independently (a print is not
 *    shared out between several paper orders), which is optimistic when many orders rest at one price.
 */
import Decimal from 'decimal.js';
import { type BrokerExecution } from '../broker';
import { type PaperQuote, type PaperTrade } from './market-price-source';
import { type PaperOrderRecord } from './store';

export interface FillContext {
  readonly atLimitParticipation: number;
  /** ISO time for executions not tied to a print (quote fills). */
  readonly nowIso: string;
}

export function remaining(order: PaperOrderRecord): number {
  return order.quantity - order.executions.reduce((sum, e) => sum + e.quantity, 0);
}

function nextExecutionId(order: PaperOrderRecord): string {
  return `${order.brokerOrderId}-e${order.executions.length + 1}`;
}

function usable(price: Decimal, size: number): boolean {
  return price.isFinite() && price.gt(0) && Number.isInteger(size) && size > 0;
}

/** Rule 1. Returns the execution (also appended to `order`) or null. */
export function fillAgainstQuote(
  order: PaperOrderRecord,
  quote: PaperQuote | null,
  ctx: FillContext,
): BrokerExecution | null {
  const left = remaining(order);
  if (left <= 0 || quote === null) return null;
  const limit = new Decimal(order.limitPrice);
  const buy = order.side === 'buy';
  const price = new Decimal(String(buy ? quote.ask : quote.bid));
  const size = buy ? quote.askSize : quote.bidSize;
  if (!usable(price, size)) return null; // one-sided quote: nothing to trade against on our side
  if (buy ? price.gt(limit) : price.lt(limit)) return null;
  const used = order.quoteNs === quote.timestampNs ? order.quoteSizeUsed : 0;
  const quantity = Math.min(left, size - used);
  if (quantity <= 0) return null;
  order.quoteNs = quote.timestampNs;
  order.quoteSizeUsed = used + quantity;
  const execution = { id: nextExecutionId(order), quantity, price: price.toFixed(), timestamp: ctx.nowIso };
  order.executions.push(execution);
  return execution;
}

/** Rule 2. Appends executions to `order`, advances its watermark, returns the new executions. */
export function fillAgainstTrades(
  order: PaperOrderRecord,
  trades: readonly PaperTrade[],
  ctx: FillContext,
): BrokerExecution[] {
  const watermark = BigInt(order.watermarkNs);
  const fresh = trades
    .filter((t) => /^\d+$/.test(t.timestampNs) && BigInt(t.timestampNs) > watermark)
    .sort((a, b) =>
      BigInt(a.timestampNs) < BigInt(b.timestampNs) ? -1 : BigInt(a.timestampNs) > BigInt(b.timestampNs) ? 1 : 0,
    );
  const out: BrokerExecution[] = [];
  const limit = new Decimal(order.limitPrice);
  for (const trade of fresh) {
    order.watermarkNs = trade.timestampNs;
    const left = remaining(order);
    if (left <= 0) continue;
    const price = new Decimal(String(trade.price));
    if (!usable(price, trade.size)) continue;
    const through = order.side === 'buy' ? price.lt(limit) : price.gt(limit);
    const atLimit = price.eq(limit);
    let available = 0;
    if (through) available = trade.size;
    else if (atLimit) available = Math.floor(trade.size * ctx.atLimitParticipation);
    const quantity = Math.min(left, available);
    if (quantity <= 0) continue;
    const execution = {
      id: nextExecutionId(order),
      quantity,
      price: limit.toFixed(),
      timestamp: nsToIso(trade.timestampNs),
    };
    order.executions.push(execution);
    out.push(execution);
  }
  return out;
}

export function nsToIso(ns: string): string {
  const big = BigInt(ns);
  const ms = big / 1_000_000n;
  const subMs = big % 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // ...sss Z
  return `${iso.slice(0, -1)}${subMs.toString().padStart(6, '0')}Z`;
}
