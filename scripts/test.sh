#!/usr/bin/env bash
# `npm test`: the whole suite from a fresh clone. Installs what is missing (npm packages, the Temporal
# CLI), then runs lint + typecheck, the unit tests and the integration tests against a real dev server.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }

node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=3)?0:1)' || {
  echo "flowguard needs Node.js >= 20.3 (found $(node --version))" >&2; exit 1; }

bash scripts/ensure-deps.sh || exit 1

step "Temporal CLI"
TEMPORAL_CLI="$(bash scripts/temporal-cli.sh)" || exit 1
export TEMPORAL_CLI
echo "using $TEMPORAL_CLI ($("$TEMPORAL_CLI" --version))"

# The cluster failover test (test/integration/cluster-failover.test.ts) runs on Temporal + PostgreSQL: its Go
# binaries are built once here (about 2-3 minutes after the CLI, then cached); FLOWGUARD_CLUSTER_TESTS=0 skips both.
if [ "${FLOWGUARD_CLUSTER_TESTS:-}" != "0" ]; then
  step "Temporal server for the cluster test"
  if dir="$(bash scripts/cluster-build.sh)"; then echo "using $dir"
  else echo "cluster binaries not built: the cluster failover test will be skipped"; fi
fi

step "browser for the Temporal UI test"
bash scripts/ensure-browser.sh || exit 1
# docker-compose.yml is checked by a YAML parser in the unit tests (test/unit/ops/deployment-files.test.ts):
# nothing is installed for it.

failed=0
step "lint + typecheck"
npx --no-install eslint . || failed=1
npx --no-install prettier --check . >/dev/null || { echo "prettier: files need formatting (npm run format)"; failed=1; }
npx --no-install tsc -p tsconfig.json --noEmit || failed=1
[ "$failed" -eq 0 ] && echo "lint + typecheck clean"

step "unit + integration tests"
results=".jest-results.json"
rm -f "$results"
NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning" \
  npx --no-install jest --ci --forceExit --json --outputFile="$results" "$@" || failed=1

if [ -f "$results" ]; then
  node -e '
    const r = require(process.argv[1]);
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`\nTests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  ' "$PWD/$results"
fi
exit "$failed"
