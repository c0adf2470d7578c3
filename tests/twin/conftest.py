"""A running twin rack (the default topology) for end-to-end tests of the twin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.pki import LabPKI
from lab_topology import load_lab
from phone_drivers.emulator.twin import TwinRack
from tests.isolated_lab import isolated_twin_lab


@pytest.fixture(scope="session")
def twin_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lab = load_lab(isolated_twin_lab(tmp_path_factory.mktemp("twin-lab"), 65))
    root = tmp_path_factory.mktemp("twin-pki") / "pki"
    nodes = lab.racks[0].cluster.nodes
    pki = LabPKI.init(root, [n.name for n in nodes], addresses={n.name: str(n.address)
                                                                 for n in nodes})
    for phone in lab.racks[0].phones:
        pki.issue_mic(phone.name, phone.model)
    return root


@pytest.fixture
def rack(twin_pki: Path, tmp_path: Path) -> Iterator[TwinRack]:
    lab = load_lab(isolated_twin_lab(tmp_path, 65))
    twin = TwinRack(lab, lab.racks[0], tmp_path, pki_template=twin_pki)
    twin.start()
    yield twin
    twin.stop()
