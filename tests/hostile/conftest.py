"""Shared parts of the hostile-client suite: a lab PKI (loop and timeline: tests/conftest.py).

Every test here attacks a real endpoint on loopback with a bounded number of
hostile connections or datagrams and asserts that a legitimate phone request is
still served within the phone's own timeout while the attack goes on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.pki import LabPKI


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.init(Path(tmp_path_factory.mktemp("pki")) / "pki", ["cucm1"], key_size=1024)


