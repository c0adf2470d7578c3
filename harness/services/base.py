"""The shape every endpoint shares: start, stop, where it listens.

Endpoints are started and stopped one by one (procedures restart single
services), so each owns its sockets. asyncio endpoints run on a
`BackgroundLoop` handed in by their owner; none creates a global loop.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services.impaired_path import ServicePath


class Endpoint(ABC):
    """A network service of the cluster's security plane."""

    name: str = "endpoint"

    def __init__(self, events: EventLog, host: str = "127.0.0.1", port: int = 0) -> None:
        self.events = events
        self.host = host
        self.port = port
        self._bound: tuple[str, int] | None = None  # where start() last listened
        # the network towards the phones: UDP sockets from `path.datagram_socket()` and
        # listeners' handlers wrapped by `path.stream()` carry injected faults (tests only)
        self.path = ServicePath(self.name)

    @property
    @abstractmethod
    def running(self) -> bool: ...

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); the real port once started with port 0. It stays
        known after stop(), since a restart listens there again."""
        if self._bound is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._bound

    def _bind(self, address: tuple[str, int]) -> None:
        """Record where start() listens; a restart keeps a port first chosen by the OS."""
        self._bound = (str(address[0]), int(address[1]))
        if self.port == 0:
            self.port = self._bound[1]

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Endpoint:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AsyncioEndpoint(Endpoint):
    """An endpoint served by `asyncio.start_server` on a background loop."""

    def __init__(
        self, events: EventLog, loop: BackgroundLoop, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__(events, host, port)
        self.loop = loop
        self._server: asyncio.Server | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @abstractmethod
    async def _start_server(self) -> asyncio.Server:
        """Create the listening server (TLS or not) on self.host/self.port."""

    def start(self) -> None:
        if self._server is not None:
            return
        server = self.loop.run(self._start_server())
        self._server = server
        self._bind(server.sockets[0].getsockname())

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return

        async def _close() -> None:
            server.close()
            await server.wait_closed()

        self.loop.run(_close(), timeout=10)
