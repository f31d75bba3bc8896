import { z } from 'zod';
import { parseOrThrow, ValidationError, type ValidationIssue } from '../validation';
import {
  MaxSlippagePctSchema,
  OffsetModeSchema,
  OffsetSchema,
  strategyPricing,
  type OffsetMode,
  type OrdersConfig,
  type PricingDefaults,
} from './config';
import { canonicalDecimal, Money, PriceStringSchema } from './money';
import { computeLimitPrice, isOnTickGrid, OrderSide } from './pricing';

/** 1–5 uppercase letters, optionally one class suffix (BRK.B). Options, lowercase and digits are refused. */
export const EQUITY_SYMBOL = /^[A-Z]{1,5}(\.[A-Z])?$/;
/** OCC option symbol shape (root, yymmdd, C/P, strike × 1000), recognised only to explain the refusal. */
const OPTION_SYMBOL = /^[A-Za-z]{1,6}\d{6}[CPcp]\d{8}$/;

export const SymbolSchema = z.string({ message: 'must be a string' }).superRefine((s, ctx) => {
  if (EQUITY_SYMBOL.test(s)) return;
  let message = 'must be an equity ticker: 1–5 uppercase letters, optionally a class suffix like BRK.B';
  if (OPTION_SYMBOL.test(s)) message = 'options are not supported: must be an equity ticker such as TSLA or BRK.B';
  else if (EQUITY_SYMBOL.test(s.toUpperCase())) message = `must be uppercase (${s.toUpperCase()})`;
  ctx.addIssue({ code: 'custom', message });
});

export const OrderSideSchema = z.enum([OrderSide.Buy, OrderSide.Sell], { message: 'must be buy or sell' });

/** Whole shares only; the CLI hands us text, JSON callers a number. */
export const QuantitySchema = z
  .union([z.number(), z.string()], { message: 'must be a positive integer' })
  .transform((v, ctx) => {
    const n = typeof v === 'number' ? v : /^\d+$/.test(v.trim()) ? Number(v.trim()) : Number.NaN;
    if (!Number.isSafeInteger(n) || n <= 0) {
      ctx.addIssue({ code: 'custom', message: 'must be a positive integer' });
      return z.NEVER;
    }
    return n;
  });

/** Alpaca allows 128 characters; Robinhood's ref_id is a UUID, which fits the same alphabet. */
export const ClientOrderIdSchema = z
  .string({ message: 'must be a string' })
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9_\-:.]+$/, 'must contain only letters, digits, _ - : .');

export const TimeInForce = { Day: 'day', Gtc: 'gtc' } as const;
export type TimeInForce = (typeof TimeInForce)[keyof typeof TimeInForce];
export const TimeInForceSchema = z.enum([TimeInForce.Day, TimeInForce.Gtc], { message: 'must be day or gtc' });

/** The brokers' names; what each is and how it is built is the broker list in src/brokers/registry.ts. */
export const BrokerName = { Paper: 'paper', Alpaca: 'alpaca', Robinhood: 'robinhood' } as const;
export type BrokerName = (typeof BrokerName)[keyof typeof BrokerName];
const BROKER_NAME_LIST: readonly string[] = Object.values(BrokerName);
const BROKER_NAMES_TEXT = `${BROKER_NAME_LIST.slice(0, -1).join(', ')} or ${BROKER_NAME_LIST.at(-1)}`;

const BrokerNameSchema = z.enum(BrokerName, { message: `must be ${BROKER_NAMES_TEXT}` });

/** flowguard places limit orders only; the others are named so the refusal can be specific. */
export const LIMIT_ORDER_TYPE = 'limit';
const UNSUPPORTED_ORDER_TYPES = ['market', 'stop', 'stop_limit', 'trailing_stop'] as const;

export const OrderTypeSchema = z.string({ message: 'must be a string' }).superRefine((t, ctx) => {
  if (t === LIMIT_ORDER_TYPE) return;
  ctx.addIssue({
    code: 'custom',
    message: (UNSUPPORTED_ORDER_TYPES as readonly string[]).includes(t)
      ? `${t} orders are not supported: use a limit order`
      : 'must be limit (market and stop orders are not supported: use a limit order)',
  });
});

export const OrderRequestSchema = z
  .object({
    symbol: SymbolSchema,
    side: OrderSideSchema,
    quantity: QuantitySchema,
    referencePrice: PriceStringSchema,
    type: OrderTypeSchema.default(LIMIT_ORDER_TYPE),
    offsetMode: OffsetModeSchema.optional(),
    offset: OffsetSchema.optional(),
    maxSlippagePct: MaxSlippagePctSchema.optional(),
    strategy: z.string({ message: 'must be a string' }).min(1, 'must not be empty').optional(),
    clientOrderId: ClientOrderIdSchema.optional(),
    timeInForce: TimeInForceSchema.default(TimeInForce.Day),
    broker: BrokerNameSchema.default(BrokerName.Paper),
  })
  .strict();
