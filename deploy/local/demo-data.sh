#!/usr/bin/env bash
# Demo data for a locally running system (deploy/local/up.sh runs this): stock at the three seeded
# distributors, the README's buyer organisation registered with compliance, and a scenario rule set modelled on the 2023 rule whose cutoff lies 30 minutes ahead,
# so reservations to CN race a real cutoff (every historical cutoff for CN is long past).
# Safe to run again: sequences and the rule-set version come from the clock.
set -euo pipefail

ORDERING="${ORDERING_URL:-http://127.0.0.1:5100}"
INVENTORY="${INVENTORY_URL:-http://127.0.0.1:5200}"
COMPLIANCE="${COMPLIANCE_URL:-http://127.0.0.1:5300}"

# Development-only token endpoint (see README, "API examples").
token() {
  curl -fsS -X POST "$ORDERING/dev/tokens" -H 'Content-Type: application/json' \
    -d "{\"subject\":\"$1\",\"roles\":[\"${2//,/\",\"}\"],\"tenant\":\"$3\"}" |
    sed 's/.*"accessToken":"\([^"]*\)".*/\1/'
}

sequence="$(date +%s)"
snapshot() { # distributor, items JSON
  curl -fsS -o /dev/null -X POST "$INVENTORY/v1/distributors/$1/stock-feed" \
    -H "Authorization: Bearer $(token "feed@$1" distributor "$1")" -H 'Content-Type: application/json' \
    -d "{\"distributorId\":\"$1\",\"sequence\":$sequence,\"kind\":\"Snapshot\",\"items\":$2}"
  echo "[demo] $1: stock snapshot $sequence published"
}

item() { # sku, warehouse, on hand, price, lead time, moq
  printf '{"sku":"%s","warehouse":"%s","quantityOnHand":%s,"unitPrice":%s,"currency":"USD","leadTimeDays":%s,"minimumOrderQuantity":%s}' "$@"
}

snapshot arrow "[$(item NVIDIA-H800-SXM5-80GB HKG-1 400 31000 3 1),$(item NVIDIA-A800-SXM4-80GB HKG-1 600 17500 3 1),$(item NVIDIA-H20 HKG-1 2000 12500 2 10)]"
snapshot avnet "[$(item NVIDIA-H800-SXM5-80GB SIN-2 250 30500 5 5),$(item NVIDIA-A800-SXM4-80GB SIN-2 300 17900 5 5),$(item NVIDIA-L40S SIN-2 800 9800 4 1)]"
snapshot wpg "[$(item NVIDIA-H800-SXM5-80GB TPE-1 120 32000 2 1),$(item NVIDIA-A800-SXM4-80GB TPE-1 900 17200 2 1),$(item NVIDIA-H100-SXM5-80GB TPE-1 50 34000 7 1)]"

# The README's buyer, known to compliance: an unregistered buyer organisation is refused (Compliance:UnregisteredBuyers).
curl -fsS -o /dev/null -X PUT "$COMPLIANCE/v1/buyers/acme-servers" \
  -H "Authorization: Bearer $(token officer compliance-officer '')" -H 'Content-Type: application/json' \
  -d '{"legalName":"Acme Servers Inc.","country":"US"}'
echo "[demo] compliance: buyer organisation acme-servers registered"

effective="$(date -u -d '+30 minutes' +%Y-%m-%dT%H:%M:%SZ)"
curl -fsS -o /dev/null -X POST "$COMPLIANCE/v1/rule-sets" \
  -H "Authorization: Bearer $(token officer compliance-officer '')" -H 'Content-Type: application/json' \
  -d "{\"version\":\"scenario-$sequence\",\"effectiveAt\":\"$effective\",\"basedOn\":\"2023-10-17\"}"
echo "[demo] compliance: scenario rule set scenario-$sequence (modelled on the 2023 rule) takes effect at $effective"
