#!/usr/bin/env bash
# Runs the fault suite (tests/Brokering.Faults.Tests): for each scenario a whole installation runs a
# reservation load while a fault is injected (kill -9 of each service, two replicas of each, gRPC calls delayed,
# cut and refused, every message delivered twice and late, a RabbitMQ cluster node killed for good, PostgreSQL
# restarted, a PostgreSQL primary
# lost and its synchronous standby promoted), then every
# reservation must come to rest by itself, every accepted one must end and the invariant checker must pass.
# Scenarios run one at a time.
#
# CI (deploy/local/test.sh) runs only the scenarios without the trait FaultRun=FullOnly (kill -9 of inventory, two
# replicas with one of ordering and inventory killed, every message twice and late, RabbitMQ and PostgreSQL
# restarted); this script runs them all.
#
#   bash deploy/local/faults.sh          # short load per scenario (20 s), every scenario
#   bash deploy/local/faults.sh --long   # long load per scenario (BROKERING_FAULTS_LOAD_SECONDS, default 300 s)
#   bash deploy/local/faults.sh --above-capacity [RATE]
#                                        # every scenario with a burst of RATE reservations/s (default 40, several
#                                        # times what two cores carry) for the first half of its load, so each fault
#                                        # strikes while a backlog waits (BROKERING_FAULTS_ABOVE_CAPACITY)
#
# Prints a table (scenario, reservations submitted and accepted, terminal states, invariants) at the end; the
# full output goes to .local/faults-output.log. Exits non-zero if a scenario failed.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO_ROOT"

case "${1:-}" in
  "") ;;
  --long) export BROKERING_FAULTS_LOAD_SECONDS="${BROKERING_FAULTS_LOAD_SECONDS:-300}" ;;
  --above-capacity) export BROKERING_FAULTS_ABOVE_CAPACITY="${2:-40}" ;;
  -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--long | --above-capacity [RATE]]" >&2; exit 2 ;;
esac

# shellcheck source=deploy/local/servers-running.sh
source deploy/local/servers-running.sh

if ! servers_running; then
  bash deploy/local/infra-up.sh
fi
# shellcheck disable=SC1091
source .local/env.sh

mkdir -p .local
export BROKERING_FAULTS_RESULTS="$REPO_ROOT/.local/faults-results.md"
: > "$BROKERING_FAULTS_RESULTS"

# The test project references the three services, so this builds what the scenarios start as processes.
dotnet build tests/Brokering.Faults.Tests -c Release -v quiet -nologo

set +e
dotnet test tests/Brokering.Faults.Tests -c Release --no-build --logger "console;verbosity=normal" 2>&1 | tee .local/faults-output.log
rc=${PIPESTATUS[0]}
set -e

echo
echo "Fault scenarios (load ${BROKERING_FAULTS_LOAD_SECONDS:-20} s each${BROKERING_FAULTS_ABOVE_CAPACITY:+, with a burst of $BROKERING_FAULTS_ABOVE_CAPACITY reservations/s for the first half}):"
echo "| scenario | submitted | accepted | terminal states | invariants |"
echo "|---|---|---|---|---|"
cat "$BROKERING_FAULTS_RESULTS"
exit "$rc"