export type OrderRequestInput = z.input<typeof OrderRequestSchema>;
export type OrderRequest = z.output<typeof OrderRequestSchema>;

/** A validated limit order with its price derived; every price is a decimal string. */
export interface PreparedLimitOrder {
  readonly symbol: string;
  readonly side: OrderSide;
  readonly quantity: number;
  readonly type: typeof LIMIT_ORDER_TYPE;
  readonly referencePrice: string;
  readonly limitPrice: string;
  readonly offsetMode: OffsetMode;
  /** In the unit of offsetMode: bps, or dollars for absolute. */
  readonly offset: string;
  readonly maxSlippagePct: string;
  readonly strategy?: string;
  readonly clientOrderId?: string;
  readonly timeInForce: TimeInForce;
  readonly broker: BrokerName;
  /** normalizedIntentKey(symbol, side, limitPrice, quantity), for the duplicate-intent guard. */
  readonly intentKey: string;
}

/** The part of the orders configuration that pricing reads. */
export type OrderPricingConfig = PricingDefaults & { readonly strategies: OrdersConfig['strategies'] };

/**
 * Validates an order request and derives its limit price. Precedence per field: the request, then the
 * named strategy, then the defaults. Throws ValidationError naming the field and rule.
 */
export function prepareLimitOrder(request: unknown, orders: OrderPricingConfig): PreparedLimitOrder {
  const req = parseOrThrow(OrderRequestSchema, request);
  if (req.strategy !== undefined && !Object.hasOwn(orders.strategies, req.strategy)) {
    const names = Object.keys(orders.strategies);
    throw new ValidationError([
      {
        field: 'strategy',
        rule: `unknown strategy "${req.strategy}" (${names.length === 0 ? 'no strategies are configured' : `configured: ${names.join(', ')}`})`,
      },
    ]);
  }
  const base = strategyPricing(orders, req.strategy);
  const offsetMode = req.offsetMode ?? base.offsetMode;
  const configuredOffset = req.side === OrderSide.Buy ? base.buyOffset : base.sellOffset;
  if (req.offset === undefined && offsetMode !== base.offsetMode) {
    // The configured offset is a number in the other unit: 15 bps must never become $15.
    throw new ValidationError([
      {
        field: 'offset',
        rule: `is required when offsetMode (${offsetMode}) differs from the configured mode (${base.offsetMode})`,
      },
    ]);
  }
  const offset = req.offset ?? configuredOffset;
  const maxSlippagePct = req.maxSlippagePct ?? base.maxSlippagePct;
  const limitPrice = computeLimitPrice({
    side: req.side,
    referencePrice: req.referencePrice,
    offsetMode,
    offset,
    maxSlippagePct,
  });
  return {
    symbol: req.symbol,
    side: req.side,
    quantity: req.quantity,
    type: LIMIT_ORDER_TYPE,
    referencePrice: req.referencePrice,
    limitPrice,
    offsetMode,
    offset,
    maxSlippagePct,
    ...(req.strategy !== undefined ? { strategy: req.strategy } : {}),
    ...(req.clientOrderId !== undefined ? { clientOrderId: req.clientOrderId } : {}),
    timeInForce: req.timeInForce,
    broker: req.broker,
    intentKey: normalizedIntentKey(req.symbol, req.side, limitPrice, req.quantity),
  };
}

/** A prepared order and the client order id it is placed under: what the desk registers and its order submits. */
export type PreparedOrderToPlace = PreparedLimitOrder & { readonly clientOrderId: string };

/**
 * What a broker adapter is asked to place: the prepared order's own fields under the domain's rules, never priced
 * again. A PreparedOrderToPlace is one as it is.
 */
export type LimitOrderToPlace = Pick<
  PreparedOrderToPlace,
  'clientOrderId' | 'symbol' | 'side' | 'quantity' | 'limitPrice' | 'timeInForce'
>;

/** Whole shares as a number: a prepared order has already read the text a person typed. */
const SharesSchema = z
  .number({ message: 'must be a positive integer' })
  .int('must be a positive integer')
  .positive('must be a positive integer');

const LimitOrderToPlaceSchema = z.object({
  clientOrderId: ClientOrderIdSchema,
  symbol: SymbolSchema,
  side: OrderSideSchema,
  quantity: SharesSchema,
  limitPrice: PriceStringSchema,
  timeInForce: TimeInForceSchema,
});

/**
 * Checks an order handed to a broker adapter, with the same symbol, side, quantity, price and time-in-force rules
 * as the request it was prepared from; other fields of a prepared order are dropped. The tick grid is left to the
 * venue (a broker answers InvalidPrice). Throws ValidationError naming `order.<field>` and the rule.
 */
export function parseLimitOrderToPlace(input: unknown): LimitOrderToPlace {
  return parseOrThrow(LimitOrderToPlaceSchema, input, 'order');
}

