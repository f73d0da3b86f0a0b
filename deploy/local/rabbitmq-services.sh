#!/usr/bin/env bash
# Creates, idempotently and additively, one broker account per service on the internal virtual host of a running
# RabbitMQ, through the management API (PUT is idempotent). Never deletes anything: guest stays, as the local
# administrator the tests and the management UI use (loopback only); no service connects as guest.
# Called by infra-up.sh; safe to run on its own against servers that are already up.
#
# Each account: least privilege on the internal virtual host only, no permission on any other (not the distributors'
# feeds vhost), and no tags, so no management API. MassTransit names exchanges after message types
# (`Brokering.Contracts.Ordering:ReservationSubmitted`) and queues (and their exchanges) after endpoints, so a service
#   configures: its own endpoints (and their _error/_skipped), the exchanges of the types it publishes or consumes;
#   writes:     its own endpoints, the exchanges of the types it publishes (no other service's events or commands);
#   reads:      its own endpoints, the exchanges of the types it consumes (to bind them; no other service's queue);
# plus, for every service, MassTransit's fault exchanges (`MassTransit:Fault--…`) and its temporary bus endpoint
# (`{host}_{process}_bus_{id}`). A new consumer or message type needs its name here, in compose's provision.sh and in
# the Kubernetes definitions (docs/security.md, "The internal bus"). The same shape as those.

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

# Per service: its endpoints, the types it publishes, the types it consumes (regex alternatives, unanchored).
ordering_endpoints='(reservation-state|allocate-reservation|commit-reservation-holds|release-reservation-holds|rule-change|screen-reservation|stock-available|scheduler)(_error|_skipped)?'
ordering_publishes='Brokering\.Contracts\.Ordering:.*|Brokering\.Contracts\.Inventory:(HoldsPlaced|HoldsCommitted)'
ordering_consumes='Brokering\.Contracts\.Ordering:.*|Brokering\.Contracts\.Compliance:(CutoffChanged|PartyListed)|Brokering\.Contracts\.Inventory:(HoldsPlaced|HoldsCommitted|HoldsExpired|StockShortfallDetected|StockAvailable)|MassTransit\.Scheduling:.*'
# stock-feed: the AMQP feed's endpoint when inventory runs without a feeds connection; distributor-webhooks: the
# recorder that turns inventory's own hold and order events into the distributors' webhook deliveries.
inventory_endpoints='(distributor-order-relay|distributor-webhooks|stock-feed)(_error|_skipped)?'
inventory_publishes='Brokering\.Contracts\.Inventory:.*'
inventory_consumes='Brokering\.Contracts\.Inventory:(DistributorOrderPlaced|DistributorOrderRevoked|HoldsPlaced|HoldsCommitted|HoldsReleased|HoldsExpired|StockFeedUpdate)'
compliance_endpoints='reservation-ended(_error|_skipped)?'
# An officer's ruling on a potential match goes to the saga as ReservationScreened (the review desk).
compliance_publishes='Brokering\.Contracts\.Compliance:.*|Brokering\.Contracts\.Ordering:ReservationScreened'
compliance_consumes='Brokering\.Contracts\.Ordering:(ReservationEndedUnconfirmed|ReservationStatusChanged)'
masstransit='MassTransit:Fault.*|.*_bus_.*'

json_regex() { printf '"^(%s)$"' "$1" | sed 's/\\/\\\\/g'; }

for service in ordering inventory compliance; do
  upper="$(printf '%s' "$service" | tr '[:lower:]' '[:upper:]')"
  password_variable="BROKERING_${upper}_MQ_PASSWORD"
  # Local development passwords only; Kubernetes and compose take theirs from secrets.
  password="${!password_variable:-$service-local}"
  endpoints_variable="${service}_endpoints"; publishes_variable="${service}_publishes"; consumes_variable="${service}_consumes"
  endpoints="${!endpoints_variable}"; publishes="${!publishes_variable}"; consumes="${!consumes_variable}"
  api "users/brokering-$service" "{\"password\":\"$password\",\"tags\":\"\"}"
  api "permissions/$V/brokering-$service" \
    "{\"configure\":$(json_regex "$endpoints|$publishes|$consumes|$masstransit"),\"write\":$(json_regex "$endpoints|$publishes|$masstransit"),\"read\":$(json_regex "$endpoints|$consumes|$masstransit")}"
  echo "export BROKERING_RABBITMQ_${upper}=\"amqp://brokering-$service:$password@127.0.0.1:$RMQ_PORT/$URI_PATH\""
done
