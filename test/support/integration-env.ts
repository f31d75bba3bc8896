import fs from 'node:fs';

/** What the integration global setup hands to test files (one dev server and one bundle per run). */
export interface IntegrationState {
  readonly address: string;
  readonly namespace: string;
  readonly bundlePath: string;
  readonly serverPid: number;
  readonly tempDir: string;
}

export function stateFilePath(): string {
  const file = process.env.FLOWGUARD_IT_STATE;
  if (!file)
    throw new Error('FLOWGUARD_IT_STATE is not set: run integration tests with jest --selectProjects integration');
  return file;
}

export function readIntegrationState(): IntegrationState {
  const file = stateFilePath();
  return JSON.parse(fs.readFileSync(file, 'utf8')) as IntegrationState;
}
