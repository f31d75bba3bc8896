/**
 * Issue 17 item 2 for Alpaca's trade_updates: a link that goes dead without closing (half-open TCP) is noticed by
 * protocol pings, terminated, reconnected with backoff, and the gap is filled by REST reconciliation. Wired as the
 * relayBrokerEvents activity wires it: the registry's stream factory feeding an OrderEventRelay.
 */
import { type Client } from '@temporalio/client';
import { createMemoryAuditLog } from '../../../src/activities/audit';
import { OrderEventRelay } from '../../../src/activities/broker-events-activity';
import { AlpacaBroker } from '../../../src/brokers/alpaca/alpaca-broker';
import { type BrokerOrderSnapshot } from '../../../src/brokers/broker';
import { type OrderUpdate, type OrderUpdateStream } from '../../../src/brokers/order-updates';
import { createBrokerRegistry } from '../../../src/brokers/registry';
import { AlpacaStandIn } from '../../support/alpaca-stand-in';
import { startSilentTcpProxy, type SilentTcpProxy } from '../../support/silent-tcp-proxy';

/** The liveness bound the stream runs with here (marketData.streamLivenessSeconds; 10 s by default). */
const LIVENESS_MS = 1_000;
/** The stream's first reconnect delay (its default backoff). */
const FIRST_BACKOFF_MS = 500;

function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() - start > timeoutMs) return reject(new Error('waitFor timed out'));
      setTimeout(tick, 10);
    };
    tick();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Alpaca trade_updates liveness (half-open link)', () => {
  let alpaca: AlpacaStandIn;
  let proxy: SilentTcpProxy;
  let stream: OrderUpdateStream | undefined;

  beforeEach(async () => {
    alpaca = await AlpacaStandIn.start();
    proxy = await startSilentTcpProxy({ host: '127.0.0.1', port: Number(new URL(alpaca.baseUrl).port) });
  });

  afterEach(async () => {
    await stream?.close();
    stream = undefined;
    await proxy.close();
    expect(alpaca.errors).toEqual([]);
    await alpaca.close();
  });

  it('drops a silent link within 1.25 × the bound, reconnects, and a fill made meanwhile reaches the orders by REST', async () => {
    const broker = new AlpacaBroker(alpaca.config(1_000));
    const registry = createBrokerRegistry({
      overrides: { alpaca: broker },
      // REST straight to the stand-in; the WebSocket through the proxy that can turn half-open.
      alpacaConfig: { ...alpaca.config(1_000), streamUrl: `ws://127.0.0.1:${proxy.port}/stream` },
    });
    const audit = createMemoryAuditLog();
    const signals: { at: number; snapshot: BrokerOrderSnapshot }[] = [];
    const client = {
      workflow: {
        getHandle: () => ({
          signal: (_def: unknown, snapshot: BrokerOrderSnapshot) => {
            signals.push({ at: Date.now(), snapshot });
            return Promise.resolve();
          },
        }),
      },
    } as unknown as Pick<Client, 'workflow'>;
    const relay = new OrderEventRelay({
      broker: 'alpaca',
      deps: { brokers: registry, audit },
      client,
      log: { info: () => undefined, warn: () => undefined },
    });
    const updates: OrderUpdate[] = [];
    const errors: Error[] = [];
    let drops = 0;
    const factory = registry.orderUpdates!('alpaca')!;
    stream = factory({
      onUpdate: (u) => {
        updates.push(u);
        return relay.onUpdate(u);
      },
      onReconnect: () => relay.reconcile('reconnect'),
      onError: (err) => void errors.push(err),
      livenessTimeoutMs: LIVENESS_MS,
      onLivenessDrop: () => {
        drops += 1;
      },
    });
    await stream.start();
    expect(proxy.accepted()).toBe(1);

    const placed = await broker.submitLimitOrder({
      clientOrderId: `fg-${Math.random().toString(36).slice(2)}`,
      symbol: 'TSLA',
      side: 'buy',
      quantity: 100,
      limitPrice: '249.93',
      timeInForce: 'day',
    });
    await waitFor(() => updates.some((u) => u.event === 'new'), 3_000);

    // A quiet account is not a dead link: pongs keep it alive well past the bound.
    await sleep(LIVENESS_MS * 1.5);
    expect(drops).toBe(0);
    expect(proxy.accepted()).toBe(1);

    // Half-open: no close frame, no FIN. The stand-in's fill goes into the void on the old link.
    expect(proxy.silence()).toBe(1);
    const silencedAt = Date.now();
    alpaca.fill(placed.brokerOrderId, 40, '249.90');

    const filled40 = () => signals.find((s) => s.snapshot.filledQuantity === 40);
    await waitFor(() => filled40() !== undefined, 10_000);
    const reachedMs = filled40()!.at - silencedAt;
    // Detection within 1.25 × the bound, then the first backoff step, a handshake and one REST round.
    const boundMs = LIVENESS_MS * 1.25 + FIRST_BACKOFF_MS + 1_000;
    expect(reachedMs).toBeLessThanOrEqual(boundMs);
    expect(drops).toBe(1);
    expect(proxy.accepted()).toBe(2);
    // It came by REST reconciliation, not over the stream (which never replays).
    expect(updates.some((u) => u.event === 'partial_fill')).toBe(false);
    expect(
      audit.records.some(
        (r) => r.event === 'list_open' && (r.detail as { reason?: string } | undefined)?.reason === 'reconnect',
      ),
    ).toBe(true);
    expect(errors.some((e) => /no message or pong/.test(e.message))).toBe(true);

    // The new link delivers again.
    alpaca.fill(placed.brokerOrderId, 60, '249.93');
    await waitFor(() => updates.some((u) => u.event === 'fill'), 3_000);
    await relay.idle();
    expect(signals.at(-1)!.snapshot).toMatchObject({ state: 'filled', filledQuantity: 100 });
    console.log(
      `alpaca: silent link replaced and the fill made meanwhile signalled ${reachedMs} ms after the link went half-open (bound ${boundMs} ms at liveness ${LIVENESS_MS} ms)`,
    );
  }, 15_000);
});
