/**
 * The unknown-outcome rule, stated once. A submit whose reply was lost (timeout, reset, 5xx after sending)
 * or that the broker refuses because the client order id / ref_id already exists is resolved by looking
 * the order up by client order id — never by submitting under a new id. A retried submit reuses the same
 * client order id, so the broker's own uniqueness check is the second line of defence.
 */
import { type Broker, type BrokerOrderSnapshot, type LimitOrderToPlace } from './broker';
import { BrokerUnavailable, DuplicateClientOrderId, isBrokerError } from './errors';

export const SubmitResolution = {
  /** The broker acknowledged this submit. */
  Submitted: 'submitted',
  /** A lookup before submitting found the order (an earlier attempt created it). */
  FoundBeforeSubmit: 'found_before_submit',
  /** The reply was lost; the lookup found the order. */
  FoundAfterUnknownOutcome: 'found_after_unknown_outcome',
  /** The broker said the id exists; the lookup found the order. */
  FoundAfterDuplicate: 'found_after_duplicate',
} as const;
export type SubmitResolution = (typeof SubmitResolution)[keyof typeof SubmitResolution];

export interface SubmitIdempotentlyOptions {
  /**
   * Look the order up before submitting. Pass true on every retry of the submitting activity
   * (`Context.current().info.attempt > 1`): an earlier attempt may have created the order.
   */
  readonly lookupFirst?: boolean;
}

export interface SubmitIdempotentlyResult {
  readonly order: BrokerOrderSnapshot;
  readonly resolution: SubmitResolution;
}

export async function submitIdempotently(
  broker: Broker,
  req: LimitOrderToPlace,
  options: SubmitIdempotentlyOptions = {},
): Promise<SubmitIdempotentlyResult> {
  if (options.lookupFirst === true) {
    const existing = await broker.getOrderByClientOrderId(req.clientOrderId);
    if (existing) return { order: existing, resolution: SubmitResolution.FoundBeforeSubmit };
  }

  try {
    return { order: await broker.submitLimitOrder(req), resolution: SubmitResolution.Submitted };
  } catch (err) {
    const duplicate = err instanceof DuplicateClientOrderId;
    const unknownOutcome = isBrokerError(err) && err.outcomeUnknown;
    if (!duplicate && !unknownOutcome) throw err;

    let existing: BrokerOrderSnapshot | null;
    try {
      existing = await broker.getOrderByClientOrderId(req.clientOrderId);
    } catch (lookupErr) {
      // A lost reply stays the headline (it is retryable and says why a lookup is owed); a permanent lookup
      // failure (e.g. credentials) is the more useful error for a duplicate.
      if (unknownOutcome && isBrokerError(lookupErr) && lookupErr.retryable) throw err;
      throw lookupErr;
    }
    if (existing) {
      return {
        order: existing,
        resolution: duplicate ? SubmitResolution.FoundAfterDuplicate : SubmitResolution.FoundAfterUnknownOutcome,
      };
    }
    if (duplicate) {
      // The broker holds the id but does not show the order yet (or it fell outside the lookup window).
      // Retryable on purpose: the next attempt looks again first and still never creates a second order.
      throw new BrokerUnavailable({
        broker: broker.name,
        message: `${broker.name}: client order id ${req.clientOrderId} already exists but the lookup found no order`,
        outcomeUnknown: true,
        cause: err,
      });
    }
    // Not created (or not visible yet): the caller retries with lookupFirst, so nothing can be duplicated.
    throw err;
  }
}
