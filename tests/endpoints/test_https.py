"""The HTTPS phone-services endpoint presents the app certificate and logs fetches."""

from __future__ import annotations

import socket
import ssl
import urllib.request

from cryptography import x509

from harness.events import EventLog
from harness.services.https import HttpsServicesEndpoint
from harness.tls import client_context
from tests.endpoints.conftest import SelfSigned


def fetch(port: int, path: str, context: ssl.SSLContext) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=context,
                                    timeout=5) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_presents_the_app_server_certificate(tomcat: SelfSigned, events: EventLog) -> None:
    with HttpsServicesEndpoint(tomcat, events) as server:
        port = server.address[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                client_context().wrap_socket(raw) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    assert x509.load_der_x509_certificate(der) == tomcat.cert


def test_logs_who_fetched_what_and_404s_unknown_paths(tomcat: SelfSigned, events: EventLog) -> None:
    events.bind_address("127.0.0.1", "SEP001122334455")
    with HttpsServicesEndpoint(tomcat, events) as server:
        port = server.address[1]
        status, body = fetch(port, "/ccmcip/xmldirectory.jsp", client_context())
        missing, _ = fetch(port, "/nope", client_context())
    assert status == 200 and b"Corporate Directory" in body
    assert missing == 404
    gets = events.of_kind("https.get")
    assert [(e.phone, e.data["path"], e.data["status"]) for e in gets] == [
        ("SEP001122334455", "/ccmcip/xmldirectory.jsp", 200),
        ("SEP001122334455", "/nope", 404),
    ]


def test_plain_http_garbage_is_an_event_and_service_continues(
    tomcat: SelfSigned, events: EventLog
) -> None:
    with HttpsServicesEndpoint(tomcat, events) as server:
        port = server.address[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(b"GET / HTTP/1.0\r\n\r\n")
            raw.recv(100)
        status, _ = fetch(port, "/services", client_context())
    assert status == 200
    assert events.of_kind("https.error"), "a non-TLS client must be recorded"


def test_restart_keeps_the_port(tomcat: SelfSigned, events: EventLog) -> None:
    server = HttpsServicesEndpoint(tomcat, events)
    server.start()
    port = server.address[1]
    server.restart()
    try:
        assert server.address[1] == port
        assert fetch(port, "/services", client_context())[0] == 200
    finally:
        server.stop()
    assert not server.running
