#!/usr/bin/env bash
# Runs every test: unit and integration tests against a real PostgreSQL (each test
# makes and drops its own database), the S3 storage tests against a local S3 stand-in,
# and the several-node tests against a Redis of their own.
# Then the API against its OpenAPI document (Schemathesis, scripts/contract.sh), and the
# operator pages' tests in headless Chromium (node --test), which start the server
# binary themselves. Brings up a local PostgreSQL, and installs Chromium and the
# pages' npm modules, when needed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/postgres.sh
. scripts/s3.sh
. scripts/redis.sh
. scripts/pages.sh
if [ -z "${SWITCHBOARD_TEST_DATABASE_URL:-${DATABASE_URL:-}}" ]; then
    ensure_postgres
    export SWITCHBOARD_TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres
fi
start_s3
start_redis
export SWITCHBOARD_TEST_REDIS_URL="$REDIS_TEST_URL"
ensure_node_modules
ensure_chromium
cargo test "$@"
cargo build --quiet --bin switchboard
scripts/contract.sh
node --test tests/browser/
