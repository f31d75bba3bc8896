#!/usr/bin/env bash
# Prints the path of a usable `temporal` CLI on stdout (progress goes to stderr), obtaining one if needed:
#   1. $TEMPORAL_CLI if set;  2. `temporal` on PATH (>= 1.5);  3. a cached build;
#   4. a build from the Go module pinned in tools/temporal-cli/go.mod (the one place the version lives).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
module_dir="$root/tools/temporal-cli"
version="$(sed -n 's/^require github.com\/temporalio\/cli v\([0-9.]*\)$/\1/p' "$module_dir/go.mod")"
[ -n "$version" ] || { echo "temporal-cli: cannot read the pinned version from $module_dir/go.mod" >&2; exit 1; }
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/flowguard/temporal-cli-$version"
cached="$cache_dir/temporal"

log() { echo "temporal-cli: $*" >&2; }

version_ok() { # accepts 1.5.0 and newer
  local v
  v="$("$1" --version 2>/dev/null | sed -n 's/.*version \([0-9][0-9.]*\).*/\1/p' | head -n1)"
  [ -n "$v" ] || return 1
  local major minor
  major="${v%%.*}"; minor="${v#*.}"; minor="${minor%%.*}"
  [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge 5 ]; }
}

if [ -n "${TEMPORAL_CLI:-}" ]; then
  [ -x "$TEMPORAL_CLI" ] || { log "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable file"; exit 1; }
  echo "$TEMPORAL_CLI"; exit 0
fi

if on_path="$(command -v temporal 2>/dev/null)" && version_ok "$on_path"; then
  echo "$on_path"; exit 0
fi

if [ -x "$cached" ] && version_ok "$cached"; then
  echo "$cached"; exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<MSG
temporal-cli: no Temporal CLI found and no Go toolchain to build one.
Install the Temporal CLI (>= 1.5) with one of:
  brew install temporal
  curl -sSf https://temporal.download/cli.sh | sh     (the official installer)
or set TEMPORAL_CLI=/path/to/temporal, or install Go >= 1.26 so flowguard can build it,
or run the whole stack with 'docker compose up' on a machine with Docker.
MSG
  exit 1
fi

log "building Temporal CLI $version from its Go module (first run only: module downloads and several minutes of compile)"
mkdir -p "$cache_dir"
tmp="$(mktemp "$cache_dir/temporal.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
(
  cd "$module_dir"
  log "downloading modules..."
  go mod download -x 2>&1 | grep -c '^# get' | sed 's/^/temporal-cli: modules fetched: /' >&2 || true
  log "compiling..."
  CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/temporalio/cli/internal/temporalcli.Version=$version" \
    -o "$tmp" github.com/temporalio/cli/cmd/temporal
)
chmod +x "$tmp"
mv -f "$tmp" "$cached"
trap - EXIT
log "built $cached"
echo "$cached"
