"""Connection caps and protocol idle timeouts of the stream endpoints (SIP TCP/TLS, SCCP).

At the cap a new connection evicts the longest-idle connection that carries no
registration; registered phones keep their connection. Quiet connections close
after the protocol's own bound, and the values are the documented ones.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.pki import CertRole, LabPKI
from harness.services import registrar as registrar_module
from harness.services import sip_cucm
from harness.services import sip_message as sip
from harness.services.connection_cap import MAX_DEFAULT, default_limit
from harness.services.registrar import Registrar
from harness.services.sccp import SccpEndpoint
from tests.services import sccp_station as st
from tests.services.sccp_station import Station, register_body

DEVICE = "SEP001122334455"


def register(port: int, call_id: str = "c1@127.0.0.1") -> bytes:
    return sip.SipMessage(f"REGISTER sip:127.0.0.1:{port} SIP/2.0", [
        ("Via", "SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKabc"),
        ("From", f"<sip:{DEVICE}@127.0.0.1>;tag=1"),
        ("To", f"<sip:{DEVICE}@127.0.0.1>"),
        ("Call-ID", call_id),
        ("CSeq", "1 REGISTER"),
        ("Contact", f"<sip:{DEVICE}@127.0.0.1:5060;transport=tcp>"),
        ("Expires", "3600"),
    ]).encode()


def final_status(sock: socket.socket) -> int:
    buffer = b""
    while True:
        while (frame := sip.split_frame(buffer)) is not None:
            data, buffer = frame
            message = sip.parse(data)
            if message.status is not None and message.status >= 200:
                return message.status
        chunk = sock.recv(65535)
        assert chunk, "connection closed"
        buffer += chunk


def closed_by_server(sock: socket.socket, wait: float = 3.0) -> bool:
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _connect(address: tuple[str, int], count: int) -> list[socket.socket]:
    return [socket.create_connection(address, timeout=5) for _ in range(count)]


@pytest.fixture
def closing() -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.close()


def test_documented_bounds() -> None:
    # 1.5 x the registration refresh (Expires 120) plus a margin; docs/DESIGN.md says so
    assert sip_cucm.KEEPALIVE_INTERVAL == 120
    assert registrar_module.IDLE_TIMEOUT == 200.0
    assert registrar_module.FIRST_MESSAGE_TIMEOUT == 10.0
    assert 16 <= default_limit() <= MAX_DEFAULT
    design = (Path(__file__).parents[2] / "docs" / "DESIGN.md").read_text()
    assert "Connection caps and idle timeouts" in design


def test_sip_tcp_cap_evicts_idle_strangers_and_keeps_the_registered_phone(
        loop: BackgroundLoop, events: EventLog, closing: list[socket.socket]) -> None:
    with Registrar(events, loop, max_connections=10) as server:
        assert isinstance(server, Registrar)
        port = server.address[1]
        phone = socket.create_connection(server.address, timeout=5)
        closing.append(phone)
        phone.sendall(register(port))
        assert final_status(phone) == 200
        early = _connect(server.address, 9)  # the cap is now full
        closing.extend(early)
        time.sleep(0.2)
        late = _connect(server.address, 25)  # each evicts the quietest stranger
        closing.extend(late)
        time.sleep(0.3)
        assert all(closed_by_server(sock, 2.0) for sock in early)
        assert len(server.tcp_cap) <= 10
        assert server.tcp_cap.evicted >= 24
        phone.sendall(register(port))  # the refresh on the same connection
        assert final_status(phone) == 200
    reasons = [e.data["reason"] for e in events.of_kind("sip.error")]
    assert any("connection cap 10 reached" in r for r in reasons), reasons


def test_sip_tcp_quiet_connections_close_after_their_bounds(
        loop: BackgroundLoop, events: EventLog, closing: list[socket.socket]) -> None:
    with Registrar(events, loop, first_message_timeout=0.5, idle_timeout=1.5) as server:
        silent, phone = _connect(server.address, 2)
        closing.extend([silent, phone])
        phone.sendall(register(server.address[1]))
        assert final_status(phone) == 200
        started = time.monotonic()
        assert closed_by_server(silent, 3.0)  # nothing ever said: 0.5 s
        assert time.monotonic() - started < 1.5
        assert not closed_by_server(phone, 0.5)  # a phone that spoke gets the longer bound
        assert closed_by_server(phone, 3.0)
    reasons = [e.data["reason"] for e in events.of_kind("sip.error")]
    assert any("nothing in 0.5 s" in r for r in reasons), reasons
    assert any("nothing in 1.5 s" in r for r in reasons), reasons
    assert events.of_kind("sip.unregister")[-1].data["reason"] == "connection closed"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.init(Path(tmp_path_factory.mktemp("pki")) / "pki", ["cucm1"], key_size=1024)


def test_sccp_cap_keeps_registered_stations(
        loop: BackgroundLoop, events: EventLog, pki: LabPKI,
        closing: list[socket.socket]) -> None:
    server = SccpEndpoint(events, loop, pki.identity(CertRole.tftp, "cucm1"), node="cucm1",
                          max_connections=6, keepalive=30)
    with server:
        station = Station.connect(server.address)
        station.send(st.REGISTER, register_body(DEVICE), version=17)
        station.expect(st.REGISTER_ACK)
        station.expect(st.CAPABILITIES_REQ)
        strangers = _connect(server.address, 30)
        closing.extend(strangers)
        time.sleep(0.3)
        assert len(server.plain_cap) <= 6
        assert sum(closed_by_server(sock, 0.2) for sock in strangers) >= 25
        station.send(st.KEEPALIVE)
        station.expect(st.KEEPALIVE_ACK)
        assert DEVICE in server.registrations
        station.close()
    assert server.idle_timeout == 90.0  # 3 x the acked keepalive


def test_sccp_tls_hello_gate_and_deadline_from_accept(
        loop: BackgroundLoop, events: EventLog, pki: LabPKI,
        closing: list[socket.socket]) -> None:
    server = SccpEndpoint(events, loop, pki.identity(CertRole.tftp, "cucm1"), node="cucm1",
                          handshake_timeout=0.5)
    with server:
        assert server.tls_address is not None
        sock = socket.create_connection(server.tls_address, timeout=5)
        closing.append(sock)
        sock.sendall(b"\x16\x03\x01")  # a hello that never completes
        started = time.monotonic()
        assert closed_by_server(sock, 3.0)
        assert time.monotonic() - started < 2.0
    reasons = [e.data["reason"] for e in events.of_kind("sccp.error")]
    assert any("after connecting" in r for r in reasons), reasons


def test_tls_endpoint_cap_drops_the_oldest_silent_connection_for_a_phone(
        loop: BackgroundLoop, events: EventLog, pki: LabPKI,
        closing: list[socket.socket]) -> None:
    from harness.services.truststore import TrustStore
    from harness.services.tvs import TvsEndpoint
    from harness.services.tvs_client import TvsClient

    tvs_id, tomcat = pki.identity(CertRole.tvs, "cucm1"), pki.identity(CertRole.tomcat, "cucm1")
    store = TrustStore()
    store.add(tomcat.cert, [7], ttl=3600)
    tvs = TvsEndpoint(events, loop, tvs_id, store, idle_timeout=30)
    tvs.cap.limit = 20
    with tvs:
        first = _connect(tvs.address, 1)
        closing.extend(first)
        time.sleep(0.05)
        rest = _connect(tvs.address, 59)
        closing.extend(rest)
        time.sleep(0.3)
        assert closed_by_server(first[0], 2.0)  # the oldest silent one went first
        assert len(tvs.cap) <= 20
        client = TvsClient([(*tvs.address, 1)], lambda der: der == tvs_id.der, timeout=10)
        assert client.verify_blocking(tomcat.der, "CP-7962-SEP001122334455").valid
    assert tvs.cap.evicted >= 40
    reasons = [e.data["reason"] for e in events.of_kind("tvs.error")]
    assert any("connection cap 20 reached" in r for r in reasons), reasons


def test_sccp_connection_without_a_first_frame_is_closed_early(
        loop: BackgroundLoop, events: EventLog, pki: LabPKI,
        closing: list[socket.socket]) -> None:
    server = SccpEndpoint(events, loop, None, node="cucm1", first_message_timeout=0.5)
    with server:
        silent = socket.create_connection(server.address, timeout=5)
        closing.append(silent)
        station = Station.connect(server.address)
        station.send(st.REGISTER, register_body(DEVICE), version=17)
        station.expect(st.REGISTER_ACK)
        started = time.monotonic()
        assert closed_by_server(silent, 3.0)
        assert time.monotonic() - started < 1.5
        assert not closed_by_server(station.sock, 1.0)  # a registered phone: 90 s
        station.close()
    reasons = [e.data["reason"] for e in events.of_kind("sccp.error")]
    assert any("nothing in 0.5 s" in r for r in reasons), reasons
