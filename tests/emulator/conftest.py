"""Session-wide identities for the firmware tests: key generation is the slow part."""

from __future__ import annotations

import pytest
from firmware_lab import Pki, make_pki


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()
