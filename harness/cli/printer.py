"""Print event lines from a thread of its own, so a stalled reader never stalls a server.

Endpoints call event listeners on their own threads (the TFTP loop, the asyncio
loop). A listener that prints directly blocks that thread as soon as stdout is a
pipe nobody reads (`phonelab tftp serve | less`, then scrolling stops): the server
stops answering phones. Lines go into a bounded queue instead; a writer thread
drains it, and when the queue is full lines are dropped and counted, and the count
is printed once the reader catches up.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TextIO

from harness.events import Event

QUEUE_LINES = 10_000


class LinePrinter:
    """`put(line)` never blocks; lines reach `out` in order, or are counted as dropped."""

    def __init__(self, out: TextIO | None = None, capacity: int = QUEUE_LINES) -> None:
        self.out = out or sys.stdout
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=capacity)
        self._dropped = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, name="phonelab-printer", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            with self._lock:
                self._dropped += 1

    @property
    def dropped(self) -> int:
        with self._lock:
            return self._dropped

    def _drain(self) -> None:
        while (line := self._queue.get()) is not None:
            with self._lock:
                dropped, self._dropped = self._dropped, 0
            with contextlib.suppress(OSError, ValueError):  # reader gone: keep serving
                if dropped:
                    print(f"({dropped} lines dropped: output was not being read)",
                          file=self.out, flush=True)
                print(line, file=self.out, flush=True)

    def close(self, timeout: float = 2.0) -> None:
        """Flush what is queued (bounded by `timeout`) and stop the writer thread."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)


@contextlib.contextmanager
def printing(render: Callable[[Event], str | None]) -> Iterator[Callable[[Event], None]]:
    """A listener that renders an event to a line (None: skip) and queues it for printing."""
    printer = LinePrinter()

    def listener(event: Event) -> None:
        line = render(event)
        if line is not None:
            printer.put(line)

    try:
        yield listener
    finally:
        printer.close()
