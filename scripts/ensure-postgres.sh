#!/usr/bin/env bash
# Prints a PostgreSQL admin URL for the tests on stdout. Uses the server on 127.0.0.1:5432 when
# it answers; otherwise starts a throwaway cluster with the postgres binaries (installing Debian's
# package when they are missing) and stops it when the parent test script exits (see test.sh).
# Diagnostics go to stderr.
set -euo pipefail

log() { echo "[postgres] $*" >&2; }

pg_bin_dir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  return 1
}

answers() { # host port
  if command -v psql >/dev/null 2>&1; then
    psql "postgres://postgres@$1:$2/postgres" -Atqc 'select 1' >/dev/null 2>&1
  else
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
  fi
}

if [ -n "${TEST_POSTGRES_URL:-}" ]; then
  echo "$TEST_POSTGRES_URL"
  exit 0
fi

if answers 127.0.0.1 5432; then
  log "using the server on 127.0.0.1:5432"
  echo "postgres://postgres@127.0.0.1:5432/postgres"
  exit 0
fi

bin=$(pg_bin_dir || true)
if [ -z "$bin" ]; then
  log "no PostgreSQL binaries: installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bin=$(pg_bin_dir)
fi

dir=$(mktemp -d /tmp/scimgw-pg.XXXXXX)
chown postgres:postgres "$dir" 2>/dev/null || true
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
port=55432
log "starting a throwaway cluster in $dir on port $port"
as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/log" \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300" start >/dev/null
echo "$bin/pg_ctl -D $dir/data -m fast stop" > "$dir/stop"
echo "$dir" > "${SCIMGW_PG_STATE:-/dev/null}"
echo "postgres://postgres@127.0.0.1:$port/postgres"
