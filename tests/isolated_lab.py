"""A copy of a twin topology on loopback addresses no other run uses.

Tests that start a whole pytest run of their own (pytester, the report check) do
so while the suite's own lab scenarios run on the default topology; moving their
nodes and phones to other loopback addresses keeps captures and leases apart.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from lab_topology import DEFAULT_LAB


def isolated_twin_lab(directory: Path, octet: int, source: Path = DEFAULT_LAB) -> Path:
    """Copy `source` with nodes on 127.<octet>.<n>.x and phones on 127.<octet>.<100+r>.x."""
    document = yaml.safe_load(source.read_text())
    document["name"] = f"{document['name']}-isolated-{octet}"
    for r, rack in enumerate(document["racks"]):
        for node in rack["cluster"]["nodes"]:
            _, _, third, fourth = node["address"].split(".")
            node["address"] = f"127.{octet}.{third}.{fourth}"
        for index, phone in enumerate(rack["phones"], 1):
            phone["address"] = f"127.{octet}.{100 + r}.{index}"
        for load in rack.get("firmware", []):  # folders are relative to the source file
            if load.get("directory"):
                load["directory"] = str((source.parent / load["directory"]).resolve())
    path = directory / f"{source.stem}-isolated.yaml"
    path.write_text(yaml.safe_dump(document))
    return path
