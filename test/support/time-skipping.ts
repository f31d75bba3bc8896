import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';

/**
 * Temporal's own time-skipping test server (the Java one, `io.temporal:temporal-test-server` on Maven Central),
 * for workflow tests with mocked activities: timers of minutes pass in milliseconds when nothing else is due.
 *
 * `TestWorkflowEnvironment.createTimeSkipping()` downloads a native build of it from temporal.download, which
 * this build machine cannot reach; Maven Central it can. So when `java` and `mvn` are installed the server's jars
 * are fetched once with Maven into ~/.cache/flowguard/temporal-test-server-<version>/ and run with java; without
 * them the SDK's own download is used.
 */
export const TEST_SERVER_VERSION = '1.27.0';

const CACHE = path.join(os.homedir(), '.cache', 'flowguard', `temporal-test-server-${TEST_SERVER_VERSION}`);

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The launcher script of the Maven-fetched server, fetching it first when needed; null without java and mvn. */
export function javaTestServer(): string | null {
  const launcher = path.join(CACHE, 'test-server-v3.sh');
  if (fs.existsSync(launcher)) return launcher;
  if (!onPath('java')) return null;
  if (fs.existsSync(path.join(CACHE, 'lib'))) return writeLauncher(launcher);
  if (!onPath('mvn')) return null;
  fs.mkdirSync(CACHE, { recursive: true });
  fs.writeFileSync(
    path.join(CACHE, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>flowguard</groupId><artifactId>temporal-test-server</artifactId><version>1</version>
<dependencies><dependency><groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId>
<version>${TEST_SERVER_VERSION}</version></dependency></dependencies></project>\n`,
  );
  execFileSync('mvn', ['-q', '-B', 'dependency:copy-dependencies', `-DoutputDirectory=${path.join(CACHE, 'lib')}`], {
    cwd: CACHE,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return writeLauncher(launcher);
}

/**
 * The JVM's own class-data archive of the server's classes (AppCDS, JDK 13+): with it the server listens in about a
 * third of the time and CPU, which counts: each mocked test file starts one, and a file whose clock stays held another.
 */
const CLASS_ARCHIVE = path.join(CACHE, 'classes.jsa');

function writeLauncher(launcher: string): string {
  // Quick start over peak speed: the SDK gives the server 5 s to answer on a machine that may be busy. A missing or
  // unusable archive only costs speed (-Xshare:auto); -Xlog:disable keeps the JVM's notes about it off the output.
  const script = `#!/bin/sh
SHARE=""
if [ -f "${CLASS_ARCHIVE}" ]; then SHARE="-XX:SharedArchiveFile=${CLASS_ARCHIVE} -Xshare:auto -Xlog:disable"; fi
exec java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC $SHARE -cp "${path.join(CACHE, 'lib')}/*" io.temporal.testserver.TestServer "$@"
`;
  fs.writeFileSync(`${launcher}.tmp`, script, { mode: 0o755 });
  fs.renameSync(`${launcher}.tmp`, launcher);
  return launcher;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Writes the class archive once: a server started with -XX:ArchiveClassesAtExit, stopped (SIGTERM) once it listens.
 * One process does it (a lock directory); the others start without the archive meanwhile. A failed attempt is not
 * repeated (remove classes.jsa.lock from the cache directory to try again).
 */
async function writeClassArchive(): Promise<void> {
  if (fs.existsSync(CLASS_ARCHIVE)) return;
  try {
    fs.mkdirSync(`${CLASS_ARCHIVE}.lock`);
  } catch {
    return;
  }
  const tmp = `${CLASS_ARCHIVE}.${process.pid}.tmp`;
  const port = await freePort();
  const java = spawn(
    'java',
    [
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      `-XX:ArchiveClassesAtExit=${tmp}`,
      '-Xlog:disable',
      '-cp',
      `${path.join(CACHE, 'lib')}/*`,
      'io.temporal.testserver.TestServer',
      String(port),
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => java.once('exit', resolve));
  for (let i = 0; i < 300 && java.exitCode === null && !(await listening(port)); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  java.kill('SIGTERM');
  await exited;
  if (fs.existsSync(tmp)) fs.renameSync(tmp, CLASS_ARCHIVE);
}

let runtimeInstalled = false;

export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    try {
      const level = process.env.FLOWGUARD_TEST_LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN';
      const out = new DefaultLogger(level);
      Runtime.install({
        // The mocked tests fail activities on purpose (throttling, exhaustion): their failures are results, not news.
        logger: new DefaultLogger(level, ({ level: l, message, meta }) => {
          if (message !== 'Activity failed' || level === 'DEBUG') out.log(l, message, meta);
        }),
      });
    } catch {
      /* a runtime already exists in this test file */
    }
  }
  const launcher = javaTestServer();
  if (launcher) await writeClassArchive();
  const start = () =>
    TestWorkflowEnvironment.createTimeSkipping(
      launcher ? { server: { executable: { type: 'existing-path', path: launcher } } } : {},
    );
  // The JVM may miss the SDK's 5 s start-up bound on a loaded machine; a second start finds its classes cached.
  return start().catch(start);
}
