"""The HTTPS phone-services server: a stand-in for Extension Mobility and directories.

Phones authenticate this server through TVS (SECURITY_BY_DEFAULT.md §1, PROTOCOLS.md
§7.6), so what matters is the certificate it presents (the node's Tomcat
identity) and a record of who fetched what. Built on the standard library's
threaded HTTP server wrapped in TLS; it serves a few fixed XML pages.
"""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.events import EventLog
from harness.services.base import Endpoint
from harness.tls import TlsIdentity, server_context

PAGES: dict[str, bytes] = {
    "/ccmcip/xmldirectory.jsp": b"<CiscoIPPhoneMenu><Title>Corporate Directory</Title>"
    b"<MenuItem><Name>Lab</Name><URL>/ccmcip/xmldirectoryinput.jsp</URL></MenuItem>"
    b"</CiscoIPPhoneMenu>",
    "/emapp/EMAppServlet": b"<CiscoIPPhoneText><Title>Extension Mobility</Title>"
    b"<Text>Enter user ID</Text></CiscoIPPhoneText>",
    "/services": b"<CiscoIPPhoneMenu><Title>Services</Title></CiscoIPPhoneMenu>",
}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        body = PAGES.get(path)
        status = 200 if body is not None else 404
        payload = body if body is not None else b"<error>not found</error>"
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.server.events.record(
            "https.get", source=self.server.source, address=self.client_address[0],
            path=path, status=status,
        )

    def log_message(self, format: str, *args: Any) -> None:
        """Silence stderr logging: the event timeline is the log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a rack booting at once: the default 5 drops SYNs (1 s stalls)

    def __init__(self, address: tuple[str, int], events: EventLog, source: str,
                 context: ssl.SSLContext) -> None:
        super().__init__(address, _Handler)
        self.events = events
        self.source = source
        self.context = context

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        sock.settimeout(10)
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A failed handshake or a dropped client is an event, not a traceback."""
        self.events.record("https.error", source=self.source, address=client_address[0])


class HttpsServicesEndpoint(Endpoint):
    """Phone services over HTTPS with the node's app-server (Tomcat) certificate."""

    name = "https"

    def __init__(self, identity: TlsIdentity, events: EventLog, host: str = "127.0.0.1",
                 port: int = 0, source: str = "https") -> None:
        super().__init__(events, host, port)
        self.identity = identity
        self.source = source
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("https endpoint is not running")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        if self._server is not None:
            return
        server = _Server((self.host, self.port), self.events, self.source,
                         server_context(self.identity))
        self._server = server
        self.port = self.address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"{self.source}-serve", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
