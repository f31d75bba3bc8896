#!/usr/bin/env bash
# Prints the path of a usable `temporal` CLI on stdout (progress goes to stderr), obtaining one if needed:
#   1. $TEMPORAL_CLI if set;  2. `temporal` on PATH (>= 1.5);  3. a cached build;
#   4. a build from the Go module pinned in tools/temporal-cli/go.mod (the one place the version lives), with a
#      progress line at least every TEMPORAL_CLI_PROGRESS_SECONDS (10) and the go tool's output in a log.
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

# The first build is minutes of module downloads and compile on a small machine: say so up front, keep the
# go tool's own output in a log, and print a progress line at least every $interval seconds meanwhile.
interval="${TEMPORAL_CLI_PROGRESS_SECONDS:-10}"
mkdir -p "$cache_dir"
build_log="$cache_dir/build.log"
: >"$build_log"
log "building Temporal CLI $version from its Go module (first run only): about 5 minutes on 2 cores," \
  "module downloads then compile; log: $build_log"
started=$SECONDS
elapsed() { local s=$((SECONDS - started)); printf '%d:%02d' $((s / 60)) $((s % 60)); }

fail() {
  log "$1 failed after $(elapsed); the last lines of $build_log:"
  tail -n 20 "$build_log" >&2
  exit 1
}

# Runs "$@" with its output appended to the build log; while it runs, prints "[m:ss] <output of $1>" every
# $interval seconds. Returns the command's status.
with_progress() {
  local progress="$1"
  shift
  "$@" >>"$build_log" 2>&1 &
  running=$!
  local next=$((SECONDS + interval)) status=0
  while kill -0 "$running" 2>/dev/null; do
    sleep 1
    if [ "$SECONDS" -ge "$next" ] && kill -0 "$running" 2>/dev/null; then
      log "[$(elapsed)] $($progress)"
      next=$((SECONDS + interval))
    fi
  done
  wait "$running" || status=$?
  running=""
  return "$status"
}

# go.sum lists one line per module zip (besides the /go.mod lines): the download's rough total.
modules_total="$(grep -vc '/go.mod ' "$module_dir/go.sum" || true)"
download_progress() {
  local n
  n="$(grep -c '\.zip: 200 OK' "$build_log" || true)"
  echo "downloading modules: $n fetched so far (about $modules_total in all, fewer when Go's module cache has some)"
}

compile_from=0
packages_total=""
compile_progress() {
  local built last
  built="$(tail -n "+$((compile_from + 1))" "$build_log" | grep -vc '^#' || true)"
  last="$(tail -n "+$((compile_from + 1))" "$build_log" | grep -v '^#' | tail -n 1)"
  echo "compiling: $built${packages_total:+ of $packages_total} packages${last:+ (last: $last)}"
}

tmp="$(mktemp "$cache_dir/temporal.XXXXXX")"
running=""
# A build in the background must not outlive this script (Ctrl-C, a killed demo). Not SIGINT: a script's
# background jobs start with it ignored.
trap '[ -z "$running" ] || kill "$running" 2>/dev/null; rm -f "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$module_dir"
log "downloading modules..."
with_progress download_progress go mod download -x || fail "downloading modules"
log "modules ready after $(elapsed); compiling..."
packages_total="$(CGO_ENABLED=0 go list -deps github.com/temporalio/cli/cmd/temporal 2>>"$build_log" | wc -l || true)"
[ "${packages_total:-0}" -gt 0 ] || packages_total=""
compile_from="$(wc -l <"$build_log")"
# -v names each package as it is compiled: the compile's progress.
with_progress compile_progress env CGO_ENABLED=0 go build -v -trimpath \
  -ldflags "-s -w -X github.com/temporalio/cli/internal/temporalcli.Version=$version" \
  -o "$tmp" github.com/temporalio/cli/cmd/temporal || fail "compiling"
chmod +x "$tmp"
mv -f "$tmp" "$cached"
trap - EXIT
log "built $cached in $(elapsed)"
echo "$cached"
