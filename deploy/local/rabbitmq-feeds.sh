#!/usr/bin/env bash
# Creates, idempotently and additively, the stock-feed virtual host and its broker accounts on a running RabbitMQ,
# through the management API (PUT is idempotent). Never deletes anything: guest and "/" stay, other tests use them.
# Called by infra-up.sh; safe to run on its own against servers that are already up.
#
# Why a separate virtual host: a distributor's broker account on the internal vhost, even with write permission on
# the default exchange only, could route a MassTransit envelope into the saga's queue. Permissions are per vhost, so a
# distributor account that has permissions on `brokering-feeds` alone cannot even open a connection to the internal one.
#
#   BROKERING_RABBITMQ_MANAGEMENT_PORT [15672]  BROKERING_FEEDS_VHOST [brokering-feeds]
# Prints the export lines for the feed connection strings on stdout.
set -euo pipefail

MGMT="http://127.0.0.1:${BROKERING_RABBITMQ_MANAGEMENT_PORT:-15672}/api"
RMQ_PORT="${BROKERING_RABBITMQ_PORT:-5672}"
FEEDS_VHOST="${BROKERING_FEEDS_VHOST:-brokering-feeds}"
# Local development passwords only; Kubernetes and compose take theirs from secrets.
INVENTORY_FEEDS_PASSWORD="${BROKERING_INVENTORY_FEEDS_PASSWORD:-inventory-feeds-local}"
DISTRIBUTOR_PASSWORD="${BROKERING_DISTRIBUTOR_FEED_PASSWORD:-distributor-feed-local}"

api() { curl -fsS -o /dev/null -u guest:guest -H 'content-type: application/json' -X PUT "$MGMT/$1" -d "$2"; }
vhost_path() { printf '%s' "$1" | sed 's|/|%2F|g'; }

V="$(vhost_path "$FEEDS_VHOST")"
api "vhosts/$V" '{}'

# inventory: declares and consumes stock-feed, dead-letters to stock-feed_error; declares the distributor-orders
# exchange and each distributor's distributor-orders.{id} queue, binds them and publishes the order notices; nothing else.
api "users/brokering-inventory-feeds" "{\"password\":\"$INVENTORY_FEEDS_PASSWORD\",\"tags\":\"\"}"
api "permissions/$V/brokering-inventory-feeds" \
  '{"configure":"^(stock-feed(_error|_skipped)?|distributor-orders(\\..+)?)$","write":"^(amq\\.default|stock-feed(_error|_skipped)?|distributor-orders(\\..+)?)$","read":"^(stock-feed(_error|_skipped)?|distributor-orders)$"}'

# A distributor: may only publish through the default exchange of the feeds vhost (routing key stock-feed);
# no configure, no read, and no permission at all on any other vhost.
api "users/distributor-feed" "{\"password\":\"$DISTRIBUTOR_PASSWORD\",\"tags\":\"\"}"
api "permissions/$V/distributor-feed" '{"configure":"","write":"^amq\\.default$","read":""}'

echo "export BROKERING_RABBITMQ_FEEDS=\"amqp://brokering-inventory-feeds:$INVENTORY_FEEDS_PASSWORD@127.0.0.1:$RMQ_PORT/$V\""
echo "export BROKERING_RABBITMQ_DISTRIBUTOR_FEED=\"amqp://distributor-feed:$DISTRIBUTOR_PASSWORD@127.0.0.1:$RMQ_PORT/$V\""
