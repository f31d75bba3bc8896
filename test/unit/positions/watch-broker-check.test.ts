/**
 * `positions watch --broker alpaca` without Alpaca keys used to print "watching alpaca:…", exit 0 and leave a watch
 * sitting in broker_error. It is refused at once, as `order place` is, before anything reaches Temporal.
 */
import net from 'node:net';
import { assertBrokerConfigured } from '../../../src/cli/positions';
import { BrokerNotConfiguredError } from '../../../src/cli/orders';
import { runCli } from '../../support/cli';

const NO_KEYS = { ALPACA_KEY_ID: '', ALPACA_SECRET_KEY: '', ROBINHOOD_TOKEN: '', ROBINHOOD_ACCOUNT_NUMBER: '' };

describe('positions watch refuses a broker without configuration', () => {
  it('names the missing variables with the order CLI’s error class; paper and a configured broker pass', () => {
    expect(() => assertBrokerConfigured('alpaca', NO_KEYS)).toThrow(BrokerNotConfiguredError);
    expect(() => assertBrokerConfigured('alpaca', NO_KEYS)).toThrow(
      /alpaca broker is not configured: set ALPACA_KEY_ID/,
    );
    try {
      assertBrokerConfigured('robinhood', NO_KEYS);
      throw new Error('not refused');
    } catch (err) {
      expect((err as BrokerNotConfiguredError).missing).toEqual(
        expect.arrayContaining(['ROBINHOOD_TOKEN', 'ROBINHOOD_ACCOUNT_NUMBER']),
      );
    }
    expect(() => assertBrokerConfigured('paper', NO_KEYS)).not.toThrow();
    expect(() =>
      assertBrokerConfigured('alpaca', { ALPACA_KEY_ID: 'PKTESTKEYID', ALPACA_SECRET_KEY: 'secret-key-123456' }),
    ).not.toThrow();
  });

  it('the CLI exits 2 with the error before connecting to Temporal', async () => {
    // Nothing listens here: a CLI that went on to start the watch would fail differently (exit 1, connection).
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((r) => server.close(() => r()));
    const result = await runCli(['positions', 'watch', '--broker', 'alpaca'], {
      ...NO_KEYS,
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: watch refused: the alpaca broker is not configured: set ALPACA_KEY_ID/m);
    expect(result.stdout).not.toContain('watching');
  }, 60_000);
});
