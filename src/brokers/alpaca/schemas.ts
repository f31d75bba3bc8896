/** zod schemas for the Alpaca Trading API v2 payloads flowguard reads (numbers arrive as strings). */
import { z } from 'zod';

const decimalString = z.string().regex(/^-?\d+(\.\d+)?$/, 'must be a decimal string');

export const AlpacaOrderSchema = z.looseObject({
  id: z.string().min(1),
  client_order_id: z.string(),
  created_at: z.string(),
  updated_at: z.string().nullable().optional(),
  submitted_at: z.string().nullable().optional(),
  filled_at: z.string().nullable().optional(),
  canceled_at: z.string().nullable().optional(),
  expired_at: z.string().nullable().optional(),
  failed_at: z.string().nullable().optional(),
  symbol: z.string(),
  // Notional (dollar) orders carry qty null; flowguard places whole-share orders only.
  qty: decimalString.nullable().optional(),
  notional: decimalString.nullable().optional(),
  filled_qty: decimalString,
  filled_avg_price: decimalString.nullable().optional(),
  type: z.string().optional(),
  order_type: z.string().optional(),
  side: z.enum(['buy', 'sell']),
  time_in_force: z.string(),
  limit_price: decimalString.nullable().optional(),
  status: z.string(),
  extended_hours: z.boolean().optional(),
});
export type AlpacaOrder = z.output<typeof AlpacaOrderSchema>;

export const AlpacaOrderListSchema = z.array(AlpacaOrderSchema);

export const AlpacaErrorSchema = z.looseObject({
  code: z.union([z.number(), z.string()]).optional(),
  message: z.string().optional(),
});
export type AlpacaError = z.output<typeof AlpacaErrorSchema>;

/**
 * One entry of `GET /v2/positions` (docs.alpaca.markets/reference/getallopenpositions): numbers as strings,
 * `qty` negative for a short (`side: "short"`).
 */
export const AlpacaPositionSchema = z.looseObject({
  symbol: z.string().min(1),
  qty: decimalString,
  side: z.enum(['long', 'short']),
  avg_entry_price: decimalString.nullable().optional(),
  asset_class: z.string().optional(),
});
export type AlpacaPosition = z.output<typeof AlpacaPositionSchema>;
export const AlpacaPositionListSchema = z.array(AlpacaPositionSchema);

export const AlpacaAccountSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
});

/** `trade_updates` event payload (stream `trade_updates`). */
export const AlpacaTradeUpdateSchema = z.looseObject({
  event: z.string(),
  execution_id: z.string().optional(),
  order: AlpacaOrderSchema,
  timestamp: z.string().optional(),
  price: decimalString.nullable().optional(),
  qty: decimalString.nullable().optional(),
  position_qty: decimalString.nullable().optional(),
});
export type AlpacaTradeUpdate = z.output<typeof AlpacaTradeUpdateSchema>;

export const AlpacaStreamMessageSchema = z.looseObject({
  stream: z.string(),
  data: z.unknown(),
});

export const AlpacaRequestBodySchema = z.object({
  symbol: z.string(),
  qty: z.string(),
  side: z.enum(['buy', 'sell']),
  type: z.literal('limit'),
  time_in_force: z.enum(['day', 'gtc']),
  limit_price: z.string(),
  extended_hours: z.boolean(),
  client_order_id: z.string().max(128),
});
export type AlpacaOrderRequestBody = z.output<typeof AlpacaRequestBodySchema>;
