#!/usr/bin/env bash
# Makes the secrets docker-compose.yml runs with, once, into DIR (default deploy/docker/secrets, git-ignored):
#
#   brokering.env              passwords for compose's interpolation, and BROKERING_SECRETS=DIR
#                              (docker compose --env-file DIR/brokering.env ...)
#   issuer-key.pem             the user-token issuer's ES256 private key: it stands in for an identity provider, so
#                              whoever holds it mints buyer, distributor, ops and officer tokens (deploy/docker/token.sh).
#                              Never mounted into a container.
#   issuer-public-key.pem      its public half: every service checks user tokens with it
#   ordering-service-key.pem   ordering's own ES256 private key, signing its gRPC calls (mounted into ordering only)
#   ordering-public-key.pem    its public half: inventory and compliance check ordering's service tokens with it.
#                              Rotating ordering's key (docs/security.md, "Rotating ordering's service key"): append
#                              the new key's public half to this file and restart inventory and compliance; give
#                              ordering the new key as Authentication__ServiceKeyFile and the old one as
#                              Authentication__ServiceKeyPreviousFile; later drop the old key from both.
#   rabbitmq-definitions.json  the broker's users (one per service, inventory's feeds account, an example distributor's
#                              and an administrator), virtual hosts and permissions
#
# Each service gets its own PostgreSQL role (owner of its own database only: postgres-init.sh) and its own RabbitMQ
# user (all of the internal virtual host, nothing else, no management access). Distributors publish their AMQP stock
# feeds on a virtual host of their own, brokering-feeds, where inventory reads the stock-feed queue and each
# distributor's own stock-feed.{id}.updates with a second account (inventory-feeds); the example distributor account
# (distributor-feed) may only write to the stock-feed exchange (the shared queue alone, not the default exchange,
# which routes to any queue by name), and a tenant's own account (deploy/k8s/README.md, production) only to its own
# queue through the stock-feeds exchange: no account but admin has permissions on both virtual hosts, so a
# distributor's cannot reach the internal bus (docs/security.md). Passwords are hex, so they go into connection
# strings and amqp:// URIs unescaped.
#
#   bash deploy/docker/provision.sh [DIR]      refuses to overwrite an existing DIR/brokering.env
# Needs openssl.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
DIR="${1:-$HERE/secrets}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
# The directory guards the keys on the host; the files themselves must be readable by the containers' users
# (compose bind-mounts secrets with the host's owner and mode).
chmod 700 "$DIR"

if [ -e "$DIR/brokering.env" ]; then
  echo "[provision] $DIR/brokering.env exists: the secrets are already made (remove $DIR to start over)" >&2
  exit 1
fi
command -v openssl >/dev/null || { echo "[provision] openssl is needed" >&2; exit 1; }

password() { openssl rand -hex 24; }

# RabbitMQ's rabbit_password_hashing_sha256: base64(salt . sha256(salt . password)), a 4-byte salt.
rabbit_hash() {
  local salt escaped
  salt="$(openssl rand -hex 4)"
  escaped="$(printf '%s' "$salt" | sed 's/../\\x&/g')"
  { printf "$escaped"; { printf "$escaped"; printf '%s' "$1"; } | openssl dgst -sha256 -binary; } | openssl base64 -A
}

es256_key() { # private key file, public key file
  openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out "$1"
  openssl ec -in "$1" -pubout -out "$2" 2>/dev/null
}

umask 077
es256_key "$DIR/issuer-key.pem" "$DIR/issuer-public-key.pem"
es256_key "$DIR/ordering-service-key.pem" "$DIR/ordering-public-key.pem"
chmod 644 "$DIR/issuer-public-key.pem" "$DIR/ordering-service-key.pem" "$DIR/ordering-public-key.pem"

postgres_password="$(password)"
rabbitmq_admin_password="$(password)"
declare -A db mq
for service in ordering inventory compliance; do
  db[$service]="$(password)"
  mq[$service]="$(password)"
done
inventory_feeds_password="$(password)"
distributor_feed_password="$(password)"

