"""`phonelab preflight` as a user runs it against a running twin: tables, JSON, exit codes."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster.state import Service
from lab_topology import load_lab
from phone_drivers.emulator.twin import TwinRack
from tests.isolated_lab import isolated_twin_lab

PHONELAB = Path(sys.executable).with_name("phonelab")
PHONES = "SEP00000A000001:7962,SEP00000A000002:8845,SEP00000A000003:7942,SEP00000A000004:7960"


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwinRack]:
    work = tmp_path_factory.mktemp("preflight-cli")
    lab = load_lab(isolated_twin_lab(work, 92))
    rack = TwinRack(lab, lab.racks[0], work / "twin", profile="fast", consoles=False)
    rack.start()
    try:
        yield rack
    finally:
        rack.stop()
        shutil.rmtree(work / "twin", ignore_errors=True)


def servers(twin: TwinRack, service: Service) -> str:
    return ",".join(f"{h}:{p}" for h, p in (e.address for e in twin.cluster.plane.of(service)
                                            if e.running))


def preflight(twin: TwinRack, plan: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PHONELAB), "preflight", "--tftp", servers(twin, Service.TFTP),
                           "--tvs", servers(twin, Service.TVS), "--phones", PHONES,
                           "--plan", plan, *extra], capture_output=True, text=True, timeout=120)


def test_the_hazard_exits_1_with_the_count_and_the_safe_order(twin: TwinRack) -> None:
    result = preflight(twin, "regenerate-tftp,regenerate-tvs,restart-tftp,reset-phones")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "preflight phones=4 stranded=3 unaffected=0 expiring=0"
    text = result.stdout
    assert "ITLFile.tlv" in text and "stranded" in text
    assert "Safe order: regenerate-tftp, restart-tftp, reset-phones, regenerate-tvs" in text
    assert "(predicted: 0 stranded)" in text


def test_a_safe_plan_exits_0_and_json_names_signers_and_expiry(twin: TwinRack) -> None:
    result = preflight(twin, "regenerate-tftp,restart-tftp,reset-phones", "--json")
    assert result.returncode == 0, result.stderr
    body, last = result.stdout.rsplit("\n", 2)[0], result.stdout.strip().splitlines()[-1]
    report = json.loads(body)
    assert last == "preflight phones=4 stranded=0 unaffected=0 expiring=0"
    itl = next(t for t in report["trust_lists"] if t["name"] == "ITLFile.tlv")
    assert itl["verified"] and "cucm1" in itl["signer"]
    assert all(c["days_left"] > 30 and c["state"] == "ok" for c in report["certificates"])
    states = {p["phone"]: p["state"] for p in report["predictions"]}
    assert states == {"SEP00000A000001": "trusting", "SEP00000A000002": "trusting",
                      "SEP00000A000003": "trusting",
                      "SEP00000A000004": "not supporting Security by Default"}
    assert all(t["in_itl"] and t["vouches_for_tftp"] for t in report["tvs"])
    assert set(report["files_read"]) >= {"ITLFile.tlv", "SEP00000A000001.cnf.xml.sgn",
                                         "ITLSEP00000A000001.tlv"}
    assert all(p["own_itl"] == "same as ITLFile.tlv" for p in report["phones"])


def test_an_unreachable_cluster_is_exit_3() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never answering
        result = subprocess.run([str(PHONELAB), "preflight", "--tftp", f"127.0.0.1:{port}",
                                 "--plan", "reset-phones", "--default-only", "--timeout", "0.5"],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert "cannot read CTLFile.tlv from any TFTP server" in result.stderr
    assert "Traceback" not in result.stderr
