/**
 * A TCP proxy that can turn its open connections into half-open links: `silence()` stops forwarding in both
 * directions without closing anything, as a NAT or load balancer that lost its state does. Neither end sees a
 * FIN or RST; only a liveness check notices. Connections made afterwards forward normally (a reconnect works).
 */
import net from 'node:net';

export interface SilentTcpProxy {
  readonly port: number;
  /** Connections accepted since start. */
  accepted(): number;
  /** Stops forwarding on every connection open now; returns how many. They stay open until `close()`. */
  silence(): number;
  close(): Promise<void>;
}

export async function startSilentTcpProxy(target: { host: string; port: number }): Promise<SilentTcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket; silent: boolean }>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted += 1;
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream, silent: false };
    pairs.add(pair);
    // Not pipe(): a silenced link must swallow what arrives instead of passing it or pushing back.
    client.on('data', (chunk) => {
      if (!pair.silent) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!pair.silent) client.write(chunk);
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // A silenced link hides the far end's close too: that is what makes it half-open.
    client.on('close', () => (pair.silent ? client.destroy() : end()));
    upstream.on('close', () => (pair.silent ? undefined : end()));
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    accepted: () => accepted,
    silence() {
      let n = 0;
      for (const pair of pairs) {
        if (!pair.silent) n += 1;
        pair.silent = true;
      }
      return n;
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
