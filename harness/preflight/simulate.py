"""Predict each phone's end state by running the plan on a shadow of the cluster.

Why a shadow twin rather than a second, smaller rule set: the twin's firmware is
the project's one model of the phone (docs/PROTOCOLS.md §7), and the `Cluster`
procedures are the project's one model of the server; a separate predictor would
be a third thing to keep in step. The shadow mirrors what was read (nodes, mode,
release, rollback form, each phone's model and whether its config is encrypted),
with keys of its own: trust decisions depend on which signer and which TVS a
phone already knows, never on the key bytes themselves. It runs on loopback with
free ports, and touches nothing of the real cluster.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import LabError
from harness.events import EventLog
from harness.formats.roles import Role
from harness.preflight.plan import PRE_8_RELEASE, PlanRunner, Step
from harness.preflight.read import ClusterSnapshot
from lab_topology import LabSpec
from phone_drivers.emulator.firmware_types import Outcome
from phone_drivers.emulator.twin import TwinRack

SETTLE_TIMEOUT = 30.0  # one reset of a handful of twin phones takes about a second
SHADOW_NET = "127.77"


@dataclass
class Prediction:
    phone: str
    model: str
    state: str  # trusting | stranded | unaffected | not supporting Security by Default
    reason: str
    itl_changed: bool = False
    details: dict[str, Any] = field(default_factory=dict)


STRANDED_WORDS = ("neither the new ITL's signer nor any TVS certificate is trusted by the ITL "
                  "the phone holds: its ITL must be erased by hand on the phone")


def shadow_lab(snap: ClusterSnapshot) -> LabSpec:
    """A twin topology mirroring what was read (LabError if no phone can be mirrored)."""
    tvs_records = len(snap.itl.records_with(Role.TVS)) if snap.itl else 0
    nodes = max(len(snap.tftp), tvs_records, 1)
    phones = [p for p in snap.phones if p.model and p.name.startswith("SEP")]
    if not phones:
        raise LabError("no phone to predict for: name phones with their model "
                       "(--phones SEP001122334455:7962) or give phones whose config names a load")
    document: dict[str, Any] = {
        "name": "preflight-shadow", "backend": "twin",
        "racks": [{
            "name": "shadow",
            "cluster": {
                "release": "8.0" if snap.itl is not None else PRE_8_RELEASE,
                "security_mode": "mixed" if snap.ctl is not None else "non-secure",
                "prepare_rollback": bool(snap.itl and snap.itl.is_rollback),
                "auto_registration": snap.ctl is None,
                "nodes": [{"name": f"node{i}", "address": f"{SHADOW_NET}.1.{i}"}
                          for i in range(1, nodes + 1)],
            },
            "switches": [{"name": "sw1"}],
            "phones": [{
                "name": p.name, "model": p.model, "switch": "sw1", "port": f"Gi1/0/{i + 1}",
                "address": f"{SHADOW_NET}.2.{i + 1}", "keypad": "manual",
                "encrypted_config": p.encrypted,
                "capf": {"operation": "install" if p.encrypted else "none",
                         "auth": "no password"},
                "in_database": p.config is not None,
            } for i, p in enumerate(phones)],
        }],
    }
    return LabSpec.model_validate(document)


class PlanOnTwin:
    """Applies a plan to a started twin rack and says what became of each phone.

    The shadow uses it for predictions; the acceptance test uses the very same
    class on the twin it read, so prediction and observation are judged alike.
    """

    def __init__(self, twin: TwinRack) -> None:
        self.twin, self.events = twin, twin.events
        self.settle(0)
        self.initial = {name: phone.observe()["itl_digest"]
                        for name, phone in twin.phones.items()}

    def run(self, steps: list[Step]) -> list[Prediction]:
        marks: list[int] = []

        def reset() -> None:
            mark = self.events.mark()
            marks.append(mark)
            for phone in self.twin.phones.values():
                phone.reset()
            self.settle(mark)

        runner = PlanRunner(self.twin.cluster, reset)
        for step in steps:
            runner.run(step)
        return [self.judge(name, marks[-1] if marks else None) for name in self.twin.phones]

    def settle(self, after: int) -> None:
        """Every phone ready, or seen looping twice, since `after` (bounded)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        pending = set(self.twin.phones)
        while pending and time.monotonic() < deadline:
            for event in self.events.since(after):
                if event.phone in pending and (event.kind == "phone.ready" or (
                        event.kind == "phone.retry" and event.data.get("attempt", 0) >= 2)):
                    pending.discard(event.phone)
            time.sleep(0.05)
        if pending:
            raise LabError(f"twin phones did not settle within {SETTLE_TIMEOUT:g} s: "
                           f"{sorted(pending)}")

    def judge(self, name: str, last_reset: int | None) -> Prediction:
        phone = self.twin.phones[name]
        model = phone.model_info
        seen = phone.observe()
        changed = seen["itl_digest"] != self.initial.get(name)
        if not model.supports_sbd:
            return Prediction(name, model.model, "not supporting Security by Default",
                              "this model asks for no ITL and takes unsigned configs")
        if last_reset is None:
            return Prediction(name, model.model, "unaffected",
                              "the plan resets no phone: phones keep what they hold")
        decisions = [d for d in phone.firmware.log if d.subject in ("itl", "ctl", "config")]
        itl_rejected = [d for d in decisions if d.subject == "itl"
                        and d.outcome is Outcome.REJECTED]
        config_ok = any(d.subject == "config" and d.outcome is Outcome.ACCEPTED
                        for d in decisions[-4:])
        if seen["stranded"] or (itl_rejected and not config_ok):
            why = itl_rejected[-1].reason if itl_rejected else "trust lists rejected"
            return Prediction(name, model.model, "stranded", STRANDED_WORDS, changed,
                              {"firmware": why})
        if seen["config_rejected"] or seen["trust_list_update_failed"]:
            return Prediction(name, model.model, "stranded",
                              "the phone rejects the new files and loops on trust lists and "
                              "signed configs until its ITL is erased", changed)
        if changed:
            return Prediction(name, model.model, "trusting",
                              "takes the new ITL and verifies its signed config", True)
        return Prediction(name, model.model, "unaffected",
                          "the phone keeps the ITL it holds and verifies its config")


class Shadow:
    """A shadow twin of a snapshot's cluster, started and stopped as a context."""

    def __init__(self, lab: LabSpec) -> None:
        self.lab = lab
        self.workdir = Path(tempfile.mkdtemp(prefix="phonelab-shadow-"))
        self.twin = TwinRack(lab, lab.racks[0], self.workdir, profile="fast", consoles=False,
                             events=EventLog(), powered=True)

    def __enter__(self) -> PlanOnTwin:
        self.twin.start()
        try:
            return PlanOnTwin(self.twin)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        self.twin.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def predict(snap: ClusterSnapshot, steps: list[Step]) -> list[Prediction]:
    """Run `steps` on a fresh shadow of the snapshot's cluster; phones of unknown model
    are listed as not predicted rather than guessed."""
    unknown = [Prediction(p.name, "?", "not predicted",
                          "model unknown: name it as SEP<MAC>:MODEL (its config names no "
                          "load preflight recognises)") for p in snap.phones
               if not p.model and p.name.startswith("SEP")]
    if len(unknown) == len([p for p in snap.phones if p.name.startswith("SEP")]):
        return unknown
    lab = shadow_lab(snap)
    with Shadow(lab) as shadow:
        return shadow.run(steps) + unknown
