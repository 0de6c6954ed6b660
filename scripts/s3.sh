# Sourced by scripts/test.sh: starts an S3-compatible server on loopback (moto, from
# PyPI, in a venv under .cache/) for the S3 storage tests, with a bucket ready, and
# exports SWITCHBOARD_TEST_S3_ENDPOINT. Stopped when the calling script exits.

start_s3() {
    local venv=.cache/moto-venv
    if [ ! -x "$venv/bin/moto_server" ]; then
        echo "==> installing moto (S3 stand-in for tests)" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet 'moto[server]==5.1.*' boto3
    fi
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
    S3_PID=$!
    trap 'kill $S3_PID 2>/dev/null' EXIT
    for _ in $(seq 1 50); do
        "$venv/bin/python" - "$port" <<'PY' 2>/dev/null && break
import sys, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", aws_access_key_id="test",
                  aws_secret_access_key="test", region_name="us-east-1")
s3.create_bucket(Bucket="switchboard-test")
PY
        sleep 0.2
    done
    export SWITCHBOARD_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
}
