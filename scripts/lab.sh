#!/usr/bin/env bash
# Set up from nothing, run the lab scenarios on the emulated lab (the twin),
# and build the sign-off report (one HTML file that opens from disk, and the
# site). Prints where the report is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
results=reports/allure-results
report=reports/allure-report
rm -rf "$results" "$report"  # never show an earlier run's results at the printed path
mkdir -p reports
status=0
.venv/bin/pytest testcases --alluredir "$results" "$@" || status=$?
# one self-contained index.html (opens from disk) plus the site; history kept beside it
.venv/bin/phonelab report build --results "$results" --out "$report" || exit 3
exit "$status"
