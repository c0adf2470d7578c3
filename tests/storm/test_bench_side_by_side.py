"""The side-by-side TFTP benchmark runs end to end at a tiny size (not a speed check)."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.timeout(90)
def test_every_server_serves_and_the_line_has_the_ratios(
        capsys: pytest.CaptureFixture[str]) -> None:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    bench = importlib.import_module("bench_side_by_side")
    figures = bench.main(["--clients", "4", "--seconds", "0.6", "--client-procs", "1"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"side_by_side clients=4 phonelab_fps=\d+ tftpy_fps=\d+ "
                        r"tftpd_hpa_fps=(\d+|nan) vs_tftpy=\d+\.\d\d vs_tftpd_hpa=(\d+\.\d\d|nan) "
                        r"phonelab_failures=0 workers_fps=\d+ workers_vs_tftpy=\d+\.\d\d",
                        line), line
    for figure in figures:  # each server really served files, none failed at this load
        assert figure.tally.files > 0 and figure.tally.failures == 0, figure
