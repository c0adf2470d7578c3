"""Fixtures the endpoint test modules share beyond tests/conftest.py: a CAPF directory."""

from __future__ import annotations

import pytest

from harness.services.capf_directory import CapfDirectory


@pytest.fixture
def directory() -> CapfDirectory:
    return CapfDirectory()
