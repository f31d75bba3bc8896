// `npm run temporal`: the dev server with the Web UI and a persisted database for local use.
import fs from 'node:fs';
import path from 'node:path';
import { resolveTemporalCli, startDevServer } from '../src/dev/temporal-dev-server';

async function main(): Promise<void> {
  const dataDir = path.resolve(__dirname, '..', '.data');
  fs.mkdirSync(dataDir, { recursive: true });
  const cli = await resolveTemporalCli();
  const server = await startDevServer({
    cli,
    port: Number(process.env.TEMPORAL_PORT ?? 7233),
    uiPort: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
    dbFile: path.join(dataDir, 'temporal.sqlite'),
    foreground: true,
  });
  console.log(`Temporal dev server on ${server.address}; Web UI at ${server.uiUrl}. Ctrl-C stops it.`);
  const stop = () => void server.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  server.process.once('exit', (code) => process.exit(code ?? 0));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