cat >"$DIR/rabbitmq-definitions.json" <<EOF
{
  "users": [
    { "name": "admin", "password_hash": "$(rabbit_hash "$rabbitmq_admin_password")", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"], "limits": {} },
    { "name": "ordering", "password_hash": "$(rabbit_hash "${mq[ordering]}")", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": [], "limits": {} },
    { "name": "inventory", "password_hash": "$(rabbit_hash "${mq[inventory]}")", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": [], "limits": {} },
    { "name": "compliance", "password_hash": "$(rabbit_hash "${mq[compliance]}")", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": [], "limits": {} },
    { "name": "inventory-feeds", "password_hash": "$(rabbit_hash "$inventory_feeds_password")", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": [], "limits": {} },
    { "name": "distributor-feed", "password_hash": "$(rabbit_hash "$distributor_feed_password")", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": [], "limits": { "max-connections": 32, "max-channels": 256 } }
  ],
  "vhosts": [
    { "name": "/", "default_queue_type": "quorum", "metadata": { "description": "Brokering", "tags": [], "default_queue_type": "quorum" } },
    { "name": "brokering-feeds", "default_queue_type": "quorum", "metadata": { "description": "Distributors' AMQP stock feeds", "tags": [], "default_queue_type": "quorum" } }
  ],
  "permissions": [
    { "user": "admin", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*" },
    { "user": "admin", "vhost": "brokering-feeds", "configure": ".*", "write": ".*", "read": ".*" },
    { "user": "ordering", "vhost": "/", "configure": "^((reservation-state|allocate-reservation|commit-reservation-holds|release-reservation-holds|rule-change|screen-reservation|stock-available|scheduler)(_error|_skipped)?|Brokering\\\\.Contracts\\\\.Ordering:.*|Brokering\\\\.Contracts\\\\.Inventory:(HoldsPlaced|HoldsCommitted)|Brokering\\\\.Contracts\\\\.Ordering:.*|Brokering\\\\.Contracts\\\\.Compliance:(CutoffChanged|PartyListed)|Brokering\\\\.Contracts\\\\.Inventory:(HoldsPlaced|HoldsCommitted|HoldsExpired|StockShortfallDetected|StockAvailable)|MassTransit\\\\.Scheduling:.*|MassTransit:Fault.*|.*_bus_.*)$", "write": "^((reservation-state|allocate-reservation|commit-reservation-holds|release-reservation-holds|rule-change|screen-reservation|stock-available|scheduler)(_error|_skipped)?|Brokering\\\\.Contracts\\\\.Ordering:.*|Brokering\\\\.Contracts\\\\.Inventory:(HoldsPlaced|HoldsCommitted)|MassTransit:Fault.*|.*_bus_.*)$", "read": "^((reservation-state|allocate-reservation|commit-reservation-holds|release-reservation-holds|rule-change|screen-reservation|stock-available|scheduler)(_error|_skipped)?|Brokering\\\\.Contracts\\\\.Ordering:.*|Brokering\\\\.Contracts\\\\.Compliance:(CutoffChanged|PartyListed)|Brokering\\\\.Contracts\\\\.Inventory:(HoldsPlaced|HoldsCommitted|HoldsExpired|StockShortfallDetected|StockAvailable)|MassTransit\\\\.Scheduling:.*|MassTransit:Fault.*|.*_bus_.*)$" },
    { "user": "inventory", "vhost": "/", "configure": "^((distributor-order-relay|distributor-webhooks|stock-feed)(_error|_skipped)?|Brokering\\\\.Contracts\\\\.Inventory:.*|Brokering\\\\.Contracts\\\\.Inventory:(DistributorOrderPlaced|DistributorOrderRevoked|HoldsPlaced|HoldsCommitted|HoldsReleased|HoldsExpired|StockFeedUpdate)|MassTransit:Fault.*|.*_bus_.*)$", "write": "^((distributor-order-relay|distributor-webhooks|stock-feed)(_error|_skipped)?|Brokering\\\\.Contracts\\\\.Inventory:.*|MassTransit:Fault.*|.*_bus_.*)$", "read": "^((distributor-order-relay|distributor-webhooks|stock-feed)(_error|_skipped)?|Brokering\\\\.Contracts\\\\.Inventory:(DistributorOrderPlaced|DistributorOrderRevoked|HoldsPlaced|HoldsCommitted|HoldsReleased|HoldsExpired|StockFeedUpdate)|MassTransit:Fault.*|.*_bus_.*)$" },
    { "user": "compliance", "vhost": "/", "configure": "^(reservation-ended(_error|_skipped)?|Brokering\\\\.Contracts\\\\.Compliance:.*|Brokering\\\\.Contracts\\\\.Ordering:ReservationScreened|Brokering\\\\.Contracts\\\\.Ordering:(ReservationEndedUnconfirmed|ReservationStatusChanged)|MassTransit:Fault.*|.*_bus_.*)$", "write": "^(reservation-ended(_error|_skipped)?|Brokering\\\\.Contracts\\\\.Compliance:.*|Brokering\\\\.Contracts\\\\.Ordering:ReservationScreened|MassTransit:Fault.*|.*_bus_.*)$", "read": "^(reservation-ended(_error|_skipped)?|Brokering\\\\.Contracts\\\\.Ordering:(ReservationEndedUnconfirmed|ReservationStatusChanged)|MassTransit:Fault.*|.*_bus_.*)$" },
    { "user": "inventory-feeds", "vhost": "brokering-feeds", "configure": "^(stock-feeds|stock-feed(\\\\.[a-z0-9_-]+\\\\.updates)?(_error|_skipped)?|distributor-orders(\\\\..+)?)$", "write": "^(amq\\\\.default|stock-feed(\\\\.[a-z0-9_-]+\\\\.updates)?(_error|_skipped)?|distributor-orders(\\\\..+)?)$", "read": "^(stock-feeds|stock-feed(\\\\.[a-z0-9_-]+\\\\.updates)?(_error|_skipped)?|distributor-orders)$" },
    { "user": "distributor-feed", "vhost": "brokering-feeds", "configure": "", "write": "^stock-feed$", "read": "" }
  ],
  "policies": [
    {"vhost": "brokering-feeds", "name": "stock-feed-bounds", "pattern": "^stock-feed$", "apply-to": "queues", "priority": 1, "definition": {"max-length": 100000, "max-length-bytes": 268435456, "overflow": "reject-publish"}},
    {"vhost": "brokering-feeds", "name": "stock-feed-distributor-bounds", "pattern": "^stock-feed\\\\.[a-z0-9_-]+\\\\.updates$", "apply-to": "queues", "priority": 1, "definition": {"max-length": 100000, "max-length-bytes": 268435456, "overflow": "reject-publish"}},
    {"vhost": "brokering-feeds", "name": "stock-feed-evidence-bounds", "pattern": "^stock-feed(\\\\.[a-z0-9_-]+\\\\.updates)?_(error|skipped)$", "apply-to": "queues", "priority": 1, "definition": {"max-length": 100000, "max-length-bytes": 268435456, "overflow": "drop-head"}},
    {"vhost": "brokering-feeds", "name": "distributor-orders-bounds", "pattern": "^distributor-orders\\\\.", "apply-to": "queues", "priority": 1, "definition": {"max-length": 100000, "max-length-bytes": 268435456, "overflow": "reject-publish"}}
  ],
  "parameters": [], "global_parameters": [], "queues": [], "exchanges": [], "bindings": []
}
EOF
chmod 644 "$DIR/rabbitmq-definitions.json"

cat >"$DIR/brokering.env" <<EOF
# Made by deploy/docker/provision.sh: docker compose --env-file $DIR/brokering.env up --build
BROKERING_SECRETS=$DIR
POSTGRES_PASSWORD=$postgres_password
ORDERING_DB_PASSWORD=${db[ordering]}
INVENTORY_DB_PASSWORD=${db[inventory]}
COMPLIANCE_DB_PASSWORD=${db[compliance]}
ORDERING_MQ_PASSWORD=${mq[ordering]}
INVENTORY_MQ_PASSWORD=${mq[inventory]}
COMPLIANCE_MQ_PASSWORD=${mq[compliance]}
INVENTORY_FEEDS_MQ_PASSWORD=$inventory_feeds_password
DISTRIBUTOR_FEED_MQ_PASSWORD=$distributor_feed_password
RABBITMQ_ADMIN_PASSWORD=$rabbitmq_admin_password
EOF

echo "[provision] secrets in $DIR; run: docker compose --env-file $DIR/brokering.env up --build" >&2
