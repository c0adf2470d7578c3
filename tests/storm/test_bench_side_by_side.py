"""The side-by-side TFTP benchmark runs end to end at a tiny size (not a speed check), and
its CPU accounting sees what a forking server's children use."""

from __future__ import annotations

import importlib
import re
import selectors
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
NUMBER = r"(\d+(?:\.\d+)?|nan)"
LINE = re.compile(
    r"side_by_side clients=4 phonelab_fps=\d+ tftpy_fps=\d+ "
    r"tftpd_hpa_fps=(\d+|nan) vs_tftpy=\d+\.\d\d vs_tftpd_hpa=(\d+\.\d\d|nan) "
    r"phonelab_failures=0 workers_fps=\d+ workers_vs_tftpy=\d+\.\d\d "
    rf"phonelab_fpcs=(?P<phonelab>\d+) tftpy_fpcs=(?P<tftpy>\d+) "
    rf"tftpd_hpa_fpcs=(?P<hpa>\d+|nan) cpu_vs_tftpy=(?P<vs_tftpy>{NUMBER}) "
    rf"cpu_vs_tftpd_hpa=(?P<vs_hpa>{NUMBER}) client_busy=(?P<busy>\d\.\d\d)")


def module(name: str) -> ModuleType:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


@pytest.mark.timeout(90)
def test_every_server_serves_and_the_line_has_throughput_and_cpu_ratios(
        capsys: pytest.CaptureFixture[str]) -> None:
    bench = module("bench_side_by_side")
    figures = bench.main(["--clients", "4", "--seconds", "0.6", "--client-procs", "1"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    match = LINE.fullmatch(line)
    assert match, line
    at = {f.server: f for f in figures}
    for figure in figures:  # each server really served files, none failed at this load
        assert figure.tally.files > 0 and figure.tally.failures == 0, figure
        cpu = figure.cpu
        assert cpu.server_s > 0 and figure.tally.cpu_s > 0, figure
        assert figure.files_per_cpu_s == pytest.approx(figure.tally.files / cpu.server_s)
        # nothing counted twice: server and client together used no more than the machine
        # did (/proc/stat counts in ticks, hence the slack)
        assert cpu.server_s + figure.tally.cpu_s <= cpu.machine_busy_s + 0.1, figure
        assert 0 < figure.tally.busy <= 1.2 and figure.tally.starved >= 0, figure
    assert int(match["phonelab"]) == round(at["phonelab"].files_per_cpu_s)
    assert int(match["tftpy"]) == round(at["tftpy"].files_per_cpu_s)
    assert float(match["vs_tftpy"]) == pytest.approx(
        at["phonelab"].files_per_cpu_s / at["tftpy"].files_per_cpu_s, abs=0.006)
    assert float(match["busy"]) == pytest.approx(at["phonelab"].tally.busy, abs=0.006)
    hpa = at.get("tftpd-hpa")
    if hpa is None:
        assert match["hpa"] == match["vs_hpa"] == "nan"
        return
    assert float(match["vs_hpa"]) == pytest.approx(
        at["phonelab"].files_per_cpu_s / hpa.files_per_cpu_s, abs=0.006)
    if hpa.cpu.tree_s is not None:  # in.tftpd forks per request, children reaped unseen
        assert hpa.cpu.tree_s > 2 * hpa.cpu.proc_s, hpa.cpu


FORKER = """
import os, signal, sys, time
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped by the kernel, as in.tftpd
print("up", flush=True)
sys.stdin.readline()
for _ in range(3):
    if os.fork() == 0:
        end = time.process_time() + 0.15
        while time.process_time() < end:
            pass
        os._exit(0)
while True:  # until the children are gone (the kernel reaped them)
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
print("done", flush=True)
sys.stdin.readline()
"""


def _line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"no line from the forking process within {timeout} s")
    return proc.stdout.readline().strip()


@pytest.mark.timeout(30)
def test_server_cpu_counts_children_the_kernel_reaped() -> None:
    common = module("_common")
    proc = subprocess.Popen([sys.executable, "-c", FORKER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    try:
        assert _line(proc, 10) == "up"
        meter = common.ServerCpu([proc.pid])
        try:
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert _line(proc, 10) == "done"
            use = meter.read()
        finally:
            meter.close()
    finally:
        proc.kill()
        proc.wait(10)
    assert use.proc_s < 0.15, use  # /proc never sees the children's 0.45 s
    if use.tree_s is None:
        pytest.skip("no task clock on this host (perf_event_open refused)")
    assert use.tree_s >= 0.4, use
    assert use.server_s == use.tree_s


@pytest.mark.parametrize("argv", [["--clients", "x"], ["--clients", "0"],
                                  ["--servers", "phonelab,nosuch"], ["--seconds", "-1"],
                                  ["--client-procs", "two"]])
def test_a_user_mistake_is_one_line_and_exit_2(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    bench = module("bench_side_by_side")
    with pytest.raises(SystemExit) as stop:
        bench.main(argv)
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert captured.err.startswith("bench_side_by_side: ")


def test_missing_servers_and_zero_cpu_read_nan_not_a_crash() -> None:
    bench, common, load = module("bench_side_by_side"), module("_common"), module("_tftp_load")
    ran = load.LoadTally(files=50, failures=0, retransmits=0, cpu_s=0.5, procs=1, seconds=1.0)
    only = bench.Figure("phonelab", 1000, 1.0, ran, common.CpuUse(None, 0.0, 1.0))
    line = bench.summary_line([only])
    assert "phonelab_fps=50 tftpy_fps=nan" in line, line
    assert "phonelab_fpcs=nan tftpy_fpcs=nan" in line, line  # no server CPU: no cost figure
    assert line.endswith("cpu_vs_tftpy=nan cpu_vs_tftpd_hpa=nan client_busy=0.50"), line
    cheap = bench.Figure("tftpy", 1000, 1.0, ran, common.CpuUse(0.25, 0.01, 1.0))
    assert cheap.files_per_cpu_s == 200  # the task clock wins over /proc where it exists


@pytest.mark.timeout(30)
def test_the_load_client_gives_up_on_a_silent_server_only_after_its_tries() -> None:
    load = module("_tftp_load")
    results: dict[str, Any] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as also_silent:
        silent.bind(("127.0.0.1", 0))
        also_silent.bind(("127.0.0.1", 0))
        phone = load.Phone("127.0.0.1", (("ITLFile.tlv", 10),))
        runs = [threading.Thread(target=lambda: results.__setitem__(
                    "two", load.load(silent.getsockname(), [phone], 1, 0, 2.8, tries=2))),
                threading.Thread(target=lambda: results.__setitem__(
                    "never", load.load(also_silent.getsockname(), [phone], 1, 0, 1.6,
                                       tries=None)))]
        for run in runs:
            run.start()
        for run in runs:
            run.join(20)
        silent.settimeout(5)
        asked = silent.recv(100)
    two, never = results["two"], results["never"]
    assert asked.startswith(b"\0\x01ITLFile.tlv\0octet\0")  # a real RRQ reached the server
    assert (two.files, two.failures) == (0, 1) and two.retransmits >= 1, two
    assert (never.files, never.failures) == (0, 0) and never.retransmits >= 1, never


@pytest.mark.timeout(60)
def test_the_load_client_counts_errors_and_wrong_sizes_from_tftpy(tmp_path: Path) -> None:
    bench, load = module("bench_side_by_side"), module("_tftp_load")
    phones = bench.make_root(tmp_path / "root", 2)
    name, size = phones[0].files[0]
    wrong_size = load.Phone(phones[0].address, ((name, size + 1),))
    missing = load.Phone(phones[1].address, (("SEPNOSUCHPHONE.cnf.xml.sgn", 100),))
    with bench.serving("tftpy", tmp_path / "root") as served:  # a server we did not write
        right = load.load(served.address, phones[:1], 1, 0, 0.5)
        short = load.load(served.address, [wrong_size], 1, 0, 0.5)
        absent = load.load(served.address, [missing], 1, 0, 0.5)
    assert right.files > 0 and right.failures == 0, right
    assert short.files == 0 and short.failures > 0, short
    assert absent.files == 0 and absent.failures > 0, absent
