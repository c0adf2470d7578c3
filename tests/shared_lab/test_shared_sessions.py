"""Two pytest sessions (two CI runners) on one rack shared through a real labgrid coordinator.

The second session waits with a progress line naming the first and proceeds when it
ends; a session SIGKILLed mid-run leaves its place acquired, `phonelab lab status`
reports the holder and `labgrid-client … release --kick` clears it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from harness.leases.labgrid_lease import LabgridLease
from tests.isolated_lab import isolated_twin_lab
from tests.shared_lab.labgrid_procs import BIN, Coordinator

OCTET = 214
# every test here brings up the same isolated twin rack: one xdist worker runs them in turn
pytestmark = pytest.mark.xdist_group("twin-octet-214")
INNER = '''
import os, time
from pathlib import Path

def test_hold(lab):
    Path(os.environ["PHONELAB_TEST_MARK"]).write_text(f"{os.getpid()} {time.time()}")
    deadline = time.monotonic() + float(os.environ["PHONELAB_TEST_HOLD"])
    go = Path(os.environ["PHONELAB_TEST_GO"])
    while time.monotonic() < deadline and not go.exists():  # hold until told (bounded)
        time.sleep(0.1)
'''

DIES = '''
import os, time
from pathlib import Path

def test_dies(lab):
    Path(os.environ["PHONELAB_TEST_MARK"]).write_text(f"{os.getpid()} {time.time()}")
    os.kill(os.getpid(), 9)  # the worker dies holding the rack
'''


def _project(tmp_path: Path, lg: Coordinator) -> Path:
    topology = isolated_twin_lab(tmp_path, OCTET)
    document = yaml.safe_load(topology.read_text())
    document["racks"] = document["racks"][:1]
    document["racks"][0]["reservation"] = {"coordinator": "127.0.0.1:9", "place": "rack1"}
    topology.write_text(yaml.safe_dump(document))
    (tmp_path / "test_hold.py").write_text(INNER)
    lg.client("-p", "rack1", "create")
    return topology


def _env(tmp_path: Path, lg: Coordinator, mark: str, hold: float) -> dict[str, str]:
    return {**os.environ, "LG_COORDINATOR": lg.address,  # overrides the topology's address
            "PHONELAB_LEASES": str(tmp_path / "leases"), "PHONELAB_DATA": str(tmp_path / "data"),
            "PHONELAB_TEST_MARK": str(tmp_path / mark), "PHONELAB_TEST_HOLD": str(hold),
            "PHONELAB_TEST_GO": str(tmp_path / f"{mark}.go"),
            "PYTHONUNBUFFERED": "1"}


def _session(tmp_path: Path, lg: Coordinator, mark: str, hold: float, *extra: str
             ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
         "--lab", "twin-isolated.yaml", "--phonelab-lease-wait", "60",
         "--phonelab-log-dir", str(tmp_path / f"logs-{mark}"), *extra, "test_hold.py"],
        cwd=tmp_path, env=_env(tmp_path, lg, mark, hold), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def _wait_file(path: Path, bound: float, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + bound
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, f"{path} not written within {bound:g} s"
        time.sleep(0.1)


def test_the_second_session_waits_naming_the_first_and_proceeds_when_it_ends(
        tmp_path: Path, lg: Coordinator) -> None:
    _project(tmp_path, lg)
    first = _session(tmp_path, lg, "first", hold=60)  # holds the rack until first.go
    second = None
    try:
        _wait_file(tmp_path / "first", 30, first)
        second = _session(tmp_path, lg, "second", hold=0)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(second.stdout or []), daemon=True)
        reader.start()
        deadline = time.monotonic() + 40
        while not any("waiting for rack rack1" in line for line in lines):
            assert time.monotonic() < deadline and second.poll() is None, "".join(lines)
            time.sleep(0.1)
        assert not (tmp_path / "second").exists()  # it waits: its test has not started
        (tmp_path / "first.go").touch()
        first_out, _ = first.communicate(timeout=40)
        first_ended = time.time()
        assert first.returncode == 0, first_out
        assert second.wait(timeout=40) == 0, "".join(lines)
        reader.join(5)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    output = "".join(lines)
    waiting = [line for line in output.splitlines() if "waiting for rack rack1" in line]
    assert waiting, output
    assert f".pytest-pid{first.pid} since " in waiting[0], waiting[0]
    second_pid, second_started = (tmp_path / "second").read_text().split()
    assert int(second_pid) == second.pid and float(second_started) >= first_ended - 1.0
    assert "acquired: None" in lg.client("-p", "rack1", "show").stdout


def test_a_killed_session_leaves_a_held_place_that_status_reports_and_kick_clears(
        tmp_path: Path, lg: Coordinator) -> None:
    topology = _project(tmp_path, lg)
    first = _session(tmp_path, lg, "first", hold=120)
    try:
        _wait_file(tmp_path / "first", 30, first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
    env = _env(tmp_path, lg, "status", 0)

    def status() -> dict[str, object]:
        done = subprocess.run([str(BIN / "phonelab"), "lab", "status", "--lab", str(topology),
                               "--json"], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        rack = json.loads(done.stdout)["racks"][0]
        assert rack["kind"] == "labgrid" and f"place rack1 on coordinator {lg.address}" in \
            rack["where"]
        return dict(rack)

    held = status()
    dead = str(held["holder"])
    assert dead.endswith(f".pytest-pid{first.pid}"), held
    assert isinstance(held["since"], float) and time.time() - held["since"] < 60
    kicked = lg.client("-p", "rack1", "release", "--kick", user="oncall")
    assert "kicking" in kicked.stdout + kicked.stderr
    assert status()["holder"] is None
    # labgrid's --kick leaves the dead run's reservation holding the place for a minute;
    # `phonelab lab kick` cancels it too, so the next run gets the rack at once
    assert dead in lg.client("reservations").stdout
    done = subprocess.run([str(BIN / "phonelab"), "lab", "kick", "--lab", str(topology)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and "rack rack1: released" in done.stdout, done.stderr
    assert dead not in lg.client("reservations").stdout
    started = time.monotonic()
    nxt = LabgridLease(lg.address, "rack1", "lab", "rack1", user="next-run")
    nxt.acquire(timeout=10)
    nxt.release()
    assert time.monotonic() - started < 3.0


def test_phonelab_lab_kick_frees_a_place_whose_holder_died(tmp_path: Path, lg: Coordinator
                                                           ) -> None:
    topology = _project(tmp_path, lg)
    lg.client("-p", "rack1", "acquire", user="gone")
    env = _env(tmp_path, lg, "kick", 0)
    done = subprocess.run([str(BIN / "phonelab"), "lab", "kick", "--lab", str(topology)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "rack rack1: released (was held by " in done.stdout and "/gone since" in done.stdout
    assert "acquired: None" in lg.client("-p", "rack1", "show").stdout
    again = subprocess.run([str(BIN / "phonelab"), "lab", "kick", "--lab", str(topology),
                            "--rack", "nope"], capture_output=True, text=True, env=env,
                           timeout=60)
    assert again.returncode == 2 and "no rack 'nope'" in again.stderr


def test_sigterm_like_ctrl_c_releases_the_place(tmp_path: Path, lg: Coordinator) -> None:
    """A cancelled CI job gets SIGTERM: the plugin turns it into pytest's Ctrl-C path."""
    _project(tmp_path, lg)
    for sig in (signal.SIGTERM,):
        (tmp_path / "first").unlink(missing_ok=True)
        first = _session(tmp_path, lg, "first", hold=120)
        try:
            _wait_file(tmp_path / "first", 30, first)
            assert "acquired: None" not in lg.client("-p", "rack1", "show").stdout
            first.send_signal(sig)
            out, _ = first.communicate(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
        assert first.returncode == 2 and "KeyboardInterrupt" in out, (sig, out)  # interrupted
        assert "acquired: None" in lg.client("-p", "rack1", "show").stdout, (sig, out)


def test_a_dead_xdist_worker_s_place_is_released_by_the_controller(
        tmp_path: Path, lg: Coordinator) -> None:
    _project(tmp_path, lg)
    (tmp_path / "test_hold.py").write_text(DIES)
    run = _session(tmp_path, lg, "worker", 0, "-n", "1", "-p", "xdist", "--max-worker-restart",
                   "0")
    out, _ = run.communicate(timeout=90)
    assert "crashed" in out.lower() or "worker 'gw0' crashed" in out, out
    pid = (tmp_path / "worker").read_text().split()[0]
    assert pid != str(run.pid)  # it was the worker that held the rack, and died
    assert "acquired: None" in lg.client("-p", "rack1", "show").stdout, out
    assert "-gw0" not in lg.client("reservations").stdout  # nor its reservation is left
