"""`phonelab power`, `console` and `serve` leave a held rack alone unless `--force`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.isolated_lab import isolated_twin_lab
from tests.shared_lab.holders import hold_file_lease
from tests.shared_lab.labgrid_procs import BIN, Coordinator, free_port

PHONE = "SEP0021555542E6"


def _hardware(tmp_path: Path, reservation: dict[str, str] | None = None) -> Path:
    closed = free_port()  # nothing listens: the switch and console do not answer
    rack: dict[str, object] = {
        "name": "rack-a",
        "cluster": {"nodes": [{"name": "cucm1", "address": "127.0.0.1"}]},
        "switches": [{"name": "sw1", "host": "127.0.0.1", "port": closed}],
        "phones": [{"name": PHONE, "model": "7962", "switch": "sw1",
                    "port": "Gi1/0/1", "console": {"url": f"rfc2217://127.0.0.1:{closed}"}}],
    }
    if reservation:
        rack["reservation"] = reservation
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump({"name": "lab3", "backend": "hardware", "racks": [rack]}))
    return path


def _phonelab(tmp_path: Path, *args: str, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PHONELAB_LEASES": str(tmp_path / "leases"),
            "PHONELAB_SWITCH_USER": "u", "PHONELAB_SWITCH_PASSWORD": "p", **(env or {})}
    return subprocess.run([str(BIN / "phonelab"), *args], capture_output=True, text=True,
                          env=full, timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path)


def test_power_console_and_serve_refuse_a_rack_someone_holds_naming_them(
        tmp_path: Path) -> None:
    lab = _hardware(tmp_path)
    holder = hold_file_lease(tmp_path / "leases", "lab3", "rack-a", name="benchhost/frank")
    try:
        for args in (["power", "on", PHONE, "--timeout", "1"], ["power", "cycle", PHONE],
                     ["console", PHONE], ["serve"]):
            done = _phonelab(tmp_path, *args, "--lab", str(lab))
            assert done.returncode == 2, (args, done.stdout, done.stderr)
            assert "rack rack-a is in use by benchhost/frank since" in done.stderr, done.stderr
            assert "--force" in done.stderr and "Traceback" not in done.stderr
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        forced = _phonelab(tmp_path, "power", "on", PHONE, "--lab", str(lab), "--timeout", "1",
                           "--force")
        assert forced.returncode == 3, forced.stderr  # past the lease: the switch is dark
        assert "in use by" not in forced.stderr
        state = _phonelab(tmp_path, "power", "state", PHONE, "--lab", str(lab), "--timeout", "1")
        assert state.returncode == 3, state.stderr  # reading the state is not refused
    finally:
        holder.kill()
        holder.wait()


def test_a_free_rack_is_not_refused(tmp_path: Path) -> None:
    lab = _hardware(tmp_path)
    done = _phonelab(tmp_path, "power", "off", PHONE, "--lab", str(lab), "--timeout", "1")
    assert done.returncode == 3 and "in use by" not in done.stderr, done.stderr


def test_a_labgrid_place_acquired_by_someone_is_refused_with_their_name(
        tmp_path: Path, lg: Coordinator) -> None:
    lg.client("-p", "rack-a", "create")
    lg.client("-p", "rack-a", "acquire", user="erin")
    lab = _hardware(tmp_path, {"coordinator": lg.address, "place": "rack-a"})
    done = _phonelab(tmp_path, "power", "on", PHONE, "--lab", str(lab), "--timeout", "1")
    assert done.returncode == 2, done.stderr
    assert "/erin since" in done.stderr and f"labgrid place rack-a on coordinator {lg.address}" \
        in done.stderr, done.stderr
    status = _phonelab(tmp_path, "lab", "status", "--lab", str(lab), "--json", "--timeout", "0.5")
    assert status.returncode == 1, status.stdout  # the switch and console do not answer
    rack = json.loads(status.stdout)["racks"][0]
    assert rack["holder"].endswith("/erin") and rack["kind"] == "labgrid"
    assert [p["answers"] for p in rack["switches"] + rack["consoles"]] == [False, False]


@pytest.mark.xdist_group("twin-octet-214")  # the isolated twin the session tests use
def test_serve_holds_the_rack_while_it_serves_and_gives_it_back(tmp_path: Path) -> None:
    lab = isolated_twin_lab(tmp_path, 214)
    env = {**os.environ, "PHONELAB_LEASES": str(tmp_path / "leases"),
           "PHONELAB_DATA": str(tmp_path / "data"), "PHONELAB_PHONE_SSH_USER": "u",
           "PHONELAB_PHONE_SSH_PASSWORD": "p"}
    serve = subprocess.Popen([str(BIN / "phonelab"), "serve", "--lab", str(lab),
                              "--ephemeral-ports"], cwd=tmp_path, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert serve.stdout is not None
        deadline = time.monotonic() + 60
        seen = []
        for line in serve.stdout:
            seen.append(line)
            if "Ctrl-C stops" in line or time.monotonic() > deadline:
                break
        assert "Ctrl-C stops" in seen[-1], "".join(seen)
        lease = json.loads((tmp_path / "leases" / f"{yaml.safe_load(lab.read_text())['name']}"
                            ".rack1.lease").read_text())
        assert lease["pid"] == serve.pid and f".serve-pid{serve.pid}" in lease["holder"]
        refused = subprocess.run([str(BIN / "phonelab"), "serve", "--lab", str(lab),
                                  "--ephemeral-ports"], cwd=tmp_path, env=env, text=True,
                                 capture_output=True, timeout=60)
        assert refused.returncode == 2 and f".serve-pid{serve.pid} since" in refused.stderr
    finally:
        serve.send_signal(signal.SIGINT)
        out, _ = serve.communicate(timeout=30)
    assert serve.returncode == 0, out
    assert not list((tmp_path / "leases").glob("*.lease"))


@pytest.fixture(autouse=True)
def _no_coordinator_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LG_COORDINATOR", raising=False)
