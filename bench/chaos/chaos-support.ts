/**
 * Pieces of the chaos bench that do not depend on flowguard: a seeded RNG, the fault mix, an HTTP proxy that
 * injects faults in front of the Polygon stand-in (the paper broker's only outside dependency), and a watchdog
 * that SIGKILLs the current worker if the bench itself dies.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { type AddressInfo, type Socket } from 'node:net';

// ── seeded randomness ───────────────────────────────────────────────────────────────────────────────

/** mulberry32: small, fast, good enough for a workload; one stream per concern so they do not steal draws. */
export class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  /** Picks a key by weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [k, w] of entries) {
      r -= w;
      if (r < 0) return k;
    }
    return entries[entries.length - 1]![0];
  }
}

// ── the fault mix ───────────────────────────────────────────────────────────────────────────────────

/**
 * The transient faults brokers really produce. Each is a different path through flowguard's error handling:
 *   status_503   refused before any effect (BrokerUnavailable)
 *   drop_reply   the request takes effect, the reply is lost (unknown outcome: must be resolved by lookup)
 *   delay        the reply comes after the adapter's timeout, and the effect lands late (issue 11, 1b)
 *   reset        the connection dies before anything happens
 *   rate_limit   429 with a Retry-After of a few seconds
 */
export const FAULT_WEIGHTS = { status_503: 0.3, drop_reply: 0.2, delay: 0.2, reset: 0.15, rate_limit: 0.15 } as const;
export type ChaosFaultKind = keyof typeof FAULT_WEIGHTS;

export interface ChaosFault {
  readonly kind: ChaosFaultKind;
  /** delay: how long before the request is handled; rate_limit: the Retry-After in seconds. */
  readonly value: number;
}

/** Decides per request, from its own seeded stream, whether and how it fails; counts what it injected. */
export class FaultInjector {
  enabled = false;
  readonly injected: Record<string, number> = {};
  requests = 0;
  private readonly rng: Rng;

  constructor(
    seed: number,
    private readonly rate: number,
    /** Delays must outlast the client's timeout to be a fault at all. */
    private readonly delayMs: readonly [number, number],
  ) {
    this.rng = new Rng(seed);
  }

  decide(route: string): ChaosFault | null {
    if (!this.enabled) return null;
    this.requests++;
    if (this.rng.next() >= this.rate) return null;
    const kind = this.rng.weighted(FAULT_WEIGHTS);
    const value =
      kind === 'delay'
        ? this.rng.int(this.delayMs[0], this.delayMs[1])
        : kind === 'rate_limit'
          ? this.rng.int(1, 5)
          : 0;
    const key = `${route} ${kind}`;
    this.injected[key] = (this.injected[key] ?? 0) + 1;
    return { kind, value };
  }

  total(): number {
    return Object.values(this.injected).reduce((s, n) => s + n, 0);
  }
}

// ── fault proxy (Polygon REST, for the paper broker) ────────────────────────────────────────────────

/** The Polygon route and symbol of a REST path, e.g. /v2/last/nbbo/AAPL → last-nbbo, AAPL. */
export function polygonRoute(pathname: string): { route: string; symbol: string | undefined } {
  const m =
    /^\/v2\/last\/(nbbo|trade)\/([^/]+)$/.exec(pathname) ?? /^\/v3\/(trades|quotes)\/([^/]+)$/.exec(pathname) ?? null;
  if (!m) return { route: 'other', symbol: undefined };
  const route = m[1] === 'nbbo' ? 'last-nbbo' : m[1] === 'trade' ? 'last-trade' : m[1]!;
  return { route, symbol: decodeURIComponent(m[2]!) };
}

/**
 * Forwards HTTP to `target`, failing the requests `decide` picks. The Polygon stand-in's own fault queue
 * (failNext) cannot pick requests at random or by symbol; a proxy can, without touching the stand-in.
 */
export class FaultProxy {
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly agent = new http.Agent({ keepAlive: true });
  private port = 0;

  constructor(
    private readonly target: URL,
    private readonly decide: (pathname: string) => ChaosFault | null,
  ) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const fault = url.pathname.startsWith('/_control/') ? null : this.decide(url.pathname);
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    switch (fault?.kind) {
      case 'status_503':
        return json(503, { status: 'ERROR', request_id: 'chaos', error: 'Service Unavailable' });
      case 'rate_limit':
        return json(
          429,
          { status: 'ERROR', request_id: 'chaos', error: 'You have exceeded the maximum requests per second.' },
          { 'retry-after': String(fault.value) },
        );
      case 'reset':
        req.socket.destroy();
        return;
      case 'delay':
        setTimeout(() => this.forward(req, res, false), fault.value);
        return;
      case 'drop_reply':
        return this.forward(req, res, true);
      default:
        return this.forward(req, res, false);
    }
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, dropReply: boolean): void {
    if (req.socket.destroyed) return;
    const upstream = http.request(
      {
        host: this.target.hostname,
        port: this.target.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: this.target.host },
        agent: this.agent,
      },
      (up) => {
        if (dropReply) {
          // The upstream answered (the request had its effect); the client never hears about it.
          up.resume();
          up.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  }
}

// ── watchdog ────────────────────────────────────────────────────────────────────────────────────────

/**
 * A detached process that SIGKILLs the pid written in `pidFile` once the bench is gone: the bench replaces
 * its worker a hundred times, so a fixed pid list (as the demo's watchdog takes) would not do.
 */
export function startPidFileWatchdog(pidFile: string): void {
  fs.writeFileSync(pidFile, '');
  const script = `
    const fs = require('node:fs');
    const [owner, file] = [Number(process.argv[1]), process.argv[2]];
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    setInterval(() => {
      if (alive(owner)) return;
      let pids = [];
      try { pids = fs.readFileSync(file, 'utf8').split(/\\s+/).filter(Boolean).map(Number); } catch {}
      for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch {} }
      process.exit(0);
    }, 300);`;
  const dog = spawn(process.execPath, ['-e', script, String(process.pid), pidFile], {
    detached: true,
    stdio: 'ignore',
  });
  dog.unref();
}
