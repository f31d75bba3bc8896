import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PaperBroker } from '../../../src/brokers/paper/paper-broker';
import { createBrokerRegistry } from '../../../src/brokers/registry';
import { checkPaperBroker } from '../../../src/cli/health';
import { createHealthActivities } from '../../../src/activities/health';
import { paperMarketFromEnv } from '../../../src/market-data/polygon-price-source';
import { type PolygonRest } from '../../../src/market-data/polygon-rest';

/** A Polygon client that must never be reached: the choice is made from the environment alone. */
const unreachable = (): Promise<PolygonRest> => Promise.reject(new Error('connect ECONNREFUSED'));

describe('what the worker hands the paper broker to fill against', () => {
  it('no Polygon key (unset or empty): no market source, orders rest until cancelled', () => {
    for (const env of [{}, { POLYGON_API_KEY: '' }, { POLYGON_API_KEY: '', POLYGON_BASE_URL: 'http://127.0.0.1:9' }]) {
      const choice = paperMarketFromEnv(env, unreachable);
      expect(choice.marketPrices).toBeUndefined();
      expect(choice.fillsAgainst).toBe('nothing: no market data configured (orders rest until cancelled)');
    }
  });

  it('a key: Polygon REST at POLYGON_BASE_URL (the real API by default, or a local stand-in)', () => {
    expect(paperMarketFromEnv({ POLYGON_API_KEY: 'k' }, unreachable).fillsAgainst).toBe(
      'Polygon REST at https://api.polygon.io',
    );
    const local = paperMarketFromEnv({ POLYGON_API_KEY: 'k', POLYGON_BASE_URL: 'http://127.0.0.1:9/' }, unreachable);
    expect(local.fillsAgainst).toBe('Polygon REST at http://127.0.0.1:9');
    expect(local.marketPrices?.description).toBe(local.fillsAgainst);
  });

  it('a key with invalid settings still selects Polygon and says why nothing fills', () => {
    const choice = paperMarketFromEnv({ POLYGON_API_KEY: 'k', POLYGON_BASE_URL: 'ftp://x' }, unreachable);
    expect(choice.marketPrices).toBeDefined();
    expect(choice.fillsAgainst).toMatch(/^Polygon REST, but its settings are invalid \(POLYGON_BASE_URL: .*\)/);
  });

  it('with no key the paper broker from the registry takes and lists orders without any network', async () => {
    const choice = paperMarketFromEnv({}, unreachable);
    const dataDir = await mkdtemp(join(tmpdir(), 'fg-paper-no-keys-'));
    const registry = createBrokerRegistry({
      env: {},
      dataDir,
      ...(choice.marketPrices ? { marketPrices: choice.marketPrices } : {}),
    });
    const paper = registry.get('paper') as PaperBroker;
    expect(paper.fillsAgainst).toBe(choice.fillsAgainst);
    const placed = await paper.submitLimitOrder({
      clientOrderId: 'fg-no-keys-1',
      symbol: 'TSLA',
      side: 'buy',
      quantity: 10,
      limitPrice: '250.00',
      timeInForce: 'day',
    });
    expect(placed.state).toBe('queued');
    expect(await paper.listOpenOrders()).toHaveLength(1);
    expect(await paper.cancelOrder(placed.brokerOrderId)).toMatchObject({ outcome: 'cancel_requested' });
    await rm(dataDir, { recursive: true, force: true });
  });

  it('with a key that does not work, a submit still creates the order (fills are deferred)', async () => {
    const choice = paperMarketFromEnv({ POLYGON_API_KEY: 'k', POLYGON_BASE_URL: 'http://127.0.0.1:9' }, unreachable);
    const paper = PaperBroker.inMemory(choice.marketPrices);
    const placed = await paper.submitLimitOrder({
      clientOrderId: 'fg-bad-key-1',
      symbol: 'TSLA',
      side: 'sell',
      quantity: 10,
      limitPrice: '250.00',
      timeInForce: 'day',
    });
    expect(placed.state).toBe('queued');
    expect((await paper.health()).marketData).toMatchObject({ configured: true, failures: 1 });
  });
});

describe('flowguard health: paper as its worker reports it', () => {
  const answer = { workflowId: 'w', requestedAt: 't', workerIdentity: 'worker-1', workerTime: 't', nodeVersion: 'v' };

  it('the ping carries the paper report; a writable store is ok and says what orders fill against', async () => {
    const paper = PaperBroker.inMemory();
    const health = createHealthActivities({
      workerIdentity: 'worker-1',
      now: () => new Date(),
      brokers: { get: () => paper },
    });
    const pinged = await health.ping();
    const check = checkPaperBroker({ ...answer, ...pinged });
    expect(check).toMatchObject({ name: 'broker:paper', ok: true, required: true });
    expect(check.detail).toBe(
      'embedded in worker-1: store memory (not durable) writable, 0 open order(s); fills against nothing: no market data configured (orders rest until cancelled)',
    );
  });

  it('market-data failures are stated but do not make paper unhealthy', () => {
    const check = checkPaperBroker({
      ...answer,
      paper: {
        store: { where: '.data/paper-broker.json', writable: true, error: null },
        openOrders: 2,
        marketData: {
          configured: true,
          fillsAgainst: 'Polygon REST at http://127.0.0.1:9',
          failures: 3,
          lastFailure: 'latestQuote(TSLA): Error: ECONNREFUSED',
          lastFailureAt: '2026-01-01T00:00:00.000Z',
          lastSuccessAt: null,
        },
      },
    });
    expect(check.ok).toBe(true);
    expect(check.detail).toContain('fills against Polygon REST at http://127.0.0.1:9; market data failed 3 time(s)');
  });

  it('an unusable store, a missing report or no worker are failures', () => {
    const unusable = checkPaperBroker({
      ...answer,
      paper: {
        store: { where: '/ro/paper.json', writable: false, error: 'EACCES: permission denied' },
        openOrders: null,
        marketData: {
          configured: false,
          fillsAgainst: 'nothing',
          failures: 0,
          lastFailure: null,
          lastFailureAt: null,
          lastSuccessAt: null,
        },
      },
    });
    expect(unusable).toMatchObject({
      ok: false,
      required: true,
      detail: 'store /ro/paper.json is not usable: EACCES: permission denied',
    });
    expect(checkPaperBroker({ ...answer })).toMatchObject({ ok: false, required: true });
    expect(checkPaperBroker(undefined)).toMatchObject({
      ok: false,
      detail: expect.stringContaining('no worker answered'),
    });
  });
});
