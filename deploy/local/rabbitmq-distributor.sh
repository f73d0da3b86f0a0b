#!/usr/bin/env bash
# Issues (or rotates) one distributor's own broker account on the feeds virtual host, through the management API:
# `distributor-orders-{id}`, which may read its order queue distributor-orders.{id} and publish its own stock feed to
# the stock-feeds exchange with its id as routing key (a topic permission), and nothing else (configure "", no write on
# any other exchange, the default one included, no permission on any other virtual host, no tags). Inventory declares
# the order queue when the distributor is registered and the feed queue stock-feed.{id}.updates when its feed key is
# set (PUT /v1/distributors/{id}/feed-key); only this account can fill that queue (docs/security.md, "The AMQP stock feed").
#
# The password is made here from the kernel's random source and printed once, in the amqp:// URI on stdout; it is
# stored nowhere but in the broker, which keeps only its salted hash. Running the script again for the same id is the
# rotation: the account gets a new password and every connection still open with the old one is closed, so the old
# password stops working at once (docs/security.md, "Distributors' order queues").
#
#   rabbitmq-distributor.sh DISTRIBUTOR_ID
#   BROKERING_RABBITMQ_MANAGEMENT_PORT [15672]  BROKERING_RABBITMQ_PORT [5672]  BROKERING_FEEDS_VHOST [brokering-feeds]
# Prints `export BROKERING_RABBITMQ_DISTRIBUTOR_ORDERS="amqp://…"` on stdout.
set -euo pipefail

ID="${1:?usage: rabbitmq-distributor.sh DISTRIBUTOR_ID}"
# The id goes into a permission regex and a user name: only what inventory accepts as a distributor id.
[[ "$ID" =~ ^[a-z0-9_-]{1,64}$ ]] || { echo "distributor id must be 1 to 64 of a-z 0-9 _ -" >&2; exit 2; }

MGMT="http://127.0.0.1:${BROKERING_RABBITMQ_MANAGEMENT_PORT:-15672}/api"
RMQ_PORT="${BROKERING_RABBITMQ_PORT:-5672}"
FEEDS_VHOST="${BROKERING_FEEDS_VHOST:-brokering-feeds}"
USER="distributor-orders-$ID"

api() { curl -fsS -u guest:guest -H 'content-type: application/json' -X "$1" "$MGMT/$2" ${3:+-d "$3"}; }
vhost_path() { printf '%s' "$1" | sed 's|/|%2F|g'; }

V="$(vhost_path "$FEEDS_VHOST")"
PASSWORD="$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')"

api PUT "users/$USER" "{\"password\":\"$PASSWORD\",\"tags\":\"\"}" >/dev/null
api PUT "permissions/$V/$USER" "{\"configure\":\"\",\"write\":\"^stock-feeds\$\",\"read\":\"^distributor-orders\\\\.$ID\$\"}" >/dev/null
# Without a topic permission on the exchange RabbitMQ lets any routing key through: this one is what keeps the
# account's feed out of every other distributor's queue.
api PUT "topic-permissions/$V/$USER" "{\"exchange\":\"stock-feeds\",\"write\":\"^$ID\$\",\"read\":\"^\$\"}" >/dev/null
# An ERP reads one queue: a few connections (a reader and a standby), two channels each, so a leaked password or a
# runaway client cannot exhaust the broker's connections or memory.
api PUT "user-limits/$USER/max-connections" '{"value":4}' >/dev/null
api PUT "user-limits/$USER/max-channels" '{"value":8}' >/dev/null
# Rotation: connections opened with the old password would otherwise live on.
for connection in $(api GET "connections?columns=name,user" | python3 -c '
import json, sys, urllib.parse
for c in json.load(sys.stdin):
    if c.get("user") == sys.argv[1]:
        print(urllib.parse.quote(c["name"], safe=""))' "$USER"); do
  curl -fsS -o /dev/null -u guest:guest -X DELETE "$MGMT/connections/$connection" || true
done

echo "export BROKERING_RABBITMQ_DISTRIBUTOR_ORDERS=\"amqp://$USER:$PASSWORD@127.0.0.1:$RMQ_PORT/$V\""
