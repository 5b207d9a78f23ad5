#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for darasa's tests and benchmarks, in a
# directory of its own: initdb, a unix socket in that directory (no TCP port,
# so nothing collides), fsync off, trust authentication for the local user.
# Installs postgresql-15 when missing (Debian; its default cluster is left
# alone). As root the server runs as the `postgres` user (it refuses root).
#
#   postgres-service.sh start   [--dir DIR] [--idle-exit SECONDS]
#   postgres-service.sh stop    [--dir DIR]     stop it and remove DIR
#   postgres-service.sh restart [--dir DIR]     pg_ctl restart (fast shutdown)
#   postgres-service.sh status  [--dir DIR]     exit 0 when it answers
#   postgres-service.sh url     [--dir DIR]     the URL of its `postgres` database
#
# DIR defaults to $DARASA_TEST_POSTGRES_DIR, else /tmp/darasa-test-postgres-$UID.
# start is idempotent: a running cluster is left as it is. With --idle-exit N
# a watcher stops the cluster and removes DIR once nobody has held a shared
# flock on DIR/users.lock for N seconds (the tests hold one while they use
# it), so a test run leaves nothing behind.
set -euo pipefail

cmd=${1:-start}
shift || true
dir=${DARASA_TEST_POSTGRES_DIR:-/tmp/darasa-test-postgres-$(id -u)}
idle=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --idle-exit) idle=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "postgres-service: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

bindir() {
  local b=""
  if command -v pg_config >/dev/null 2>&1; then b=$(pg_config --bindir); fi
  [ -x "$b/initdb" ] || b=/usr/lib/postgresql/15/bin
  echo "$b"
}

install_if_missing() {
  [ -x "$(bindir)/initdb" ] && return 0
  echo "postgres-service: installing postgresql-15" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # The package tries to start its default cluster; that may fail without
  # systemd, which does not matter here.
  $sudo apt-get install -y -qq --no-install-recommends postgresql-15 libpq-dev >/dev/null || true
  [ -x "$(bindir)/initdb" ] || { echo "postgres-service: postgresql-15 could not be installed" >&2; exit 1; }
}

# Runs a server binary as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

answers() {
  [ -S "$dir/.s.PGSQL.5432" ] && "$(bindir)/pg_isready" -q -h "$dir" -p 5432 >/dev/null 2>&1
}

url() { echo "postgresql:///postgres?host=$dir&user=postgres"; }

start() {
  install_if_missing
  local b
  b=$(bindir)
  mkdir -p "$dir"
  exec 8>"$dir/start.lock"
  flock 8  # one starter at a time (tests in parallel)
  if answers; then return 0; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    rm -rf "$dir/data"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    as_owner "$b/initdb" -D "$dir/data" -U postgres --locale=C -E UTF8 --no-sync -A trust >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  # 8>&-: neither the server nor the watcher may inherit the start lock.
  as_owner "$b/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=on -c max_connections=200" \
    start >/dev/null 8>&- || { tail -20 "$dir/server.log" >&2; exit 1; }
  answers || { echo "postgres-service: the server in $dir does not answer" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
  if [ "$idle" -gt 0 ]; then
    touch "$dir/users.lock"
    # The watcher: detached, its output in DIR.
    nohup setsid bash "$0" watch --dir "$dir" --idle-exit "$idle" >"$dir/watch.log" 2>&1 </dev/null 8>&- &
  fi
}

stop() {
  local b
  b=$(bindir)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$b/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_owner "$b/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

watch() {
  local quiet=0
  while sleep 2; do
    [ -d "$dir" ] || exit 0
    if flock -n -x "$dir/users.lock" true 2>/dev/null; then quiet=$((quiet + 2)); else quiet=0; fi
    if [ "$quiet" -ge "$idle" ]; then
      # Take the start lock so that no test starts it while it goes away.
      exec 8>"$dir/start.lock"
      flock 8
      flock -n -x "$dir/users.lock" true || { quiet=0; continue; }
      stop
      exit 0
    fi
  done
}

case "$cmd" in
  start) start; echo "postgres-service: $(url)" ;;
  stop) stop ;;
  restart)
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null \
      || { tail -20 "$dir/server.log" >&2; exit 1; } ;;
  status) answers ;;
  url) url ;;
  watch) watch ;;
  *) echo "postgres-service: unknown command $cmd (start|stop|restart|status|url)" >&2; exit 2 ;;
esac
