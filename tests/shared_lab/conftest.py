"""Shared-lab tests start real labgrid processes; they skip only if labgrid is missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.shared_lab.labgrid_procs import Coordinator, coordinator, labgrid_ready


@pytest.fixture
def lg(tmp_path: Path) -> Iterator[Coordinator]:
    """A fresh labgrid-coordinator on loopback."""
    if reason := labgrid_ready():
        pytest.skip(reason)
    with coordinator(tmp_path / "coordinator") as coord:
        yield coord
