import { z } from 'zod';
import { MAX_PRICE, MAX_SIZE } from './price';
import { RejectCode } from './reject-codes';
import { parseNs } from './timestamp';

/**
 * The documented contract for Polygon market data (v3 REST `/v3/trades`, `/v3/quotes`, WebSocket `T.`/`Q.`),
 * field names from the 8.2 client's OpenAPI document. Unknown fields are allowed (Polygon adds fields).
 *
 * The detectors validate on the hot path with the hand-written validators in records.ts, which enforce
 * exactly these rules (a property test checks that both agree); these schemas give the human-readable
 * issues when an operator asks why a record was rejected.
 *
 * Record-level rules beyond the shape carry their stable reject code in `params.rejectCode`.
 */

/** Integer nanoseconds: number (possibly already rounded above 2^53), digit string, or bigint. */
export const NsTimestampSchema = z.union([z.number(), z.string(), z.bigint()]).refine((v) => parseNs(v) !== undefined, {
  message: 'must be a non-negative integer count of nanoseconds (number, digit string or bigint)',
});

const int = () => z.number().int('must be an integer');
const nonNegInt = () => z.number().int('must be an integer').min(0, 'must be ≥ 0');
const intArray = () => z.array(int(), 'must be an array of integers');
const finite = () => z.number('must be a finite number');
const size = () => finite().max(MAX_SIZE, `must be ≤ ${MAX_SIZE}`);
const price = () => finite().max(MAX_PRICE, `must be ≤ ${MAX_PRICE}`);

function rule(ctx: z.RefinementCtx, rejectCode: RejectCode, path: string, message: string): void {
  ctx.addIssue({ code: 'custom', path: [path], message, params: { rejectCode } });
}

export const PolygonTradeShape = z.looseObject({
  conditions: intArray().optional(),
  correction: int().optional(),
  exchange: int(),
  id: z.string('must be a string'),
  participant_timestamp: NsTimestampSchema,
  price: price(),
  sequence_number: nonNegInt(),
  sip_timestamp: NsTimestampSchema,
  size: size(),
  tape: int().optional(),
  trf_id: int().optional(),
  trf_timestamp: NsTimestampSchema.optional(),
});

/** One element of `results` in a `/v3/trades/{ticker}` response. */
export const PolygonTradeSchema = PolygonTradeShape.superRefine((t, ctx) => {
  if (t.price <= 0) rule(ctx, RejectCode.NonPositivePrice, 'price', 'must be > 0');
  if (t.size <= 0) rule(ctx, RejectCode.NonPositiveSize, 'size', 'must be > 0');
});
export type PolygonTrade = z.output<typeof PolygonTradeSchema>;

export const PolygonQuoteShape = z.looseObject({
  ask_exchange: int().optional(),
  ask_price: price().optional(),
  ask_size: size().optional(),
  bid_exchange: int().optional(),
  bid_price: price().optional(),
  bid_size: size().optional(),
  conditions: intArray().optional(),
  indicators: intArray().optional(),
  participant_timestamp: NsTimestampSchema,
  sequence_number: nonNegInt(),
  sip_timestamp: NsTimestampSchema,
  tape: int().optional(),
  trf_timestamp: NsTimestampSchema.optional(),
});

function quoteRules(
  q: { bidPrice: number; bidSize: number; askPrice: number; askSize: number },
  ctx: z.RefinementCtx,
  names: { bidPrice: string; bidSize: string; askPrice: string; askSize: string },
): void {
  // A zero price means the side is absent (one-sided quote): valid, but never used for classification.
  if (q.bidPrice < 0) rule(ctx, RejectCode.NonPositivePrice, names.bidPrice, 'must be > 0 (or 0 for an absent side)');
  if (q.askPrice < 0) rule(ctx, RejectCode.NonPositivePrice, names.askPrice, 'must be > 0 (or 0 for an absent side)');
  if (q.bidSize < 0 || (q.bidPrice > 0 && q.bidSize === 0)) {
    rule(ctx, RejectCode.NonPositiveSize, names.bidSize, 'must be > 0 when the bid is present');
  }
  if (q.askSize < 0 || (q.askPrice > 0 && q.askSize === 0)) {
    rule(ctx, RejectCode.NonPositiveSize, names.askSize, 'must be > 0 when the ask is present');
  }
  if (q.bidPrice > 0 && q.askPrice > 0 && q.bidPrice > q.askPrice) {
    rule(ctx, RejectCode.CrossedQuote, names.bidPrice, `must be ≤ the ask (${q.askPrice}): crossed quote`);
  }
}

/** One element of `results` in a `/v3/quotes/{ticker}` response (NBBO). */
export const PolygonQuoteSchema = PolygonQuoteShape.superRefine((q, ctx) =>
  quoteRules(
    { bidPrice: q.bid_price ?? 0, bidSize: q.bid_size ?? 0, askPrice: q.ask_price ?? 0, askSize: q.ask_size ?? 0 },
    ctx,
    { bidPrice: 'bid_price', bidSize: 'bid_size', askPrice: 'ask_price', askSize: 'ask_size' },
  ),
);
export type PolygonQuote = z.output<typeof PolygonQuoteSchema>;

/** A `/v3/trades` or `/v3/quotes` response envelope; results are validated one by one, not here. */
export const PolygonV3ResponseSchema = z.looseObject({
  status: z.string().optional(),
  request_id: z.string().optional(),
  next_url: z.string().optional(),
  results: z.array(z.unknown(), 'must be an array').optional(),
});

/** WebSocket trade message `T` (timestamps in milliseconds). */
export const PolygonWsTradeShape = z.looseObject({
  ev: z.literal('T'),
  sym: z.string('must be a string'),
  x: int(),
  i: z.string('must be a string'),
  z: int().optional(),
  p: price(),
  s: size(),
  c: intArray().optional(),
  t: nonNegInt(),
  q: nonNegInt(),
  trfi: int().optional(),
  trft: nonNegInt().optional(),
});
export const PolygonWsTradeSchema = PolygonWsTradeShape.superRefine((t, ctx) => {
  if (t.p <= 0) rule(ctx, RejectCode.NonPositivePrice, 'p', 'must be > 0');
  if (t.s <= 0) rule(ctx, RejectCode.NonPositiveSize, 's', 'must be > 0');
});
export type PolygonWsTrade = z.output<typeof PolygonWsTradeSchema>;

/** WebSocket NBBO quote message `Q` (timestamps in milliseconds). */
export const PolygonWsQuoteShape = z.looseObject({
  ev: z.literal('Q'),
  sym: z.string('must be a string'),
  bx: int().optional(),
  bp: price().optional(),
  bs: size().optional(),
  ax: int().optional(),
  ap: price().optional(),
  as: size().optional(),
  c: int().optional(),
  i: intArray().optional(),
  t: nonNegInt(),
  q: nonNegInt(),
  z: int().optional(),
});
export const PolygonWsQuoteSchema = PolygonWsQuoteShape.superRefine((q, ctx) =>
  quoteRules({ bidPrice: q.bp ?? 0, bidSize: q.bs ?? 0, askPrice: q.ap ?? 0, askSize: q.as ?? 0 }, ctx, {
    bidPrice: 'bp',
    bidSize: 'bs',
    askPrice: 'ap',
    askSize: 'as',
  }),
);
export type PolygonWsQuote = z.output<typeof PolygonWsQuoteSchema>;
