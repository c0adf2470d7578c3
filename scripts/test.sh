#!/usr/bin/env bash
# Set up from nothing, then run every check: ruff, mypy --strict, and the test
# suites (the harness's own tests and the lab scenarios on the twin).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> ruff"
.venv/bin/ruff check .
echo "==> mypy"
.venv/bin/mypy
echo "==> pytest"
exec .venv/bin/pytest -n 2 --dist loadgroup "$@"
