"""What every phone console does the same way, whatever carries its bytes.

`SerialConsole` (pyserial) and `SshConsole` (asyncssh) differ in how bytes arrive and
how a lost wire is retried; matching them against patterns, the tail shown in
failures, typing a line and forgetting unmatched output are one behaviour, kept here
so the two drivers cannot drift apart in what a failure says.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pexpect

from harness.errors import LabError
from phone_drivers.console_log import ByteFeed, ConsoleLog, FeedSpawn

PatternLike = str | re.Pattern[str]


class ConsoleTimeout(AssertionError):
    """The phone did not print the expected line in time (a phone-behaviour failure)."""


class MatchingConsole:
    """Pattern matching over a console's received bytes. String patterns compile with
    `re.MULTILINE` (so `.` stays inside a line and `^` anchors at line starts).

    Subclasses feed `_feed` and `_log`, set `_connected` while the wire is up and
    `_gone` when it is lost for good, and say how they describe their own failures."""

    name: str
    _log: ConsoleLog
    _feed: ByteFeed
    _spawn: FeedSpawn
    _connected: threading.Event
    _gone: LabError | None

    @property
    def log_path(self) -> Path:
        return self._log.path

    @property
    def gone(self) -> LabError | None:
        """Why the console is gone for good, else None."""
        return self._gone

    def _started(self) -> bool:
        raise NotImplementedError

    def _closed_error(self) -> LabError:
        """The error for output that ended (the feed closed) without a known cause."""
        raise NotImplementedError

    def _unreachable_error(self, timeout: float) -> LabError:
        """The error for a wait that ended while the wire was down (still retrying)."""
        raise NotImplementedError

    def expect(self, pattern: PatternLike, timeout: float) -> re.Match[str]:
        regex = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
        if not self._started():
            raise LabError(f"console {self.name}: expect() before open()")
        try:
            self._spawn.expect([regex], timeout=timeout)
        except pexpect.EOF:
            raise self._gone or self._closed_error() from None
        except pexpect.TIMEOUT:
            if not self._connected.is_set():
                raise self._unreachable_error(timeout) from None
            lines = "\n".join(f"  | {line}" for line in self.tail(20)) or "  (nothing received)"
            raise ConsoleTimeout(f"console {self.name}: no line matching {regex.pattern!r} within "
                                 f"{timeout:g} s; last lines:\n{lines}\nfull log: {self.log_path}"
                                 ) from None
        return self._spawn.match  # type: ignore[no-any-return]

    def send(self, text: str) -> None:
        raise NotImplementedError

    def sendline(self, text: str) -> None:
        """Type `text` and Enter (CR, as a terminal does)."""
        self.send(text + "\r")

    def tail(self, n: int = 20) -> list[str]:
        return self._log.tail(n)

    def clear(self) -> None:
        """Forget unmatched output, so the next `expect` sees only newer lines."""
        self._feed.clear()
        self._spawn.buffer = ""
