#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1, for tests and benchmarks.
#
#   scripts/postgres.sh start DIR     initdb into DIR, start, print the admin URL
#   scripts/postgres.sh stop DIR      stop it (DIR is left for you to remove)
#   scripts/postgres.sh run CMD ...   start one in a temp dir, run CMD with
#                                     IVR_TEST_DATABASE_URL set, stop and remove it
#
# Runs the server as user `postgres` (via runuser) when started as root, else as the
# current user. Tuned for throwaway data: no fsync, nothing survives the cluster.
set -euo pipefail

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
  echo "postgres.sh: PostgreSQL server binaries not found (scripts/system-deps.sh installs them)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

if [ "$(id -u)" -eq 0 ]; then
  PG_USER=${PG_USER:-postgres}
  id "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home "$PG_USER"
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local dir=$1 port
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$dir"
  port=$(free_port)
  as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
    "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=400 -c fsync=off \
     -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB" \
    >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  echo "postgresql+asyncpg://postgres@127.0.0.1:$port/postgres"
}

stop() {
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop >/dev/null 2>&1 \
    || as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start "${2:?usage: postgres.sh start DIR}" ;;
  stop) stop "${2:?usage: postgres.sh stop DIR}" ;;
  run)
    shift
    [ $# -gt 0 ] || { echo "usage: postgres.sh run CMD ..." >&2; exit 2; }
    dir=$(mktemp -d /tmp/ivr-pg-XXXXXX)
    chmod 755 "$dir"
    trap 'stop "$dir"; rm -rf "$dir"' EXIT
    trap 'exit 130' INT TERM
    url=$(start "$dir")
    echo "postgres.sh: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') at $url" >&2
    IVR_TEST_DATABASE_URL=$url "$@"
    ;;
  *) echo "usage: postgres.sh start DIR | stop DIR | run CMD ..." >&2; exit 2 ;;
esac
