"""The HTTPS services endpoint's request handling: keep-alive, HEAD, refusals, a burst."""

from __future__ import annotations

import http.client
import socket
from concurrent.futures import ThreadPoolExecutor

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services.https import HttpsServicesEndpoint
from harness.tls import client_context
from tests.endpoints.conftest import SelfSigned


def connection(port: int) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=client_context())


def test_keep_alive_serves_several_requests_on_one_connection(
        tomcat: SelfSigned, events: EventLog) -> None:
    with HttpsServicesEndpoint(tomcat, events) as server:
        conn = connection(server.address[1])
        for path in ("/services", "/emapp/EMAppServlet", "/nope"):
            conn.request("GET", path)
            reply = conn.getresponse()
            reply.read()
        conn.request("HEAD", "/services")
        head = conn.getresponse()
        assert head.status == 200 and head.read() == b""
        assert int(head.getheader("Content-Length") or 0) > 0
        conn.close()
    assert [e.data["status"] for e in events.of_kind("https.get")] == [200, 200, 404, 200]
    assert not events.of_kind("https.error")


def test_other_methods_and_bad_request_lines_are_refused(
        tomcat: SelfSigned, events: EventLog) -> None:
    with HttpsServicesEndpoint(tomcat, events) as server:
        conn = connection(server.address[1])
        conn.request("POST", "/services", body=b"x")
        assert conn.getresponse().status == 501
        conn.close()
        with socket.create_connection(server.address, timeout=5) as raw, \
                client_context().wrap_socket(raw) as tls:
            tls.sendall(b"NONSENSE\r\n\r\n")
            assert tls.recv(100).startswith(b"HTTP/1.1 400 ")
    assert "bad request line" in events.of_kind("https.error")[-1].data["reason"]


def test_a_burst_of_clients_is_served_on_a_given_loop(tomcat: SelfSigned,
                                                       events: EventLog) -> None:
    with BackgroundLoop("https-burst") as loop, \
            HttpsServicesEndpoint(tomcat, events, loop=loop) as server:
        port = server.address[1]

        def fetch(_: int) -> int:
            conn = connection(port)
            conn.request("GET", "/services", headers={"Connection": "close"})
            status = conn.getresponse().status
            conn.close()
            return status

        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(fetch, range(48))) == {200}
    assert len(events.of_kind("https.get")) == 48
