#!/usr/bin/env bash
# Installs npm dependencies when node_modules is missing or older than package-lock.json, then builds dist/ when
# it is missing or older than the sources (the CLI, bin/flowguard.js, runs dist/ when current: it starts fast).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp="node_modules/.flowguard-lock-hash"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "== installing npm dependencies"
  if [ ! -e node_modules ]; then
    # A fresh clone (CI): exactly the lock file, which records every platform's optional binaries (swc,
    # esbuild) so npm 10 and 11 both accept it; `npm ci` never rewrites it.
    npm ci --no-audit --no-fund
  else
    # An existing tree (possibly shared, e.g. a symlinked node_modules): `npm ci` would delete it first.
    npm install --no-audit --no-fund
  fi
  echo "$want" > "$stamp"
fi
if ! node bin/dist-current.js; then
  echo "== building dist/ (npm run build)"
  # A build that fails (a type error mid-edit) leaves the CLI on the sources through tsx; typecheck reports it.
  npx --no-install tsc -p tsconfig.build.json || { rm -f dist/client.js; echo "build failed: the CLI runs src/ through tsx"; }
fi
