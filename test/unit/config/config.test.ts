import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load-config';
import {
  AppConfigSchema,
  CONFIG_ENV_VARS,
  CONFIG_FILE_ENV,
  DEFAULT_APP_CONFIG,
  REGULAR_SESSION,
  renderConfigEnvTable,
  resolveConfig,
} from '../../../src/domain/config';
import { ValidationError, type ValidationIssue } from '../../../src/domain/validation';

function issuesOf(fn: () => unknown): ValidationIssue[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return [...err.issues];
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('defaults', () => {
  it('has the documented order and market-data defaults', () => {
    expect(resolveConfig({ env: {} })).toEqual(DEFAULT_APP_CONFIG);
    expect(DEFAULT_APP_CONFIG.orders).toEqual({
      offsetMode: 'bps',
      buyOffset: '15',
      sellOffset: '10',
      maxSlippagePct: '0.5',
      strategies: {},
      pollIntervalSeconds: 15,
      maxQuantity: 100_000,
      maxNotional: '10000000',
      brokerEvents: true,
      maxBrokerWaitSeconds: 60,
      unknownOutcomeWindowSeconds: 60,
      retry: { maximumAttempts: 3, initialIntervalMs: 1000, backoffCoefficient: 2 },
    });
    expect(DEFAULT_APP_CONFIG.marketData).toEqual({
      rateLimitPerSecond: 5,
      pollIntervalSeconds: 2,
      streamLivenessSeconds: 10,
      staleCheck: true,
      sessions: [REGULAR_SESSION],
    });
    expect(REGULAR_SESSION).toMatchObject({ start: '09:30', end: '16:00', timeZone: 'America/New_York' });
    expect(DEFAULT_APP_CONFIG.detectors.largeOrderSize).toBe(10_000);
  });
});

describe('layering: defaults ← file ← environment', () => {
  it('the file overrides defaults and the environment overrides the file', () => {
    const config = resolveConfig({
      env: { FLOWGUARD_ORDER_BUY_OFFSET: '20', FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE: '25000' },
      file: {
        orders: { buyOffset: 5, sellOffset: 7, retry: { maximumAttempts: 5 } },
        detectors: { largeOrderSize: 20000 },
      },
    });
    expect(config.orders).toMatchObject({
      buyOffset: '20',
      sellOffset: '7',
      retry: { maximumAttempts: 5, initialIntervalMs: 1000 },
    });
    expect(config.detectors.largeOrderSize).toBe(25_000);
  });

  it('treats empty environment values as unset', () => {
    expect(
      resolveConfig({ env: { FLOWGUARD_ORDER_BUY_OFFSET: '' }, file: { orders: { buyOffset: 5 } } }).orders.buyOffset,
    ).toBe('5');
  });

  it('reads strategies from the file', () => {
    const config = resolveConfig({ env: {}, file: { orders: { strategies: { scalp: { buyOffset: 5 } } } } });
    expect(config.orders.strategies).toEqual({ scalp: { buyOffset: '5' } });
  });

  it('keeps JSON decimals exact: 0.04 stays "0.04"', () => {
    const config = resolveConfig({
      env: {},
      file: { orders: { offsetMode: 'absolute', buyOffset: 0.04, sellOffset: 0.03 } },
    });
    expect(config.orders).toMatchObject({ buyOffset: '0.04', sellOffset: '0.03' });
  });
});

describe('errors name the environment variable or the JSON path', () => {
  it.each([
    [
      { FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE: 'lots' },
      'FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE',
      'must be a number such as 10000, 2.5 or 1e4',
    ],
    [
      { FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE: '0x2710' },
      'FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE',
      'must be a number such as 10000, 2.5 or 1e4',
    ],
    [
      { FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE: '1e400' },
      'FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE',
      'must be a number such as 10000, 2.5 or 1e4',
    ],
    [{ FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE: '1.00005e4' }, 'FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE', 'must be an integer'],
    [{ FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE: '500' }, 'FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE', 'must be ≥ 1000'],
    [{ FLOWGUARD_ORDER_POLL_INTERVAL_SECONDS: '301' }, 'FLOWGUARD_ORDER_POLL_INTERVAL_SECONDS', 'must be ≤ 300'],
    [{ FLOWGUARD_ORDER_POLL_INTERVAL_SECONDS: '1.5' }, 'FLOWGUARD_ORDER_POLL_INTERVAL_SECONDS', 'must be an integer'],
    [{ FLOWGUARD_ORDER_OFFSET_MODE: 'pct' }, 'FLOWGUARD_ORDER_OFFSET_MODE', 'must be bps or absolute'],
    [{ FLOWGUARD_ORDER_MAX_SLIPPAGE_PCT: '50' }, 'FLOWGUARD_ORDER_MAX_SLIPPAGE_PCT', 'must be ≤ 10'],
    [
      { FLOWGUARD_ORDER_BUY_OFFSET: '60' },
      'FLOWGUARD_ORDER_BUY_OFFSET',
      '60 bps exceeds maxSlippagePct 0.5% (at most 50 bps)',
    ],
    [
      { FLOWGUARD_MARKET_DATA_RATE_LIMIT_PER_SECOND: '0' },
      'FLOWGUARD_MARKET_DATA_RATE_LIMIT_PER_SECOND',
      'must be > 0',
    ],
  ])('env %j → %s: %s', (env, field, rule) => {
    expect(issuesOf(() => resolveConfig({ env }))).toEqual([{ field, rule }]);
  });

  it.each([
    [{ orders: { pollIntervalSeconds: 0 } }, 'orders.pollIntervalSeconds', 'must be ≥ 1'],
    [
      { orders: { strategies: { scalp: { sellOffset: 'x' } } } },
      'orders.strategies.scalp.sellOffset',
      'must be a non-negative decimal number such as 15 or 0.04',
    ],
    [
      { orders: { strategies: { abs: { offsetMode: 'absolute', buyOffset: 0.05 } } } },
      'orders.strategies.abs.sellOffset',
      "is required when the strategy's offsetMode (absolute) differs from the default (bps): the default 10 bps would otherwise become $10",
    ],
    [
      { orders: { strategies: { 'bad name': {} } } },
      'orders.strategies.bad name',
      'strategy names must be 1–64 letters, digits, _ or -',
    ],
    [
      { detectors: { volumeSpikeThreshold: 5, redBurstThreshold: 4 } },
      'detectors.redBurstThreshold',
      'must be ≥ volumeSpikeThreshold (5)',
    ],
    [
      { marketData: { sessions: [{ ...REGULAR_SESSION, timeZone: 'Mars/Olympus' }] } },
      'marketData.sessions.0.timeZone',
      'must be an IANA time zone such as America/New_York',
    ],
    [
      { marketData: { sessions: [{ ...REGULAR_SESSION, start: '16:00', end: '09:30' }] } },
      'marketData.sessions.0.end',
      'must be after start',
    ],
    [{ marketData: { sessions: [] } }, 'marketData.sessions', 'must list at least one session'],
  ])('file %j → %s: %s', (file, field, rule) => {
    expect(issuesOf(() => resolveConfig({ env: {}, file }))).toEqual([{ field, rule }]);
  });

  it('names unknown keys in the file', () => {
    const [issue] = issuesOf(() => resolveConfig({ env: {}, file: { orders: { buyOfset: 5 } } }));
    expect(issue).toEqual({ field: 'orders', rule: 'Unrecognized key: "buyOfset"' });
  });

  it('refuses a file that is not a JSON object', () => {
    expect(issuesOf(() => resolveConfig({ env: {}, file: [1] }))).toEqual([
      { field: CONFIG_FILE_ENV, rule: 'the file must contain a JSON object' },
    ]);
  });

  it('reports env and file problems together', () => {
    const fields = issuesOf(() =>
      resolveConfig({ env: { FLOWGUARD_DETECTOR_EXIT_ALERT_COUNT: 'x' }, file: { detectors: { baselineMinutes: 0 } } }),
    ).map((i) => i.field);
    expect(fields.sort()).toEqual(['FLOWGUARD_DETECTOR_EXIT_ALERT_COUNT', 'detectors.baselineMinutes']);
  });
});

describe('numbers in the environment', () => {
  it.each([
    ['1e4', 10_000],
    ['1E4', 10_000],
    ['2.5e4', 25_000],
    ['+12000', 12_000],
    ['12000.', 12_000],
  ])('%s reads as %d', (raw, value) => {
    expect(resolveConfig({ env: { FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE: raw } }).detectors.largeOrderSize).toBe(value);
  });

  it('reads fractions in exponent notation', () => {
    expect(
      resolveConfig({ env: { FLOWGUARD_DETECTOR_RED_BURST_SELL_SHARE: '7.5e-1' } }).detectors.redBurstSellShare,
    ).toBe(0.75);
  });
});

describe('a setting raised past a default it must stay below names itself and the variable to raise', () => {
  it('volume spike threshold above the default red-burst threshold (the documented range allows it)', () => {
    expect(issuesOf(() => resolveConfig({ env: { FLOWGUARD_DETECTOR_VOLUME_SPIKE_THRESHOLD: '5' } }))).toEqual([
      {
        field: 'FLOWGUARD_DETECTOR_VOLUME_SPIKE_THRESHOLD',
        rule:
          '5 is above the default redBurstThreshold of 4, which must be ≥ volumeSpikeThreshold: raise ' +
          'FLOWGUARD_DETECTOR_RED_BURST_THRESHOLD (detectors.redBurstThreshold in the config file) to at least 5 too',
      },
    ]);
  });

  it('works for a value from the file, naming its JSON path', () => {
    expect(issuesOf(() => resolveConfig({ env: {}, file: { detectors: { staleWarnSeconds: 40 } } }))).toEqual([
      {
        field: 'detectors.staleWarnSeconds',
        rule:
          '40 is above the default staleRejectSeconds of 30, which must be ≥ staleWarnSeconds: raise ' +
          'FLOWGUARD_DETECTOR_STALE_REJECT_SECONDS (detectors.staleRejectSeconds in the config file) to at least 40 too',
      },
    ]);
  });

  it('raising both is accepted; a red-burst threshold the user set too low is still blamed on it', () => {
    expect(
      resolveConfig({
        env: { FLOWGUARD_DETECTOR_VOLUME_SPIKE_THRESHOLD: '5', FLOWGUARD_DETECTOR_RED_BURST_THRESHOLD: '6' },
      }).detectors,
    ).toMatchObject({ volumeSpikeThreshold: 5, redBurstThreshold: 6 });
    expect(
      issuesOf(() =>
        resolveConfig({
          env: { FLOWGUARD_DETECTOR_VOLUME_SPIKE_THRESHOLD: '5' },
          file: { detectors: { redBurstThreshold: 4.5 } },
        }),
      ),
    ).toEqual([{ field: 'detectors.redBurstThreshold', rule: 'must be ≥ volumeSpikeThreshold (5)' }]);
  });
});

describe('CONFIG_ENV_VARS', () => {
  it('derives each name mechanically from the JSON path', () => {
    const byPath = Object.fromEntries(CONFIG_ENV_VARS.map((v) => [v.path, v.name]));
    expect(byPath['detectors.largeOrderSize']).toBe('FLOWGUARD_DETECTOR_LARGE_ORDER_SIZE');
    expect(byPath['orders.buyOffset']).toBe('FLOWGUARD_ORDER_BUY_OFFSET');
    expect(byPath['orders.retry.maximumAttempts']).toBe('FLOWGUARD_ORDER_RETRY_MAXIMUM_ATTEMPTS');
    expect(byPath['marketData.rateLimitPerSecond']).toBe('FLOWGUARD_MARKET_DATA_RATE_LIMIT_PER_SECOND');
    expect(byPath['orders.strategies']).toBeUndefined();
    expect(new Set(CONFIG_ENV_VARS.map((v) => v.name)).size).toBe(CONFIG_ENV_VARS.length);
  });

  it('describes every variable (the README is generated from this table)', () => {
    expect(CONFIG_ENV_VARS.filter((v) => v.description === '').map((v) => v.name)).toEqual([]);
  });

  it('renders a Markdown table with one row per variable', () => {
    const lines = renderConfigEnvTable().split('\n');
    expect(lines).toHaveLength(CONFIG_ENV_VARS.length + 2);
    expect(lines).toContain(
      '| `FLOWGUARD_ORDER_BUY_OFFSET` | `orders.buyOffset` | 15 | buy limit below the reference, in offsetMode units |',
    );
  });

  it('every variable set to its documented default reproduces the defaults', () => {
    const env = Object.fromEntries(CONFIG_ENV_VARS.map((v) => [v.name, v.default]));
    expect(resolveConfig({ env })).toEqual(DEFAULT_APP_CONFIG);
  });

  it('every variable reaches its path', () => {
    for (const v of CONFIG_ENV_VARS) {
      const [section, ...rest] = v.path.split('.');
      // Change each value to something else valid and check it lands at the path.
      const alternatives: Record<string, string> = {
        'detectors.quoteSizeUnit': 'round_lots',
        'detectors.largeOrderNotional': '500000',
        'orders.offsetMode': 'absolute',
        'orders.brokerEvents': 'false',
        'marketData.staleCheck': 'false',
        'positions.autoExit': 'true',
        'positions.dataMode': 'stream',
        'notifications.minSeverity': 'critical',
      };
      const value =
        alternatives[v.path] ??
        (v.path === 'detectors.redBurstThreshold'
          ? '5'
          : v.path.endsWith('Offset')
            ? '1'
            : String(Number(v.default) + (v.default.includes('.') ? 0.05 : 1)));
      const env: Record<string, string> = { [v.name]: value };
      if (v.path === 'orders.offsetMode')
        Object.assign(env, { FLOWGUARD_ORDER_BUY_OFFSET: '0.01', FLOWGUARD_ORDER_SELL_OFFSET: '0.01' });
      const config = AppConfigSchema.parse(resolveConfig({ env }));
      let node: unknown = config[section as keyof typeof config];
      for (const k of rest) node = (node as Record<string, unknown>)[k];
      expect(String(node)).toBe(String(v.kind === 'number' ? Number(value) : value));
    }
  });
});

describe('loadConfig (I/O)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowguard-config-'));

  it('reads the file named by FLOWGUARD_CONFIG and lets the environment win', async () => {
    const file = join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify({ orders: { sellOffset: 8, strategies: { s: { buyOffset: 3 } } } }));
    const config = await loadConfig({ [CONFIG_FILE_ENV]: file, FLOWGUARD_ORDER_SELL_OFFSET: '9' });
    expect(config.orders).toMatchObject({ sellOffset: '9', strategies: { s: { buyOffset: '3' } } });
  });

  it('names FLOWGUARD_CONFIG for a missing or malformed file', async () => {
    await expect(loadConfig({ [CONFIG_FILE_ENV]: join(dir, 'missing.json') })).rejects.toThrow(
      /^FLOWGUARD_CONFIG: cannot read .*missing\.json: no such file$/,
    );
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "orders": ');
    await expect(loadConfig({ [CONFIG_FILE_ENV]: bad })).rejects.toThrow(
      /^FLOWGUARD_CONFIG: .*bad\.json is not valid JSON/,
    );
  });

  it('works without a file', async () => {
    await expect(loadConfig({})).resolves.toEqual(DEFAULT_APP_CONFIG);
  });
});
