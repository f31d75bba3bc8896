import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { freePort, resolveTemporalCli, startDevServer, type DevServer } from '../../src/dev/temporal-dev-server';
import { type IntegrationState } from '../support/integration-env';

declare global {
  var __FLOWGUARD_DEV_SERVER__: DevServer | undefined;
}

/**
 * One real Temporal dev server (temporary SQLite database, free ports) and one workflow bundle per run.
 * A watchdog kills the server if this process dies before teardown (Ctrl-C, SIGKILL, crash).
 */
export default async function globalSetup(): Promise<void> {
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowguard-it-'));
  const [cli, port] = await Promise.all([resolveTemporalCli(), freePort()]);
  const [server, bundle] = await Promise.all([
    startDevServer({
      cli,
      port,
      headless: true,
      dbFile: path.join(tempDir, 'temporal.sqlite'),
      watchdog: true,
      dynamicConfig: {
        // Small enough that long-running workflows prove they continue-as-new correctly under test.
        'limit.historyCount.suggestContinueAsNew': Number(process.env.FLOWGUARD_IT_SUGGEST_CAN ?? 200),
      },
    }),
    bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quietLogger }),
  ]);
  globalThis.__FLOWGUARD_DEV_SERVER__ = server;
  const bundlePath = path.join(tempDir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);
  const stateFile = path.join(tempDir, 'state.json');
  const state: IntegrationState = {
    address: server.address,
    namespace: 'default',
    bundlePath,
    serverPid: server.process.pid ?? -1,
    tempDir,
  };
  fs.writeFileSync(stateFile, JSON.stringify(state));
  process.env.FLOWGUARD_IT_STATE = stateFile;
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
