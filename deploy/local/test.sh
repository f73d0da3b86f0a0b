#!/usr/bin/env bash
# Runs every test of the solution against the local PostgreSQL and RabbitMQ (started if needed).
# The full output goes to .local/test-output.log (with --unit .local/test-unit-output.log); the last
# line printed is the summary "N passed, N failed[, N skipped]". Exits non-zero if a test failed,
# `dotnet test` failed, or no test ran.
#
# --unit runs only the tests that need no server (trait Category=Unit, in the projects of
# Brokering.Unit.slnf): no infrastructure is started or read, for the edit-test loop.
#
# BROKERING_TEST_TARGET overrides what is tested (default Brokering.sln, with --unit Brokering.Unit.slnf),
# e.g. a single test project.
# The fault suite's scenarios marked FaultRun=FullOnly (minutes each, or known to fail) are left to
# deploy/local/faults.sh; the short ones run here with everything else.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO_ROOT"

unit=false
case "${1:-}" in
  "") ;;
  --unit) unit=true ;;
  *)
    echo "usage: $0 [--unit]" >&2
    exit 2
    ;;
esac

if [ "$unit" = true ]; then
  TARGET="${BROKERING_TEST_TARGET:-Brokering.Unit.slnf}"
  FILTER="Category=Unit"
else
  TARGET="${BROKERING_TEST_TARGET:-Brokering.sln}"
  FILTER="FaultRun!=FullOnly"

  # shellcheck source=deploy/local/servers-running.sh
  source deploy/local/servers-running.sh

  if ! servers_running; then
    bash deploy/local/infra-up.sh
  fi

  # The ops console's browser tests drive Debian's Chromium through Playwright; Playwright must never
  # try to download a browser of its own (there is no internet here).
  if ! command -v chromium >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >&2
  fi
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  # The deployment recipe tests (tests/Brokering.EndToEnd.Tests/Deployment) render docker-compose.yml and the Kubernetes
  # overlays with the recipes' own tools, and make compose's secrets with openssl.
  for tool in docker-compose openssl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "installing $tool for the deployment recipe tests" >&2
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$tool"; } >&2
    fi
  done
  if ! command -v kubectl >/dev/null 2>&1 && [ ! -x deploy/k8s/validate/node_modules/.kubectl/kubectl ]; then
    echo "installing the pinned kubectl (deploy/k8s/validate.sh) for the deployment recipe tests" >&2
    bash deploy/k8s/validate.sh >&2
  fi
  # shellcheck disable=SC1091
  source .local/env.sh
fi

mkdir -p .local
LOG=.local/test-output.log
if [ "$unit" = true ]; then
  LOG=.local/test-unit-output.log
fi
set +e
dotnet test "$TARGET" -c Release --filter "$FILTER" --logger "console;verbosity=normal" 2>&1 | tee "$LOG"
dotnet_rc=${PIPESTATUS[0]}
set -e

# VSTest prints, per test assembly, either the one-line summary (minimal verbosity)
#   Passed!  - Failed:     0, Passed:    12, Skipped:     0, Total:    12, Duration: 1 s - X.dll (net10.0)
# or, at normal verbosity, a block (labels right-aligned, one count per line)
#   Total tests: 12
#        Passed: 11
#        Failed: 1
#       Skipped: 0
# Sum the one-line summaries when present, otherwise the block lines (never both). The block
# lines are matched one by one, so output of projects tested in parallel may interleave.
read -r passed failed skipped assemblies < <(
  sed 's/\x1b\[[0-9;]*[A-Za-z]//g; s/\r$//' "$LOG" | awk '
    function num(label,   rest) {
      rest = substr($0, index($0, label) + length(label))
      sub(/^[ \t]*/, "", rest)
      return rest + 0
    }
    /^[ \t]*(Passed|Failed)! *- *Failed: *[0-9]+, *Passed: *[0-9]+/ {
      lp += num("Passed:"); lf += num("Failed:"); ls += num("Skipped:"); ln++; next
    }
    /^Total tests: /               { bn++; next }
    /^     Passed: [0-9]+[ \t]*$/  { bp += num("Passed:"); next }
    /^     Failed: [0-9]+[ \t]*$/  { bf += num("Failed:"); next }
    /^    Skipped: [0-9]+[ \t]*$/  { bs += num("Skipped:"); next }
    END {
      if (ln > 0) printf "%d %d %d %d\n", lp, lf, ls, ln
      else        printf "%d %d %d %d\n", bp, bf, bs, bn
    }')

status=0
if [ "$dotnet_rc" -ne 0 ]; then
  echo "dotnet test exited with code $dotnet_rc (full output: $LOG)" >&2
  status=1
fi
if [ "$failed" -gt 0 ]; then
  status=1
fi
if [ $((passed + failed + skipped)) -eq 0 ]; then
  echo "no tests ran ($assemblies test assemblies reported; full output: $LOG)" >&2
  status=1
fi

# Name each failed test and the first lines of its message just above the summary, so a log cut to its
# tail still says what failed.
if [ "$failed" -gt 0 ]; then
  echo "failed tests:"
  sed 's/\x1b\[[0-9;]*[A-Za-z]//g; s/\r$//' "$LOG" | awk '
    /^  Failed [^ ]/      { print; grab = 10; next }
    /^  Error Message:/   { next }
    grab > 0 && /^  Stack Trace:/ { grab = 0; next }
    grab > 0              { print "   " substr($0, 1, 300); grab--; next }
  '
fi

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
exit "$status"
