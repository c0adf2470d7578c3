"""`phonelab storm` against phonelab's own cluster on loopback, and its input checks."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster.cluster import Cluster
from harness.cluster.from_spec import cluster_ports, cluster_state
from harness.cluster.state import Service
from harness.events import EventLog
from harness.pki import LabPKI
from lab_topology.generate import twin_lab

PHONELAB = Path(sys.executable).with_name("phonelab")
PHONES = 40


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Cluster, EventLog]]:
    """The twin lab's cluster for PHONES phones (SEP0000A0000000 on), on 127.0.1.1."""
    lab = twin_lab(PHONES)
    rack = lab.racks[0]
    with tempfile.TemporaryDirectory(prefix="storm-cluster-") as tmp:
        nodes = rack.cluster.nodes
        pki = LabPKI.init(Path(tmp) / "pki", [n.name for n in nodes],
                          addresses={n.name: str(n.address) for n in nodes})
        events = EventLog()
        running = Cluster(cluster_state(rack), pki, events=events, ports=cluster_ports(rack),
                          name=rack.name)
        running.start()
        try:
            yield running, events
        finally:
            running.stop()


def where(cluster: Cluster, service: Service) -> str:
    host, port = next(e.address for e in cluster.plane.of(service) if e.running)
    return f"{host}:{port}"


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PHONELAB), "storm", "--no-progress", "--out",
                           str(tmp_path / "out"), *args],
                          capture_output=True, text=True, timeout=90)


def test_every_stage_against_phonelab_cluster(cluster: tuple[Cluster, EventLog],
                                              tmp_path: Path) -> None:
    running, events = cluster
    mark = len(events.snapshot())
    https = f"https://{where(running, Service.HTTPS)}/"
    result = run(tmp_path, "--json", "--tftp", where(running, Service.TFTP), "--tvs",
                 where(running, Service.TVS), "--https", https,
                 "--sip", where(running, Service.SIP), "--phones", str(PHONES), "--ramp", "0.5")
    assert result.returncode == 0, result.stderr + result.stdout[-2000:]
    body, last = result.stdout.rstrip("\n").rsplit("\n", 1)
    summary = json.loads(body)
    assert summary["ok"] == PHONES
    assert list(summary["stages"]) == ["ctl", "itl", "config", "defaults", "tvs", "https",
                                       "register"]
    for row in summary["stages"].values():
        assert row["count"] == PHONES and 0 <= row["p50_s"] <= row["p90_s"] <= row["p99_s"]
    assert last.startswith(f"storm phones={PHONES} ok={PHONES} failed=0 wall_s=")
    seen = events.snapshot()[mark:]
    rrqs = [e for e in seen if e.kind == "tftp.rrq"]
    names = {str(e.data.get("file", e.data.get("name", ""))) for e in rrqs}
    assert any(n.startswith("ITL") for n in names) and any(".cnf.xml" in n for n in names)
    assert not [e for e in seen if e.kind.startswith("tftp.") and "wrq" in e.kind]
    registered = {e.phone for e in seen if e.kind.startswith("sip.") and "regist" in e.kind}
    assert len(registered) == PHONES


def test_without_sip_nothing_registers(cluster: tuple[Cluster, EventLog], tmp_path: Path) -> None:
    running, events = cluster
    mark = len(events.snapshot())
    result = run(tmp_path, "--tftp", where(running, Service.TFTP), "--phones", "10")
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1].startswith("storm phones=10 ok=10 failed=0 ")
    assert "time per stage" in result.stdout
    seen = events.snapshot()[mark:]
    assert [e for e in seen if e.kind.startswith("tftp.")]
    assert not [e for e in seen if e.kind.startswith(("sip.", "tvs.", "https."))]


def test_a_stopped_tvs_fails_phones_in_the_tvs_stage(cluster: tuple[Cluster, EventLog],
                                                    tmp_path: Path) -> None:
    running, _ = cluster
    with socket.socket() as sock:  # a TVS address nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"
    result = run(tmp_path, "--json", "--tftp", where(running, Service.TFTP), "--tvs", dead,
                 "--phones", "5")
    assert result.returncode == 1
    summary = json.loads(result.stdout.rstrip("\n").rsplit("\n", 1)[0])
    assert summary["failures_by_cause"] == {"tvs: refused": 5}
    assert summary["failures_by_server"] == {f"{dead} (tvs)": 5}
    assert set(summary["stages"]) == {"ctl", "itl", "config", "defaults"}


@pytest.mark.parametrize(("args", "words"), [
    (["--tftp", "127.0.0.1:69", "--phones", "0"], "--phones 0"),
    (["--tftp", "127.0.0.1:notaport", "--phones", "5"], "--tftp"),
    (["--tftp", "127.0.0.1", "--phones", "5", "--models", "9999"], "unknown model"),
    (["--tftp", "127.0.0.1", "--phones", "5", "--models", "7940"], "Security by Default"),
    (["--tftp", "127.0.0.1", "--phones", "5", "--https", "http://x/"], "--https"),
    (["--tftp", "127.0.0.1", "--phones", "5", "--ramp", "-1"], "--ramp"),
    (["--tftp", "127.0.0.1", "--phones", "5", "--ramp", "9", "--timeout", "5"], "shorter"),
    (["--tftp", "127.0.0.1", "--phones", "5", "--first-mac", "XYZ"], "--first-mac"),
    (["--tftp", "127.0.0.1", "--phones", "5", "--source", "nonsense"], "--source"),
    (["--tftp", "127.0.0.1", "--phones", "5", "--sip", "a:1,b:2"], "--sip"),
    (["--phones", "5"], "--tftp"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 2
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_phones_spread_over_processes_all_boot(cluster: tuple[Cluster, EventLog],
                                               tmp_path: Path) -> None:
    running, _ = cluster
    result = run(tmp_path, "--json", "--tftp", where(running, Service.TFTP), "--phones", "30",
                 "--processes", "2", "--source", "127.41.0.0/24")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.rstrip("\n").rsplit("\n", 1)[0])
    assert summary["ok"] == 30 and len(summary["peak_rss_mb"]) == 2
    assert all(mb > 0 for mb in summary["peak_rss_mb"])


def test_the_storm_timeout_blames_the_server_the_phones_wait_for(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # bound, never answers
        sock.bind(("127.0.0.1", 0))
        silent = f"127.0.0.1:{sock.getsockname()[1]}"
        result = run(tmp_path, "--json", "--tftp", silent, "--phones", "3", "--timeout", "2")
    assert result.returncode == 1
    summary = json.loads(result.stdout.rstrip("\n").rsplit("\n", 1)[0])
    assert summary["failures_by_cause"] == {"ctl: storm timeout": 3}
    assert summary["failures_by_server"] == {f"{silent} (ctl)": 3}
    assert 2.0 <= summary["wall_s"] < 4.0
