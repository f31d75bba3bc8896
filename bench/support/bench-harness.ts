/** What the benchmarks share: percentiles, and running a bench so everything it started is stopped however it ends. */

/** The q-quantile (0–1) of ascending samples, nearest-rank; NaN for none. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

const cleanups: (() => Promise<void>)[] = [];

/** Registers something to stop when the bench ends (run in reverse order of registration). */
export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`cleanup: ${String(err)}\n`);
    }
  }
}

/**
 * Runs `main`, then stops everything registered with onCleanup and exits: 0, 1 on failure (after `onFailure`,
 * which prints what was measured so far), 130 on Ctrl-C or SIGTERM.
 */
export function runBench(main: () => Promise<void>, onFailure: () => void = () => undefined): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`\n${signal}: stopping everything the bench started...\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  main()
    .then(cleanup)
    .then(() => process.exit(0))
    .catch(async (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      onFailure();
      await cleanup();
      process.exit(1);
    });
}
