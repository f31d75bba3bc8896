/**
 * The Temporal Web UI, driven by headless Chromium (Debian's `chromium` package through playwright-core; a
 * browser download does not work on these machines, so scripts/ensure-browser.sh installs the package when
 * /usr/bin/chromium is missing). A condensed demo: a synthetic session through the Polygon stand-in, an
 * auto-exit monitor whose protective SELL fills on the paper broker; then the UI must find the monitor by
 * its Symbol search attribute and show the market-data activity and the exit order in its history.
 *
 * The shared integration server is headless, so this file starts its own dev server with the UI on free ports.
 * FLOWGUARD_UPDATE_SCREENSHOTS=1 also writes docs/temporal-ui-symbol-filter.png.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createMemoryAuditLog } from '../../src/activities/audit';
import { PaperBroker } from '../../src/brokers/paper/paper-broker';
import { MemoryPaperStore } from '../../src/brokers/paper/store';
import { createBrokerRegistry } from '../../src/brokers/registry';
import { monitorStatus, startMonitor } from '../../src/cli/monitor';
import { type CliContext } from '../../src/cli/temporal';
import { LIVE_TIMELINE, startMarketSimulator, type MarketSimulator } from '../../src/dev/market-simulator';
import { freePort, resolveTemporalCli, startDevServer, type DevServer } from '../../src/dev/temporal-dev-server';
import { ALWAYS_OPEN_SESSION, AppConfigSchema } from '../../src/domain/config';
import { createPolygonRest } from '../../src/market-data/polygon-rest';
import { polygonPriceSource } from '../../src/market-data/polygon-price-source';
import { TokenBucketRateLimiter } from '../../src/market-data/rate-limiter';
import { createWorker } from '../../src/worker';
import { type MonitorView } from '../../src/workflows/position-monitor';
import { readIntegrationState } from '../support/integration-env';

const ROOT = path.resolve(__dirname, '..', '..');
const SYMBOL = 'TSLA';
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const config = AppConfigSchema.parse({
  marketData: {
    pollIntervalSeconds: 1,
    sessions: [ALWAYS_OPEN_SESSION],
  },
  orders: { pollIntervalSeconds: 1, sellOffset: '0' },
});

describe('Temporal Web UI in headless Chromium', () => {
  let dir: string;
  let server: DevServer;
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let sim: MarketSimulator;
  let browser: BrowserContext;
  let chromiumPath: string;
  const taskQueue = `ui-${randomUUID().slice(0, 8)}`;
  const positionId = `tsla-ui-${randomUUID().slice(0, 8)}`;
  let exited: MonitorView;

  beforeAll(async () => {
    // Installs Debian's chromium when it is missing (root or passwordless sudo); prints its path.
    chromiumPath = execFileSync('bash', [path.join(ROOT, 'scripts', 'ensure-browser.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    try {
      // Worker lifecycle chatter drowns test output; keep warnings and errors.
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      /* a runtime already exists in this test file */
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowguard-ui-'));
    const [cli, port, uiPort] = await Promise.all([resolveTemporalCli(), freePort(), freePort()]);
    server = await startDevServer({ cli, port, uiPort, dbFile: path.join(dir, 'temporal.sqlite'), watchdog: true });
    env = await TestWorkflowEnvironment.createFromExistingServer({ address: server.address, namespace: 'default' });

    sim = await startMarketSimulator({ anchorMs: Date.now(), symbol: SYMBOL, seed: 7 });
    const rest = createPolygonRest({
      apiKey: sim.standIn.apiKey,
      baseUrl: sim.standIn.restUrl,
      rateLimiter: new TokenBucketRateLimiter({ ratePerSecond: 50 }),
    });
    const paper = new PaperBroker({ store: new MemoryPaperStore(), marketPrices: polygonPriceSource(() => rest) });
    worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: { codePath: readIntegrationState().bundlePath },
      deps: {
        polygon: () => rest,
        brokers: createBrokerRegistry({ overrides: { paper } }),
        audit: createMemoryAuditLog(),
      },
    });
    running = worker.run();
    browser = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
      executablePath: chromiumPath,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1440, height: 900 },
    });
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    worker?.shutdown();
    await running;
    await sim?.close();
    await env?.teardown();
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const ctx = (): CliContext => ({
    client: env.client,
    env: {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: taskQueue,
      TEMPORAL_TLS: false,
    },
  });

  async function waitFor(done: (v: MonitorView) => boolean, timeoutMs: number): Promise<MonitorView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await monitorStatus(ctx(), positionId);
      if (done(v)) return v;
      if (Date.now() > deadline) throw new Error(`monitor never got there: ${JSON.stringify(v).slice(0, 2000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function openWhenListed(page: Page, url: string, selector: string): Promise<void> {
    // Visibility lags the workflow by a moment: reload until the rows are there.
    const deadline = Date.now() + 30_000;
    for (;;) {
      await page.goto(url);
      try {
        await page.locator(selector).first().waitFor({ state: 'visible', timeout: 5_000 });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
    }
  }

  it('runs a condensed demo: the auto-exit monitor sees the institutional selling and its protective SELL fills', async () => {
    await startMonitor(
      ctx(),
      {
        symbol: SYMBOL,
        quantity: '500',
        entryPrice: '250.00',
        positionId,
        autoExit: true,
        broker: 'paper',
        account: 'ui-test',
      },
      config,
    );
    await waitFor((v) => v.live, 30_000);
    // Skip the wait: release the live tape up to just after the 25,000-share block (buyers absorbing at its price).
    sim.standIn.advanceTo(sim.session.anchorNs + BigInt(LIVE_TIMELINE.secondBlockMs + 1_500) * 1_000_000n);
    exited = await waitFor((v) => v.state === 'exited', 45_000);
    expect(exited.exitSignal?.reason).toBe('large_seller_cluster');
    expect(exited.exitOrder).toMatchObject({
      clientOrderId: `exit-${positionId}`,
      state: 'filled',
      filledQuantity: 500,
    });
  });

  it('finds the position by Symbol in the UI list and shows the market-data activity and the exit order in its history', async () => {
    expect(exited?.state).toBe('exited');
    const ui = server.uiUrl!;
    const page = await browser.newPage();
    const listUrl = `${ui}/namespaces/default/workflows?query=${encodeURIComponent(`Symbol="${SYMBOL}"`)}`;
    const monitorLink = `a[href*="/workflows/${encodeURIComponent(`position:${positionId}`)}/"]`;
    const exitLink = `a[href*="/workflows/${encodeURIComponent(`order:exit-${positionId}`)}/"]`;
    await openWhenListed(page, listUrl, monitorLink);
    // The protective SELL's order workflow carries the same Symbol.
    await page.locator(exitLink).first().waitFor({ state: 'visible', timeout: 10_000 });
    await expect(page.getByText('positionMonitorWorkflow').first().isVisible()).resolves.toBe(true);

    const artifacts = path.join(ROOT, '.data', 'test-artifacts');
    fs.mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'temporal-ui-symbol-filter.png') });
    if (process.env.FLOWGUARD_UPDATE_SCREENSHOTS === '1') {
      await page.screenshot({ path: path.join(ROOT, 'docs', 'temporal-ui-symbol-filter.png') });
    }

    await page.locator(monitorLink).first().click();
    await page.waitForURL(/\/workflows\/position%3A/, { timeout: 15_000 });
    // The workflow page's timeline names each activity and signal of the history.
    await page.getByText('pollMarketData').first().waitFor({ state: 'visible', timeout: 20_000 });
    await page.getByText('placeOrder', { exact: true }).first().waitFor({ state: 'visible', timeout: 10_000 });
    await page.getByText('orderTerminal', { exact: true }).first().waitFor({ state: 'visible', timeout: 10_000 });
    await page.screenshot({ path: path.join(artifacts, 'temporal-ui-monitor-timeline.png') });

    // The event history itself: the signal to the desk that placed the exit order.
    const runUrl = page.url().replace(/\/(timeline|history)(\?.*)?$/, '');
    await page.goto(`${runUrl}/history`);
    await page.getByText('Signal External Workflow Execution Initiated').first().waitFor({ timeout: 20_000 });
    await expect(page.locator('body').innerText()).resolves.toContain('placeOrder');
    await page.close();
  });
});
