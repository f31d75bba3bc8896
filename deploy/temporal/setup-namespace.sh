#!/bin/sh
# Creates the namespace and registers flowguard's search attributes (the list: ./search-attributes, kept equal
# to src/shared/contracts.ts by a unit test). Used by docker compose (temporal-setup) and `npm run cluster`.
# Needs `temporal` (the CLI) on PATH and TEMPORAL_ADDRESS. Idempotent: an attribute that already exists with the
# same type is accepted by the server; only a type conflict fails.
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"
list="$(dirname "$0")/search-attributes"
tries="${SETUP_TRIES:-120}"

# Runs "$@" until it succeeds, at most $tries times a second apart; the last failure's output is shown.
retry() {
  n=0
  until out="$("$@" 2>&1)"; do
    n=$((n + 1))
    if [ "$n" -ge "$tries" ]; then echo "$out" >&2; return 1; fi
    sleep 1
  done
}

retry temporal operator cluster health --address "$TEMPORAL_ADDRESS"
temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$ns" >/dev/null 2>&1 ||
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$ns" --retention 30d
# The describe above, run before the namespace existed, leaves a "not found" entry in the server's namespace
# cache for about a second: attributes created meanwhile fail with "Namespace default is not found". Wait until
# the namespace answers a search-attribute list before creating them.
retry temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$ns"
grep -v '^#' "$list" | while IFS='=' read -r name type; do
  [ -n "$name" ] || continue
  retry temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$ns" --name "$name" --type "$type"
done
# Read back: every attribute of the list is registered with its type, or this setup failed.
registered="$(temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$ns")"
grep -v '^#' "$list" | while IFS='=' read -r name type; do
  [ -n "$name" ] || continue
  echo "$registered" | grep -Eq "^[[:space:]]*$name[[:space:]]+$type[[:space:]]*$" ||
    { echo "search attribute $name ($type) is not registered in namespace $ns" >&2; exit 1; }
done
echo "namespace $ns ready with $(grep -vc '^#' "$list") search attributes"
