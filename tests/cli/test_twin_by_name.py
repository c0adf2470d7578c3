"""`phonelab power PHONE` and `phonelab console PHONE` against a running `phonelab twin up`,
found by the phone's name: no switch address, port or password copied by hand."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

PHONELAB = Path(sys.executable).with_name("phonelab")
P1, P2 = "SEP00000AD50001", "SEP00000AD50002"
TOPOLOGY = {"name": "bynamelab", "backend": "twin", "racks": [{
    "name": "bench",
    "cluster": {"nodes": [{"name": "cucm1", "address": "127.213.0.1"}]},
    "switches": [{"name": "sw1"}],
    "phones": [
        {"name": P1, "model": "7962", "switch": "sw1", "port": "Gi1/0/1",
         "address": "127.213.2.1"},
        {"name": P2, "model": "8845", "switch": "sw1", "port": "Gi1/0/2",
         "address": "127.213.2.2"},
    ]}]}


def clean_env(run_dir: Path, **extra: str) -> dict[str, str]:
    """No switch credentials from the caller's shell; twins recorded in `run_dir` only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHONELAB_SWITCH")}
    return {**env, "PHONELAB_RUN_DIR": str(run_dir), **extra}


def phonelab(*args: str, env: dict[str, str], stdin: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PHONELAB), *args], capture_output=True, text=True, env=env,
                          input=stdin, timeout=60)


class TwinUp:
    """`phonelab twin up` in a subprocess, read until it says it is running."""

    def __init__(self, lab: Path, env: dict[str, str], *extra: str) -> None:
        self.proc = subprocess.Popen([str(PHONELAB), "twin", "up", "--lab", str(lab), *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, env=env)
        self.lines: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line)
                if line.startswith("running;") or line.startswith("{"):
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60) or self.proc.poll() is not None:
            self.stop()
            pytest.fail(f"twin up did not start: {''.join(self.lines)}")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        finally:
            self.proc.kill()
        return err


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    path = tmp_path / "bynamelab.yaml"
    path.write_text(yaml.safe_dump(TOPOLOGY))
    return path


@pytest.fixture
def running(lab: Path, tmp_path: Path) -> Iterator[tuple[TwinUp, dict[str, str]]]:
    env = clean_env(tmp_path / "run")
    twin = TwinUp(lab, env, "--workdir", str(tmp_path / "twin"))
    try:
        yield twin, env
    finally:
        twin.stop()


def test_power_and_console_find_the_running_twin_by_phone_name(
        running: tuple[TwinUp, dict[str, str]], lab: Path, tmp_path: Path) -> None:
    twin, env = running
    table = "".join(twin.lines)
    assert f"try: phonelab power cycle {P1}" in table and "private to you" in table
    state = phonelab("power", "state", P1, env=env)
    assert state.returncode == 0, state.stderr
    assert state.stdout.startswith(f"{P1}: Gi1/0/1 admin=auto oper=on")
    con = phonelab("console", P2, "--log", str(tmp_path / "c.log"), "--linger", "1",
                   env=env, stdin="show status\n")
    assert con.returncode == 0, con.stderr
    assert "/dev/pts/" in con.stderr and "status-" in con.stdout
    by_mac = phonelab("power", "cycle", "00:00:0a:d5:00:01", "--off-seconds", "0.2", env=env)
    assert by_mac.returncode == 0, by_mac.stderr
    assert by_mac.stdout.startswith(f"{P1}: Gi1/0/1") and "oper=on" in by_mac.stdout
    of_topology = phonelab("power", "state", P2.lower(), "--lab", str(lab), env=env)
    assert of_topology.returncode == 0, of_topology.stderr
    assert of_topology.stdout.startswith(f"{P2}: Gi1/0/2")
    wrong_rack = phonelab("power", "state", P1, "--rack", "nope", env=env)
    assert wrong_rack.returncode == 2
    assert wrong_rack.stderr.startswith(f"phonelab: no running twin has phone {P1} (running: "
                                        "lab bynamelab rack bench (pid ")
    records = list((tmp_path / "run" / "twins").iterdir())
    assert len(records) == 1 and records[0].stat().st_mode & 0o077 == 0  # private
    twin.stop()
    assert not records[0].exists()  # gone with the twin
    after = phonelab("power", "state", P1, env=env)
    assert after.returncode == 2 and after.stderr.strip().splitlines() == [
        f"phonelab: no running twin has phone {P1} (none is running: `phonelab twin up`); "
        "start `phonelab twin up`, or name the phone's topology: PHONE --lab FILE"]


def test_twin_takes_the_switch_login_from_the_topologys_environment_variables(
        lab: Path, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "run", PHONELAB_SWITCH_USER="bench",
                    PHONELAB_SWITCH_PASSWORD="s3cret-from-env")
    twin = TwinUp(lab, env, "--workdir", str(tmp_path / "twin"))
    try:
        table = "".join(twin.lines)
        assert "switch: ssh bench@" in table and "password from $PHONELAB_SWITCH_PASSWORD" in table
        assert "s3cret-from-env" not in table
        on = phonelab("power", "on", P2, env=env)
        assert on.returncode == 0, on.stderr
        assert on.stdout.startswith(f"{P2}: Gi1/0/2 admin=auto oper=on")
    finally:
        twin.stop()


def test_stale_record_of_a_dead_twin_is_ignored_and_removed(tmp_path: Path) -> None:
    run = tmp_path / "run" / "twins"
    run.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, timeout=30)
    stale = run / f"{dead.stdout.strip()}.json"
    stale.write_text(json.dumps({"pid": int(dead.stdout), "lab": "x", "lab_file": None,
                                 "where": {"rack": "r", "phones": [{"name": P1}]}}))
    result = phonelab("power", "state", P1, env=clean_env(tmp_path / "run"))
    assert result.returncode == 2 and "none is running" in result.stderr
    assert not stale.exists()


@pytest.mark.parametrize(("text", "name"), [
    ("SEP00000AD50001", "SEP00000AD50001"), ("sep00000ad50001", "SEP00000AD50001"),
    ("00000AD50001", "SEP00000AD50001"), ("00:00:0a:d5:00:01", "SEP00000AD50001"),
    ("0000.0ad5.0001", "SEP00000AD50001"), ("lobby-phone", "LOBBY-PHONE")])
def test_phone_names_people_type(text: str, name: str) -> None:
    from harness.cli.running_twins import phone_name

    assert phone_name(text) == name


def test_twin_up_json_is_one_object_for_programs(lab: Path, tmp_path: Path) -> None:
    env = clean_env(tmp_path / "run")
    twin = TwinUp(lab, env, "--json", "--workdir", str(tmp_path / "twin"))
    try:
        where = json.loads(twin.lines[0])
        assert [p["name"] for p in where["phones"]] == [P1, P2]
        assert where["phones"][0]["switch_port"] == "Gi1/0/1"
        assert where["switch"]["username"] and where["switch"]["password"]  # for programs
        assert any(key.startswith("tftp@") for key in where["cluster"])
        state = phonelab("power", "state", P1, env=env)
        assert state.returncode == 0, state.stderr
    finally:
        twin.stop()
