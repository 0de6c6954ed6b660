#!/usr/bin/env bash
# Runs the server with the demo organisation on http://127.0.0.1:8080 (or
# SWITCHBOARD_ADDR), bringing up a local PostgreSQL first when DATABASE_URL is not set
# and installing the pages' npm modules when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/postgres.sh
. scripts/pages.sh
ensure_node_modules
use_local_database
exec cargo run --quiet --bin switchboard -- serve --demo "$@"
