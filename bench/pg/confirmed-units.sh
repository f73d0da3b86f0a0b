#!/usr/bin/env bash
# How much the per-buyer count of confirmed units (what ordering's cap on units per buyer and SKU reads) holds up
# confirmations of one buyer and SKU, with ordering's real schema and triggers at two migrations.
#
# Each pgbench transaction is a confirmation as the saga's consumer makes it: BEGIN; the saga row's UPDATE to Confirmed
# (which fires the trigger adding to the total); the consumer's next round trip (an outbox-sized INSERT); COMMIT. All
# clients confirm reservations of the same buyer and SKU, so they contend on one total row. Run against:
#   before  - migrations up to BuyerSkuConfirmedUnits (the total added to by an ordinary trigger: locked until COMMIT)
#   after   - every migration (each confirmation appends a row of its own; claims fold them into the total)
#   none    - every migration with those triggers dropped (the same work with no count at all: the ceiling)
# pgbench TPC-B on the same server in the same run gives the scale. Each database is created and dropped here. (The next
# reservation is picked in a sub-select: nextval() in the WHERE clause itself would be evaluated, and the sequence
# advanced, for every row the UPDATE scans.)
#
#   bash bench/pg/confirmed-units.sh            # CLIENTS=8 SECONDS_PER_RUN=15 ROUNDS=2
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO_ROOT"
CLIENTS="${CLIENTS:-8}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-15}"
ROUNDS="${ROUNDS:-2}"
BEFORE_MIGRATION=20261204150502_BuyerSkuConfirmedUnits

if [ -z "${BROKERING_POSTGRES:-}" ] && [ -f .local/env.sh ]; then
  # shellcheck disable=SC1091
  source .local/env.sh
fi
# BROKERING_POSTGRES is an Npgsql connection string (Host=…;Port=…;Username=…;Password=…).
field() { tr ';' '\n' <<<"$BROKERING_POSTGRES" | sed -n "s/^$1=//Ip" | head -1; }
export PGHOST="$(field Host)" PGPORT="$(field Port)" PGUSER="$(field Username)" PGPASSWORD="$(field Password)"
PGPORT="${PGPORT:-5432}"

work="$(mktemp -d)"
trap 'rm -rf "$work"; for db in bench_cu_before bench_cu_after bench_cu_none bench_cu_tpcb; do dropdb --if-exists "$db" 2>/dev/null || true; done' EXIT

dotnet build services/Ordering -nologo -v quiet >/dev/null
dotnet ef migrations script 0 "$BEFORE_MIGRATION" -p services/Ordering --context OrderingDbContext --no-build -o "$work/before.sql" >/dev/null
dotnet ef migrations script -p services/Ordering --context OrderingDbContext --no-build -o "$work/after.sql" >/dev/null

prepare() { # database, schema script
  dropdb --if-exists "$1" 2>/dev/null; createdb "$1"
  psql -q -v ON_ERROR_STOP=1 -d "$1" -f "$2" >/dev/null 2>&1
  psql -q -v ON_ERROR_STOP=1 -d "$1" <<'SQL'
CREATE TABLE bench_outbox (id bigserial PRIMARY KEY, body text NOT NULL);
CREATE SEQUENCE bench_next_reservation;
INSERT INTO reservation_sagas (reservation_id, current_state, buyer_id, destination_country, fill_policy, min_fill_ratio,
    confirmation, submitted_at, updated_at, plan_version, lines, allocations, history, may_hold_licence_units)
SELECT md5(n::text)::uuid, 'Confirming', 'bench-buyer', 'CN', 'AllOrNothing', 1, 'Explicit', now(), now(), 1,
    '[{"sku":"A800-80G","quantity":8}]', '[{"sku":"A800-80G","distributor":"arrow","warehouse":"HKG-1","quantity":8}]', '[]', false
FROM generate_series(1, 400000) n;
VACUUM ANALYZE;
SQL
}

cat > "$work/confirm.sql" <<'SQL'
BEGIN;
UPDATE reservation_sagas SET current_state = 'Confirmed', updated_at = now()
WHERE reservation_id = (SELECT md5(nextval('bench_next_reservation')::text)::uuid);
INSERT INTO bench_outbox (body) VALUES (repeat('x', 600));
COMMIT;
SQL

prepare bench_cu_before "$work/before.sql"
prepare bench_cu_after "$work/after.sql"
prepare bench_cu_none "$work/after.sql"
psql -q -d bench_cu_none -c "DROP TRIGGER buyer_sku_confirmed_deltas_add_on_insert ON reservation_sagas; DROP TRIGGER buyer_sku_confirmed_deltas_add_on_confirm ON reservation_sagas;"
createdb bench_cu_tpcb && pgbench -q -i -s 10 bench_cu_tpcb >/dev/null 2>&1

run() { # label, database
  local out
  out="$(pgbench -n -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" -f "$work/confirm.sql" "$2" 2>&1)"
  printf '%-7s %8s tps  latency %7s ms  load %s\n' "$1" \
    "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | cut -d. -f1)" \
    "$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")" \
    "$(cut -d' ' -f1 /proc/loadavg)"
}

echo "confirmations of one buyer and SKU, $CLIENTS clients, ${SECONDS_PER_RUN}s per run, PostgreSQL $(psql -Atc 'SHOW server_version' -d postgres)"
for round in $(seq 1 "$ROUNDS"); do
  run before bench_cu_before
  run after bench_cu_after
  run none bench_cu_none
  printf '%-7s %8s tps  (TPC-B scale 10)\n' tpcb "$(pgbench -n -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" bench_cu_tpcb 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | cut -d. -f1)"
done
for db in bench_cu_before bench_cu_after; do
  # The deltas table exists only after the change: read the total alone before it.
  counted="SELECT units FROM buyer_sku_confirmed_units WHERE buyer_id = 'bench-buyer'"
  if [ "$db" = bench_cu_after ]; then
    counted="$counted UNION ALL SELECT units FROM buyer_sku_confirmed_deltas WHERE buyer_id = 'bench-buyer'"
  fi
  printf 'counted for %s: %s units over %s confirmed reservations\n' "$db" \
    "$(psql -Atc "SELECT COALESCE(SUM(units), 0) FROM ($counted) c" -d "$db")" \
    "$(psql -Atc "SELECT count(*) FROM reservation_sagas WHERE current_state = 'Confirmed'" -d "$db")"
done
