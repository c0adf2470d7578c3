"""The plumbing under `SerialConsole`: where received bytes go.

Split from `console.py` so each reads in one sitting. Bytes from the port's reader
thread go two ways: into a `ByteFeed` that a pexpect `SpawnBase` subclass reads for
matching (our own `read_nonblocking`, since `fdpexpect` is unreliable on serial fds,
docs/TOOLING.md), and into a `ConsoleLog` that splits lines and writes every one to the
per-phone, per-test log file (flushed per line, so a crash loses nothing), the
in-memory tail used in failure messages, and optionally `console.line` events.
"""

from __future__ import annotations

import codecs
import threading
import time
from collections import deque
from pathlib import Path

import pexpect
from pexpect.spawnbase import SpawnBase

from harness.events import EventLog


class ByteFeed:
    """A thread-safe byte queue, capped (oldest dropped) so an unread console cannot
    grow memory without bound."""

    def __init__(self, cap: int = 4 << 20) -> None:
        self._chunks: deque[bytes] = deque()
        self._size, self._cap, self._closed = 0, cap, False
        self._cond = threading.Condition()

    def put(self, data: bytes) -> None:
        with self._cond:
            self._chunks.append(data)
            self._size += len(data)
            while self._size > self._cap:
                self._size -= len(self._chunks.popleft())
            self._cond.notify_all()

    def take(self, size: int, timeout: float | None) -> bytes:
        """Up to `size` bytes; pexpect.TIMEOUT if none arrive in time, EOF once closed."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self._chunks) or self._closed, timeout)
            if not self._chunks:
                if self._closed:
                    raise pexpect.EOF("console closed")
                raise pexpect.TIMEOUT("no console output")
            out = bytearray()
            while self._chunks and len(out) < size:
                chunk = self._chunks.popleft()
                room = size - len(out)
                if len(chunk) > room:
                    self._chunks.appendleft(chunk[room:])
                    chunk = chunk[:room]
                out += chunk
            self._size -= len(out)
            return bytes(out)

    def clear(self) -> None:
        with self._cond:
            self._chunks.clear()
            self._size = 0

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class FeedSpawn(SpawnBase):  # type: ignore[misc]  # pexpect ships no type hints
    """pexpect's expect machinery reading from a `ByteFeed` instead of a file descriptor."""

    def __init__(self, feed: ByteFeed) -> None:
        super().__init__(timeout=30, maxread=65536, encoding="utf-8", codec_errors="replace")
        self._feed = feed
        self.closed = False

    def read_nonblocking(self, size: int = 1, timeout: float | None = None) -> str:
        data = self._feed.take(size, timeout)
        text: str = self._decoder.decode(data, final=False)
        self._log(text, "read")
        return text


class ConsoleLog:
    """Lines of one console: log file, tail buffer and optional `console.line` events."""

    def __init__(self, path: Path, *, name: str, events: EventLog | None = None,
                 tail_size: int = 500) -> None:
        self.path, self.name, self.events = path, name, events
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._tail: deque[str] = deque(maxlen=tail_size)
        self._partial = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        """Record received bytes; complete lines are written out at once."""
        with self._lock:
            *lines, self._partial = (self._partial + self._decoder.decode(data)).split("\n")
            lines = [self._write(line.rstrip("\r")) for line in lines]
        self._publish(lines)

    def note(self, text: str) -> None:
        """A harness remark (opened, lost, reconnected, sent): in the log, marked `###`."""
        stamp = time.strftime("%H:%M:%S")
        with self._lock:
            if not self._file.closed:
                self._file.write(f"### {stamp} {text}\n")
                self._file.flush()

    def tail(self, n: int = 20) -> list[str]:
        """The last `n` lines, including a line still being received (e.g. a prompt)."""
        with self._lock:
            lines = list(self._tail) + ([self._partial.rstrip("\r")] if self._partial else [])
        return lines[-n:] if n > 0 else []

    def close(self) -> None:
        with self._lock:
            last = [self._write(self._partial.rstrip("\r"))] if self._partial else []
            self._partial = ""
        self._publish(last)
        self.note("closed")
        with self._lock:
            self._file.close()

    def _write(self, line: str) -> str:  # caller holds the lock
        self._tail.append(line)
        if not self._file.closed:
            self._file.write(line + "\n")
            self._file.flush()
        return line

    def _publish(self, lines: list[str]) -> None:
        """Events go out after the lock is released: listeners may call `tail()`."""
        if self.events is None:
            return
        for line in lines:
            self.events.record("console.line", source="console", phone=self.name, line=line)
