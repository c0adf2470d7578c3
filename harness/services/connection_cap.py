"""Per-endpoint connection caps: when full, the longest-idle connection makes room.

Why: every accepted connection holds a descriptor, and all endpoints of `phonelab
serve` share one process's table. Without a cap, idle SIP TCP connections once
exhausted it and TFTP, TVS, HTTPS and CAPF all failed (issue 11, finding 4). A cap
per endpoint keeps the sum bounded; a new connection at the cap evicts the idle
connection that has carried no valid exchange yet and was quiet longest, then (only
if every connection has proved itself) the longest-quiet proven one. A connection
in the middle of a request is never evicted; if all are, the newcomer is refused.
The default cap is `default_limit()`: 1,024 (a rack's phones at once), or an
eighth of the process's descriptor limit when that is lower, so six stream
endpoints stay under it (docs/DESIGN.md "Connection caps and idle timeouts").

Connections are asyncio tasks: eviction cancels the task, so its own `finally`
closes the socket as on any other end. Handlers call `admit()` first, `release()`
last, `touch()` on traffic and hold `busy()` while serving a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

MAX_DEFAULT = 1024


def default_limit() -> int:
    """1,024, or an eighth of the soft descriptor limit when that is smaller (>= 16)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_DEFAULT
    return max(16, min(MAX_DEFAULT, soft // 8))


@dataclass(eq=False)
class _Slot:
    task: asyncio.Task[Any]
    peer: str
    last: float
    proven: bool = False
    busy: int = 0


class ConnectionCap:
    """At most `limit` connections; `on_evict(peer, reason)` records each eviction."""

    def __init__(self, limit: int | None = None,
                 on_evict: Callable[[str, str], None] | None = None) -> None:
        self.limit = limit if limit is not None else default_limit()
        if self.limit < 1:
            raise ValueError(f"connection cap must be at least 1, not {self.limit}")
        self.on_evict = on_evict
        self.evicted = 0
        self.refused = 0
        self._slots: dict[asyncio.Task[Any], _Slot] = {}

    def __len__(self) -> int:
        return len(self._slots)

    def admit(self, peer: str) -> bool:
        """Register the current task's connection; False (refuse it) when the cap is full
        of connections in the middle of a request."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("ConnectionCap.admit() outside a task")
        if len(self._slots) >= self.limit:
            idle = [s for s in self._slots.values() if not s.busy and s.task is not task]
            if not idle:
                self.refused += 1
                if self.on_evict is not None:
                    self.on_evict(peer, f"connection cap {self.limit} reached, all busy: "
                                        "refused")
                return False
            victim = min(idle, key=lambda s: (s.proven, s.last))
            del self._slots[victim.task]
            victim.task.cancel()
            self.evicted += 1
            if self.on_evict is not None:
                quiet = time.monotonic() - victim.last
                self.on_evict(victim.peer, f"connection cap {self.limit} reached: dropped "
                                           f"this connection, idle {quiet:.1f} s")
        self._slots[task] = _Slot(task, peer, time.monotonic())
        return True

    def _mine(self) -> _Slot | None:
        task = asyncio.current_task()
        return self._slots.get(task) if task is not None else None

    def touch(self, *, proven: bool = False) -> None:
        """Traffic on the current connection; `proven`: it carried a valid exchange."""
        slot = self._mine()
        if slot is not None:
            slot.last = time.monotonic()
            slot.proven = slot.proven or proven

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """The current connection is serving a request: not evictable meanwhile."""
        slot = self._mine()
        if slot is not None:
            slot.busy += 1
        try:
            yield
        finally:
            if slot is not None:
                slot.busy -= 1
                slot.last = time.monotonic()

    def release(self) -> None:
        """The current connection has ended."""
        task = asyncio.current_task()
        if task is not None:
            self._slots.pop(task, None)

    def clear(self) -> None:
        self._slots.clear()
