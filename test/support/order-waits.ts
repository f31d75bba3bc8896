import { orderStatus } from '../../src/cli/orders';
import { type CliContext } from '../../src/cli/temporal';
import { type OrderStatus } from '../../src/workflows/order';

/** Polls an order's `status` query until `done` holds; fails with the last status after `timeoutMs`. */
export async function waitForOrder(
  ctx: CliContext,
  id: string,
  done: (s: OrderStatus) => boolean,
  timeoutMs = 30_000,
): Promise<OrderStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await orderStatus(ctx, id);
    if (done(s)) return s;
    if (Date.now() > deadline)
      throw new Error(`order ${id} stuck in ${s.state} after ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
