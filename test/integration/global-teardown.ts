import fs from 'node:fs';
import { readIntegrationState } from '../support/integration-env';

export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__FLOWGUARD_DEV_SERVER__;
  let tempDir: string | undefined;
  try {
    tempDir = readIntegrationState().tempDir;
  } catch {
    /* setup failed before writing state */
  }
  await server?.stop();
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
}
