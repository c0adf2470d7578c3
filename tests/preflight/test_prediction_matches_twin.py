"""Prediction equals observation: preflight's verdict per phone against the twin doing it.

For each plan (the documented procedures, safe and unsafe), a twin rack boots; preflight
reads its cluster over TFTP and TVS and predicts on a shadow; then the plan is carried
out on the twin itself and every phone's end state is compared with the prediction.
The rack holds one phone of every model the twin knows (79x1/79x2/797x, 88xx/89xx and the
7940/7960 without Security by Default), one of them on SCCP with an encrypted config.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster.state import Service
from harness.phone_models import MODELS as KNOWN_MODELS
from harness.phone_models import lookup
from harness.preflight.plan import Step, parse_plan
from harness.preflight.read import read_cluster
from harness.preflight.simulate import PlanOnTwin, predict
from lab_topology import LabSpec
from phone_drivers.emulator.twin import TwinRack

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
MODELS = {f"SEP00000B0000{i:02X}": model for i, model in enumerate(sorted(KNOWN_MODELS), 1)}
ENCRYPTED = "SEP00000B000003"  # on SCCP, with an encrypted config and CAPF enrollment


def every_model_lab() -> LabSpec:
    phones = [{"name": name, "model": model, "switch": "sw1", "port": f"Gi1/0/{i}",
               "address": f"127.91.100.{i}"} for i, (name, model) in enumerate(MODELS.items(), 1)]
    encrypted = next(p for p in phones if p["name"] == ENCRYPTED)
    encrypted.update(protocol="SCCP", encrypted_config=True,
                     capf={"operation": "install", "auth": "no password"})
    return LabSpec.model_validate({
        "name": "preflight-matrix", "backend": "twin",
        "racks": [{"name": "rack1", "switches": [{"name": "sw1"}], "phones": phones,
                   "cluster": {"nodes": [
                       {"name": "cucm1", "address": "127.91.1.1"},
                       {"name": "cucm2", "address": "127.91.1.2",
                        "services": ["tftp", "tvs", "https", "sip", "sccp"]}]}}]})


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[TwinRack]:
    lab = every_model_lab()
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
        sbd = {n for n, m in MODELS.items() if lookup(m).supports_sbd}
        assert {n for n, s in observed.items() if s == "stranded"} == sbd
    if Step.RESET_PHONES not in steps:
        assert set(observed.values()) <= {"unaffected", "not supporting Security by Default"}
