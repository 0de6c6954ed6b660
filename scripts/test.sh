#!/usr/bin/env bash
# Runs every test: unit and integration tests against a real PostgreSQL (each test
# makes and drops its own database), and the S3 storage tests against a local S3 stand-in.
# Brings up a local PostgreSQL when needed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/postgres.sh
. scripts/s3.sh
if [ -z "${SWITCHBOARD_TEST_DATABASE_URL:-${DATABASE_URL:-}}" ]; then
    ensure_postgres
    export SWITCHBOARD_TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres
fi
start_s3
cargo test "$@"
