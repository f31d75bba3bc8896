import { CONFIG_ENV_VARS, CONFIG_FILE_ENV } from '../domain/config';
import { NOTIFY_ENV_NAMES } from '../notifications/destinations';

/**
 * FLOWGUARD_* variables read outside the configuration table (CONFIG_ENV_VARS). A misspelled name is otherwise
 * silently ignored, so every name flowguard reads is listed here and anything else gets a warning.
 */
const OTHER_FLOWGUARD_VARS = [
  CONFIG_FILE_ENV,
  'FLOWGUARD_DATA_DIR',
  'FLOWGUARD_ACCOUNT',
  'FLOWGUARD_MAX_CONCURRENT_ACTIVITIES',
  'FLOWGUARD_LOG_LEVEL',
  'FLOWGUARD_LOG_FORMAT',
  'FLOWGUARD_METRICS_PORT',
  'FLOWGUARD_METRICS_HOST',
  'FLOWGUARD_TEMPORAL_METRICS_PORT',
  'FLOWGUARD_HEALTH_BROKERS',
  'FLOWGUARD_WORKFLOW_BUNDLE',
  'FLOWGUARD_POSITIONS_WATCH',
  ...NOTIFY_ENV_NAMES,
  // Read by the scripts and the test suite, which start workers and the CLI with them set.
  'FLOWGUARD_CHROMIUM',
  'FLOWGUARD_UPDATE_SCREENSHOTS',
  'FLOWGUARD_IT_STATE',
  'FLOWGUARD_IT_SUGGEST_CAN',
  'FLOWGUARD_TEST_LOG_LEVEL',
  'FLOWGUARD_CLUSTER_TESTS',
  'FLOWGUARD_CLUSTER_BIN_DIR',
];

export const KNOWN_FLOWGUARD_VARS: ReadonlySet<string> = new Set([
  ...CONFIG_ENV_VARS.map((v) => v.name),
  ...OTHER_FLOWGUARD_VARS,
]);

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** One warning per FLOWGUARD_* variable flowguard does not read, with the closest real name when there is one. */
export function unknownFlowguardVariables(env: Readonly<Record<string, string | undefined>>): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith('FLOWGUARD_') && !KNOWN_FLOWGUARD_VARS.has(name))
    .sort()
    .map((name) => {
      let best: { name: string; distance: number } | undefined;
      for (const known of KNOWN_FLOWGUARD_VARS) {
        const distance = editDistance(name, known);
        if (best === undefined || distance < best.distance) best = { name: known, distance };
      }
      // Up to 3 edits is a typo (a dropped, doubled or swapped letter); further off, a guess would mislead.
      const hint = best !== undefined && best.distance <= 3 ? ` (did you mean ${best.name}?)` : '';
      return `${name} is not a flowguard setting and is ignored${hint}`;
    });
}

/** Writes the unknown-variable warnings to stderr, where they cannot mix with a command's output. */
export function warnUnknownFlowguardVariables(env: Readonly<Record<string, string | undefined>> = process.env): void {
  for (const warning of unknownFlowguardVariables(env)) process.stderr.write(`warning: ${warning}\n`);
}
