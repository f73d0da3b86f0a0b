#!/usr/bin/env bash
# Creates, idempotently and additively, one broker account per service on the internal virtual host of a running
# RabbitMQ, through the management API (PUT is idempotent). Never deletes anything: guest stays, as the local
# administrator the tests and the management UI use (loopback only); no service connects as guest.
# Called by infra-up.sh; safe to run on its own against servers that are already up.
#
# Each account: configure, write and read on the internal virtual host only (MassTransit declares its exchanges,
# queues and bindings there, and names exchanges after message types, so narrower patterns would have to list every
# contract), no permission on any other virtual host (not the distributors' feeds vhost), and no tags, so no
# management API. The same shape as docker-compose's (deploy/docker/provision.sh) and Kubernetes' accounts.
#
#   BROKERING_RABBITMQ_MANAGEMENT_PORT [15672]  BROKERING_RABBITMQ_PORT [5672]  BROKERING_INTERNAL_VHOST [/]
#   BROKERING_{ORDERING,INVENTORY,COMPLIANCE}_MQ_PASSWORD [<service>-local]
# Prints the export lines BROKERING_RABBITMQ_{ORDERING,INVENTORY,COMPLIANCE} (amqp:// URIs) on stdout.
set -euo pipefail

MGMT="http://127.0.0.1:${BROKERING_RABBITMQ_MANAGEMENT_PORT:-15672}/api"
RMQ_PORT="${BROKERING_RABBITMQ_PORT:-5672}"
INTERNAL_VHOST="${BROKERING_INTERNAL_VHOST:-/}"

api() { curl -fsS -o /dev/null -u guest:guest -H 'content-type: application/json' -X PUT "$MGMT/$1" -d "$2"; }
vhost_path() { printf '%s' "$1" | sed 's|/|%2F|g'; }

V="$(vhost_path "$INTERNAL_VHOST")"
# The amqp:// path of the default vhost "/" is empty; any other is its escaped name.
URI_PATH="$V"
[ "$INTERNAL_VHOST" = / ] && URI_PATH=

for service in ordering inventory compliance; do
  upper="$(printf '%s' "$service" | tr '[:lower:]' '[:upper:]')"
  password_variable="BROKERING_${upper}_MQ_PASSWORD"
  # Local development passwords only; Kubernetes and compose take theirs from secrets.
  password="${!password_variable:-$service-local}"
  api "users/brokering-$service" "{\"password\":\"$password\",\"tags\":\"\"}"
  api "permissions/$V/brokering-$service" '{"configure":".*","write":".*","read":".*"}'
  echo "export BROKERING_RABBITMQ_${upper}=\"amqp://brokering-$service:$password@127.0.0.1:$RMQ_PORT/$URI_PATH\""
done
