#!/usr/bin/env bash
# Starts PostgreSQL 15 and RabbitMQ on 127.0.0.1 without systemd or Docker, with all
# data under <repo>/.local (git-ignored). Idempotent: servers already running are left alone.
# Installs the Debian packages it needs when they are missing (needs root).
#
# Environment overrides (defaults in brackets):
#   BROKERING_PG_PORT [5432]  BROKERING_RABBITMQ_PORT [5672]
#   BROKERING_RABBITMQ_MANAGEMENT_PORT [15672]  BROKERING_RABBITMQ_DIST_PORT [25672]
#
# Prints the variables tests and services use (export form) and writes them to .local/env.sh.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LOCAL_DIR="$REPO_ROOT/.local"
PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT="${BROKERING_PG_PORT:-5432}"
RMQ_PORT="${BROKERING_RABBITMQ_PORT:-5672}"
RMQ_MGMT_PORT="${BROKERING_RABBITMQ_MANAGEMENT_PORT:-15672}"
RMQ_DIST_PORT="${BROKERING_RABBITMQ_DIST_PORT:-25672}"
RMQ_BIN=/usr/lib/rabbitmq/bin
DATABASES=(brokering_ordering brokering_inventory brokering_compliance)

log() { printf '[infra-up] %s\n' "$*" >&2; }
die() { printf '[infra-up] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (PostgreSQL runs as user postgres, RabbitMQ as root)"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# Packages. A policy-rc.d that forbids service starts keeps apt from starting the distribution's
# own PostgreSQL cluster / RabbitMQ service (they would take our ports), and the main
# PostgreSQL cluster is not created at all.
# ---------------------------------------------------------------------------------------------
apt_install() {
  log "installing: $*"
  local policy=/usr/sbin/policy-rc.d created_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; created_policy=1
  fi
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
  fi
  export DEBIAN_FRONTEND=noninteractive
  local rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef "$@"; } >&2 || rc=$?
  [ -n "$created_policy" ] && rm -f "$policy"
  [ "$rc" -eq 0 ] || die "apt-get install $* failed"
}

missing=()
[ -x "$PG_BIN/pg_ctl" ] || missing+=(postgresql-15)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client-15)
[ -x "$RMQ_BIN/rabbitmq-server" ] || missing+=(rabbitmq-server)
command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
# amqp-publish: the stock-feed tests publish as a distributor that speaks only AMQP, without .NET.
command -v amqp-publish >/dev/null 2>&1 || missing+=(amqp-tools)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
id postgres >/dev/null 2>&1 || die "user postgres does not exist (postgresql-common should have created it)"

mkdir -p "$LOCAL_DIR"
chmod 755 "$LOCAL_DIR"

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------
PGDATA="$LOCAL_DIR/postgres"
PG_LOG="$LOCAL_DIR/postgres.log"
if ! (cd / && runuser -u postgres -- test -x "$LOCAL_DIR"); then
  # Some parent directory of the repo is not traversable by user postgres.
  hash="$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-12)"
  PGDATA="/var/tmp/brokering-pg-$hash"
  PG_LOG="$PGDATA.log"
  log "user postgres cannot reach $LOCAL_DIR; PostgreSQL data goes to $PGDATA (log $PG_LOG)"
fi

# As user postgres, from a directory it can enter.
pg() { (cd / && runuser -u postgres -- "$@"); }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  log "initialising PostgreSQL cluster in $PGDATA"
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  pwfile="$(mktemp)"; echo postgres >"$pwfile"; chown postgres "$pwfile"
  pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 >"$LOCAL_DIR/initdb.log" 2>&1 \
    || { rm -f "$pwfile"; cat "$LOCAL_DIR/initdb.log" >&2; die "initdb failed"; }
  rm -f "$pwfile"
  echo "include_if_exists = 'brokering.conf'" >>"$PGDATA/postgresql.conf"
fi

if pg "$PG_BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; then
  log "PostgreSQL already running on $PGDATA"
else
  port_open "$PG_PORT" && die "127.0.0.1:$PG_PORT is taken by another process; stop it or set BROKERING_PG_PORT"
  # Regenerated on every start so BROKERING_PG_PORT takes effect. TCP only: no unix socket
  # (socket paths have a length limit and /var/run/postgresql may not exist without systemd).
  cat >"$PGDATA/brokering.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 300
