/**
 * The worker's Prometheus endpoint: GET /metrics answers flowguard's registry followed by the Temporal
 * runtime's own metrics, which Core exports on a loopback port and this server re-exports, so one scrape
 * target per worker holds both (`flowguard_*` and `temporal_*` families never overlap).
 */
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { type Logger } from './logger';
import { type MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from './metrics';

export interface MetricsServerOptions {
  readonly registry: MetricsRegistry;
  readonly port: number;
  readonly host?: string;
  /** Temporal Core's Prometheus exporter, e.g. http://127.0.0.1:9465/metrics. */
  readonly temporalMetricsUrl?: string;
  readonly logger?: Logger;
  /** Per scrape of Temporal's exporter; default 2000 ms. */
  readonly upstreamTimeoutMs?: number;
}

export interface MetricsServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry } = options;
  const upstreamUp = options.temporalMetricsUrl
    ? registry.gauge({
        name: 'flowguard_temporal_metrics_up',
        help: "1 when the Temporal runtime's metrics were included in this scrape, 0 when they could not be read.",
      })
    : undefined;

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    void scrape().then(
      (body) => {
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        options.logger?.error({ err }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics scrape failed\n');
      },
    );
  });

  async function scrape(): Promise<string> {
    let temporal = '';
    if (options.temporalMetricsUrl && upstreamUp) {
      try {
        temporal = await fetchText(options.temporalMetricsUrl, options.upstreamTimeoutMs ?? 2000);
        upstreamUp.set({}, 1);
      } catch (err) {
        upstreamUp.set({}, 0);
        options.logger?.warn({ err, url: options.temporalMetricsUrl }, 'could not read Temporal runtime metrics');
      }
    }
    const own = registry.render();
    if (temporal === '') return own;
    return `${own}${temporal.endsWith('\n') ? temporal : `${temporal}\n`}`;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = !options.host || options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    port,
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function fetchText(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return res.text();
}
