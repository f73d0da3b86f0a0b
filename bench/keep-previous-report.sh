#!/usr/bin/env bash
# Prints the part of a docs/benchmarks.md to keep when the report is regenerated: the heading "# Measured by hand" and
# its introduction, then the generated sections of that document (the report being replaced), their titles marked
# "the previous report", then the hand-measured sections and earlier reports that followed.
#
#   bash bench/keep-previous-report.sh OLD_BENCHMARKS_MD
set -euo pipefail
old="$1"
awk '
  /^# Measured by hand/ { hand = 1 }
  !hand && /^## / { generated = 1 }
  !hand && generated && !/^The whole report took/ {
    if (/^## .*\)$/) { sub(/\)$/, "; the previous report)") }
    previous = previous $0 "\n"
    next
  }
  hand && !intro_done && /^## / { printf "%s", previous; intro_done = 1 }
  hand { print }
  END { if (hand && !intro_done) printf "%s", previous }
' "$old"
