"""Shared parts of the hostile-client suite: a lab PKI, a loop, a fresh timeline.

Every test here attacks a real endpoint on loopback with a bounded number of
hostile connections or datagrams and asserts that a legitimate phone request is
still served within the phone's own timeout while the attack goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.pki import LabPKI


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.init(Path(tmp_path_factory.mktemp("pki")) / "pki", ["cucm1"], key_size=1024)


@pytest.fixture(scope="module")
def loop(request: pytest.FixtureRequest) -> Iterator[BackgroundLoop]:
    with BackgroundLoop(f"loop-{request.module.__name__}") as background:
        yield background


@pytest.fixture
def events() -> EventLog:
    return EventLog()
