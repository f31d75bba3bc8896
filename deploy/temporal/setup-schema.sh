#!/bin/sh
# Creates (or upgrades) Temporal's persistence and visibility schemas in PostgreSQL with temporal-sql-tool, whose
# binary embeds the schema files of its own server version (-s postgresql/v12/...). Idempotent: a second run
# finds the databases and the schema versions in place. Used by docker compose (temporal-schema) and
# `npm run cluster`. Needs POSTGRES_PWD; POSTGRES_SEEDS (host), DB_PORT and POSTGRES_USER have defaults.
set -eu
plugin=postgres12
ep="${POSTGRES_SEEDS:-postgresql}"
port="${DB_PORT:-5432}"
user="${POSTGRES_USER:-temporal}"
export SQL_PASSWORD="${POSTGRES_PWD:?POSTGRES_PWD is required}"

if command -v nc >/dev/null 2>&1; then
  until nc -z "$ep" "$port"; do echo "waiting for PostgreSQL at $ep:$port"; sleep 1; done
fi

for db in temporal temporal_visibility; do
  case "$db" in temporal) dir=temporal ;; *) dir=visibility ;; esac
  sql() { temporal-sql-tool --plugin "$plugin" --ep "$ep" -p "$port" -u "$user" --db "$db" "$@"; }
  sql create
  sql setup-schema -v 0.0
  sql update-schema -s "postgresql/v12/$dir"
done
echo "Temporal schemas ready"
