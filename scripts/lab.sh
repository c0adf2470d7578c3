#!/usr/bin/env bash
# Set up from nothing, run the lab scenarios on the emulated lab (the twin),
# and generate the Allure report. Prints where the report is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
results=reports/allure-results
report=reports/allure-report
rm -rf "$results"
mkdir -p reports
status=0
.venv/bin/pytest testcases --alluredir "$results" "$@" || status=$?
tools/allure/node_modules/.bin/allure generate "$results" -o "$report" >/dev/null
echo "Allure report: $(pwd)/$report/index.html"
exit "$status"
