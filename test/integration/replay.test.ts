import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { readIntegrationState } from '../support/integration-env';

/**
 * Histories recorded by earlier versions (test/fixtures/histories/record-histories.ts; `v0.4-704d636-poll-monitor-
 * continued-after-poll.json` is a run of monitor-mocked's continue-as-new test at that commit, on the time-skipping
 * server, which continued as new right after a poll, before its wait) must replay against the
 * workflow code of today: a change that alters what a running monitor does on replay (a command added, removed
 * or reordered without `patched`) would fail every monitor open across a deployment.
 */
const DIR = path.resolve(__dirname, '..', 'fixtures', 'histories');
const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json'));

describe('workflow histories of earlier versions replay against the current code', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
  });

  it.each(files)('%s', async (file) => {
    // Temporal's JSON history format, as `temporal workflow show --output json` writes it; the SDK converts it.
    const history: unknown = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'));
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath: readIntegrationState().bundlePath } }, history),
    ).resolves.toBeUndefined();
  });
});
