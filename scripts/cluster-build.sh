#!/usr/bin/env bash
# Prints the directory holding the cluster's Go binaries on stdout (progress goes to stderr), building them once:
#   temporal-server     go.temporal.io/server/cmd/server            (the server, all four services in one process)
#   temporal-sql-tool   go.temporal.io/server/cmd/tools/sql         (creates and upgrades the PostgreSQL schema)
#   temporal-ui-server  github.com/temporalio/ui-server/v2/cmd/server (the Web UI)
# Versions are pinned in tools/temporal-server/go.mod (the one place they live), a module of its own so the CLI's
# module (tools/temporal-cli) stays byte-identical. Cached in ~/.cache/flowguard/temporal-server-<v>-ui-<v>/;
# $FLOWGUARD_CLUSTER_BIN_DIR, if set, is used as is.
#
#   scripts/cluster-build.sh            build when missing, print the directory
#   scripts/cluster-build.sh --check    exit 0 when all three are cached (nothing built), 1 otherwise
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
module_dir="$root/tools/temporal-server"
pin() { sed -n "s|^[[:space:]]*$1 v\([0-9][0-9.]*\)$|\1|p" "$module_dir/go.mod" | head -n1; }
server_version="$(pin go.temporal.io/server)"
ui_version="$(pin 'github.com/temporalio/ui-server/v2')"
[ -n "$server_version" ] && [ -n "$ui_version" ] ||
  { echo "cluster-build: cannot read the pinned versions from $module_dir/go.mod" >&2; exit 1; }
cache_dir="${FLOWGUARD_CLUSTER_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flowguard/temporal-server-$server_version-ui-$ui_version}"

log() { echo "cluster-build: $*" >&2; }

# name → Go package
declare -A packages=(
  [temporal-server]=go.temporal.io/server/cmd/server
  [temporal-sql-tool]=go.temporal.io/server/cmd/tools/sql
  [temporal-ui-server]=github.com/temporalio/ui-server/v2/cmd/server
)
order=(temporal-sql-tool temporal-server temporal-ui-server)

missing=()
for name in "${order[@]}"; do [ -x "$cache_dir/$name" ] || missing+=("$name"); done
if [ "${1:-}" = "--check" ]; then [ "${#missing[@]}" -eq 0 ]; exit; fi
if [ "${#missing[@]}" -eq 0 ]; then echo "$cache_dir"; exit 0; fi
if [ -n "${FLOWGUARD_CLUSTER_BIN_DIR:-}" ]; then
  log "FLOWGUARD_CLUSTER_BIN_DIR=$FLOWGUARD_CLUSTER_BIN_DIR lacks ${missing[*]}"; exit 1
fi
command -v go >/dev/null 2>&1 || {
  log "no Go toolchain (>= 1.26) to build ${missing[*]}; install Go, or run the stack with 'docker compose up'"
  exit 1
}

interval="${TEMPORAL_CLI_PROGRESS_SECONDS:-10}"
mkdir -p "$cache_dir"
build_log="$cache_dir/build.log"
: >"$build_log"
# CGO off: the SQLite driver is then pure Go and the CLI's build cache is reused (with cgo on it recompiles for
# minutes in ~2.4 GB of RAM).
log "building ${missing[*]} (Temporal server $server_version, UI $ui_version) from their Go modules, first run" \
  "only: minutes on 2 cores (less when the Temporal CLI was built here); log: $build_log"
started=$SECONDS
elapsed() { local s=$((SECONDS - started)); printf '%d:%02d' $((s / 60)) $((s % 60)); }

tmp=""
running=""
trap '[ -z "$running" ] || kill "$running" 2>/dev/null; [ -z "$tmp" ] || rm -f "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$module_dir"

log "downloading modules (nothing to fetch when Go's module cache has them)..."
go mod download >>"$build_log" 2>&1 || { log "downloading modules failed:"; tail -n 20 "$build_log" >&2; exit 1; }

for name in "${missing[@]}"; do
  pkg="${packages[$name]}"
  total="$(CGO_ENABLED=0 go list -deps "$pkg" 2>>"$build_log" | wc -l || true)"
  from="$(wc -l <"$build_log")"
  tmp="$(mktemp "$cache_dir/$name.XXXXXX")"
  log "[$(elapsed)] compiling $name ($pkg, $total packages; those already in Go's build cache are skipped)"
  # -v names each package as it is compiled: the progress line counts them.
  CGO_ENABLED=0 go build -v -trimpath -ldflags "-s -w" -o "$tmp" "$pkg" >>"$build_log" 2>&1 &
  running=$!
  next=$((SECONDS + interval))
  while kill -0 "$running" 2>/dev/null; do
    sleep 1
    if [ "$SECONDS" -ge "$next" ] && kill -0 "$running" 2>/dev/null; then
      built="$(tail -n "+$((from + 1))" "$build_log" | grep -vc '^#' || true)"
      last="$(tail -n "+$((from + 1))" "$build_log" | grep -v '^#' | tail -n 1)"
      log "[$(elapsed)] $name: $built packages compiled${last:+ (last: $last)}"
      next=$((SECONDS + interval))
    fi
  done
  status=0
  wait "$running" || status=$?
  running=""
  if [ "$status" -ne 0 ]; then
    log "compiling $name failed after $(elapsed); the last lines of $build_log:"
    tail -n 20 "$build_log" >&2
    exit 1
  fi
  chmod +x "$tmp"
  mv -f "$tmp" "$cache_dir/$name"
  tmp=""
  log "[$(elapsed)] built $cache_dir/$name"
done
trap - EXIT
echo "$cache_dir"
