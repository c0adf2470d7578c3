"""Fixtures every endpoint test module shares: a loop per module, a fresh timeline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services.capf_directory import CapfDirectory


@pytest.fixture(scope="module")
def loop(request: pytest.FixtureRequest) -> Iterator[BackgroundLoop]:
    with BackgroundLoop(f"loop-{request.module.__name__}") as background:
        yield background


@pytest.fixture
def events() -> EventLog:
    return EventLog()


@pytest.fixture
def directory() -> CapfDirectory:
    return CapfDirectory()
