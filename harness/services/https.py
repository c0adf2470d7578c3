"""The HTTPS phone-services server: a stand-in for Extension Mobility and directories.

Phones authenticate this server through TVS (docs/SECURITY_BY_DEFAULT.md §1, docs/PROTOCOLS.md
§7.6), so what matters is the certificate it presents (the node's Tomcat
identity) and a record of who fetched what. It serves a few fixed XML pages to
GET/HEAD over HTTP/1.0 and 1.1 (keep-alive honoured), on `tls_stream` over an
asyncio loop: its own `BackgroundLoop` thread unless one is handed in. Hand-written
rather than the standard library's threaded server, which costs an OS thread per
connection: a thousand threads fighting over the GIL (and ~90 MB) when a rack
boots at once (benchmarks/bench_boot_storm.py). Next to it, as Tomcat's plain port
is next to its TLS one, a plain-HTTP listener answers the CGI `authenticationURL`
(`cgi_auth`, docs/REAL_WIRE.md §6.4: the URL the config names is the plain one).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import urllib.parse

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services.base import Endpoint
from harness.services.cgi_auth import PATH as AUTH_PATH
from harness.services.cgi_auth import Authenticator
from harness.services.http_wire import PlainHttpServer
from harness.services.tls_stream import MAX_HANDSHAKES, Listener, TlsStream
from harness.tls import TlsIdentity, server_context

PAGES: dict[str, bytes] = {
    "/ccmcip/xmldirectory.jsp": b"<CiscoIPPhoneMenu><Title>Corporate Directory</Title>"
    b"<MenuItem><Name>Lab</Name><URL>/ccmcip/xmldirectoryinput.jsp</URL></MenuItem>"
    b"</CiscoIPPhoneMenu>",
    "/emapp/EMAppServlet": b"<CiscoIPPhoneText><Title>Extension Mobility</Title>"
    b"<Text>Enter user ID</Text></CiscoIPPhoneText>",
    "/services": b"<CiscoIPPhoneMenu><Title>Services</Title></CiscoIPPhoneMenu>",
}
BACKLOG = 1024  # a rack booting at once: a short accept queue drops SYNs (1 s stalls)
TIMEOUT = 10.0  # handshake, and silence between requests
MAX_HEAD = 16384  # request line + headers
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 501: "Not Implemented"}


class HttpsServicesEndpoint(Endpoint):
    """Phone services over HTTPS with the node's app-server (Tomcat) certificate."""

    name = "https"

    def __init__(self, identity: TlsIdentity, events: EventLog, host: str = "127.0.0.1",
                 port: int = 0, source: str = "https", *,
                 loop: BackgroundLoop | None = None, http_port: int = 0) -> None:
        super().__init__(events, host, port)
        self.identity = identity
        self.source = source
        self.authenticator = Authenticator(events, source)
        self.http_port = http_port  # the plain listener; 0: any free port, kept on restart
        self._http: PlainHttpServer | None = None
        self._given_loop = loop
        self._loop: BackgroundLoop | None = None
        self._listener: Listener | None = None
        self._streams: set[TlsStream] = set()
        self._handshakes = asyncio.Semaphore(MAX_HANDSHAKES)

    @property
    def running(self) -> bool:
        return self._listener is not None

    def start(self) -> None:
        if self._listener is not None:
            return
        self._context = server_context(self.identity)
        self._handshakes = asyncio.Semaphore(MAX_HANDSHAKES)
        loop = self._given_loop or BackgroundLoop(f"{self.source}-loop")
        listener = Listener(self._handle, backlog=BACKLOG)
        http = PlainHttpServer(self.authenticator.handle)
        try:
            self._bind(loop.run(listener.start(self.host, self.port)))
            self.http_port = loop.run(http.start(self.host, self.http_port))[1]
        except BaseException:
            loop.run(self._shutdown(listener, http))
            if loop is not self._given_loop:
                loop.close()
            raise
        self._loop, self._listener, self._http = loop, listener, http

    @property
    def http_address(self) -> tuple[str, int]:
        """Where the plain-HTTP `authenticationURL` listener is (known once started)."""
        return (self.address[0], self.http_port)

    def stop(self) -> None:
        listener, loop, self._listener = self._listener, self._loop, None
        http, self._http = self._http, None
        if listener is None or loop is None:
            return
        try:
            loop.run(self._shutdown(listener, http), timeout=10)
        finally:
            if loop is not self._given_loop:
                loop.close()
            self._loop = None

    async def _shutdown(self, listener: Listener, http: PlainHttpServer | None) -> None:
        listener.close()
        if http is not None:
            await http.stop()
        for stream in list(self._streams):
            stream.abort()
        for task in listener.tasks:  # those still queued for a handshake
            task.cancel()
        if listener.tasks:
            await asyncio.wait(list(listener.tasks), timeout=2.0)

    def _error(self, peer: str, reason: str) -> None:
        """A failed handshake or a dropped client is an event, not a traceback."""
        self.events.record("https.error", source=self.source, address=peer, reason=reason)

    async def _handle(self, raw: socket.socket, peer_address: tuple[str, int]) -> None:
        peer = peer_address[0]
        stream: TlsStream | None = None
        try:
            async with self._handshakes:  # a storm queues here, in arrival order
                stream = TlsStream.wrap(raw, self._context, server_side=True)
                self._streams.add(stream)
                try:
                    async with asyncio.timeout(TIMEOUT):
                        await stream.handshake()
                except TimeoutError:
                    return self._error(peer, f"TLS handshake not done in {TIMEOUT:g} s")
                except (ssl.SSLError, OSError) as exc:
                    stream.reject()
                    return self._error(peer, f"TLS handshake: {type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):  # a silent client is closed, not an error
                while await self._request(stream, peer):
                    pass
            stream.close()
        except (ssl.SSLError, OSError, EOFError, ValueError) as exc:
            if self._listener is not None:  # not a connection we cut on stop()
                self._error(peer, f"{type(exc).__name__}: {exc}")
        finally:
            if stream is None:
                raw.close()
            else:
                stream.abort()
                self._streams.discard(stream)

    async def _request(self, stream: TlsStream, peer: str) -> bool:
        """Serve one request; False when the connection should close."""
        async with asyncio.timeout(TIMEOUT):
            head = await _read_head(stream)
        if not head:
            return False  # the client closed between requests
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            await _reply(stream, 400, b"<error>bad request</error>", close=True)
            self._error(peer, f"bad request line {lines[0][:80]!r}")
            return False
        method, target, version = parts
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        connection = headers.get("connection", "").lower()
        close = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        if method not in ("GET", "HEAD"):
            await _reply(stream, 501, b"<error>not implemented</error>", close=True)
            return False
        path, _, query = target.partition("?")
        if path == AUTH_PATH:  # GET with the query, as CUCM also answers (§6.2)
            fields = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
            answer = self.authenticator.answer(fields, peer)
            await _reply(stream, 200, answer, close=close, head_only=method == "HEAD")
            return not close
        body = PAGES.get(path)
        status = 200 if body is not None else 404
        payload = body if body is not None else b"<error>not found</error>"
        await _reply(stream, status, payload, close=close, head_only=method == "HEAD")
        self.events.record("https.get", source=self.source, address=peer, path=path,
                           status=status)
        return not close


async def _read_head(stream: TlsStream) -> bytes:
    """Request line and headers, without the blank line; b"" if closed before any."""
    head = b""
    while True:
        line = await stream.readline(MAX_HEAD)
        if not line:
            if head:
                raise EOFError("client closed inside the request head")
            return b""
        if line in (b"\r\n", b"\n"):
            if head:
                return head
            continue  # tolerate blank lines before a request (RFC 9112 §2.2)
        head += line if line.endswith(b"\r\n") else line.rstrip(b"\n") + b"\r\n"
        if len(head) > MAX_HEAD:
            raise ValueError("request head too long")


async def _reply(stream: TlsStream, status: int, payload: bytes, *, close: bool,
                 head_only: bool = False) -> None:
    head = [f"HTTP/1.1 {status} {REASONS[status]}", "Server: phonelab",
                       "Content-Type: text/xml", f"Content-Length: {len(payload)}"]
    if close:
        head.append("Connection: close")
    data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    await stream.write(data if head_only else data + payload)
