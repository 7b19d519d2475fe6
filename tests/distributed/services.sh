#!/usr/bin/env bash
# The services of a distributed run on this machine, loopback only: a private Postgres
# cluster (the Dagster instance), a Redis server (the Celery broker and result backend)
# and dagster-celery workers, each worker with the env the steps need.
#
#   services.sh start|stop|status STATE_DIR
#
# start: installs Debian's postgresql and redis-server when missing (as root), then starts
#   everything and writes into STATE_DIR: dagster/dagster.yaml (the instance on Postgres;
#   use it as DAGSTER_HOME), celery.yaml (the broker and backend, for `dagster-celery worker
#   start -y` and $REBALANCE_CELERY_CONFIG), one pid file per process, the logs.
#   The workers get REBALANCE_HOME and REBALANCE_BOOK from the caller's env (required).
# stop: stops exactly what start started (the pid files), removes the Postgres data;
#   stopping twice, or what never started, is fine.
#
# Ports: PG_PORT (55432), REDIS_PORT (56379); WORKERS (2) workers of one process each.
set -euo pipefail

ACTION=${1:?usage: services.sh start|stop|status STATE_DIR}
STATE=${2:?usage: services.sh start|stop|status STATE_DIR}
PG_PORT=${PG_PORT:-55432}
REDIS_PORT=${REDIS_PORT:-56379}
WORKERS=${WORKERS:-2}
HOST=127.0.0.1
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV_BIN=$REPO/.venv/bin
BROKER=redis://$HOST:$REDIS_PORT/0
BACKEND=redis://$HOST:$REDIS_PORT/1

log() { echo "services: $*" >&2; }

pg_bin() { find /usr/lib/postgresql -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname; }

# Postgres refuses to run as root: as root its commands run as the `postgres` user.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_missing() {
  if [ -n "$(pg_bin)" ] && command -v redis-server >/dev/null; then return; fi
  if [ "$(id -u)" != 0 ]; then
    log "postgresql or redis-server is missing; run as root to install them"; exit 1
  fi
  log "installing postgresql and redis-server"
  # the packages must not start the distribution's own servers (policy-rc.d: 101 = deny)
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    guard=/usr/sbin/policy-rc.d
  fi
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql redis-server
  [ -z "$guard" ] || rm -f "$guard"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_configs() {
  mkdir -p "$STATE/dagster"
  # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; dagster-postgres brings psycopg2
  cat >"$STATE/dagster/dagster.yaml" <<EOF
storage:
  postgres:
    postgres_url: "postgresql+psycopg2://postgres@$HOST:$PG_PORT/dagster"
telemetry:
  enabled: false
EOF
  # acks_late: a worker holds only the step it runs, so the next step goes to an idle one
  cat >"$STATE/celery.yaml" <<EOF
execution:
  config:
    broker: "$BROKER"
    backend: "$BACKEND"
    config_source:
      task_acks_late: true
EOF
}

start_postgres() {
  local data bin
  bin=$(pg_bin)
  # the data lives outside STATE_DIR: the postgres user must reach it (pytest's tmp is 0700)
  data=$(mktemp -d /tmp/rebalance-pg.XXXXXX)
  echo "$data" >"$STATE/postgres.data"
  [ "$(id -u)" != 0 ] || chown postgres:postgres "$data"
  as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
  as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w start \
    -o "-c listen_addresses=$HOST -p $PG_PORT -c unix_socket_directories=$data -c fsync=off" \
    >/dev/null
  as_postgres "$bin/createdb" -h "$HOST" -p "$PG_PORT" -U postgres dagster
}

start_redis() {
  redis-server --bind "$HOST" --port "$REDIS_PORT" --daemonize yes --save '' --appendonly no \
    --dir "$STATE" --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log"
  for _ in $(seq 50); do
    [ -s "$STATE/redis.pid" ] && return
    sleep 0.1
  done
  log "redis did not start (see $STATE/redis.log)"; exit 1
}

# Each worker in a session of its own (setsid), so stop ends the worker, its Celery
# process and their pool children as one process group.
start_worker() {
  local name=$1
  : "${REBALANCE_HOME:?the workers need REBALANCE_HOME}" "${REBALANCE_BOOK:?and REBALANCE_BOOK}"
  PATH=$VENV_BIN:$PATH DAGSTER_HOME=$STATE/dagster setsid \
    "$VENV_BIN/dagster-celery" worker start -A dagster_celery.app -y "$STATE/celery.yaml" \
    -n "$name" -l INFO -- --concurrency=1 >"$STATE/$name.log" 2>&1 &
  echo $! >"$STATE/$name.pid"
}

wait_ready() {
  local name=$1
  for _ in $(seq 600); do
    grep -q "$name@.* ready" "$STATE/$name.log" 2>/dev/null && return
    alive "$STATE/$name.pid" || { log "$name exited (see $STATE/$name.log)"; exit 1; }
    sleep 0.1
  done
  log "$name not ready after 60 s (see $STATE/$name.log)"; exit 1
}

start() {
  if [ -e "$STATE/postgres.data" ] || compgen -G "$STATE/*.pid" >/dev/null; then
    log "$STATE holds services already started: services.sh stop $STATE first"; exit 1
  fi
  install_missing
  mkdir -p "$STATE"
  write_configs
  start_postgres
  start_redis
  for i in $(seq "$WORKERS"); do start_worker "worker$i"; done
  for i in $(seq "$WORKERS"); do wait_ready "worker$i"; done
  log "postgres $HOST:$PG_PORT, redis $HOST:$REDIS_PORT, $WORKERS workers; DAGSTER_HOME=$STATE/dagster"
}

stop_group() {
  local pidfile=$1 pid
  if alive "$pidfile"; then
    pid=$(cat "$pidfile")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

stop() {
  [ -d "$STATE" ] || return 0
  for pidfile in "$STATE"/worker*.pid; do [ -e "$pidfile" ] && stop_group "$pidfile"; done
  if alive "$STATE/redis.pid"; then
    local pid
    pid=$(cat "$STATE/redis.pid")
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$STATE/redis.pid"
  if [ -f "$STATE/postgres.data" ]; then
    local data
    data=$(cat "$STATE/postgres.data")
    if [ -f "$data/postmaster.pid" ]; then
      as_postgres "$(pg_bin)/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$data" "$STATE/postgres.data"
  fi
}

status() {
  local data="" pid=""
  [ -f "$STATE/postgres.data" ] && data=$(cat "$STATE/postgres.data")
  [ -z "$data" ] || pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "postgres: running ($HOST:$PG_PORT)"
  else
    echo "postgres: stopped"
  fi
  alive "$STATE/redis.pid" && echo "redis: running ($HOST:$REDIS_PORT)" || echo "redis: stopped"
  for pidfile in "$STATE"/worker*.pid; do
    [ -e "$pidfile" ] || continue
    alive "$pidfile" && echo "$(basename "$pidfile" .pid): running" ||
      echo "$(basename "$pidfile" .pid): stopped"
  done
}

case $ACTION in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) log "unknown action $ACTION (start|stop|status)"; exit 2 ;;
esac
