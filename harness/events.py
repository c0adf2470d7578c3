"""The event timeline: the one oracle tests assert on (docs/ARCHITECTURE.md principle 4).

Every endpoint (TFTP, TVS, CAPF, HTTPS, registrar) and every twin phone appends
`Event`s here, keyed by the phone's device name (``SEP<MAC>``) when it is known,
resolved from the peer address otherwise. Waits observe the timeline with an
upper bound instead of sleeping (principle 5). Thread-safe: endpoints run on
their own threads and loops.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Predicate = Callable[["Event"], bool]


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened: `kind` is dotted (``tftp.rrq``, ``tvs.verify``).

    Slotted: a storm keeps hundreds of thousands of events per process."""

    seq: int
    time: float
    kind: str
    phone: str | None
    source: str
    data: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One readable line for reports and failure messages."""
        millis = int(self.time * 1000)  # truncated: 0.9996 s must not print as ".000"
        stamp = time.strftime("%H:%M:%S", time.localtime(millis // 1000))
        who = self.phone or "-"
        details = " ".join(f"{k}={v}" for k, v in self.data.items())
        line = f"{stamp}.{millis % 1000:03d} {who:<16} {self.kind:<22} [{self.source}] {details}"
        return line.rstrip()


class EventTimeout(AssertionError):
    """`wait_for` reached its bound; the message carries the last events."""


DEFAULT_WINDOW = 100_000  # events kept in memory (~50 MB); a test run stays far below


class EventLog:
    """Append-only, thread-safe timeline with address → phone resolution.

    Memory is bounded: the newest `window` events stay in memory, older ones are
    appended to `spill` (JSON lines) when given, or dropped. A server fed garbage
    for days (one event per refused datagram) therefore stays flat, while `counts`
    stays exact over the whole life of the log. Positions (`mark`, `since`, `after=`)
    are sequence numbers, so they stay valid as old events leave the window.
    """

    def __init__(self, *, window: int = DEFAULT_WINDOW, spill: Path | None = None) -> None:
        if window < 1:
            raise ValueError("the event window must hold at least one event")
        self._events: deque[Event] = deque()
        self._window = window
        self._spill = spill
        self._next_seq = 0
        self._counts: Counter[str] = Counter()
        self._cond = threading.Condition()
        self._addresses: dict[str, str] = {}
        self._listeners: list[Callable[[Event], None]] = []

    # --- recording -------------------------------------------------------
    def bind_address(self, address: str, phone: str) -> None:
        """Remember that `address` belongs to `phone` (used to key events)."""
        with self._cond:
            self._addresses[address] = phone

    def phone_at(self, address: str | None) -> str | None:
        with self._cond:
            return self._addresses.get(address) if address else None

    def record(
        self,
        kind: str,
        /,
        *,
        source: str,
        phone: str | None = None,
        address: str | None = None,
        **data: Any,
    ) -> Event:
        """Append an event; `phone` wins over the phone resolved from `address`."""
        with self._cond:
            who = phone or self._addresses.get(address or "")
            if address is not None:
                data.setdefault("peer", address)
            event = Event(self._next_seq, time.time(), kind, who, source, data)
            self._next_seq += 1
            self._counts[kind] += 1
            self._events.append(event)
            if len(self._events) > self._window:
                self._evict()
            listeners = list(self._listeners)
            self._cond.notify_all()
        for listener in listeners:
            listener(event)
        return event

    def _evict(self) -> None:
        """Move the oldest tenth of the window out (to the spill file, if any)."""
        count = max(1, self._window // 10)
        old = [self._events.popleft() for _ in range(min(count, len(self._events)))]
        if self._spill is not None:
            with self._spill.open("a", encoding="utf-8") as out:
                out.writelines(json.dumps(asdict(e), default=str) + "\n" for e in old)

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        with self._cond:
            self._listeners.append(listener)

    # --- queries ---------------------------------------------------------
    def __len__(self) -> int:
        """Events recorded over the log's whole life (not only those still in memory)."""
        with self._cond:
            return self._next_seq

    @property
    def counts(self) -> dict[str, int]:
        """Exact number of events per kind since the log was created."""
        with self._cond:
            return dict(self._counts)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.snapshot())

    def snapshot(self) -> list[Event]:
        with self._cond:
            return list(self._events)

    def mark(self) -> int:
        """A position to pass to `since` / `wait_for(after=...)`."""
        return len(self)

    def since(self, mark: int) -> list[Event]:
        with self._cond:
            return self._from(mark)

    def _from(self, seq: int) -> list[Event]:
        """In-memory events with sequence number >= `seq` (caller holds the lock)."""
        wanted = min(len(self._events), max(0, self._next_seq - seq))
        newest_first = list(itertools.islice(reversed(self._events), wanted))
        return newest_first[::-1]  # from the right: waits look only at the newest few

    def for_phone(self, phone: str, since: int = 0) -> list[Event]:
        return [e for e in self.since(since) if e.phone == phone]

    def of_kind(self, prefix: str, since: int = 0) -> list[Event]:
        return [e for e in self.since(since) if e.kind == prefix or e.kind.startswith(prefix + ".")]

    def wait_for(
        self,
        predicate: Predicate,
        timeout: float,
        *,
        after: int = 0,
        what: str = "event",
        on_progress: Callable[[float], None] | None = None,
    ) -> Event:
        """Return the first event at or after `after` matching `predicate`.

        Returns the moment it is recorded; raises `EventTimeout` at `timeout`
        seconds with the last events in the message. `on_progress` is called
        with the elapsed seconds about once a second while waiting.
        """
        deadline = time.monotonic() + timeout
        start = time.monotonic()
        checked = after
        with self._cond:
            while True:
                for event in self._from(checked):
                    if predicate(event):
                        return event
                checked = max(checked, self._next_seq)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 1.0))
                if on_progress is not None:
                    self._cond.release()
                    try:
                        on_progress(time.monotonic() - start)
                    finally:
                        self._cond.acquire()
            tail = self._from(max(after, self._next_seq - 15))
        lines = "\n".join("  " + e.describe() for e in tail) or "  (no events)"
        raise EventTimeout(f"no {what} within {timeout:g} s; last events:\n{lines}")

    # --- export ----------------------------------------------------------
    def to_jsonl(self, path: Path, events: Iterable[Event] | None = None) -> Path:
        with path.open("w", encoding="utf-8") as out:
            for event in self.snapshot() if events is None else events:
                out.write(json.dumps(asdict(event), default=str) + "\n")
        return path

    def render(self, events: Iterable[Event] | None = None) -> str:
        """The readable timeline attached to reports."""
        return "\n".join(e.describe() for e in (self.snapshot() if events is None else events))
