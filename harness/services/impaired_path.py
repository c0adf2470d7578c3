"""The twin's side of fault injection: one endpoint's sockets, as the impaired path sees them.

Every endpoint owns a `ServicePath` (harness/services/base.py). Its datagram sockets
come from `datagram_socket()` and its stream listener's handler is wrapped by
`stream()`; with nothing applied both are the plain thing. With an impairment applied
(harness/services/impairment.py) what the service sends towards the phones is
impaired, as netem on a rack's lab interface impairs the server's egress:

* datagrams (TFTP): dropped at the loss ratio, held back by the delay, all dropped
  while out; a held datagram still leaves after its socket closed (it was in flight);
* connections (TVS, CAPF, HTTPS, SIP, SCCP): a lost SYN-ACK costs the client TCP's
  retransmission timeout, the delay is added to the set-up, and while out a new
  connection is reset at once; when the outage begins, the service drops the live
  ones (their handler tasks are cancelled, as when the service stops).

Every accepted connection is also reported to the path's watchers on both backends
(an outage may be set to begin at a service's N-th connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from harness.services.impairment import MAX_SYN_LOSSES, SYN_RTO_S, Draws, Impairment

Handler = Callable[[socket.socket, tuple[str, int]], Coroutine[Any, Any, None]]
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


@dataclass(frozen=True)
class _Setting:
    impairment: Impairment
    draws: Draws
    out: bool


class ServicePath:
    """The network between the phones and one endpoint, applied in its own sockets."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._setting: _Setting | None = None
        self._lock = threading.Lock()
        # live connections' handler tasks and their loops (no descriptor of ours: a
        # connection costs no extra fd, and a finished task cannot be confused with another)
        self._live: dict[asyncio.Task[None], asyncio.AbstractEventLoop] = {}
        self._watchers: list[Callable[[str], None]] = []
        # what the impairment did: datagrams lost/held, connections reset/held/cut
        self.counts: Counter[str] = Counter()

    # --- what fault injection sets ------------------------------------------------------
    def apply(self, impairment: Impairment, draws: Draws, *, out: bool) -> None:
        with self._lock:
            was_out = self._setting is not None and self._setting.out
            self._setting = _Setting(impairment, draws, out)
            live = list(self._live.items()) if out and not was_out else []
            self.counts["cut"] += len(live)
        for task, loop in live:  # the outage begins: the service drops what is connected
            with contextlib.suppress(RuntimeError):  # that loop has stopped
                loop.call_soon_threadsafe(task.cancel)  # its handler closes the connection

    def lift(self) -> None:
        with self._lock:
            self._setting = None

    def watch(self, watcher: Callable[[str], None]) -> Callable[[], None]:
        """Tell `watcher(peer)` of each accepted connection; returns the unwatch call."""
        with self._lock:
            self._watchers.append(watcher)

        def unwatch() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._watchers.remove(watcher)
        return unwatch

    @property
    def impaired(self) -> bool:
        return self._setting is not None

    @property
    def out(self) -> bool:
        setting = self._setting
        return setting is not None and setting.out

    # --- datagrams --------------------------------------------------------------------------
    def datagram_socket(self, family: int = socket.AF_INET, *,
                        bind: tuple[str, int] | None = None) -> socket.socket:
        """A UDP socket whose sends cross this path (bound to `bind` if given)."""
        sock = _PathSocket(family, socket.SOCK_DGRAM)
        sock.path = self
        if bind is not None:
            try:
                sock.bind(bind)
            except OSError:
                sock.close()
                raise
        return sock

    def send_verdict(self, peer: str, packet: bytes) -> float | None:
        """None: drop it; otherwise send it after that many seconds."""
        setting = self._setting
        if setting is None:
            return 0.0
        if setting.out or (setting.impairment.loss
                           and setting.draws.chance(peer, packet) < setting.impairment.loss):
            self.counts["datagram lost"] += 1
            return None
        self.counts["datagram delayed" if setting.impairment.delay else "datagram sent"] += 1
        return setting.impairment.delay

    # --- connections ------------------------------------------------------------------------
    def stream(self, handler: Handler) -> Handler:
        """`handler` behind this path: reset while out, set-up delayed by loss and delay."""

        async def gated(sock: socket.socket, peer: tuple[str, int]) -> None:
            with self._lock:
                watchers = list(self._watchers)
            for watcher in watchers:
                watcher(peer[0])
            wait = self._setup_delay(peer[0])
            if wait is None or (wait and not await _survives(sock, wait, self)):
                self.counts["connection reset"] += 1
                _reset(sock)
                return
            if wait:
                self.counts["connection held"] += 1
            task = asyncio.current_task()
            assert task is not None
            with self._lock:
                self._live[task] = asyncio.get_running_loop()
            try:
                await handler(sock, peer)
            finally:
                with self._lock:
                    self._live.pop(task, None)

        return gated

    def _setup_delay(self, peer: str) -> float | None:
        """None: refuse (out); else seconds before the server answers the connection."""
        setting = self._setting
        if setting is None:
            return 0.0
        if setting.out:
            return None
        losses = 0
        while (losses < MAX_SYN_LOSSES and setting.impairment.loss
               and setting.draws.chance(peer, b"SYN") < setting.impairment.loss):
            losses += 1
        return setting.impairment.delay + SYN_RTO_S * ((1 << losses) - 1)


async def _survives(sock: socket.socket, wait: float, path: ServicePath) -> bool:
    """Hold a new connection for `wait` s; False if an outage began meanwhile. The
    socket is closed here if the wait is cancelled (the service stopped)."""
    try:
        await asyncio.sleep(wait)
    except BaseException:
        sock.close()
        raise
    return not path.out


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    sock.close()


_SENDTO = socket.socket.sendto


class _PathSocket(socket.socket):
    """A datagram socket whose sends cross a `ServicePath`."""

    path: ServicePath

    def sendto(self, data: Any, *args: Any) -> int:
        if self.path._setting is None:  # nothing applied: a plain send, as cheap as we can
            return _SENDTO(self, data, *args)
        address = args[-1]
        wait = self.path.send_verdict(str(address[0]), bytes(data))
        if wait is None:
            return len(data)  # lost on the way: the sender cannot tell
        if wait == 0:
            return _SENDTO(self, data, *args)
        _DELAY_LINE.hold(wait, self, bytes(data), address)
        return len(data)

    def send(self, data: Any, flags: int = 0) -> int:
        return self.sendto(data, flags, self.getpeername())


class _DelayLine:
    """One thread that sends delayed datagrams when they are due, from a duplicate of
    the sender's socket (same port), so a socket closed meanwhile is never reused."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, socket.socket, bytes, Any]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def hold(self, wait: float, sock: socket.socket, data: bytes, address: Any) -> None:
        try:
            copy = socket.socket(sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno()))
        except OSError:
            return
        with self._wake:
            heapq.heappush(self._heap, (time.monotonic() + wait, next(self._order), copy, data,
                                        address))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="impair-delay",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._wake.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                _, _, copy, data, address = heapq.heappop(self._heap)
            with contextlib.suppress(OSError):
                copy.sendto(data, address)
            copy.close()


_DELAY_LINE = _DelayLine()
