#!/usr/bin/env bash
# Stops the PostgreSQL and RabbitMQ servers started by infra-up.sh. Idempotent; data is kept.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LOCAL_DIR="$REPO_ROOT/.local"
PG_BIN=/usr/lib/postgresql/15/bin
RMQ_BIN=/usr/lib/rabbitmq/bin

log() { printf '[infra-down] %s\n' "$*" >&2; }

if [ ! -f "$LOCAL_DIR/infra.env" ]; then
  log "nothing to stop ($LOCAL_DIR/infra.env not found)"
  exit 0
fi
# PGDATA and the RABBITMQ_*/HOME/ERL_EPMD_ADDRESS variables of the node infra-up.sh started.
# shellcheck disable=SC1091
source "$LOCAL_DIR/infra.env"

# PostgreSQL
if [ -x "$PG_BIN/pg_ctl" ] && [ -s "$PGDATA/PG_VERSION" ] \
  && (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" status -D "$PGDATA") >/dev/null 2>&1; then
  log "stopping PostgreSQL ($PGDATA)"
  (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 60) >/dev/null
else
  log "PostgreSQL is not running"
fi

# RabbitMQ
if [ -s "${RABBITMQ_PID_FILE:-}" ] && kill -0 "$(cat "$RABBITMQ_PID_FILE")" 2>/dev/null; then
  log "stopping RabbitMQ ($RABBITMQ_NODENAME)"
  pid="$(cat "$RABBITMQ_PID_FILE")"
  if ! "$RMQ_BIN/rabbitmqctl" -q shutdown >/dev/null 2>&1; then
    log "rabbitmqctl shutdown failed; sending SIGTERM to $pid"
    kill -TERM "$pid" 2>/dev/null || true
  fi
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    log "RabbitMQ still alive after 30 s; killing $pid"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RABBITMQ_PID_FILE"
else
  log "RabbitMQ is not running"
fi
if command -v epmd >/dev/null 2>&1; then
  epmd -kill >/dev/null 2>&1 || true
fi
log "stopped"
