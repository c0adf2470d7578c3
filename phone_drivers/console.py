"""Phone serial consoles: one driver for a lab USB-serial adapter, a terminal server and
the twin's pty (docs/ARCHITECTURE.md principle 1).

`serial.serial_for_url` gives us tty paths, `socket://host:port` and `rfc2217://` alike.
Matching uses pexpect's `SpawnBase` fed from our own reader instead of `fdpexpect`,
because pexpect 4's non-blocking reads break on raw serial fds (docs/TOOLING.md) and
`socket://`/`rfc2217://` have no fd at all. A daemon thread drains the port all the
time, so the per-test log file is complete even for output nobody `expect`ed. A port
that vanishes (USB unplugged, pty closed, terminal server dropped) is reopened a
bounded number of times; if it stays gone the caller gets `RackBroken` (a `LabError`,
principle 8, that latches the rack),
while a phone that simply never prints the line gets `ConsoleTimeout`, an assertion.
"""

from __future__ import annotations

import contextlib
import re
import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import serial

from harness.errors import LabError, RackBroken
from harness.events import EventLog
from phone_drivers.console_log import ByteFeed, ConsoleLog, FeedSpawn
from phone_drivers.console_matching import ConsoleTimeout as ConsoleTimeout
from phone_drivers.console_matching import MatchingConsole, PatternLike

_PORT_ERRORS = (serial.SerialException, OSError)


@runtime_checkable
class Console(Protocol):
    """What testcases and keypads need from a phone console, whatever carries it."""

    @property
    def log_path(self) -> Path: ...

    def expect(self, pattern: PatternLike, timeout: float) -> re.Match[str]:
        """Wait for `pattern` in output not yet consumed; the match, or raise."""

    def send(self, text: str) -> None:
        """Type `text` exactly as given (no line ending added)."""

    def tail(self, n: int = 20) -> list[str]:
        """The last `n` lines received (newest last)."""


class SerialConsole(MatchingConsole):
    """A pyserial console with a complete log. String patterns compile with
    `re.MULTILINE` (so `.` stays inside a line and `^` anchors at line starts)."""

    def __init__(self, url: str, *, name: str, log_path: Path, baudrate: int = 9600,
                 events: EventLog | None = None, reconnect_attempts: int = 5,
                 reconnect_interval: float = 0.5, read_timeout: float = 0.1,
                 write_timeout: float = 2.0) -> None:
        self.url, self.name, self.baudrate = url, name, baudrate
        self.reconnect_attempts, self.reconnect_interval = reconnect_attempts, reconnect_interval
        self.read_timeout, self.write_timeout = read_timeout, write_timeout
        self._log = ConsoleLog(log_path, name=name, events=events)
        self._feed = ByteFeed()
        self._spawn, self._port_lock = FeedSpawn(self._feed), threading.Lock()
        self._port: Any = None  # a pyserial object; its class depends on the URL
        self._connected, self._stop = threading.Event(), threading.Event()
        self._gone: RackBroken | None = None
        self._thread: threading.Thread | None = None

    def open(self) -> SerialConsole:
        """Open the port (LabError if it cannot be opened) and start draining it."""
        try:
            self._port = self._open_port()
        except _PORT_ERRORS as exc:
            error = RackBroken("console", f"console {self.name}: cannot open {self.url}: {exc}")
            self._log.note(str(error))
            self._log.close()
            raise error from exc
        self._log.note(f"opened {self.url} at {self.baudrate} baud")
        self._connected.set()
        self._thread = threading.Thread(target=self._drain, name=f"console {self.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.read_timeout + 2.0)
        with self._port_lock:
            self._close_port()
        self._feed.close()
        self._log.close()

    def __enter__(self) -> SerialConsole:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _started(self) -> bool:
        return self._thread is not None

    def _closed_error(self) -> LabError:
        return RackBroken("console", f"console {self.name}: closed")

    def _unreachable_error(self, timeout: float) -> LabError:
        return RackBroken("console", f"console {self.name}: {self.url} disconnected, still "
                          f"reconnecting after {timeout:g} s; log: {self.log_path}")

    def send(self, text: str) -> None:
        budget = self.reconnect_attempts * (self.reconnect_interval + self.read_timeout) + 1.0
        if not self._connected.wait(budget) or self._gone is not None:
            raise self._gone or RackBroken(
                "console", f"console {self.name}: not connected to {self.url}")
        try:
            with self._port_lock:
                if self._port is None:  # the reader lost it after the check above
                    raise OSError("port disconnected")
                self._port.write(text.encode())
                self._port.flush()
        except _PORT_ERRORS as exc:
            raise RackBroken("console",
                             f"console {self.name}: write to {self.url} failed: {exc}") from exc
        self._log.note(f"sent {text!r}")

    def _open_port(self) -> Any:  # used by open() and by the reader thread
        # pyserial's rfc2217 handler refuses write_timeout (NotImplementedError); its socket
        # already bounds writes (a 5 s socket timeout), so only the others get ours.
        bounded = {} if self.url.lower().startswith("rfc2217://") else \
            {"write_timeout": self.write_timeout}
        return serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=self.read_timeout,
                                     **bounded)

    def _close_port(self) -> None:
        if self._port is not None:
            with contextlib.suppress(*_PORT_ERRORS):
                self._port.close()
            self._port = None

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                port = self._port
                data = port.read(port.in_waiting or 1)
            except (*_PORT_ERRORS, AttributeError, TypeError) as exc:
                if self._stop.is_set() or not self._reconnect(exc):
                    return
                continue
            if data:
                self._feed.put(data)
                self._log.feed(data)

    def _reconnect(self, cause: BaseException) -> bool:
        """Reopen the same URL a bounded number of times; on failure mark the console gone."""
        self._connected.clear()
        self._log.note(f"lost {self.url}: {cause}")
        with self._port_lock:
            self._close_port()
        last: BaseException = cause
        for attempt in range(1, self.reconnect_attempts + 1):
            if self._stop.wait(self.reconnect_interval):
                return False
            try:
                port = self._open_port()
            except _PORT_ERRORS as exc:
                last = exc
                continue
            with self._port_lock:
                self._port = port
            self._log.note(f"reconnected to {self.url} (attempt {attempt})")
            self._connected.set()
            return True
        self._gone = RackBroken("console", f"console {self.name}: {self.url} is gone ({cause}); "
                                f"{self.reconnect_attempts} reopen attempts failed, last: {last}; "
                                f"log: {self.log_path}")
        self._log.note(str(self._gone))
        self._feed.close()
        self._connected.set()  # wake senders: they raise self._gone
        return False
