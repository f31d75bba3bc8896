// `npm run temporal [-- --port N --ui-port N]`: the dev server with the Web UI and a persisted database for local
// use. Ports: the flags, else TEMPORAL_PORT / TEMPORAL_UI_PORT, else 7233 / 8233.
import fs from 'node:fs';
import path from 'node:path';
import { reportError } from '../src/cli/io';
import {
  devServerPorts,
  portFree,
  resolveTemporalCli,
  startDevServer,
  UI_VIEWS,
  uiViewUrl,
} from '../src/dev/temporal-dev-server';

async function main(): Promise<void> {
  // Checked before the CLI is resolved (a first build takes minutes): a typo fails at once.
  const { port, uiPort } = devServerPorts(process.argv.slice(2));
  for (const [p, what] of [
    [port, 'gRPC port (--port / TEMPORAL_PORT)'],
    [uiPort, 'Web UI port (--ui-port / TEMPORAL_UI_PORT)'],
  ] as const) {
    if (!(await portFree(p))) {
      throw new Error(`${what} ${p} is already in use (another Temporal server?); choose another, e.g. --port 7300`);
    }
  }
  // The same folder as the paper broker's store, so one variable moves all local state (tests use a temporary one).
  const dataDir = path.resolve(process.env.FLOWGUARD_DATA_DIR || path.join(__dirname, '..', '.data'));
  fs.mkdirSync(dataDir, { recursive: true });
  const cli = await resolveTemporalCli();
  const server = await startDevServer({
    cli,
    port,
    uiPort,
    dbFile: path.join(dataDir, 'temporal.sqlite'),
    foreground: true,
    // A killed `npm run temporal` (SIGKILL, a closed terminal) must not leave the server running on its ports.
    watchdog: true,
  });
  console.log(`Temporal dev server on ${server.address}; Web UI at ${server.uiUrl}. Ctrl-C stops it.`);
  if (server.uiUrl) {
    // Columns and saved views live in the browser: README "Temporal UI views" says how to add them once.
    for (const view of UI_VIEWS) {
      console.log(
        `  ${view.name} (columns ${view.columns.join(', ')}): ${uiViewUrl(server.uiUrl, 'default', view.query)}`,
      );
    }
  }
  if (port !== 7233) console.log(`Point the worker and the CLI at it: export TEMPORAL_ADDRESS=${server.address}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log('stopping the Temporal dev server…');
    void server.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  server.process.once('exit', (code) => {
    if (stopping) console.log('stopped');
    process.exit(stopping ? 0 : (code ?? 1));
  });
}

main().catch((err: unknown) => {
  process.exit(reportError(err));
});
