"""The twin phone's serial console: a real pty that the normal console driver opens.

Why a real pty and not a Python object: docs/ARCHITECTURE.md principle 1 — the twin is
reached through the same wire as hardware, so `SerialConsole` runs pyserial on
`PhoneTty.path` (/dev/pts/N) exactly as on a lab USB-serial adapter, and closing
the pty looks to it like an unplugged cable. The phone side never blocks: the
master is non-blocking and lines nobody reads wait in a bounded queue (oldest
dropped) instead of stalling the twin's firmware thread.

Console commands (typed by the driver side, one per line, `\\r`, `\\n` or `\\r\\n`
terminated, case-insensitive verbs) — the twin's stand-in for keypad menus:

    key <sequence>      key presses: 0-9 * # and {Name} keys, e.g. `key {Settings}**#`
    erase itl           delete the ITL (the twin's Settings > Security > Trust List path)
    erase ctl           delete the CTL
    factory reset       wipe settings and both trust lists, then reboot
    capf auth <digits>  enter the CAPF authentication string (4-10 digits)
    show itl | show ctl | show status
                        the twin prints the trust list / status on the console
    help                the tty itself prints this command list

Anything else is answered with an `unknown command` line and not delivered.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import threading
import tty
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from harness.phone_models import Family
from phone_drivers.emulator import console_lines as lines

_COMMANDS = {
    "key": re.compile(r"(?:[0-9*#]|\{[A-Za-z][A-Za-z0-9]*\})+"),
    "erase itl": None, "erase ctl": None, "factory reset": None,
    "capf auth": re.compile(r"\d{4,10}"),
    "show itl": None, "show ctl": None, "show status": None,
}
HELP = ("commands: key <sequence> | erase itl | erase ctl | factory reset | "
        "capf auth <digits> | show itl | show ctl | show status | help")


@dataclass(frozen=True)
class TtyCommand:
    """A parsed console command: `verb` is a key of the command table ("erase itl")."""

    verb: str
    argument: str = ""


def parse_command(text: str) -> TtyCommand | None:
    """The command in one typed line, or None if it is not in the documented set."""
    words = text.split()
    for verb, arg_re in _COMMANDS.items():
        n = len(verb.split())
        if [w.lower() for w in words[:n]] != verb.split():
            continue
        rest = " ".join(words[n:])
        if (arg_re is None and not rest) or (arg_re is not None and arg_re.fullmatch(rest)):
            return TtyCommand(verb, rest)
    return None


class PhoneTty:
    """One twin phone's console port. `path` is what the topology gives pyserial."""

    def __init__(self, family: Family, *, on_command: Callable[[TtyCommand], None] | None = None,
                 max_pending: int = 1000, clock: Callable[[], datetime] = datetime.now,
                 on_line: Callable[[str], None] | None = None) -> None:
        if max_pending < 2:
            raise ValueError("max_pending must be at least 2 (one line may be half written)")
        self.family, self.on_command, self.clock = family, on_command, clock
        self.on_line = on_line  # gets every printed line too (the twin's SSH log, 88xx)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo/line editing before pyserial configures it
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self.dropped = 0  # lines lost because nobody read the console
        self._pending: deque[bytes] = deque()
        self._max_pending, self._partial = max_pending, False
        self._lock = threading.Lock()
        self._seq = 0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"tty {self.path}", daemon=True)
        self._thread.start()

    def write_line(self, level: str, module: str, text: str) -> str:
        """Print one log line in the family dialect; returns it (without `\\r\\n`)."""
        return self.emit(lines.Line(level, module, text))

    def emit(self, *items: lines.Line | list[lines.Line]) -> str:
        """Print lines built by `console_lines`; returns the last one printed."""
        flat = [x for item in items for x in (item if isinstance(item, list) else [item])]
        text = ""
        with self._lock:
            for line in flat:
                self._seq += 1
                text = lines.format_line(self.family, line, when=self.clock(), seq=self._seq)
                if self.on_line is not None:
                    self.on_line(text)
                if len(self._pending) >= self._max_pending:  # drop the oldest whole line
                    del self._pending[1 if self._partial else 0]
                    self.dropped += 1
                self._pending.append(text.encode() + b"\r\n")
            self._flush()
        return text

    def close(self) -> None:
        """Unplug: the driver side sees the device vanish (EIO, then no /dev/pts/N)."""
        if self._closed.is_set():
            return
        self._closed.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PhoneTty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _flush(self) -> None:  # caller holds self._lock
        while self._pending and not self._closed.is_set():
            head = self._pending[0]
            try:
                written = os.write(self._master, head)
            except (BlockingIOError, OSError):
                return  # full (or gone): keep it queued, the serve loop retries
            self._partial = written < len(head)
            if self._partial:
                self._pending[0] = head[written:]
                return
            self._pending.popleft()

    def _serve(self) -> None:
        """Read what the driver types; push queued output whenever the pty drains."""
        typed = b""
        while not self._closed.is_set():
            want_write = [self._master] if self._pending else []
            try:
                readable, writable, _ = select.select([self._master], want_write, [], 0.05)
            except (OSError, ValueError):
                return
            if writable:
                with self._lock:
                    self._flush()
            if not readable:
                continue
            try:
                typed += os.read(self._master, 4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return
            *complete, typed = re.split(rb"\r\n|\r|\n", typed)
            for raw in complete:
                if raw.strip():
                    self._dispatch(raw.decode("utf-8", "replace").strip())

    def typed(self, text: str) -> None:
        """A command line typed elsewhere (the twin's SSH shell): handled as if typed here."""
        if text.strip():
            self._dispatch(text.strip())

    def _dispatch(self, text: str) -> None:
        if text.lower() == "help":
            self.write_line("INF", "console", HELP)
            return
        command = parse_command(text)
        if command is None:
            self.emit(lines.unknown_command(self.family, text))
        elif self.on_command is not None:
            try:
                self.on_command(command)
            except Exception as exc:  # the twin's bug must not kill its console
                self.write_line("ERR", "console", f"command {text!r} failed: {exc}")
