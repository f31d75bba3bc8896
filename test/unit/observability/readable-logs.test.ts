/**
 * Logs for a person (issue 12 item 8): FLOWGUARD_LOG_FORMAT=pretty gives one readable line per entry with the
 * same masking; JSON stays the default; business events carry an `event` field at info; webpack's bundle
 * statistics are debug; a warning's error has no stack.
 */
import { Writable } from 'node:stream';
import { shapeTemporalEntry, logAlerts } from '../../../src/observability/business-events';
import { createLogger } from '../../../src/observability/logger';
import { readObservabilityEnv } from '../../../src/observability/observability-env';
import { PinoTemporalLogger } from '../../../src/observability/temporal-logging';

const SECRET = 'sk-live-0123456789abcdef';

function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== ''),
  };
}

describe('FLOWGUARD_LOG_FORMAT', () => {
  it('is json by default, pretty on request (either case), and anything else is refused naming it', () => {
    expect(readObservabilityEnv({}).FLOWGUARD_LOG_FORMAT).toBe('json');
    expect(readObservabilityEnv({ FLOWGUARD_LOG_FORMAT: 'Pretty' }).FLOWGUARD_LOG_FORMAT).toBe('pretty');
    expect(() => readObservabilityEnv({ FLOWGUARD_LOG_FORMAT: 'xml' })).toThrow(
      'FLOWGUARD_LOG_FORMAT: must be one of json, pretty',
    );
  });

  it('pretty: one line per entry, time, level, message and fields, secrets masked as in JSON', () => {
    const out = sink();
    const logger = createLogger({
      env: { FLOWGUARD_LOG_FORMAT: 'pretty', ALPACA_SECRET_KEY: SECRET },
      destination: out.stream,
    });
    logger.info({ clientOrderId: 'fg-1', symbol: 'TSLA', event: 'order.filled' }, 'order state changed');
    logger.info({ url: `https://api.example.com/v2?apiKey=${SECRET}` }, `calling with ${SECRET}`);
    logger.flush();
    const lines = out.lines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: order state changed \{.*"event":"order.filled"/);
    expect(lines[0]).not.toMatch(/^\{/);
    expect(lines.join('\n')).not.toContain(SECRET);
    expect(lines[1]).toContain('calling with ***');
  });

  it('json stays the default: one JSON object a line', () => {
    const out = sink();
    const logger = createLogger({ env: {}, destination: out.stream });
    logger.info({ symbol: 'TSLA' }, 'hello');
    logger.flush();
    expect(JSON.parse(out.lines()[0]!)).toMatchObject({ level: 'info', msg: 'hello', symbol: 'TSLA' });
  });

  it('a warning carries its error without the stack; an error keeps it', () => {
    const out = sink();
    const logger = createLogger({ env: {}, destination: out.stream });
    logger.warn({ err: new Error('broker busy') }, 'poll failed; will poll again');
    logger.error({ err: new Error('broken') }, 'unexpected');
    logger.flush();
    const [warn, error] = out.lines().map((l) => JSON.parse(l) as { err: Record<string, unknown> });
    expect(warn!.err).toEqual({ type: 'Error', message: 'broker busy' });
    expect(String(error!.err.stack)).toContain('Error: broken');
  });
});

describe('business events', () => {
  const wf = { sdkComponent: 'workflow', workflowType: 'orderWorkflow', workflowId: 'order:fg-1' };

  it('order transitions, the exit signal and the end of a monitor carry their event', () => {
    expect(shapeTemporalEntry('INFO', 'order state changed', { ...wf, from: 'queued', to: 'filled' })).toEqual({
      level: 'INFO',
      message: 'order state changed',
      fields: { event: 'order.filled', ...wf, from: 'queued', to: 'filled' },
    });
    expect(shapeTemporalEntry('WARN', 'exit signal', { sdkComponent: 'workflow' }).fields.event).toBe('monitor.exit');
    expect(shapeTemporalEntry('INFO', 'monitor finished', { sdkComponent: 'workflow' }).fields.event).toBe(
      'monitor.finished',
    );
    // The same words from an activity are not the workflow's transition.
    expect(
      shapeTemporalEntry('INFO', 'order state changed', { sdkComponent: 'activity', to: 'filled' }).fields,
    ).toEqual({
      sdkComponent: 'activity',
      to: 'filled',
    });
  });

  it("a monitor run's start is raised from the SDK's debug line to info; other workflows' starts stay debug", () => {
    const started = shapeTemporalEntry('DEBUG', 'Workflow started', {
      sdkComponent: 'worker',
      workflowType: 'positionMonitorWorkflow',
      workflowId: 'position:tsla-1',
    });
    expect(started).toMatchObject({ level: 'INFO', message: 'monitor started', fields: { event: 'monitor.started' } });
    // However the SDK tags it (its sink composes sdkComponent 'workflow', the line itself says 'worker').
    expect(
      shapeTemporalEntry('DEBUG', 'Workflow started', {
        sdkComponent: 'workflow',
        workflowType: 'positionMonitorWorkflow',
      }).level,
    ).toBe('INFO');
    expect(shapeTemporalEntry('DEBUG', 'Workflow started', { ...wf, sdkComponent: 'worker' }).level).toBe('DEBUG');
  });

  it("webpack's bundle statistics are debug, not info", () => {
    const stats = 'asset workflow-bundle-1.js 1.2 MiB [emitted]\nwebpack 5.101.3 compiled successfully in 2210 ms';
    expect(shapeTemporalEntry('INFO', stats, { sdkComponent: 'worker' }).level).toBe('DEBUG');
    const out = sink();
    new PinoTemporalLogger(createLogger({ env: {}, destination: out.stream })).info(stats, { sdkComponent: 'worker' });
    expect(out.lines()).toEqual([]);
  });

  it('one info line per alert, naming symbol, kind, severity, price and rule', () => {
    const seen: [string, Record<string, unknown> | undefined][] = [];
    logAlerts({ info: (m, meta) => void seen.push([m, meta]) }, 'TSLA', [
      { kind: 'large_seller', severity: 'critical', price: '249.10', rule: '25000 shares at the bid' } as never,
    ]);
    expect(seen).toEqual([
      [
        'alert: critical large_seller TSLA @ 249.10',
        {
          event: 'monitor.alert',
          symbol: 'TSLA',
          kind: 'large_seller',
          severity: 'critical',
          price: '249.10',
          rule: '25000 shares at the bid',
        },
      ],
    ]);
  });
});
