#!/usr/bin/env bash
# A throwaway PostgreSQL server from the machine's packages, for tests and trials:
#
#   scripts/postgres.sh start DIR PORT   initdb into DIR (trust auth, loopback only), start it,
#                                        create the database `retentionai`; prints its URL
#   scripts/postgres.sh stop DIR         stop it (fast shutdown)
#   scripts/postgres.sh url PORT [DB]    the URL of a database on it
#
# The binaries are PostgreSQL's own (`initdb`, `pg_ctl`), found on PATH or under
# /usr/lib/postgresql/<major>/bin. As root, the server runs as the `postgres` user (PostgreSQL
# refuses to run as root) and DIR is given to it.
set -euo pipefail

bin_dir() {
    if command -v pg_ctl >/dev/null 2>&1; then
        # The folder of the real binary (a link on PATH may stand alone).
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    local newest
    newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$newest" ] || [ ! -x "$newest/pg_ctl" ]; then
        echo "postgres.sh: PostgreSQL's server programs were not found (Debian: apt-get install postgresql)" >&2
        exit 1
    fi
    echo "$newest"
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

superuser() {
    if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi
}

url() {
    echo "postgres://$(superuser)@127.0.0.1:$1/${2:-retentionai}"
}

cmd=${1:-}
case "$cmd" in
start)
    dir=${2:?usage: postgres.sh start DIR PORT}
    port=${3:?usage: postgres.sh start DIR PORT}
    bin=$(bin_dir)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$dir"
        chmod 700 "$dir"
    fi
    if [ ! -f "$dir/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir" -A trust -U "$(superuser)" --no-sync >"$dir.initdb.log" 2>&1 || {
            cat "$dir.initdb.log" >&2
            exit 1
        }
    fi
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        start >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    as_owner "$bin/psql" -q -h 127.0.0.1 -p "$port" -U "$(superuser)" -d postgres \
        -c "CREATE DATABASE retentionai" >/dev/null 2>"$dir.createdb.log" || true
    url "$port"
    ;;
stop)
    dir=${2:?usage: postgres.sh stop DIR}
    bin=$(bin_dir)
    as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
    ;;
url)
    url "${2:?usage: postgres.sh url PORT [DB]}" "${3:-}"
    ;;
*)
    echo "usage: postgres.sh start DIR PORT | stop DIR | url PORT [DB]" >&2
    exit 2
    ;;
esac
