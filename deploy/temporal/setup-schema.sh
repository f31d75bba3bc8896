#!/bin/sh
# Creates (or upgrades) Temporal's persistence and visibility schemas in PostgreSQL. Idempotent.
set -eu
plugin=postgres12
ep="${POSTGRES_SEEDS:-postgresql}"
user="${POSTGRES_USER:-temporal}"
export SQL_PASSWORD="${POSTGRES_PWD:?POSTGRES_PWD is required}"

until nc -z "$ep" 5432; do echo "waiting for PostgreSQL at $ep:5432"; sleep 1; done

for db in temporal temporal_visibility; do
  case "$db" in temporal) dir=temporal ;; *) dir=visibility ;; esac
  temporal-sql-tool --plugin "$plugin" --ep "$ep" -u "$user" -p 5432 --db "$db" create || true
  temporal-sql-tool --plugin "$plugin" --ep "$ep" -u "$user" -p 5432 --db "$db" setup-schema -v 0.0 || true
  temporal-sql-tool --plugin "$plugin" --ep "$ep" -u "$user" -p 5432 --db "$db" \
    update-schema -d "/etc/temporal/schema/postgresql/v12/$dir/versioned"
done
echo "Temporal schemas ready"
