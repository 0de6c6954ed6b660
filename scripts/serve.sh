#!/usr/bin/env bash
# Runs the server with the demo organisation on http://127.0.0.1:8080 (or
# SWITCHBOARD_ADDR), bringing up a local PostgreSQL first when DATABASE_URL is not set.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/postgres.sh
if [ -z "${DATABASE_URL:-}" ]; then
    ensure_postgres
    export DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/switchboard
fi
exec cargo run --quiet --bin switchboard -- serve --demo "$@"