password_encryption = scram-sha-256
logging_collector = off
# Statement counts for bench/report.sh (where a reservation's database work goes); loading it costs little.
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
EOF
  chown postgres:postgres "$PGDATA/brokering.conf"
  touch "$PG_LOG"; chown postgres:postgres "$PG_LOG"
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  pg "$PG_BIN/pg_ctl" start -D "$PGDATA" -l "$PG_LOG" -w -t 60 >/dev/null \
    || { tail -n 30 "$PG_LOG" >&2; die "PostgreSQL did not start (log: $PG_LOG)"; }
fi

# The port the running server really listens on (it may have been started with another one).
PG_PORT="$(sed -n '4p' "$PGDATA/postmaster.pid" 2>/dev/null || echo "$PG_PORT")"
export PGPASSWORD=postgres
psql_admin() { psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
for _ in $(seq 1 60); do psql_admin -c 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
psql_admin -c 'select 1' >/dev/null || die "cannot connect to PostgreSQL on 127.0.0.1:$PG_PORT as postgres/postgres"
# The statement counts' view lives where its extension is created: the server's own database, which bench/report.sh
# reads for every database. Loaded above, it counts nothing readable until this is done once per data directory.
psql_admin -c 'create extension if not exists pg_stat_statements' >/dev/null
for db in "${DATABASES[@]}"; do
  if [ "$(psql_admin -tAc "select 1 from pg_database where datname = '$db'")" != 1 ]; then
    log "creating database $db"
    psql_admin -c "create database \"$db\""
  fi
done

# ---------------------------------------------------------------------------------------------
# RabbitMQ (as root, every file under .local/rabbitmq; the /usr/sbin wrappers are not used)
# ---------------------------------------------------------------------------------------------
RMQ_DIR="$LOCAL_DIR/rabbitmq"
mkdir -p "$RMQ_DIR/mnesia" "$RMQ_DIR/log"
export HOME="$RMQ_DIR"                                  # Erlang cookie lives in $HOME
export RABBITMQ_NODENAME=rabbit@localhost
export RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf"  # instead of /etc/rabbitmq/rabbitmq-env.conf
export RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
export RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config"
export RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
export RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
export RABBITMQ_LOG_BASE="$RMQ_DIR/log"
export RABBITMQ_PID_FILE="$RMQ_DIR/rabbit.pid"
export RABBITMQ_DIST_PORT="$RMQ_DIST_PORT"
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
# Do not let idle Erlang schedulers spin: this machine shares two cores with everything else.
export RABBITMQ_SCHEDULER_BUSY_WAIT_THRESHOLD=none

# Everything rabbitmqctl / infra-down.sh need to reach this node.
cat >"$LOCAL_DIR/infra.env" <<EOF
# Generated by deploy/local/infra-up.sh
PGDATA='$PGDATA'
export HOME='$HOME'
export RABBITMQ_NODENAME='$RABBITMQ_NODENAME'
export RABBITMQ_CONF_ENV_FILE='$RABBITMQ_CONF_ENV_FILE'
export RABBITMQ_CONFIG_FILE='$RABBITMQ_CONFIG_FILE'
export RABBITMQ_ADVANCED_CONFIG_FILE='$RABBITMQ_ADVANCED_CONFIG_FILE'
export RABBITMQ_ENABLED_PLUGINS_FILE='$RABBITMQ_ENABLED_PLUGINS_FILE'
export RABBITMQ_MNESIA_BASE='$RABBITMQ_MNESIA_BASE'
export RABBITMQ_LOG_BASE='$RABBITMQ_LOG_BASE'
export RABBITMQ_PID_FILE='$RABBITMQ_PID_FILE'
export RABBITMQ_DIST_PORT='$RABBITMQ_DIST_PORT'
export ERL_EPMD_ADDRESS='$ERL_EPMD_ADDRESS'
EOF

rabbitmqctl() { "$RMQ_BIN/rabbitmqctl" "$@"; }

rabbit_running() {
  [ -s "$RABBITMQ_PID_FILE" ] && kill -0 "$(cat "$RABBITMQ_PID_FILE")" 2>/dev/null \
    && rabbitmqctl -q -t 10 ping >/dev/null 2>&1
}

if rabbit_running; then
  log "RabbitMQ already running (node $RABBITMQ_NODENAME)"
else
  port_open "$RMQ_PORT" && die "127.0.0.1:$RMQ_PORT is taken by another process (a system RabbitMQ?); stop it or set BROKERING_RABBITMQ_PORT"
  port_open "$RMQ_MGMT_PORT" && die "127.0.0.1:$RMQ_MGMT_PORT is taken; stop it or set BROKERING_RABBITMQ_MANAGEMENT_PORT"
  : >"$RABBITMQ_CONF_ENV_FILE"
  cat >"$RABBITMQ_CONFIG_FILE" <<EOF
# Generated by deploy/local/infra-up.sh
listeners.tcp.1 = 127.0.0.1:$RMQ_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $RMQ_MGMT_PORT
loopback_users.guest = true
log.console = false
log.file.level = info
EOF
  echo '[rabbitmq_management].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
  rm -f "$RABBITMQ_PID_FILE"
  log "starting RabbitMQ on 127.0.0.1:$RMQ_PORT (management $RMQ_MGMT_PORT, distribution $RMQ_DIST_PORT)"
  "$RMQ_BIN/rabbitmq-server" -detached >"$RMQ_DIR/startup.log" 2>&1 \
    || { cat "$RMQ_DIR/startup.log" >&2; die "rabbitmq-server -detached failed"; }
  if ! rabbitmqctl -q wait --timeout 120 "$RABBITMQ_PID_FILE" >/dev/null 2>&1; then
    tail -n 40 "$RABBITMQ_LOG_BASE/$RABBITMQ_NODENAME.log" >&2 2>/dev/null || cat "$RMQ_DIR/startup.log" >&2
    die "RabbitMQ did not start (logs: $RABBITMQ_LOG_BASE)"
  fi
fi

log "waiting for the RabbitMQ management API"
for _ in $(seq 1 120); do
  curl -fsS -o /dev/null -u guest:guest "http://127.0.0.1:$RMQ_MGMT_PORT/api/overview" && break
  sleep 0.5
done
curl -fsS -o /dev/null -u guest:guest "http://127.0.0.1:$RMQ_MGMT_PORT/api/overview" \
  || die "RabbitMQ management API does not answer on 127.0.0.1:$RMQ_MGMT_PORT"

log "creating the services' broker accounts, the stock-feed virtual host and its accounts (idempotent)"
SERVICES_ENV="$(BROKERING_RABBITMQ_PORT="$RMQ_PORT" BROKERING_RABBITMQ_MANAGEMENT_PORT="$RMQ_MGMT_PORT" \
  "$REPO_ROOT/deploy/local/rabbitmq-services.sh")" || die "could not create the services' broker accounts"
FEEDS_ENV="$(BROKERING_RABBITMQ_PORT="$RMQ_PORT" BROKERING_RABBITMQ_MANAGEMENT_PORT="$RMQ_MGMT_PORT" \
  "$REPO_ROOT/deploy/local/rabbitmq-feeds.sh")" || die "could not create the feeds virtual host"

# ---------------------------------------------------------------------------------------------
# The connection settings tests and services read.
# ---------------------------------------------------------------------------------------------
# BROKERING_POSTGRES and BROKERING_RABBITMQ are the administrators' (tests make their own databases and virtual hosts
# with them); up.sh runs each service as its own broker user (BROKERING_RABBITMQ_<SERVICE>) and gives inventory the
# feeds virtual host (BROKERING_RABBITMQ_FEEDS); BROKERING_RABBITMQ_DISTRIBUTOR_FEED is what a distributor publishes with.
cat >"$LOCAL_DIR/env.sh" <<EOF
export BROKERING_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Password=postgres"
export BROKERING_RABBITMQ="amqp://guest:guest@127.0.0.1:$RMQ_PORT/"
export BROKERING_RABBITMQ_MANAGEMENT="http://guest:guest@127.0.0.1:$RMQ_MGMT_PORT/"
$SERVICES_ENV
$FEEDS_ENV
EOF
log "PostgreSQL data: $PGDATA; RabbitMQ data: $RMQ_DIR; variables written to $LOCAL_DIR/env.sh"
cat "$LOCAL_DIR/env.sh"
