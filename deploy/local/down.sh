#!/usr/bin/env bash
# Stops the services started by up.sh (SIGTERM, SIGKILL after 10 s), then PostgreSQL and
# RabbitMQ (infra-down.sh). Idempotent.
#
#   --services-only   leave PostgreSQL and RabbitMQ running
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO_ROOT"
PIDS=.local/pids

log() { printf '[down] %s\n' "$*" >&2; }

# SIGTERM to every service first (they shut down in parallel), then wait up to 10 s in total.
stopping=()
for name in ordering inventory compliance; do
  pidfile="$PIDS/$name.pid"
  [ -s "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    stopping+=("$name:$pid")
  fi
  rm -f "$pidfile"
done
for _ in $(seq 1 20); do
  alive=0
  for entry in "${stopping[@]}"; do kill -0 "${entry#*:}" 2>/dev/null && alive=1; done
  [ "$alive" -eq 0 ] && break
  sleep 0.5
done
for entry in "${stopping[@]}"; do
  if kill -0 "${entry#*:}" 2>/dev/null; then
    log "${entry%%:*} still running after 10 s; killing it"
    kill -KILL "${entry#*:}" 2>/dev/null || true
  fi
done

if [ "${1:-}" != --services-only ]; then
  bash deploy/local/infra-down.sh
fi
