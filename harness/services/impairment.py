"""Fault injection between phones and one service: the model and its clock.

An `Impairment` says what a scenario does to the path between the phones and one
service (loss ratio, added delay, an outage window) and for how long at most; it is
the same on both backends. `Injection` runs one of them: it applies it through an
`Applier` (the twin's endpoint sockets, or `tc netem` on a rack's lab interface, see
fixtures/network.py), moves it into and out of its outage window on time, and lifts
it at its hard limit even when the scenario never does. `Draws` makes every loss
decision a pure function of the seed, the phone's address and the packet, so a run
is reproduced by its seed whatever order the phones' packets interleave in.

Hand-written: no library models a per-service outage window with a hard limit, and
the seeded per-packet draws are what makes a lossy run reproducible.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from harness.errors import UsageError

SERVICES = frozenset({"tftp", "tvs", "capf", "https", "sip", "sccp"})
DEFAULT_LIMIT_S = 60.0  # an impairment nobody lifts ends here (scenarios stay < ~20 s)
MAX_LIMIT_S = 3600.0
SYN_RTO_S = 1.0  # TCP's initial retransmission timeout (RFC 6298): what a lost SYN costs
MAX_SYN_LOSSES = 6  # Linux gives up after tcp_syn_retries = 6


def _seconds(what: str, value: float, *, positive: bool = False) -> float:
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise UsageError(f"{what} must be a {'positive' if positive else 'non-negative'} "
                         f"number of seconds, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class Outage:
    """The service is unreachable for `duration` s, starting `start` s after the
    impairment begins, or, with `at_connection=N`, `start` s after the service accepts
    its N-th connection from then on (so it can begin mid-session)."""

    duration: float
    start: float = 0.0
    at_connection: int | None = None

    def __post_init__(self) -> None:
        _seconds("outage duration", self.duration, positive=True)
        _seconds("outage start", self.start)
        if self.at_connection is not None and self.at_connection < 1:
            raise UsageError(f"at_connection counts from 1, not {self.at_connection}")


@dataclass(frozen=True)
class Impairment:
    """What happens to one service's traffic towards the phones, and for how long."""

    service: str
    loss: float = 0.0  # ratio 0..1 of datagrams (UDP) or SYN-ACKs (TCP) lost
    delay: float = 0.0  # seconds added to each datagram, or to each connection's set-up
    outage: Outage | None = None
    seed: int = 0
    limit: float = DEFAULT_LIMIT_S  # hard upper bound, from when it is applied

    def __post_init__(self) -> None:
        if self.service not in SERVICES:
            raise UsageError(f"unknown service {self.service!r}; use one of: "
                             f"{', '.join(sorted(SERVICES))}")
        if not (math.isfinite(self.loss) and 0.0 <= self.loss <= 1.0):
            raise UsageError(f"loss is a ratio from 0 to 1, not {self.loss!r}")
        _seconds("delay", self.delay)
        _seconds("limit", self.limit, positive=True)
        if self.limit > MAX_LIMIT_S:
            raise UsageError(f"limit {self.limit:g} s is over {MAX_LIMIT_S:g} s")
        if self.outage and self.outage.at_connection is None \
                and self.outage.start >= self.limit:
            raise UsageError(f"the outage starts at {self.outage.start:g} s, after the "
                             f"limit of {self.limit:g} s")

    def describe(self) -> str:
        parts = [f"loss {self.loss * 100:g} %" if self.loss else "",
                 f"delay {self.delay * 1000:g} ms" if self.delay else ""]
        if self.outage is not None:
            when = (f"{self.outage.start:g} s after connection {self.outage.at_connection}"
                    if self.outage.at_connection else f"at +{self.outage.start:g} s")
            parts.append(f"outage {self.outage.duration:g} s {when}")
        what = ", ".join(p for p in parts if p) or "nothing"
        return f"{self.service}: {what}; seed {self.seed}; lifted after {self.limit:g} s at most"


class Draws:
    """Seeded, order-independent chances: the n-th draw for a key is always the same.

    Keys are (phone address, packet), so two phones' interleaving cannot change what
    either of them loses; a retransmitted packet is the next draw of the same key."""

    def __init__(self, seed: int) -> None:
        self.seed = seed.to_bytes(16, "big", signed=True)
        self._counts: dict[bytes, int] = {}
        self._lock = threading.Lock()

    def chance(self, peer: str, packet: bytes) -> float:
        """A number in [0, 1): compare it with a loss ratio."""
        key = peer.encode() + b"\0" + hashlib.blake2b(packet, digest_size=16).digest()
        with self._lock:
            n = self._counts.get(key, 0)
            self._counts[key] = n + 1
        digest = hashlib.blake2b(key + n.to_bytes(8, "big"), digest_size=8, key=self.seed)
        return int.from_bytes(digest.digest(), "big") / 2**64


