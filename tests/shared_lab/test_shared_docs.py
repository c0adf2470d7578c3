"""docs/shared-lab.md's examples stay true: the exporter file names labgrid resource
classes with their parameters, and the topology snippet validates once completed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab_topology import parse_lab
from tests.shared_lab.labgrid_procs import labgrid_ready

DOC = Path(__file__).resolve().parents[2] / "docs" / "shared-lab.md"


def _yaml_blocks() -> list[Any]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)]


def test_the_exporter_example_uses_labgrid_resource_classes_and_their_parameters() -> None:
    if reason := labgrid_ready():
        pytest.skip(reason)
    import attr
    from labgrid import resource

    exporter = next(b for b in _yaml_blocks() if "rack-a-consoles" in b)
    for group in exporter.values():
        for name, params in group.items():
            cls = getattr(resource, params["cls"])
            known = {a.name for a in attr.fields(cls)}
            unknown = set(params) - {"cls"} - known
            assert not unknown, f"{name}: {params['cls']} has no {unknown}"


def test_the_topology_example_validates_once_completed() -> None:
    racks = next(b for b in _yaml_blocks() if isinstance(b, dict) and "racks" in b)["racks"]
    for rack in racks:
        rack["cluster"] = {"nodes": [{"name": "cucm1", "address": "10.20.0.11"}]}
        rack["switches"] = [{"name": "sw1", "host": "10.20.0.2"}]
        for i, phone in enumerate(rack["phones"], 1):
            phone.update(model="7962", switch="sw1", port=f"Gi1/0/{i}")
    lab = parse_lab({"name": "lab3", "backend": "hardware", "racks": racks})
    phones = lab.racks[0].phones
    assert lab.racks[0].reservation is not None and lab.racks[0].reservation.place == "lab3-rack-a"
    assert phones[0].console is not None and phones[0].console.is_place_resource
    assert phones[1].power is not None and phones[1].power.model == "netio"
