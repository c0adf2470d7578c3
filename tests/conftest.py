"""Fixtures the harness's own test suites share: a loop per module, a fresh timeline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.aio import BackgroundLoop
from harness.events import EventLog


@pytest.fixture(scope="module")
def loop(request: pytest.FixtureRequest) -> Iterator[BackgroundLoop]:
    with BackgroundLoop(f"loop-{request.module.__name__}") as background:
        yield background


@pytest.fixture
def events() -> EventLog:
    return EventLog()
