"""The endpoint and boot-storm benchmarks still run end to end, at a tiny size.

Not a performance check: each runs its `main` with a handful of phones for a fraction
of a second and checks the machine-readable last line and that every phone booted.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def bench(name: str) -> ModuleType:
    """Import a benchmark script; spawned children find it through the same sys.path."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


def last_line(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


@pytest.mark.timeout(60)
def test_boot_storm_boots_every_phone(capsys: pytest.CaptureFixture[str]) -> None:
    result = bench("bench_boot_storm").main(["--phones", "5", "--timeout", "30"])
    line = last_line(capsys)
    match = re.fullmatch(r"boot_storm phones=(\d+) ok=(\d+) failed=(\d+) wall_s=(\d+\.\d+) "
                         r"p99_s=(\d+\.\d+) peak_rss_mb=(\d+\.\d+)", line)
    assert match, line
    phones, ok, failed = (int(match[i]) for i in (1, 2, 3))
    assert (phones, ok, failed) == (5, 5, 0)
    assert result.ok == result.phones == 5
    assert 0 < float(match[5]) <= float(match[4]) + 0.01


@pytest.mark.timeout(60)
def test_endpoints_prints_both_rates(capsys: pytest.CaptureFixture[str]) -> None:
    figures = bench("bench_endpoints").main(
        ["--phones", "5", "--seconds", "0.5", "--tftp-clients", "4", "--tvs-clients", "2"])
    line = last_line(capsys)
    match = re.fullmatch(r"endpoints tftp_files_per_s=(\d+) tvs_verify_per_s=(\d+)", line)
    assert match, line
    assert int(match[1]) > 0 and int(match[2]) > 0
    assert figures.tftp_files_per_s > 0 and figures.tvs_verify_per_s > 0
