#!/usr/bin/env bash
# Regenerates docs/benchmarks.md from figures measured on this machine, in one run (about 10-15 minutes):
#   1. end to end: the scramble at a sweep of offered rates on a fresh whole system (bench/Brokering.Load sweep),
#      with latency percentiles, outcomes, invariants, CPU and memory per process, and on the same PostgreSQL
#      pgbench TPC-B (scale 10) and the bare conditional UPDATE of a hold, with the ratios; a PNG plot under docs/;
#      then the happy path alone (one line, all-or-none, auto-confirmed, ample stock) at HAPPY_RATES, with the work
#      one reservation costs: transactions and statements by database, broker messages, gRPC calls, CPU by process;
#   2. inventory: hot-SKU holds/s and feed ingest items/s (bench/Brokering.Inventory.Bench);
#   3. messaging: saga transitions/s and outbox writes/relays per second (bench/Brokering.Messaging.Postgres.Bench).
# Uses the PostgreSQL and RabbitMQ named by BROKERING_POSTGRES / BROKERING_RABBITMQ (from .local/env.sh when unset);
# every run creates and drops its own databases and virtual hosts. Everything from the heading "# Measured by hand"
# on is kept as it was (hand-measured sections and earlier reports), after the regenerated sections, with the report
# this run replaces at its head (bench/keep-previous-report.sh).
#
#   RATES=25,50,100,150,200 HAPPY_RATES=50,100,150 DURATION=20 bash bench/report.sh
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO_ROOT"
RATES="${RATES:-25,50,100,150,200}"
HAPPY_RATES="${HAPPY_RATES:-50,100,150}"
# A service runs for hours and spends nearly all of them warm: its first minute (the JIT's tiers, dynamic PGO's
# instrumentation) is not what it costs in a scramble. Each sweep's fresh system is warmed up this long first.
WARMUP_RATE="${WARMUP_RATE:-40}"
WARMUP_SECONDS="${WARMUP_SECONDS:-60}"
DURATION="${DURATION:-20}"
DOC=docs/benchmarks.md
PLOT=docs/benchmarks-end-to-end.png

log() { printf '[report] %s\n' "$*" >&2; }

if [ -z "${BROKERING_POSTGRES:-}" ] && [ -f .local/env.sh ]; then
  # shellcheck disable=SC1091
  source .local/env.sh
fi
[ -n "${BROKERING_POSTGRES:-}" ] || { log "BROKERING_POSTGRES is not set (run deploy/local/infra-up.sh, or source its env.sh)"; exit 2; }

log "building the services and the benches (Release)"
# bench/Brokering.Load builds the three services too (tests/Brokering.Testing.Installation references them).
for project in bench/Brokering.Load bench/Brokering.Inventory.Bench bench/Brokering.Messaging.Postgres.Bench; do
  dotnet build "$project" -c Release -nologo -v quiet >/dev/null
done

started=$SECONDS
backup="$(mktemp)"
cp "$DOC" "$backup" 2>/dev/null || true
restore() { log "failed: $DOC restored"; cp "$backup" "$DOC"; }
trap restore ERR

cat >"$DOC" <<HEADER
# Benchmarks

Figures measured on the project's machine by \`bash bench/report.sh\`, all in one run on $(date -u '+%Y-%m-%d %H:%M') UTC:
$(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB of memory, PostgreSQL and RabbitMQ on the same machine as the services and the
load generators. Load average (1 min) when the run began: $(cut -d' ' -f1 /proc/loadavg). **This machine is shared**: other
sessions build and test on the same 2 cores while the benchmarks run, so each section records the load average it ran at;
compare figures taken at similar load, and read absolute numbers as a floor, not as what the code does on a quiet machine.

HEADER

log "end to end: sweep of $RATES reservations/s, $DURATION s each"
set +e
dotnet bench/Brokering.Load/bin/Release/net10.0/brokering-load.dll sweep --rates "$RATES" --duration "$DURATION" \
  --warmup-rate "$WARMUP_RATE" --warmup-seconds "$WARMUP_SECONDS" --drain-timeout 120 --markdown "$DOC" --plot "$PLOT"
sweep=$?
set -e
[ $sweep -le 1 ] || { restore; exit $sweep; }

log "end to end: the happy path at $HAPPY_RATES reservations/s, $DURATION s each"
set +e
dotnet bench/Brokering.Load/bin/Release/net10.0/brokering-load.dll sweep --happy-path --rates "$HAPPY_RATES" --duration "$DURATION" \
  --warmup-rate "$WARMUP_RATE" --warmup-seconds "$WARMUP_SECONDS" --drain-timeout 120 --markdown "$DOC"
happy=$?
set -e
[ $happy -le 1 ] || { restore; exit $happy; }
[ $happy -eq 0 ] || sweep=1

trap - ERR
# The component benches append their own sections; one that fails leaves a line saying so, not a lost report.
log "inventory: hot-SKU holds and feed ingest"
dotnet bench/Brokering.Inventory.Bench/bin/Release/net10.0/Brokering.Inventory.Bench.dll 8 \
  || printf '## Inventory\n\nThe inventory bench failed in this run (exit %d); see its output.\n\n' $? >>"$DOC"

log "messaging: saga transitions and outbox"
dotnet bench/Brokering.Messaging.Postgres.Bench/bin/Release/net10.0/Brokering.Messaging.Postgres.Bench.dll \
  --spread-events 2000 --hot-events 400 --outbox-messages 2000 --pgbench-seconds 10 \
  || printf '## Messaging on PostgreSQL\n\nThe messaging bench failed in this run (exit %d); see its output.\n\n' $? >>"$DOC"

printf 'The whole report took %d s; load average (1 min) at its end: %s.\n\n' $((SECONDS - started)) "$(cut -d' ' -f1 /proc/loadavg)" >>"$DOC"
# The sections measured by hand (and the earlier reports kept beside them) stay, after this run's; the report this run
# replaces joins them, first, its titles marked as the previous report, so a reader can compare the two.
bash bench/keep-previous-report.sh "$backup" >>"$DOC"
rm -f "$backup"
if [ $sweep -ne 0 ]; then
  log "done, but an end-to-end step left reservations open or broke an invariant: see $DOC"
  exit 1
fi
log "done: $DOC, $PLOT"
