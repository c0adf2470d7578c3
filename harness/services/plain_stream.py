"""A plain TCP connection with `TlsStream`'s shape, so one protocol loop serves both.

SCCP runs on 2000 in the clear and on 2443 over TLS with the very same framing; the
call manager's session loop and the twin's station are written once against
read/write/close/abort and take either stream. Only asyncio's socket calls are used.
"""

from __future__ import annotations

import asyncio
import socket


class PlainStream:
    """A non-blocking TCP socket on the running loop."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock, self._loop = sock, asyncio.get_running_loop()
        self.closed = False

    @classmethod
    async def connect(cls, server: tuple[str, int], local_host: str | None = None) -> PlainStream:
        """Connect from `local_host` (any port) to `server`."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if local_host:
                sock.bind((local_host, 0))
            await asyncio.get_running_loop().sock_connect(sock, server)
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    async def read(self, limit: int = 4096) -> bytes:
        return await self._loop.sock_recv(self._sock, limit)

    async def write(self, data: bytes) -> None:
        await self._loop.sock_sendall(self._sock, data)

    def close(self) -> None:
        self.abort()

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self._sock.close()
