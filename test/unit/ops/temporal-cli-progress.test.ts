import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * scripts/temporal-cli.sh builds the Temporal CLI on a first run, which takes minutes. A fake `go` that is slow
 * the way the real one is (module zips one by one, then packages one by one) checks the script says what it is
 * doing and never stays quiet longer than its progress interval, without a real five-minute build.
 */

const ROOT = join(__dirname, '..', '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'temporal-cli.sh');

const FAKE_GO = `#!/bin/bash
# Fake go: "mod download -x", "list -deps", "build -v ... -o OUT" only; FAKE_GO_FAIL=build fails the compile.
case "$1 $2" in
  "mod download")
    for i in 1 2 3 4 5 6; do
      echo "# get https://proxy.golang.org/example.com/m$i/@v/v1.0.0.zip" >&2
      sleep 0.5
      echo "# get https://proxy.golang.org/example.com/m$i/@v/v1.0.0.zip: 200 OK (0.5s)" >&2
    done ;;
  "list -deps")
    printf 'runtime\\nexample.com/m1\\nexample.com/m2\\ngithub.com/temporalio/cli/cmd/temporal\\n' ;;
  "build -v")
    for p in runtime example.com/m1 example.com/m2; do echo "$p" >&2; sleep 1; done
    if [ "$FAKE_GO_FAIL" = build ]; then echo "cmd/temporal/main.go:1: syntax error" >&2; exit 1; fi
    echo github.com/temporalio/cli/cmd/temporal >&2
    while [ "$1" != -o ]; do shift; done
    printf '#!/bin/sh\\necho "temporal version 1.8.2"\\n' >"$2" ;;
  *) echo "fake go: unexpected $*" >&2; exit 2 ;;
esac
`;

interface Line {
  readonly atMs: number;
  readonly text: string;
}

function runScript(dir: string, extraEnv: Record<string, string> = {}, killAfterMs?: number) {
  const bin = join(dir, 'bin');
  return new Promise<{ code: number | null; stdout: string; lines: Line[] }>((resolve) => {
    const child = spawn('bash', [SCRIPT], {
      env: {
        // No TEMPORAL_CLI and no temporal on PATH: the script must build, with the fake go.
        PATH: `${bin}:/usr/bin:/bin`,
        HOME: dir,
        XDG_CACHE_HOME: join(dir, 'cache'),
        TEMPORAL_CLI_PROGRESS_SECONDS: '1',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = Date.now();
    if (killAfterMs !== undefined) setTimeout(() => child.kill('SIGTERM'), killAfterMs);
    let stdout = '';
    let pending = '';
    const lines: Line[] = [];
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      pending += b.toString();
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const text of parts) lines.push({ atMs: Date.now() - started, text });
    });
    child.on('close', (code) => resolve({ code, stdout, lines }));
  });
}

jest.setTimeout(60_000);

describe('scripts/temporal-cli.sh first build', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'flowguard-temporal-cli-'));
    // The fake lives in bin/ so that PATH holds it and nothing else of ours.
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'go'), FAKE_GO);
    chmodSync(join(dir, 'bin', 'go'), 0o755);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names the step, the expected minutes and the log, then reports progress until it is built', async () => {
    const { code, stdout, lines } = await runScript(dir);
    const texts = lines.map((l) => l.text);
    const cached = join(dir, 'cache', 'flowguard', 'temporal-cli-1.8.2', 'temporal');
    expect({ code, stdout }).toEqual({ code: 0, stdout: `${cached}\n` });
    expect(texts[0]).toMatch(/^temporal-cli: building Temporal CLI 1\.8\.2 from its Go module \(first run only\)/);
    expect(texts[0]).toContain('about 5 minutes');
    expect(texts[0]).toContain(`log: ${join(dir, 'cache', 'flowguard', 'temporal-cli-1.8.2', 'build.log')}`);
    expect(
      texts.some((t) =>
        /^temporal-cli: \[0:0\d\] downloading modules: [1-6] fetched so far \(about \d+ in all/.test(t),
      ),
    ).toBe(true);
    expect(texts.some((t) => /^temporal-cli: \[0:\d\d\] compiling: [1-4] of 4 packages \(last: \S+\)$/.test(t))).toBe(
      true,
    );
    expect(texts[texts.length - 1]).toMatch(new RegExp(`^temporal-cli: built ${cached} in 0:\\d\\d$`));
    // Never quiet for longer than the interval (1 s here, 10 s by default) plus scheduling slack.
    const gaps = lines.slice(1).map((l, i) => l.atMs - lines[i]!.atMs);
    expect(Math.max(...gaps)).toBeLessThan(2500);
    // The go tool's own output is in the log, not on the terminal.
    expect(readFileSync(join(dir, 'cache', 'flowguard', 'temporal-cli-1.8.2', 'build.log'), 'utf8')).toContain(
      'example.com/m6/@v/v1.0.0.zip: 200 OK',
    );
    expect(texts.some((t) => t.includes('proxy.golang.org'))).toBe(false);
  });

  it('a killed build stops the go command it started', async () => {
    const { code } = await runScript(dir, {}, 1500);
    expect(code).not.toBe(0);
    const log = join(dir, 'cache', 'flowguard', 'temporal-cli-1.8.2', 'build.log');
    const atExit = readFileSync(log, 'utf8');
    // The fake download writes a line every 0.5 s for 6 s: a survivor would keep writing.
    await new Promise((r) => setTimeout(r, 1500));
    expect(readFileSync(log, 'utf8')).toBe(atExit);
    expect(atExit).not.toContain('m6/@v/v1.0.0.zip: 200 OK');
  });

  it('a failed compile exits 1 naming the step and showing the end of the log', async () => {
    const { code, stdout, lines } = await runScript(dir, { FAKE_GO_FAIL: 'build' });
    const texts = lines.map((l) => l.text);
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
    expect(texts).toContainEqual(
      expect.stringMatching(/^temporal-cli: compiling failed after 0:\d\d; the last lines of /),
    );
    expect(texts).toContain('cmd/temporal/main.go:1: syntax error');
    // No half-written binary is left to be mistaken for a build.
    expect(existsSync(join(dir, 'cache', 'flowguard', 'temporal-cli-1.8.2', 'temporal'))).toBe(false);
  });
});
