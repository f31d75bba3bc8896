/**
 * Size limits on one order: a fat-finger guard, so that `--quantity 1000000000` is refused instead of sent.
 * Configured as orders.maxQuantity (FLOWGUARD_ORDER_MAX_QUANTITY, shares) and orders.maxNotional
 * (FLOWGUARD_ORDER_MAX_NOTIONAL, dollars: quantity × limit price). Pure: the CLI checks before it connects, the
 * desk (src/workflows/desk.ts) can apply the same check in its update validator.
 */
import { ValidationError, type ValidationIssue } from '../validation';
import { Money } from './money';

export interface OrderLimits {
  /** Whole shares; an order of more is refused. */
  readonly maxQuantity: number;
  /** Dollars as a decimal string; an order whose quantity × limit price is more is refused. */
  readonly maxNotional: string;
}

/** Defaults: wide enough for any position this tool protects, small enough to stop an extra digit or three. */
export const DEFAULT_ORDER_LIMITS: OrderLimits = { maxQuantity: 100_000, maxNotional: '10000000' };

/** Thousands separators for a message ("$10,000,000"), exact for any decimal. */
function grouped(value: Money): string {
  const [whole, fraction] = value.toFixed(2).split('.') as [string, string];
  const digits = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === '00' ? digits : `${digits}.${fraction}`;
}

/**
 * The limits an order breaks, each naming the field, the figure and the setting to change; empty when within.
 * `order.limitPrice` is the prepared limit (what the broker would hold the order at), a decimal string.
 */
export function orderLimitIssues(
  order: { readonly quantity: number; readonly limitPrice: string },
  limits: OrderLimits,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (order.quantity > limits.maxQuantity) {
    issues.push({
      field: 'quantity',
      rule:
        `${order.quantity} shares is more than the largest order allowed, ${limits.maxQuantity} shares ` +
        `(orders.maxQuantity, FLOWGUARD_ORDER_MAX_QUANTITY)`,
    });
  }
  const notional = new Money(order.limitPrice).mul(order.quantity);
  if (notional.gt(limits.maxNotional)) {
    issues.push({
      field: 'notional',
      rule:
        `${order.quantity} × ${order.limitPrice} = $${grouped(notional)} is more than the largest order allowed, ` +
        `$${grouped(new Money(limits.maxNotional))} (orders.maxNotional, FLOWGUARD_ORDER_MAX_NOTIONAL)`,
    });
  }
  return issues;
}

/** Throws ValidationError (exit 2 in the CLI, a rejected update at the desk) when the order breaks a limit. */
export function assertWithinOrderLimits(
  order: { readonly quantity: number; readonly limitPrice: string },
  limits: OrderLimits,
): void {
  const issues = orderLimitIssues(order, limits);
  if (issues.length > 0) throw new ValidationError(issues);
}
