"""HTTPS request framing: a body is the request's, never a next request; bounds hold."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import pytest

from harness.events import EventLog
from harness.pki import CertRole, LabPKI
from harness.services import https
from harness.services.https import HttpsServicesEndpoint
from harness.tls import client_context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.init(Path(tmp_path_factory.mktemp("pki")) / "pki", ["cucm1"], key_size=1024)


def _exchange(address: tuple[str, int], data: bytes, *, wait: float = 5.0) -> bytes:
    """Send `data` over TLS and read until the server closes."""
    with socket.create_connection(address, timeout=wait) as raw, \
            client_context().wrap_socket(raw) as tls:
        tls.sendall(data)
        received = b""
        while chunk := _recv(tls):
            received += chunk
        return received


def _recv(tls: ssl.SSLSocket) -> bytes:
    try:
        return tls.recv(65536)
    except (ssl.SSLError, ConnectionResetError):
        return b""


def test_a_get_body_is_skipped_not_parsed_as_a_second_request(
        events: EventLog, pki: LabPKI) -> None:
    smuggled = b"GET /emapp/EMAppServlet HTTP/1.1\r\n\r\n"
    with HttpsServicesEndpoint(pki.identity(CertRole.tomcat, "cucm1"), events) as server:
        reply = _exchange(server.address,
                          b"GET /services HTTP/1.1\r\nContent-Length: "
                          + str(len(smuggled)).encode() + b"\r\n\r\n" + smuggled
                          + b"GET /ccmcip/xmldirectory.jsp HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert reply.count(b"HTTP/1.1 200 OK") == 2
    assert b"Extension Mobility" not in reply
    assert [e.data["path"] for e in events.of_kind("https.get")] == [
        "/services", "/ccmcip/xmldirectory.jsp"]


def test_unframeable_or_oversized_bodies_are_refused_and_recorded(
        events: EventLog, pki: LabPKI) -> None:
    with HttpsServicesEndpoint(pki.identity(CertRole.tomcat, "cucm1"), events) as server:
        big = _exchange(server.address, b"GET /services HTTP/1.1\r\nContent-Length: "
                        + str(https.MAX_BODY + 1).encode() + b"\r\n\r\n")
        chunked = _exchange(server.address,
                            b"GET /services HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        bad = _exchange(server.address, b"GET /services HTTP/1.1\r\nContent-Length: \xb2\r\n\r\n")
        long_head = _exchange(server.address, b"GET /services HTTP/1.1\r\n"
                              + b"X-Pad: " + b"a" * (https.MAX_HEAD + 10) + b"\r\n\r\n")
    assert big.startswith(b"HTTP/1.1 413 ")
    assert chunked.startswith(b"HTTP/1.1 501 ")
    assert bad.startswith(b"HTTP/1.1 400 ")
    assert long_head == b""  # dropped, not answered
    reasons = [e.data["reason"] for e in events.of_kind("https.error")]
    assert any("body of" in r for r in reasons), reasons
    assert any("transfer-encoding" in r for r in reasons), reasons
    assert any("bad content-length" in r for r in reasons), reasons
    assert any(f"longer than {https.MAX_HEAD}" in r for r in reasons), reasons
    assert not events.of_kind("https.get")


def test_a_client_silent_between_requests_is_closed_after_the_idle_deadline(
        events: EventLog, pki: LabPKI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(https, "TIMEOUT", 0.5)
    with HttpsServicesEndpoint(pki.identity(CertRole.tomcat, "cucm1"), events) as server, \
            socket.create_connection(server.address, timeout=5) as raw, \
            client_context().wrap_socket(raw) as tls:
        tls.sendall(b"GET /services HTTP/1.1\r\n\r\n")
        assert tls.recv(65536).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        assert _recv(tls) == b""  # the server closed the quiet connection
        assert 0.3 < time.monotonic() - started < 3.0
