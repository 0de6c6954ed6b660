# Sourced by scripts/test.sh and scripts/cluster.sh: starts a Redis of their own on a
# free loopback port (Debian's `redis-server`, installed when missing), nothing saved to
# disk, and exports its URL as REDIS_TEST_URL. Stopped when the calling script exits.

start_redis() {
    if ! command -v redis-server >/dev/null 2>&1; then
        echo "==> installing Redis (Debian package 'redis-server')" >&2
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq redis-server >/dev/null
    fi
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        --daemonize no --logfile '' >/dev/null 2>&1 &
    REDIS_PID=$!
    # Keeps whatever the caller already cleans up on exit.
    local previous
    previous=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
    trap "kill $REDIS_PID 2>/dev/null; $previous" EXIT
    for _ in $(seq 1 50); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    redis-cli -p "$port" ping >/dev/null || { echo "Redis did not start" >&2; return 1; }
    REDIS_TEST_URL="redis://127.0.0.1:$port"
    export REDIS_TEST_URL
}
