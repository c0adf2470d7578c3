"""The multi-core cluster: replicas in worker processes share every port (SO_REUSEPORT),
each serves part of a storm, and their timelines merge into one in time order."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster.state import Service
from harness.cluster.workers import ClusterWorkers, merge_timelines
from harness.events import Event
from harness.pki import LabPKI
from lab_topology.generate import twin_lab

PHONELAB = Path(sys.executable).with_name("phonelab")
PHONES = 60


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterWorkers]:
    rack = twin_lab(PHONES).racks[0]
    root = tmp_path_factory.mktemp("workers") / "pki"
    nodes = rack.cluster.nodes
    LabPKI.init(root, [n.name for n in nodes], addresses={n.name: str(n.address) for n in nodes})
    with ClusterWorkers(rack, root, workers=2) as running:
        yield running


@pytest.mark.timeout(120)
def test_both_workers_serve_one_storm_on_the_same_ports(workers: ClusterWorkers,
                                                        tmp_path: Path) -> None:
    first, second = workers.ready
    assert first.addresses == second.addresses and first.pid != second.pid
    assert first.files == second.files > PHONES

    def at(service: Service) -> str:
        host, port = workers.where(service)[0]
        return f"{host}:{port}"

    result = subprocess.run(
        [str(PHONELAB), "storm", "--json", "--no-progress", "--out", str(tmp_path / "out"),
         "--tftp", at(Service.TFTP), "--tvs", at(Service.TVS),
         "--https", f"https://{at(Service.HTTPS)}/", "--sip", at(Service.SIP),
         "--phones", str(PHONES), "--source", "127.40.0.0/24"],
        capture_output=True, text=True, timeout=90)
    summary = json.loads(result.stdout.rstrip("\n").rsplit("\n", 1)[0])
    assert result.returncode == 0, summary["failures_by_cause"]
    report = workers.stop()
    per_worker = [sum(e.kind == "tftp.rrq" for e in w.events) for w in report.workers]
    assert all(n > 0 for n in per_worker), per_worker  # the kernel spread the requests
    assert sum(per_worker) >= PHONES * 4  # CTL, ITL, config, ring list at least
    handshakes = [sum(e.kind.startswith("tvs.") for e in w.events) for w in report.workers]
    assert sum(handshakes) >= PHONES
    merged = report.events
    assert [e.seq for e in merged] == list(range(len(merged)))
    assert all(a.time <= b.time for a, b in itertools.pairwise(merged))
    assert len(merged) == sum(len(w.events) for w in report.workers)
    assert all(w.peak_rss_mb > 0 and w.cpu_s > 0 for w in report.workers)


def test_merge_keeps_time_order_and_every_event() -> None:
    def ev(t: float, kind: str) -> Event:
        return Event(0, t, kind, None, "x")
    merged = merge_timelines([[ev(1, "a"), ev(3, "c")], [ev(2, "b"), ev(4, "d")], []])
    assert [e.kind for e in merged] == ["a", "b", "c", "d"]
    assert [e.seq for e in merged] == [0, 1, 2, 3]
