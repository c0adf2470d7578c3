"""The lease shape both kinds share, and how a holder is named and shown.

A holder is named so a person reading a progress line or `phonelab lab status`
knows whom to ask: user, host, what holds it (pytest, `phonelab serve`) and its pid
or xdist worker.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Progress = Callable[[str], None]  # one progress line while waiting for a rack


@dataclass(frozen=True)
class Holder:
    """Who holds a rack and since when (seconds since the epoch; None when unknown)."""

    name: str
    since: float | None = None

    def describe(self, now: float | None = None) -> str:
        if self.since is None:
            return self.name
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        held = max(0.0, (now or time.time()) - self.since)
        return f"{self.name} since {stamp} ({_duration(held)})"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def holder_tag(purpose: str = "pytest", worker: str | None = None) -> str:
    """`alice.pytest-pid4242` or, under xdist, `alice.pytest-<run>-gw1`: the user part of a
    holder's name (no `/`, which labgrid uses between host and user)."""
    who = getpass.getuser().replace("/", "_")
    return f"{who}.{purpose}-{worker or f'pid{os.getpid()}'}"


def this_host() -> str:
    return os.environ.get("LG_HOSTNAME") or socket.gethostname()


@runtime_checkable
class Lease(Protocol):
    """Exclusive use of one rack: taken before its first test, given back after its last."""

    kind: str  # "file" or "labgrid"

    @property
    def held(self) -> bool:
        """True between a successful `acquire` and `release`."""

    def where(self) -> str:
        """Where the lease lives (lease file, or coordinator and place), for messages."""

    def holder(self) -> Holder | None:
        """The current holder, None when the rack is free."""

    def acquire(self, timeout: float, progress: Progress | None = None) -> None:
        """Take the rack, waiting up to `timeout` s (progress lines meanwhile); LabError."""

    def release(self) -> None:
        """Give the rack back; harmless when not held."""

    def consoles(self) -> dict[str, str]:
        """Console resources the lease resolved (name → pyserial URL); {} for files."""

    def resources(self, cls: str) -> dict[str, dict[str, object]]:
        """Acquired resources of one labgrid class (name → parameters); {} for files."""
