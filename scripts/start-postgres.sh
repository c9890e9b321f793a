#!/usr/bin/env bash
# Start (idempotently) a throwaway PostgreSQL for the store tests and print its SQLAlchemy URL.
#
#   export BROKERSCALE_TEST_POSTGRES_URL="$(scripts/start-postgres.sh)"
#   scripts/start-postgres.sh --stop        # stop it and delete its data
#
# The cluster lives in $BROKERSCALE_PG_DIR (default: a directory under $TMPDIR), listens on 127.0.0.1
# only, on a free port, with trust authentication for local connections. If PostgreSQL is not
# installed it tries `apt-get install -y postgresql`; failing that it prints nothing and exits 0, so
# the tests marked `postgres` skip instead of failing.
set -u

PGDIR="${BROKERSCALE_PG_DIR:-${TMPDIR:-/tmp}/brokerscale-pg-$(id -u)}"
DB=brokerscale_test
log() { echo "start-postgres: $*" >&2; }

find_bin() {
  local name=$1 found
  found=$(command -v "$name" 2>/dev/null) && { echo "$found"; return 0; }
  found=$(ls -1d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n1)
  [ -n "$found" ] && { echo "$found"; return 0; }
  return 1
}

# Run a command as the cluster owner: initdb and postgres refuse to run as root.
OWNER=$(id -un)
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$OWNER" -- "$@"; else "$@"; fi
}

if [ "${1:-}" = "--stop" ]; then
  if [ -d "$PGDIR/data" ] && PG_CTL=$(find_bin pg_ctl); then
    [ "$(id -u)" = 0 ] && OWNER=postgres
    as_owner "$PG_CTL" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1
  fi
  rm -rf "$PGDIR"
  exit 0
fi

if ! INITDB=$(find_bin initdb); then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "PostgreSQL not found; trying apt-get install -y postgresql"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1; } || true
  fi
  INITDB=$(find_bin initdb) || { log "PostgreSQL is not installed; postgres tests will skip"; exit 0; }
fi
PG_CTL=$(find_bin pg_ctl) || { log "pg_ctl not found"; exit 0; }
BIN=$(dirname "$(readlink -f "$PG_CTL")")
if [ "$(id -u)" = 0 ]; then
  OWNER=postgres
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres >/dev/null 2>&1 || {
    log "cannot create the postgres OS user"; exit 0; }
fi

mkdir -p "$PGDIR"
[ "$(id -u)" = 0 ] && chown "$OWNER" "$PGDIR"

url_for() { echo "postgresql+psycopg2://postgres@127.0.0.1:$1/$DB"; }

# Already running? Print its URL and stop here.
if [ -f "$PGDIR/port" ] && as_owner "$PG_CTL" -D "$PGDIR/data" status >/dev/null 2>&1; then
  url_for "$(cat "$PGDIR/port")"
  exit 0
fi

if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
  rm -rf "$PGDIR/data"
  as_owner "$INITDB" -D "$PGDIR/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$PGDIR/initdb.log" 2>&1 \
    || { log "initdb failed (see $PGDIR/initdb.log)"; exit 0; }
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
as_owner "$PG_CTL" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGDIR -c fsync=off -c shared_buffers=32MB -c max_connections=50" \
  start >/dev/null 2>&1 || { log "postgres did not start (see $PGDIR/server.log)"; exit 0; }
echo "$PORT" >"$PGDIR/port"

if ! as_owner "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" \
    postgres 2>/dev/null | grep -q 1; then
  as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB" >"$PGDIR/createdb.log" 2>&1 \
    || { log "createdb failed"; exit 0; }
fi
url_for "$PORT"
