import { createAuditLog } from '../../../src/activities/audit';
import { ValidationError } from '../../../src/domain/validation';
import { correlationFromArgs } from '../../../src/observability/activity-correlation';
import {
  createLogger,
  createScrubber,
  secretValuesFromEnv,
  setRootLogger,
  toLogSafe,
} from '../../../src/observability/logger';
import { readObservabilityEnv } from '../../../src/observability/observability-env';
import { coreLogLevel } from '../../../src/observability/runtime';
import { PinoTemporalLogger, temporalFields } from '../../../src/observability/temporal-logging';

const ALPACA_SECRET = 'alpaca-secret-9f8e7d6c5b4a';
const ALPACA_KEY_ID = 'PKLIVEKEY0123456789';
const POLYGON_KEY = 'polygonKeyAbC123xyz';
const RH_TOKEN = 'rh-token-eyJhbGciOiJIUzI1NiJ9';
const ENV = {
  ALPACA_SECRET_KEY: ALPACA_SECRET,
  ALPACA_KEY_ID,
  POLYGON_API_KEY: POLYGON_KEY,
  ROBINHOOD_TOKEN: RH_TOKEN,
  FLOWGUARD_LOG_LEVEL: 'debug',
};

function capture(env: NodeJS.ProcessEnv = ENV) {
  const lines: string[] = [];
  const logger = createLogger({ env, destination: { write: (s: string) => void lines.push(s) } });
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logger', () => {
  it('writes one JSON object per line with level label, ISO time, name and message', () => {
    const { logger, lines, records } = capture();
    logger.info({ clientOrderId: 'c-1' }, 'order placed');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const [r] = records();
    expect(r).toMatchObject({ level: 'info', name: 'flowguard', clientOrderId: 'c-1', msg: 'order placed' });
    expect(new Date(r!.time as string).toISOString()).toBe(r!.time);
  });

  it('takes its level from FLOWGUARD_LOG_LEVEL (default info) and rejects unknown levels by name', () => {
    expect(capture({ FLOWGUARD_LOG_LEVEL: 'WARN' }).logger.level).toBe('warn');
    expect(capture({}).logger.level).toBe('info');
    const { logger, lines } = capture({ FLOWGUARD_LOG_LEVEL: 'warn' });
    logger.info('hidden');
    logger.warn('shown');
    expect(lines).toHaveLength(1);
    expect(() => readObservabilityEnv({ FLOWGUARD_LOG_LEVEL: 'loud' })).toThrow(ValidationError);
    try {
      readObservabilityEnv({ FLOWGUARD_LOG_LEVEL: 'loud' });
    } catch (err) {
      expect((err as ValidationError).issues[0]).toMatchObject({ field: 'FLOWGUARD_LOG_LEVEL' });
    }
    expect(() => readObservabilityEnv({ FLOWGUARD_METRICS_PORT: '70000' })).toThrow(ValidationError);
    expect(readObservabilityEnv({})).toMatchObject({
      FLOWGUARD_METRICS_PORT: 9464,
      FLOWGUARD_TEMPORAL_METRICS_PORT: 0,
    });
    expect(coreLogLevel('silent')).toBe('ERROR');
    expect(coreLogLevel('debug')).toBe('DEBUG');
  });

  it('never writes a secret, whichever route it takes into the log call', () => {
    const { logger, lines } = capture();
    const url = `https://api.polygon.io/v3/trades/TSLA?order=asc&apiKey=${POLYGON_KEY}&limit=1`;
    // by key
    logger.info({ headers: { 'APCA-API-SECRET-KEY': ALPACA_SECRET, 'APCA-API-KEY-ID': ALPACA_KEY_ID } }, 'request');
    logger.info({ config: { apiKey: POLYGON_KEY }, token: RH_TOKEN, secretKey: ALPACA_SECRET }, 'keys');
    // in a URL, in the message, in interpolation
    logger.info({ url }, `GET ${url} failed`);
    logger.warn('calling %s with %o', url, { nested: { url } });
    // in an error's message and stack, as first argument and under err
    const err = new Error(`Polygon request ${url} failed: 401`);
    logger.error(err);
    logger.error({ err }, 'wrapped');
    logger.error({
      err: Object.assign(new Error('boom'), { config: { headers: { Authorization: `Bearer ${RH_TOKEN}` } } }),
    });
    // free text that merely contains a configured secret, JSON-looking text, header-looking text, Bearer tokens
    logger.info(`the secret is ${ALPACA_SECRET} and the token ${RH_TOKEN}`);
    logger.info(`body {"api_key":"${POLYGON_KEY}","other":1}`);
    logger.info(`sent APCA-API-SECRET-KEY: ${ALPACA_SECRET}`);
    logger.info({ detail: `Authorization: Bearer ${RH_TOKEN}` }, 'auth');
    // child bindings
    logger.child({ apiKey: POLYGON_KEY, note: `key=${POLYGON_KEY}` }).info('child');
    const out = lines.join('');
    for (const secret of [ALPACA_SECRET, ALPACA_KEY_ID, POLYGON_KEY, RH_TOKEN]) expect(out).not.toContain(secret);
    expect(lines).toHaveLength(12);
    expect(out).toContain('apiKey=***');
  });

  it('masks by pattern even when the secret is not a configured one', () => {
    const { logger, lines } = capture({});
    logger.info(`GET https://api.polygon.io/v3/quotes/SPY?apiKey=unknownKey777 and token=abcdef123456`);
    logger.info({ Authorization: 'Bearer xyz.abc.def' }, 'x');
    const out = lines.join('');
    expect(out).not.toContain('unknownKey777');
    expect(out).not.toContain('abcdef123456');
    expect(out).not.toContain('xyz.abc.def');
  });

  it('keeps errors readable: type, message, stack, code and cause', () => {
    const { logger, records } = capture();
    const cause = new RangeError('inner');
    const err = Object.assign(new Error('outer', { cause }), { code: 'E_OUTER' });
    logger.error(err);
    const [r] = records();
    expect(r!.msg).toBe('outer');
    expect(r!.err).toMatchObject({ type: 'Error', message: 'outer', code: 'E_OUTER', cause: { type: 'RangeError' } });
    expect(String((r!.err as { stack: string }).stack)).toContain('outer');
  });

  it('turns values JSON cannot hold into safe ones', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(
      toLogSafe({
        n: 10n ** 20n,
        d: new Date(0),
        m: new Map([['k', 1]]),
        s: new Set([1]),
        buf: Buffer.from('abc'),
        cyclic,
      }),
    ).toEqual({
      n: '100000000000000000000',
      d: '1970-01-01T00:00:00.000Z',
      m: { k: 1 },
      s: [1],
      buf: '[3 bytes]',
      cyclic: { a: 1, self: '[Circular]' },
    });
  });

  it('collects configured secrets from the environment, ignoring short or unrelated values', () => {
    const secrets = secretValuesFromEnv({
      POLYGON_API_KEY: POLYGON_KEY,
      ALPACA_KEY_ID,
      ROBINHOOD_ACCOUNT_NUMBER: '5RH12345678',
      TEMPORAL_API_KEY: 'short',
      TEMPORAL_TASK_QUEUE: 'flowguard-queue',
      npm_config_token: 'lowercase-name-ignored',
    });
    expect(secrets.sort()).toEqual(['5RH12345678', ALPACA_KEY_ID, POLYGON_KEY].sort());
    expect(createScrubber(['abcdefgh'])('x abcdefgh y')).toBe('x *** y');
  });
});

