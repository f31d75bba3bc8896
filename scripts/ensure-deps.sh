#!/usr/bin/env bash
# Installs npm dependencies when node_modules is missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp="node_modules/.flowguard-lock-hash"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
echo "== installing npm dependencies"
# `npm install` rather than `npm ci`: npm 11 writes lock files without other platforms' optional
# binaries (swc, esbuild) and `npm ci` then refuses them as out of sync.
npm install --no-audit --no-fund
echo "$want" > "$stamp"
