#!/usr/bin/env bash
# Set up from nothing, then run every check: ruff, mypy --strict, and the test
# suites (the harness's own tests and the lab scenarios on the twin). The suites
# run isolated (scripts/isolated): two runs on one host never share an address,
# a port, a lease or a PKI directory.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> ruff"
.venv/bin/ruff check .
echo "==> mypy"
.venv/bin/mypy
echo "==> pytest"
# Four workers on two cores: most tests wait on sockets, ptys and child processes, so
# two workers left the cores half idle (366 s against 271 s for the suite).
exec scripts/isolated .venv/bin/pytest -n 4 --dist loadgroup "$@"