describe('Temporal log forwarding', () => {
  it('writes SDK entries as JSON lines with their metadata, runId naming and no task token', () => {
    const { logger, records } = capture();
    const seen: string[] = [];
    const temporal = new PinoTemporalLogger(logger, [(_l, message) => void seen.push(message)]);
    temporal.info('order state changed', {
      [Symbol.for('log_timestamp')]: 1_700_000_000_123_000_000n,
      sdkComponent: 'workflow',
      workflowId: 'order:c-1',
      runId: 'run-1',
      workflowType: 'orderWorkflow',
      from: 'queued',
      to: 'filled',
    });
    temporal.warn('Activity failed', {
      sdkComponent: 'worker',
      workflowId: 'order:c-1',
      workflowRunId: 'run-1',
      activityType: 'submitOrder',
      attempt: 2,
      taskToken: 'c2VjcmV0LXRhc2stdG9rZW4=',
      clientOrderId: 'c-1',
      error: new Error(`https://paper-api.alpaca.markets/v2/orders?apiKey=${POLYGON_KEY}`),
    });
    temporal.trace('too detailed', {});
    const [wf, act] = records();
    expect(wf).toMatchObject({
      level: 'info',
      msg: 'order state changed',
      sdkComponent: 'workflow',
      workflowId: 'order:c-1',
      runId: 'run-1',
      eventTime: '2023-11-14T22:13:20.123Z',
    });
    expect(act).toMatchObject({ level: 'warn', runId: 'run-1', activityType: 'submitOrder', attempt: 2 });
    expect(act).not.toHaveProperty('taskToken');
    expect(act).not.toHaveProperty('workflowRunId');
    expect(JSON.stringify(act)).not.toContain(POLYGON_KEY);
    expect(records()).toHaveLength(2); // trace is below the debug level
    expect(seen).toEqual(['order state changed', 'Activity failed', 'too detailed']); // observers see everything
    expect(temporalFields({ a: 1 })).toEqual({ a: 1 });
  });

  it('puts activity input ids on activity log lines', () => {
    expect(
      correlationFromArgs([
        { broker: 'alpaca', order: { clientOrderId: 'c-9', symbol: 'TSLA' }, brokerOrderId: 'b-1' },
      ]),
    ).toEqual({ broker: 'alpaca', clientOrderId: 'c-9', brokerOrderId: 'b-1' });
    expect(correlationFromArgs([{ positionId: 'pos-1' }])).toEqual({ positionId: 'pos-1' });
    expect(correlationFromArgs([])).toEqual({});
    expect(correlationFromArgs(['x'])).toEqual({});
  });

  it('sends audit records through the shared logger, masked', () => {
    const { logger, records } = capture();
    setRootLogger(logger);
    createAuditLog().record({
      event: 'submit',
      broker: 'alpaca',
      outcome: 'error',
      clientOrderId: 'c-1',
      detail: { headers: { 'APCA-API-SECRET-KEY': ALPACA_SECRET } },
      error: { type: 'BrokerUnauthorized', message: `rejected key ${ALPACA_KEY_ID}` },
    });
    const [r] = records();
    expect(r).toMatchObject({ component: 'audit', event: 'submit', clientOrderId: 'c-1', msg: 'broker submit' });
    expect(JSON.stringify(r)).not.toContain(ALPACA_SECRET);
    expect(JSON.stringify(r)).not.toContain(ALPACA_KEY_ID);
  });
});
