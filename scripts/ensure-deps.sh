#!/usr/bin/env bash
# Installs npm dependencies when node_modules is missing or older than package-lock.json, then builds dist/ when
# it is missing or older than the sources (the CLI, bin/flowguard.js, runs dist/ when current: it starts fast).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp="node_modules/.flowguard-lock-hash"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "== installing npm dependencies"
  # `npm install` rather than `npm ci`: npm 11 writes lock files without other platforms' optional
  # binaries (swc, esbuild) and `npm ci` then refuses them as out of sync.
  npm install --no-audit --no-fund
  echo "$want" > "$stamp"
fi
if ! node bin/dist-current.js; then
  echo "== building dist/ (npm run build)"
  # A build that fails (a type error mid-edit) leaves the CLI on the sources through tsx; typecheck reports it.
  npx --no-install tsc -p tsconfig.build.json || { rm -f dist/client.js; echo "build failed: the CLI runs src/ through tsx"; }
fi
