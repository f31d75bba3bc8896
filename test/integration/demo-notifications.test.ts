/**
 * `npm run demo` end to end (issue 13: "the demo shows a notification arriving at a local receiver, printed in its
 * summary"): the script as a user runs it — its own Temporal dev server on free ports, worker, simulator and local
 * webhook receiver — and its summary must list the signed notifications the receiver got, the protective exit's
 * among them. About 1.5 minutes.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

jest.setTimeout(300_000);

function runDemo(): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // tsx's loader in this node (not `npm run demo`: ensure-deps may rebuild dist/ under a running suite).
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'demo.ts')], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', TEMPORAL_PORT: '', TEMPORAL_UI_PORT: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), 280_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('npm run demo', () => {
  it('prints the notifications its local webhook receiver got, each signed, the protective exit among them', async () => {
    const { code, out } = await runDemo();
    const summary = out.slice(out.indexOf('== Summary'));
    expect({ code, tail: code === 0 ? '' : out.slice(-3000) }).toEqual({ code: 0, tail: '' });
    const m =
      /notifications {2}(\d+) received by the local webhook http:\/\/127\.0\.0\.1:\d+ \((\d+)\/(\d+) with a valid HMAC-SHA256 signature/.exec(
        summary,
      );
    expect(m).not.toBeNull();
    const [received, signed] = [Number(m![1]), Number(m![2])];
    expect(received).toBeGreaterThanOrEqual(3);
    expect(signed).toBe(received);
    expect(summary).toMatch(/critical exit_signal {5}TSLA: EXIT SIGNAL/);
    expect(summary).toMatch(/warning {2}protective_exit TSLA: protective SELL filled, 500 @ /);
  });
});