/** A configuration decimal as prepareLimitOrder leaves it: text (never a number) that `rules` accepts. */
function decimalText(rules: z.ZodType) {
  return z.string({ message: 'must be a decimal string' }).superRefine((s, ctx) => {
    const checked = rules.safeParse(s);
    if (!checked.success)
      for (const issue of checked.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
  });
}

const PreparedOrderSchema = LimitOrderToPlaceSchema.extend({
  type: z.literal(LIMIT_ORDER_TYPE, { message: 'must be limit' }),
  referencePrice: PriceStringSchema,
  offsetMode: OffsetModeSchema,
  offset: decimalText(OffsetSchema),
  maxSlippagePct: decimalText(MaxSlippagePctSchema),
  strategy: z.string({ message: 'must be a string' }).min(1, 'must not be empty').optional(),
  broker: BrokerNameSchema,
  intentKey: z.string({ message: 'must be a string' }),
}).strict();

/**
 * The desk's check of an order its caller prepared (prepareLimitOrder, run once, outside the workflow): the
 * fields' rules, then what pricing guarantees of its result, without pricing again: the limit on the Rule 612
 * tick grid, on the safe side of the reference (a buy at or below it, a sell at or above it) and within
 * maxSlippagePct of it, the intent key that of these fields, and the broker the desk's own. Pricing is not redone
 * on purpose: the price in the request is the one the caller showed and the broker will hold, and a desk that
 * repriced would decide on a price from a different pricing code or configuration than the caller's.
 * Throws ValidationError naming `prepared.<field>` and the rule.
 */
export function checkPreparedOrder(input: unknown, broker: BrokerName): PreparedOrderToPlace {
  const order = parseOrThrow(PreparedOrderSchema, input, 'prepared');
  const issues: ValidationIssue[] = [];
  if (order.broker !== broker) {
    issues.push({ field: 'prepared.broker', rule: `must be ${broker}, the desk's broker (was ${order.broker})` });
  }
  const limit = new Money(order.limitPrice);
  const ref = new Money(order.referencePrice);
  if (!isOnTickGrid(limit)) {
    issues.push({
      field: 'prepared.limitPrice',
      rule: `must be on the Rule 612 tick grid ($0.01 at or above $1.00, $0.0001 below): ${order.limitPrice} is not`,
    });
  }
  const buy = order.side === OrderSide.Buy;
  if (buy ? limit.gt(ref) : limit.lt(ref)) {
    issues.push({
      field: 'prepared.limitPrice',
      rule: `a ${order.side} limit must not be ${buy ? 'above' : 'below'} referencePrice ${order.referencePrice} (was ${order.limitPrice})`,
    });
  }
  if (limit.sub(ref).abs().div(ref).mul(100).gt(order.maxSlippagePct)) {
    issues.push({
      field: 'prepared.limitPrice',
      rule: `must be within maxSlippagePct ${order.maxSlippagePct}% of referencePrice ${order.referencePrice} (was ${order.limitPrice})`,
    });
  }
  const intentKey = normalizedIntentKey(order.symbol, order.side, order.limitPrice, order.quantity);
  if (order.intentKey !== intentKey) {
    issues.push({ field: 'prepared.intentKey', rule: `must be ${intentKey}, this order's (was ${order.intentKey})` });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return {
    symbol: order.symbol,
    side: order.side,
    quantity: order.quantity,
    type: order.type,
    referencePrice: order.referencePrice,
    limitPrice: order.limitPrice,
    offsetMode: order.offsetMode,
    offset: order.offset,
    maxSlippagePct: order.maxSlippagePct,
    ...(order.strategy !== undefined ? { strategy: order.strategy } : {}),
    clientOrderId: order.clientOrderId,
    timeInForce: order.timeInForce,
    broker: order.broker,
    intentKey: order.intentKey,
  };
}

const IntentSchema = z.object({
  symbol: SymbolSchema,
  side: OrderSideSchema,
  limitPrice: PriceStringSchema,
  quantity: QuantitySchema,
});

/**
 * Identity of an order intent for the duplicate guard: same symbol, side, limit price (compared as a decimal,
 * so "250.1" and "250.10" match) and quantity is the same intent. Quantity belongs to it: a 500-share order is
 * never "the same" as an open 10-share one. The key reads `SYMBOL:side:limit:quantity`; its first three parts
 * are the key desks matched on before quantity joined it (the desk replays old histories with them).
 * Throws ValidationError on a malformed symbol, side, price or quantity.
 */
export function normalizedIntentKey(symbol: string, side: string, limitPrice: string, quantity: number): string {
  const v = parseOrThrow(IntentSchema, { symbol, side, limitPrice, quantity });
  return `${v.symbol}:${v.side}:${canonicalDecimal(v.limitPrice)}:${v.quantity}`;
}
