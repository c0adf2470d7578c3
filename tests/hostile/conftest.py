"""Shared parts of the hostile-client suite: a lab PKI (loop and timeline: tests/conftest.py),
a guard that no traceback reached the log, and a way to record each figure.

Every test here attacks a real endpoint on loopback with a bounded number of
hostile connections or datagrams and asserts that a legitimate phone request is
still served within the phone's own timeout while the attack goes on. The
findings each test replays are listed in tests/hostile/README.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.pki import LabPKI


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.init(Path(tmp_path_factory.mktemp("pki")) / "pki", ["cucm1"], key_size=1024)


@pytest.fixture(autouse=True)
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """An attack may cost connections, never a traceback in the log (asyncio's
    'Exception in callback', 'Task exception was never retrieved', a thread's death)."""
    caplog.set_level(logging.ERROR)
    yield
    bad = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR
           and (r.exc_info is not None or "Traceback" in r.getMessage()
                or "exception" in r.getMessage().lower())]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


@pytest.fixture
def figures(record_property: Callable[[str, object], None],
            request: pytest.FixtureRequest) -> Callable[..., None]:
    """`figures("finding 4", legit_s=..., rss_mb=...)`: one line on stdout (pytest -s)
    and properties in the JUnit XML, so the figures can be quoted."""
    def record(finding: str, **values: float | int | str) -> None:
        shown = " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in values.items())
        print(f"\nhostile {finding}: {shown}")
        record_property("finding", finding)
        for key, value in values.items():
            record_property(key, value)
    return record
