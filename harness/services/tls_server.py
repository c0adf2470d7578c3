"""The connection lifecycle every TLS endpoint of the cluster shares (TVS, CAPF, HTTPS).

One place decides how a TLS server survives its clients: a connection waits for
its whole ClientHello before it may take one of a few handshake slots (so slow or
silent clients cannot starve phones), one deadline runs from accept to the end of
the handshake, failures of any kind become one error event for that connection
and never reach the loop's logger, and `stop()` cuts every connection as a killed
service would. Subclasses only say what TLS context to use and how to serve one
established connection. TLS runs on `tls_stream` (a few KiB per connection).
Every connection, from accept, counts against the endpoint's `ConnectionCap`
(`connection_cap`): at the cap the longest-idle connection that has not proved
itself is dropped first. The endpoint runs on the loop it is given, or on a loop
of its own started and closed with it (HTTPS stand-alone).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from abc import abstractmethod
from collections.abc import Callable

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.formats.errors import FormatError
from harness.services.base import Endpoint
from harness.services.connection_cap import ConnectionCap
from harness.services.tls_stream import (
    MAX_HANDSHAKES,
    Listener,
    TlsStream,
    accept_tls,
)
from harness.tls import DEFAULT_POLICY, TlsPolicy

BACKLOG = 1024  # every phone of a rack may connect at once; asyncio's default 100 drops SYNs


class TlsServerEndpoint(Endpoint):
    """A TLS listener on a background loop; subclasses serve one connection each."""

    def __init__(self, events: EventLog, loop: BackgroundLoop | None, host: str, port: int, *,
                 handshake_timeout: float, max_connections: int | None = None) -> None:
        super().__init__(events, host, port)
        self._given_loop = loop
        self.loop: BackgroundLoop | None = loop  # an own loop exists only while running
        self.handshake_timeout = handshake_timeout
        self._listener: Listener | None = None
        self._connections: set[TlsStream] = set()
        self._handshakes = asyncio.Semaphore(MAX_HANDSHAKES)
        self._context: ssl.SSLContext | None = None
        self._stopping = False
        self.cap = ConnectionCap(max_connections, on_evict=self._evicted)
        # versions and suites offered, read at each start (the owner's release may change)
        self.tls_policy: Callable[[], TlsPolicy] = lambda: DEFAULT_POLICY

    # --- what a subclass says ------------------------------------------------------
    @abstractmethod
    def _make_context(self) -> ssl.SSLContext:
        """The server context, built at each start from the current identity."""

    @abstractmethod
    async def _serve(self, stream: TlsStream, peer: str) -> None:
        """Serve one established connection; exceptions end only that connection."""

    @abstractmethod
    def _record_error(self, reason: str, peer: str) -> None:
        """Put one connection's failure on the timeline (never called while stopping)."""

    # --- lifecycle ---------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._listener is not None

    def start(self) -> None:
        if self._listener is not None:
            return
        self._context, self._stopping = self.tls_policy().apply(self._make_context()), False
        loop = self._given_loop or BackgroundLoop(f"{self.name}-loop")
        listener = Listener(self.path.stream(self._handle), backlog=BACKLOG)
        try:
            self._bind(loop.run(self._start_on_loop(listener)))
        except BaseException:
            loop.run(self._shutdown(listener))
            if loop is not self._given_loop:
                loop.close()
            raise
        self.loop, self._listener = loop, listener

    async def _start_on_loop(self, listener: Listener) -> tuple[str, int]:
        self._handshakes = asyncio.Semaphore(MAX_HANDSHAKES)  # bound to this loop
        self.cap.clear()
        address = await listener.start(self.host, self.port)
        await self._start_more()
        return address

    async def _start_more(self) -> None:
        """More listeners next to the TLS one (HTTPS: its plain port); none by default."""

    async def _stop_more(self) -> None:
        """Close what `_start_more` opened."""

    def stop(self) -> None:
        """Stop listening and drop open connections, so a restart really cuts clients off."""
        listener, loop, self._listener = self._listener, self.loop, None
        if listener is None or loop is None:
            return
        try:
            loop.run(self._shutdown(listener), timeout=10)
        finally:
            if loop is not self._given_loop:
                loop.close()
                self.loop = None

    async def _shutdown(self, listener: Listener) -> None:
        listener.close()
        self._stopping = True
        await self._stop_more()
        for stream in list(self._connections):
            stream.abort()  # like a killed service: no TLS goodbye
        for task in listener.tasks:  # those still waiting for a hello or a slot
            task.cancel()
        if listener.tasks:
            await asyncio.wait(list(listener.tasks), timeout=2.0)
        self.cap.clear()

    def _evicted(self, peer: str, reason: str) -> None:
        self._error(reason, peer)

    def _error(self, reason: str, peer: str) -> None:
        if not self._stopping:  # connections we cut on stop() are not the peer's fault
            self._record_error(reason, peer)

    # --- one connection -----------------------------------------------------------------
    async def _handle(self, raw: socket.socket, peer_address: tuple[str, int]) -> None:
        peer = peer_address[0]
        stream: TlsStream | None = None
        tls_up = False
        if not self.cap.admit(peer):
            raw.close()
            return
        try:
            stream = await self._handshake(raw, peer)
            if stream is None:
                return
            tls_up = True
            self.cap.touch()
            await self._serve(stream, peer)
        except TimeoutError:
            self._error("idle timeout", peer)
        except FormatError as exc:
            self._error(f"framing: {exc}", peer)
        except (ssl.SSLError, OSError, EOFError, asyncio.IncompleteReadError) as exc:
            self._error(f"connection: {type(exc).__name__}: {exc}", peer)
        except Exception as exc:  # a bug must cost one connection, never the service
            self._error(f"internal error: {exc!r}", peer)
        finally:
            self.cap.release()
            if stream is None:
                raw.close()
            else:
                if tls_up:
                    stream.close()  # TLS goodbye, not waiting for the peer's
                else:
                    stream.abort()
                self._connections.discard(stream)

    async def _handshake(self, raw: socket.socket, peer: str) -> TlsStream | None:
        """The established stream, or None (error recorded) within one deadline from accept."""
        assert self._context is not None
        result = await accept_tls(raw, self._context, deadline=self.handshake_timeout,
                                  slots=self._handshakes, busy=self.cap.busy,
                                  track=self._connections)
        if isinstance(result, TlsStream):
            return result
        self._error(result or "closed before its TLS ClientHello", peer)
        return None
