#!/usr/bin/env bash
# Runs a deployment of two nodes on this machine, for trying the several-node setup:
# PostgreSQL (the local cluster, as scripts/serve.sh uses), a Redis of its own on a free
# loopback port (Debian's `redis-server`, installed when missing), and two
# `switchboard serve` processes on 127.0.0.1:8081 and :8082 (SWITCHBOARD_CLUSTER_PORTS)
# sharing both, with the demo organisation. Open /messaging on each port, sign in on
# both, and watch a message sent on one appear on the other. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/postgres.sh
. scripts/pages.sh
. scripts/redis.sh
ensure_node_modules
use_local_database
start_redis
export REDIS_URL="$REDIS_TEST_URL"
cargo build --quiet --bin switchboard
read -r -a ports <<< "${SWITCHBOARD_CLUSTER_PORTS:-8081 8082}"
# Both nodes share the secret key: a login made on one is valid on the other, and each
# node's signed URLs check on every node.
mkdir -p data
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; }
trap "stop; $(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")" EXIT
target/debug/switchboard migrate
target/debug/switchboard demo >/dev/null 2>&1 || true
for port in "${ports[@]}"; do
    SWITCHBOARD_ADDR="127.0.0.1:$port" SWITCHBOARD_SANDBOX_REPLIES=true \
        target/debug/switchboard serve &
    pids+=($!)
done
echo "==> nodes on ${ports[*]/#/http://127.0.0.1:} sharing $REDIS_URL and $DATABASE_URL" >&2
echo "    demo logins: admin@demo.switchboard.local / agent@demo.switchboard.local, password switchboard-demo" >&2
wait -n "${pids[@]}"
