import {
  prepareLimitOrder,
  type BrokerName,
  type OrderPricingConfig,
  type OrderRequestInput,
  type PreparedOrderToPlace,
} from '../domain/orders/order-request';
import { ValidationError } from '../domain/validation';

export interface PrepareOrderInput {
  readonly request: OrderRequestInput & { readonly broker: BrokerName; readonly clientOrderId: string };
  readonly pricing: OrderPricingConfig;
}

/** The order priced, or the pricing rule it broke (`error`: the ValidationError's message, fields named). */
export type PrepareOrderResult =
  { readonly ok: true; readonly prepared: PreparedOrderToPlace } | { readonly ok: false; readonly error: string };

/**
 * Pricing as an activity, for a workflow that must price an order itself (the position monitor's protective
 * exit): the result is recorded in the workflow's history, so a replay reuses the price the order was placed at
 * even after the pricing code changed, and the workflow bundle stays free of decimal.js. The desk is then sent
 * the prepared order, the same shape the CLI sends, and only checks it (domain checkPreparedOrder).
 */
export function createOrderActivities() {
  return {
    /** domain prepareLimitOrder, once. A refusal comes back as data: pricing the same input again would refuse again. */
    async prepareOrder({ request, pricing }: PrepareOrderInput): Promise<PrepareOrderResult> {
      try {
        const prepared = prepareLimitOrder(request, pricing);
        return { ok: true, prepared: { ...prepared, clientOrderId: request.clientOrderId } };
      } catch (err) {
        if (err instanceof ValidationError) return { ok: false, error: err.message };
        throw err;
      }
    },
  };
}
