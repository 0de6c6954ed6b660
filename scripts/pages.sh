# Sourced by scripts/serve.sh and scripts/test.sh: the operator pages' npm modules
# (`npm ci` when node_modules is missing or older than package-lock.json) and, for the
# browser tests, Debian's Chromium. Uses as_root from scripts/postgres.sh.

ensure_node_modules() {
    if ! command -v npm >/dev/null 2>&1; then
        echo "==> installing Node.js and npm (Debian packages 'nodejs', 'npm')" >&2
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nodejs npm >/dev/null
    fi
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        echo "==> installing the pages' modules (npm ci)" >&2
        npm ci --no-audit --no-fund --loglevel=error
    fi
}

ensure_chromium() {
    if [ ! -x /usr/bin/chromium ]; then
        echo "==> installing Chromium (Debian package 'chromium') for the browser tests" >&2
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
    fi
}
