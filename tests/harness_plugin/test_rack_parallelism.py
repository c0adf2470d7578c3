"""Racks are the unit of parallelism: under xdist each rack runs on one worker only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.isolated_lab import isolated_twin_lab

ROOT = Path(__file__).resolve().parents[2]

PROBE = '''
import json, os, uuid
from pathlib import Path

def test_one(lab):
    record(lab)

def test_two(lab):
    record(lab)

def record(lab):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    endpoints = sorted(f"{e.address[0]}:{e.address[1]}"
                       for e in lab.cluster.plane.endpoints.values() if e.running)
    out = Path(os.environ["PHONELAB_PROBE_DIR"]) / f"{uuid.uuid4().hex}.json"
    out.write_text(json.dumps({"rack": lab.rack.name, "worker": worker,
                               "endpoints": endpoints,
                               "phones": sorted(p.address for p in lab.phones.values())}))
'''


def test_each_rack_runs_on_one_worker_with_its_own_addresses(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe_dir = pytester.path / "probe"
    probe_dir.mkdir()
    monkeypatch.setenv("PHONELAB_PROBE_DIR", str(probe_dir))
    pytester.makepyfile(test_probe=PROBE)
    result = pytester.runpytest_subprocess(
        "-n", "2", "--dist", "loadgroup", "-p", "no:randomly", f"--rootdir={pytester.path}",
        "--lab", str(isolated_twin_lab(pytester.path, 63,
                                       ROOT / "lab_topology" / "twin-large.yaml")),
        "--phonelab-lease-dir", str(pytester.path / "leases"),
        "--phonelab-log-dir", str(pytester.path / "logs"), timeout=180)
    result.assert_outcomes(passed=4)
    rows = [json.loads(p.read_text()) for p in probe_dir.glob("*.json")]
    workers: dict[str, set[str]] = {}
    for row in rows:
        workers.setdefault(row["rack"], set()).add(row["worker"])
    assert set(workers) == {"rack1", "rack2"}
    assert all(len(w) == 1 for w in workers.values()), workers
    assert workers["rack1"] != workers["rack2"], "the two racks should run in parallel"
    by_rack: dict[str, set[str]] = {}
    for row in rows:
        by_rack.setdefault(row["rack"], set()).update(row["endpoints"] + row["phones"])
    assert not by_rack["rack1"] & by_rack["rack2"], "racks must share no address or port"
