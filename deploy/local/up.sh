#!/usr/bin/env bash
# Runs all of Brokering on this machine without Docker: PostgreSQL and RabbitMQ (infra-up.sh),
# a Release build, and the three services in the background (logs in .local/logs, pids in
# .local/pids). Services already running are left alone. Stop everything with down.sh.
# Tokens: in Development every service derives its keys (the /dev/tokens issuer's, its own service key) from one
# seed, ~/.brokering/dev-key-seed, generated owner-only at first run; no key needs configuring (docs/security.md).
#
#   BROKERING_SKIP_BUILD=1   use the binaries already built
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO_ROOT"
LOGS=.local/logs
PIDS=.local/pids
READY_TIMEOUT=120

log() { printf '[up] %s\n' "$*" >&2; }
die() { printf '[up] ERROR: %s\n' "$*" >&2; exit 1; }

bash deploy/local/infra-up.sh >/dev/null
# shellcheck disable=SC1091
source .local/env.sh
mkdir -p "$LOGS" "$PIDS"

if [ "${BROKERING_SKIP_BUILD:-}" != 1 ]; then
  log "building Brokering.sln (Release)"
  dotnet build Brokering.sln -c Release -nologo -v quiet >"$LOGS/build.log" 2>&1 \
    || { tail -n 40 "$LOGS/build.log" >&2; die "build failed (log: $LOGS/build.log)"; }
fi

# name  project-dir  REST-port  gRPC-port
SERVICES=(
  "compliance Compliance 5300 5301"
  "inventory Inventory 5200 5201"
  "ordering Ordering 5100 5101"
)

running() { [ -s "$PIDS/$1.pid" ] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_service() {
  local name=$1 project=$2 rest=$3 grpc=$4
  local dir="$REPO_ROOT/services/$project"
  local dll="$dir/bin/Release/net10.0/Brokering.$project.dll"
  if running "$name"; then
    log "$name already running (pid $(cat "$PIDS/$name.pid"))"
    return
  fi
  [ -f "$dll" ] || die "$dll not found: build the solution first (dotnet build Brokering.sln -c Release)"
  port_open "$rest" && die "port $rest is already in use (is $name running outside up.sh?)"
  port_open "$grpc" && die "port $grpc is already in use (is $name running outside up.sh?)"
  # Each service connects as its own broker user (infra-up.sh, rabbitmq-services.sh), never as guest; inventory reads
  # the distributors' stock feed from their own virtual host with an account of its own there.
  local broker_variable="BROKERING_RABBITMQ_$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')"
  local broker="${!broker_variable:-}"
  [ -n "$broker" ] || die "$broker_variable is not set in .local/env.sh (run deploy/local/infra-up.sh)"
  local feeds=()
  if [ "$name" = inventory ]; then
    [ -n "${BROKERING_RABBITMQ_FEEDS:-}" ] || die "BROKERING_RABBITMQ_FEEDS is not set in .local/env.sh (run deploy/local/infra-up.sh)"
    feeds=("ConnectionStrings__RabbitMqFeeds=$BROKERING_RABBITMQ_FEEDS")
  fi
  log "starting $name (REST $rest, gRPC $grpc; log $LOGS/$name.log)"
  printf '\n===== %s: starting %s =====\n' "$(date -Is)" "$name" >>"$LOGS/$name.log"
  # The project folder is the content root, as with `dotnet run`: appsettings*.json and wwwroot.
  (
    cd "$dir"
    exec nohup env \
      ASPNETCORE_ENVIRONMENT=Development \
      "ConnectionStrings__Database=$BROKERING_POSTGRES;Database=brokering_$name" \
      "ConnectionStrings__RabbitMq=$broker" \
      "${feeds[@]}" \
      Services__Compliance=http://127.0.0.1:5301 \
      Services__ComplianceApi=http://127.0.0.1:5300 \
      Services__Inventory=http://127.0.0.1:5201 \
      "Kestrel__Endpoints__Http__Url=http://127.0.0.1:$rest" \
      "Kestrel__Endpoints__Grpc__Url=http://127.0.0.1:$grpc" \
      dotnet "$dll"
  ) </dev/null >>"$REPO_ROOT/$LOGS/$name.log" 2>&1 &
  echo $! >"$PIDS/$name.pid"
}

wait_ready() {
  local name=$1 rest=$3
  local deadline=$((SECONDS + READY_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    if ! running "$name"; then
      tail -n 40 "$LOGS/$name.log" >&2
      die "$name exited during startup (log: $LOGS/$name.log; stop the others with deploy/local/down.sh)"
    fi
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$rest/health/ready")" = 200 ]; then
      log "$name is ready"
      return
    fi
    sleep 1
  done
  tail -n 40 "$LOGS/$name.log" >&2
  die "$name not ready after ${READY_TIMEOUT}s at http://127.0.0.1:$rest/health/ready (log: $LOGS/$name.log; stop with deploy/local/down.sh)"
}

for service in "${SERVICES[@]}"; do
  # shellcheck disable=SC2086
  start_service $service
done
for service in "${SERVICES[@]}"; do
  # shellcheck disable=SC2086
  wait_ready $service
done

if [ -f deploy/local/demo-data.sh ]; then
  log "loading demo data"
  bash deploy/local/demo-data.sh
fi

cat <<EOF

Brokering is running.
  ordering     REST http://127.0.0.1:5100   gRPC http://127.0.0.1:5101
  inventory    REST http://127.0.0.1:5200   gRPC http://127.0.0.1:5201
  compliance   REST http://127.0.0.1:5300   gRPC http://127.0.0.1:5301
  ops console  http://127.0.0.1:5100/ops
  metrics      http://127.0.0.1:5100/metrics  http://127.0.0.1:5200/metrics  http://127.0.0.1:5300/metrics
  health       http://127.0.0.1:5100/health/ready (likewise 5200, 5300)
  RabbitMQ     ${BROKERING_RABBITMQ_MANAGEMENT} (management UI)
  PostgreSQL   ${BROKERING_POSTGRES}
  logs         $REPO_ROOT/$LOGS
Stop with: bash deploy/local/down.sh
EOF
