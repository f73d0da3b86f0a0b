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
#   BROKERING_FEED_QUEUE_MAX_LENGTH [100000]  BROKERING_FEED_QUEUE_MAX_BYTES [268435456]
#   BROKERING_FEED_CONNECTIONS [32]  (the shared distributor account's connections; channels are 8 per connection)
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

# inventory: declares and consumes stock-feed and each distributor's own stock-feed.{id}.updates, moves refused
# messages to their _error queues (a distributor's through the default exchange, its own account's only write there);
# declares the stock-feeds exchange and binds it (read) to each distributor's queue; declares the
# distributor-orders exchange and each distributor's distributor-orders.{id} queue, binds them and publishes the order
# notices; nothing else.
api "users/brokering-inventory-feeds" "{\"password\":\"$INVENTORY_FEEDS_PASSWORD\",\"tags\":\"\"}"
api "permissions/$V/brokering-inventory-feeds" \
  '{"configure":"^(stock-feeds|stock-feed(\\.[a-z0-9_-]+\\.updates)?(_error|_skipped)?|distributor-orders(\\..+)?)$","write":"^(amq\\.default|stock-feed(\\.[a-z0-9_-]+\\.updates)?(_error|_skipped)?|distributor-orders(\\..+)?)$","read":"^(stock-feeds|stock-feed(\\.[a-z0-9_-]+\\.updates)?(_error|_skipped)?|distributor-orders)$"}'

# The shared example account: may only publish to the exchange stock-feed, which inventory's feed bus binds to the
# shared stock-feed queue alone; no configure, no read, and no permission at all on any other vhost. Not the default
# exchange: that routes to any queue by name, each distributor's own stock-feed.{id}.updates and order queue included.
# Whoever holds it can still fill the shared queue for everyone who uses it, so it is for trying the feed out, never
# for a tenant: a distributor publishes with its own account (rabbitmq-distributor.sh; docs/security.md).
api "users/distributor-feed" "{\"password\":\"$DISTRIBUTOR_PASSWORD\",\"tags\":\"\"}"
api "permissions/$V/distributor-feed" '{"configure":"","write":"^stock-feed$","read":""}'

# Bounds, so no distributor's account can exhaust the broker that also carries the internal bus (a node-wide memory
# alarm blocks every publisher, the services' included). stock-feed refuses publishes once full (the publisher's
# confirm is a nack: it sends again later; nothing already queued is dropped); the error and skipped queues keep the
# newest (they are evidence for operators, not work); an order queue a distributor never reads refuses new notices
# once full, so inventory's relay retries and, in the end, faults visibly, while GET /v1/distributor/orders keeps
# every order. The same policies and limits are in compose's and Kubernetes' definitions.
MAX_LENGTH="${BROKERING_FEED_QUEUE_MAX_LENGTH:-100000}"
MAX_BYTES="${BROKERING_FEED_QUEUE_MAX_BYTES:-268435456}"
CONNECTIONS="${BROKERING_FEED_CONNECTIONS:-32}"
api "policies/$V/stock-feed-bounds" \
  "{\"pattern\":\"^stock-feed$\",\"apply-to\":\"queues\",\"priority\":1,\"definition\":{\"max-length\":$MAX_LENGTH,\"max-length-bytes\":$MAX_BYTES,\"overflow\":\"reject-publish\"}}"
# Each distributor's own feed queue is bounded on its own, so a flood refuses only its own publisher's messages.
api "policies/$V/stock-feed-distributor-bounds" \
  "{\"pattern\":\"^stock-feed\\\\.[a-z0-9_-]+\\\\.updates$\",\"apply-to\":\"queues\",\"priority\":1,\"definition\":{\"max-length\":$MAX_LENGTH,\"max-length-bytes\":$MAX_BYTES,\"overflow\":\"reject-publish\"}}"
api "policies/$V/stock-feed-evidence-bounds" \
  "{\"pattern\":\"^stock-feed(\\\\.[a-z0-9_-]+\\\\.updates)?_(error|skipped)$\",\"apply-to\":\"queues\",\"priority\":1,\"definition\":{\"max-length\":$MAX_LENGTH,\"max-length-bytes\":$MAX_BYTES,\"overflow\":\"drop-head\"}}"
api "policies/$V/distributor-orders-bounds" \
  "{\"pattern\":\"^distributor-orders\\\\.\",\"apply-to\":\"queues\",\"priority\":1,\"definition\":{\"max-length\":$MAX_LENGTH,\"max-length-bytes\":$MAX_BYTES,\"overflow\":\"reject-publish\"}}"
api "user-limits/distributor-feed/max-connections" "{\"value\":$CONNECTIONS}"
api "user-limits/distributor-feed/max-channels" "{\"value\":$((CONNECTIONS * 8))}"

echo "export BROKERING_RABBITMQ_FEEDS=\"amqp://brokering-inventory-feeds:$INVENTORY_FEEDS_PASSWORD@127.0.0.1:$RMQ_PORT/$V\""
echo "export BROKERING_RABBITMQ_DISTRIBUTOR_FEED=\"amqp://distributor-feed:$DISTRIBUTOR_PASSWORD@127.0.0.1:$RMQ_PORT/$V\""
