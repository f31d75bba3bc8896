/** zod schemas for the Robinhood endpoints robin_stocks uses (numbers arrive as strings). */
import { z } from 'zod';

const decimalString = z.string().regex(/^-?\d+(\.\d+)?$/, 'must be a decimal string');

export const RobinhoodExecutionSchema = z.looseObject({
  id: z.string().min(1),
  price: decimalString,
  quantity: decimalString,
  timestamp: z.string(),
  settlement_date: z.string().nullable().optional(),
});
export type RobinhoodExecution = z.output<typeof RobinhoodExecutionSchema>;

export const RobinhoodOrderSchema = z.looseObject({
  id: z.string().min(1),
  ref_id: z.string().nullable().optional(),
  url: z.string().optional(),
  account: z.string().optional(),
  instrument: z.string(),
  instrument_id: z.string().optional(),
  // Newer payloads carry the symbol; older ones only the instrument URL.
  symbol: z.string().nullable().optional(),
  cancel: z.string().nullable(),
  state: z.string(),
  type: z.string(),
  side: z.enum(['buy', 'sell']),
  time_in_force: z.string(),
  trigger: z.string().optional(),
  price: decimalString.nullable().optional(),
  quantity: decimalString,
  cumulative_quantity: decimalString,
  average_price: decimalString.nullable().optional(),
  fees: decimalString.nullable().optional(),
  reject_reason: z.string().nullable().optional(),
  executions: z.array(RobinhoodExecutionSchema),
  created_at: z.string(),
  updated_at: z.string(),
});
export type RobinhoodOrder = z.output<typeof RobinhoodOrderSchema>;

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.looseObject({
    next: z.string().nullable().optional(),
    previous: z.string().nullable().optional(),
    results: z.array(item),
  });
}

export const RobinhoodOrderPageSchema = pageSchema(RobinhoodOrderSchema);

export const RobinhoodInstrumentSchema = z.looseObject({
  id: z.string(),
  url: z.string(),
  symbol: z.string(),
  tradeable: z.boolean().optional(),
});
export type RobinhoodInstrument = z.output<typeof RobinhoodInstrumentSchema>;
export const RobinhoodInstrumentPageSchema = pageSchema(RobinhoodInstrumentSchema);

/**
 * One entry of GET /positions/ (robin_stocks get_open_stock_positions: `nonzero=true`, paginated). Newer payloads
 * carry `symbol`; otherwise it is resolved from the instrument, as robin_stocks does.
 */
export const RobinhoodPositionSchema = z.looseObject({
  instrument: z.string(),
  instrument_id: z.string().optional(),
  symbol: z.string().nullable().optional(),
  account_number: z.string().optional(),
  quantity: decimalString,
  average_buy_price: decimalString.nullable().optional(),
});
export type RobinhoodPosition = z.output<typeof RobinhoodPositionSchema>;
export const RobinhoodPositionPageSchema = pageSchema(RobinhoodPositionSchema);

export const RobinhoodAccountSchema = z.looseObject({
  url: z.string(),
  account_number: z.string(),
});
export const RobinhoodAccountPageSchema = pageSchema(RobinhoodAccountSchema);

/** The JSON body flowguard posts to /orders/ (robin_stocks' field names). */
export interface RobinhoodOrderRequestBody {
  readonly account: string;
  readonly instrument: string;
  readonly symbol: string;
  readonly price: string;
  readonly quantity: string;
  readonly ref_id: string;
  readonly type: 'limit';
  readonly time_in_force: 'gfd' | 'gtc';
  readonly trigger: 'immediate';
  readonly side: 'buy' | 'sell';
  readonly extended_hours: boolean;
  readonly market_hours: 'regular_hours';
  readonly order_form_version: number;
}
