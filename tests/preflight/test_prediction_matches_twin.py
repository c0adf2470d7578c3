"""Prediction equals observation: preflight's verdict per phone against the twin doing it.

For each plan (the documented procedures, safe and unsafe), a twin rack boots; preflight
reads its cluster over TFTP and TVS and predicts on a shadow; then the plan is carried
out on the twin itself and every phone's end state is compared with the prediction.
The rack holds one phone per family that behaves differently (79x1 SIP, 88xx, 79x1
SCCP with an encrypted config, a 7960 without Security by Default).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster.state import Service
from harness.preflight.plan import Step, parse_plan
from harness.preflight.read import read_cluster
from harness.preflight.simulate import PlanOnTwin, predict
from lab_topology import load_lab
from phone_drivers.emulator.twin import TwinRack
from tests.isolated_lab import isolated_twin_lab

PLANS = {
    "tftp (safe)": "regenerate-tftp,restart-tftp,reset-phones",
    "tvs (safe)": "regenerate-tvs,restart-tftp,reset-phones",
    "tftp and tvs together (the hazard)": "regenerate-tftp,regenerate-tvs,restart-tftp,"
                                          "reset-phones",
    "tftp then tvs (documented order)": "regenerate-tftp,restart-tftp,reset-phones,"
                                        "regenerate-tvs,restart-tftp,reset-phones",
    "capf": "regenerate-capf,restart-tftp,reset-phones",
    "tftp, then restore the old key": "regenerate-tftp,restart-tftp,reset-phones,"
                                      "restore-backup,restart-tftp,reset-phones",
    "prepared rollback": "prepare-rollback,reset-phones,rollback,reset-phones",
    "unprepared rollback": "rollback,reset-phones",
    "no reset": "regenerate-tftp,regenerate-tvs,restart-tftp",
}
MODELS = {"SEP00000A000001": "7962", "SEP00000A000002": "8845", "SEP00000A000003": "7942",
          "SEP00000A000004": "7960"}


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[TwinRack]:
    lab = load_lab(isolated_twin_lab(tmp_path, 91))
    rack = TwinRack(lab, lab.racks[0], tmp_path / "twin", profile="fast", consoles=False)
    rack.start()
    try:
        yield rack
    finally:
        rack.stop()
        shutil.rmtree(tmp_path / "twin", ignore_errors=True)


def addresses(twin: TwinRack, service: Service) -> list[tuple[str, int]]:
    return [e.address for e in twin.cluster.plane.of(service) if e.running]


@pytest.mark.parametrize("plan", list(PLANS.values()), ids=list(PLANS))
def test_prediction_equals_what_the_twin_then_does(twin: TwinRack, plan: str) -> None:
    steps = parse_plan(plan)
    real = PlanOnTwin(twin)  # waits for the first boot: phones hold the served ITL
    served_before = twin.cluster.served("ITLFile.tlv")
    snapshot = read_cluster(addresses(twin, Service.TFTP), addresses(twin, Service.TVS),
                            list(MODELS.items()), timeout=2)
    predicted = {p.phone: p.state for p in predict(snapshot, steps)}
    # preflight is read-only: same files, and the TFTP servers saw reads only
    assert twin.cluster.served("ITLFile.tlv") == served_before
    assert not [e for e in twin.events.of_kind("tftp.error") if "write" in str(e.data)]
    observed = {p.phone: p.state for p in real.run(steps)}
    assert predicted == observed
    if plan == PLANS["tftp and tvs together (the hazard)"]:
        assert {n for n, s in observed.items() if s == "stranded"} == {
            "SEP00000A000001", "SEP00000A000002", "SEP00000A000003"}
    if Step.RESET_PHONES not in steps:
        assert set(observed.values()) <= {"unaffected", "not supporting Security by Default"}