class Applier(Protocol):
    """Where an impairment takes effect: the twin's endpoints or a rack's netem."""

    def apply(self, impairment: Impairment, draws: Draws, *, out: bool) -> None:
        """Put the impairment in force (again), in or out of its outage."""

    def lost(self) -> int:
        """Packets lost (or connections refused and cut) since the first `apply`."""

    def lift(self) -> None:
        """Take every effect away; safe to call twice."""


@dataclass
class Transition:
    at: float  # seconds since the injection began
    what: str  # "applied", "out", "back", "lifted"


@dataclass
class Injection:
    """One impairment in force: it goes out and comes back on time and is lifted at
    `end()` or at its limit, whichever comes first. `accepted()` is the service's
    connection counter that an `at_connection` outage waits for."""

    impairment: Impairment
    applier: Applier
    clock: Callable[[], float] = time.monotonic
    notify: Callable[[Transition], None] | None = None  # told of each transition
    history: list[Transition] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.draws = Draws(self.impairment.seed)
        self.taken = 0  # what the impairment took, read when it is lifted
        self._wake = threading.Condition()
        self._began = 0.0
        self._out_from: float | None = None  # absolute clock times
        self._out_until: float | None = None
        self._connections = 0
        self._ended = False
        self._thread: threading.Thread | None = None

    @property
    def out(self) -> bool:
        with self._wake:
            return self._is_out(self.clock())

    @property
    def over(self) -> bool:
        return self._ended

    def begin(self) -> Injection:
        outage = self.impairment.outage
        with self._wake:
            self._began = self.clock()
            if outage is not None and outage.at_connection is None:
                self._schedule_outage(self._began + outage.start)
            out = self._is_out(self._began)
            self.applier.apply(self.impairment, self.draws, out=out)
            self._note("out" if out else "applied")
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"impair-{self.impairment.service}")
        self._thread.start()
        return self

    def end(self) -> None:
        """Lift it now (idempotent); the clock thread is joined."""
        with self._wake:
            self._finish()
            self._wake.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def accepted(self, peer: str) -> None:
        """The service accepted a connection: an `at_connection` outage may start."""
        outage = self.impairment.outage
        if outage is None or outage.at_connection is None:
            return
        with self._wake:
            self._connections += 1
            if self._connections == outage.at_connection and not self._ended:
                self._schedule_outage(self.clock() + outage.start)
                if outage.start == 0:
                    self._switch(out=True)  # this very connection is refused
                self._wake.notify_all()

    # --- the clock thread -------------------------------------------------------------
    def _run(self) -> None:
        with self._wake:
            while not self._ended:
                now = self.clock()
                if now >= self._began + self.impairment.limit:
                    self._finish()
                    return
                out = self._is_out(now)
                if out != self._applied_out:
                    self._switch(out)
                self._wake.wait(max(0.0, min(self._next_change(now), 1.0)))

    def _next_change(self, now: float) -> float:
        times = [self._began + self.impairment.limit]
        times += [t for t in (self._out_from, self._out_until) if t is not None and t > now]
        return min(times) - now

    def _schedule_outage(self, start: float) -> None:
        assert self.impairment.outage is not None
        self._out_from, self._out_until = start, start + self.impairment.outage.duration

    def _is_out(self, now: float) -> bool:
        return (not self._ended and self._out_from is not None
                and self._out_until is not None and self._out_from <= now < self._out_until)

    @property
    def _applied_out(self) -> bool:
        last = next((t.what for t in reversed(self.history) if t.what in ("out", "back",
                                                                           "applied")), "")
        return last == "out"

    def _switch(self, out: bool) -> None:
        if out == self._applied_out or self._ended:
            return
        self.applier.apply(self.impairment, self.draws, out=out)
        self._note("out" if out else "back")

    def _finish(self) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            self.taken = self.applier.lost()
        finally:
            self.applier.lift()
        self._note("lifted")

    def _note(self, what: str) -> None:
        change = Transition(round(self.clock() - self._began, 3), what)
        self.history.append(change)
        if self.notify is not None:
            self.notify(change)
