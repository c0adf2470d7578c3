"""The HTTPS phone-services server: a stand-in for Extension Mobility and directories.

Phones authenticate this server through TVS (docs/SECURITY_BY_DEFAULT.md §1, docs/PROTOCOLS.md
§7.6), so what matters is the certificate it presents (the node's Tomcat
identity) and a record of who fetched what. It serves a few fixed XML pages to
GET/HEAD over HTTP/1.0 and 1.1 (keep-alive honoured; a body announced by
`Content-Length` is read and dropped, never parsed as a next request), on the
connection lifecycle TVS and CAPF share (`tls_server`: hello gate, one deadline
from accept, connection cap), over an asyncio loop: its own `BackgroundLoop`
thread unless one is handed in. Bounds: request head `MAX_HEAD`, body `MAX_BODY`,
`TIMEOUT` for the handshake, for each request and for silence between requests. Hand-written
rather than the standard library's threaded server, which costs an OS thread per
connection: a thousand threads fighting over the GIL (and ~90 MB) when a rack
boots at once (benchmarks/bench_boot_storm.py). Next to it, as Tomcat's plain port
is next to its TLS one, a plain-HTTP listener answers the CGI `authenticationURL`
(`cgi_auth`, docs/REAL_WIRE.md §6.4: the URL the config names is the plain one).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import urllib.parse

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.formats.errors import FormatError
from harness.services.cgi_auth import PATH as AUTH_PATH
from harness.services.cgi_auth import Authenticator
from harness.services.http_wire import PlainHttpServer
from harness.services.tls_server import TlsServerEndpoint
from harness.services.tls_stream import TlsStream
from harness.tls import TlsIdentity, server_context

PAGES: dict[str, bytes] = {
    "/ccmcip/xmldirectory.jsp": b"<CiscoIPPhoneMenu><Title>Corporate Directory</Title>"
    b"<MenuItem><Name>Lab</Name><URL>/ccmcip/xmldirectoryinput.jsp</URL></MenuItem>"
    b"</CiscoIPPhoneMenu>",
    "/emapp/EMAppServlet": b"<CiscoIPPhoneText><Title>Extension Mobility</Title>"
    b"<Text>Enter user ID</Text></CiscoIPPhoneText>",
    "/services": b"<CiscoIPPhoneMenu><Title>Services</Title></CiscoIPPhoneMenu>",
}
TIMEOUT = 10.0  # handshake (from accept), one request's head and body, silence between
MAX_HEAD = 16384  # request line + headers
MAX_BODY = 65536  # a GET/HEAD body is read and dropped up to this; larger: 413, closed
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Content Too Large",
           501: "Not Implemented"}


class HttpsServicesEndpoint(TlsServerEndpoint):
    """Phone services over HTTPS with the node's app-server (Tomcat) certificate."""

    name = "https"

    def __init__(self, identity: TlsIdentity, events: EventLog, host: str = "127.0.0.1",
                 port: int = 0, source: str = "https", *,
                 loop: BackgroundLoop | None = None, http_port: int = 0,
                 max_connections: int | None = None) -> None:
        super().__init__(events, loop, host, port, handshake_timeout=TIMEOUT,
                         max_connections=max_connections)
        self.identity = identity
        self.source = source
        self.authenticator = Authenticator(events, source)
        self.http_port = http_port  # the plain listener; 0: any free port, kept on restart
        self._http: PlainHttpServer | None = None

    def _make_context(self) -> ssl.SSLContext:
        return server_context(self.identity)

    async def _start_more(self) -> None:
        http = PlainHttpServer(self.authenticator.handle)
        self.http_port = (await http.start(self.host, self.http_port))[1]
        self._http = http

    async def _stop_more(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.stop()

    @property
    def http_address(self) -> tuple[str, int]:
        """Where the plain-HTTP `authenticationURL` listener is (known once started)."""
        return (self.address[0], self.http_port)

    def _record_error(self, reason: str, peer: str) -> None:
        """A failed handshake or a dropped client is an event, not a traceback."""
        self.events.record("https.error", source=self.source, address=peer, reason=reason)

    async def _serve(self, stream: TlsStream, peer: str) -> None:
        """Requests in turn until the client closes, asks to close, or stays silent for
        `TIMEOUT` (closed without an error: phones keep connections open)."""
        with contextlib.suppress(TimeoutError):
            while await self._request(stream, peer):
                pass

    async def _request(self, stream: TlsStream, peer: str) -> bool:
        """Serve one request; False when the connection should close."""
        async with asyncio.timeout(TIMEOUT):
            head = await _read_head(stream)
            if not head:
                return False  # the client closed between requests
            with self.cap.busy():
                return await self._answer(stream, peer, head)

    async def _answer(self, stream: TlsStream, peer: str, head: bytes) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            await _reply(stream, 400, b"<error>bad request</error>", close=True)
            self._error(f"bad request line {lines[0][:80]!r}", peer)
            return False
        method, target, version = parts
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        refusal = await _skip_body(stream, headers)
        if refusal is not None:
            status, why = refusal
            await _reply(stream, status, f"<error>{why}</error>".encode(), close=True)
            self._error(f"{method} {target[:80]!r}: {why}", peer)
            return False
        self.cap.touch(proven=True)
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


async def _skip_body(stream: TlsStream, headers: dict[str, str]) -> tuple[int, str] | None:
    """Read and drop the request body `Content-Length` announces, so its bytes are never
    taken for the next request; (status, reason) when the body cannot be framed."""
    if "transfer-encoding" in headers:
        return 501, "transfer-encoding not supported"
    text = headers.get("content-length", "0")
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        return 400, "bad content-length"
    length = int(text)
    if length > MAX_BODY:
        return 413, f"body of {length} bytes (at most {MAX_BODY})"
    if length:
        try:
            await stream.readexactly(length)
        except asyncio.IncompleteReadError:
            raise EOFError("client closed inside the request body") from None
    return None


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
            raise FormatError(f"request head longer than {MAX_HEAD} bytes", len(head))


async def _reply(stream: TlsStream, status: int, payload: bytes, *, close: bool,
                 head_only: bool = False) -> None:
    head = [f"HTTP/1.1 {status} {REASONS[status]}", "Server: phonelab",
            "Content-Type: text/xml", f"Content-Length: {len(payload)}"]
    if close:
        head.append("Connection: close")
    data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    await stream.write(data if head_only else data + payload)
