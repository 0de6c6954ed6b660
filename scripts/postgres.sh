# Sourced by scripts/serve.sh and scripts/test.sh: makes sure a PostgreSQL server answers
# on 127.0.0.1:5432 with the password login the default URLs use (postgres/postgres).
# It starts the installed cluster when it is stopped, and installs Debian's `postgresql`
# when there is none. Does nothing when DATABASE_URL is already set.

pg_as_superuser() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_postgres() {
    if ! command -v pg_lsclusters >/dev/null 2>&1; then
        echo "==> installing PostgreSQL (Debian package 'postgresql')" >&2
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
    fi
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        local cluster
        cluster=$(pg_lsclusters -h | awk '$2 == "main" { print $1; exit }')
        if [ -z "$cluster" ]; then
            cluster=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
            echo "==> creating PostgreSQL cluster $cluster/main" >&2
            as_root pg_createcluster "$cluster" main >/dev/null
        fi
        echo "==> starting PostgreSQL $cluster/main" >&2
        as_root pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
        for _ in $(seq 1 30); do
            pg_isready -q -h 127.0.0.1 -p 5432 && break
            sleep 1
        done
        pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not start" >&2; return 1; }
    fi
    # A fresh install only lets the postgres OS user in; give the role the password the
    # default URLs carry. On a server that trusts local connections this changes nothing.
    if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
        pg_as_superuser psql -qc "ALTER ROLE postgres PASSWORD 'postgres'" >/dev/null
    fi
}

# DATABASE_URL as given, else the local cluster's `switchboard` database (started, or
# installed, first).
use_local_database() {
    if [ -z "${DATABASE_URL:-}" ]; then
        ensure_postgres
        export DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/switchboard
    fi
}
