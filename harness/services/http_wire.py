"""A small plain-HTTP/1.1 server for asyncio: the CGI authentication URL and twin phones' web.

Two parties need plain HTTP on loopback: the cluster's `authenticationURL`
(docs/REAL_WIRE.md §6.4: plain `http://`, because the HTTPS one fails whenever
ITL/TVS is broken) and each twin phone's `/CGI/Execute` and `/DeviceInformationX`
(§6.1). Hand-written because the standard library's server is threaded (one OS thread
per connection, against the twin's single event loop) and aiohttp is not a
dependency; what is needed is one request per connection with hard bounds: request
head `MAX_HEAD` bytes, body `MAX_BODY` bytes, `TIMEOUT` seconds from accept for the
whole request, `MAX_CONNECTIONS` handlers running at once, `max_open` connections
open at once (newcomers beyond it are closed at once). Every reply closes the
connection. A connection takes a handler slot only once its request has arrived,
so slow or silent clients cannot keep phones from the authentication URL (the
handshake-slot lesson of issue 11, finding 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from harness.services.connection_cap import default_limit

MAX_HEAD = 8192
MAX_BODY = 65536
TIMEOUT = 10.0
MAX_CONNECTIONS = 64
REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 404: "Not Found",
           405: "Method Not Allowed", 413: "Content Too Large", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    peer: str
    expects_continue: bool = False  # `Expect: 100-continue` and the body was not read

    def form(self) -> dict[str, str]:
        """Query string and (for urlencoded POSTs) body fields; the body wins."""
        fields = dict(urllib.parse.parse_qsl(self.query, keep_blank_values=True))
        if self.method == "POST" and "urlencoded" in self.headers.get("content-type", ""):
            fields.update(urllib.parse.parse_qsl(self.body.decode("latin-1"),
                                                 keep_blank_values=True))
        return fields


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response]]


class PlainHttpServer:
    """Serve `handler` on (host, port) of the running loop. `continue_ok=False`: a request
    with `Expect: 100-continue` reaches the handler with its body unread (Cisco phones
    answer it with an error instead of `100 Continue`, docs/REAL_WIRE.md §6.2)."""

    def __init__(self, handler: Handler, *, continue_ok: bool = True,
                 timeout: float = TIMEOUT, max_open: int | None = None) -> None:
        self.handler, self.continue_ok, self.timeout = handler, continue_ok, timeout
        self.max_open = max_open if max_open is not None else default_limit()
        self._server: asyncio.Server | None = None
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._open = 0
        self.refused = 0  # connections closed at once because `max_open` were open
        self.address: tuple[str, int] | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._server = await asyncio.start_server(self._serve, host, port,
                                                  limit=MAX_HEAD, backlog=128)
        sockname = self._server.sockets[0].getsockname()
        self.address = (str(sockname[0]), int(sockname[1]))
        return self.address

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername", ("?", 0))[0])
        if self._open >= self.max_open:
            self.refused += 1
            writer.close()
            return
        self._open += 1
        try:
            async with asyncio.timeout(self.timeout):  # from accept, whatever it waits for
                request = await self._read(reader, writer, peer)
                async with self._slots:
                    response = (Response(400, b"bad request") if request is None
                                else await self.handler(request))
                writer.write(encode(response))
                await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ValueError):
            pass  # a slow, vanished or oversized client is dropped
        finally:
            self._open -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    peer: str) -> Request | None:
        head = await reader.readuntil(b"\r\n\r\n")  # LimitOverrunError past MAX_HEAD
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return None
        headers = {k.strip().lower(): v.strip() for k, sep, v in
                   (line.partition(":") for line in lines[1:] if line) if sep}
        length_text = headers.get("content-length", "0")
        if not length_text.isdigit() or "transfer-encoding" in headers:
            return None
        length = int(length_text)
        if length > MAX_BODY:
            raise ValueError("body too large")
        target = urllib.parse.urlsplit(parts[1])
        expects = headers.get("expect", "").lower() == "100-continue"
        if expects and not self.continue_ok:
            return Request(parts[0], target.path, target.query, headers, b"", peer, True)
        if expects:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await reader.readexactly(length) if length else b""
        return Request(parts[0], target.path, target.query, headers, body, peer)


def encode(response: Response) -> bytes:
    head = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Error')}",
            "Server: phonelab", f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}", "Connection: close",
            *(f"{k}: {v}" for k, v in response.headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body


async def post_form(url: str, fields: dict[str, str], *, local_host: str | None = None,
                    timeout: float = 5.0, limit: int = 4096) -> tuple[int, bytes]:
    """POST an urlencoded form to a plain `http://` URL; (status, body). Raises OSError
    (or TimeoutError) when unreachable, ValueError on a reply that is not HTTP."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"not a plain http URL: {url!r}")
    body = urllib.parse.urlencode(fields).encode()
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(
            parts.hostname, parts.port or 80,
            local_addr=(local_host, 0) if local_host else None, limit=limit)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            writer.write((f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                          "Content-Type: application/x-www-form-urlencoded\r\n"
                          f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                          ).encode("latin-1") + body)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status_fields = head.split(b"\r\n", 1)[0].split()
            if len(status_fields) < 2 or not status_fields[1].isdigit():
                raise ValueError("reply is not HTTP")
            return int(status_fields[1]), await reader.read(limit)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise ValueError(f"reply is not HTTP: {exc}") from None
        finally:
            writer.close()
