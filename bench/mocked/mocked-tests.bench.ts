/**
 * `npm run bench:mocked [-- --runs 3]`: the workflow tests with mocked activities (test/unit/workflows/*-mocked
 * .test.ts), each file run alone by Jest, one after the other, as issue 15 counts them ("under 30 s in total").
 * Prints, per file and in total, the median over the runs of Jest's own time for the file (module load, server and
 * worker start, the tests, the replay after the file) and of the tests alone; plus the load average, since the
 * machine may be shared.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const FILES = ['order', 'desk', 'monitor', 'positions-watch'].map((f) => `test/unit/workflows/${f}-mocked.test.ts`);
const i = process.argv.indexOf('--runs');
const RUNS = i >= 0 ? Number(process.argv[i + 1]) : 3;
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs must be a whole number of at least 1');

interface JestJson {
  readonly numFailedTests: number;
  readonly testResults: readonly {
    readonly startTime: number;
    readonly endTime: number;
    readonly assertionResults: readonly { readonly duration?: number | null }[];
  }[];
}

/** One Jest run of one file: its time and its tests' time, in ms. */
function runFile(file: string): { fileMs: number; testsMs: number; tests: number } {
  const out = path.join(os.tmpdir(), `flowguard-bench-mocked-${process.pid}.json`);
  const result = spawnSync(
    'npx',
    ['jest', '--selectProjects', 'unit', '--runTestsByPath', file, '--json', '--outputFile', out],
    {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '--experimental-vm-modules --no-warnings=ExperimentalWarning' },
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    },
  );
  const json = JSON.parse(fs.readFileSync(out, 'utf8')) as JestJson;
  fs.rmSync(out, { force: true });
  if (result.status !== 0 || json.numFailedTests > 0) {
    throw new Error(`${file} failed (exit ${result.status}):\n${result.stderr.slice(-3000)}`);
  }
  const [r] = json.testResults;
  return {
    fileMs: r!.endTime - r!.startTime,
    testsMs: r!.assertionResults.reduce((sum, a) => sum + (a.duration ?? 0), 0),
    tests: r!.assertionResults.length,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
// Read before the runs too: at the end the bench's own Jest runs are in the figure.
const loadBefore = load();
const rows: string[] = [];
let totalFile = 0;
let totalTests = 0;
for (const file of FILES) {
  const runs = Array.from({ length: RUNS }, () => runFile(file));
  const fileMs = median(runs.map((r) => r.fileMs));
  const testsMs = median(runs.map((r) => r.testsMs));
  totalFile += fileMs;
  totalTests += testsMs;
  rows.push(
    `  ${path.basename(file).padEnd(32)} ${String(runs[0]!.tests).padStart(2)} tests  file ${s(fileMs).padStart(7)}  tests ${s(testsMs).padStart(7)}  (runs: ${runs.map((r) => s(r.fileMs)).join(', ')})`,
  );
}
process.stdout.write(
  [
    `mocked-activity workflow tests, each file alone, median of ${RUNS} run(s); load average ${loadBefore} before, ${load()} after`,
    ...rows,
    `  total                                       file ${s(totalFile).padStart(7)}  tests ${s(totalTests).padStart(7)}`,
    '',
  ].join('\n'),
);
