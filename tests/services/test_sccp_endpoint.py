"""SccpEndpoint over real TCP and TLS on loopback, driven by a hand-written station."""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.pki import CertRole, LabPKI
from harness.services.sccp import SccpEndpoint
from harness.services.sip_binding import Admission
from harness.tls import client_context
from tests.services import sccp_station as st
from tests.services.sccp_station import Station, register_body

KNOWN = "SEP001122334455"
OTHER = "SEP0011223344AA"


def known_only(device: str, dn: str) -> Admission:
    """The cluster's mixed-mode policy, in small: only the database's phones."""
    if device == KNOWN:
        return Admission(200, "OK", (dn,))
    return Admission(403, "Auto-registration not supported in mixed mode")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    root: Path = tmp_path_factory.mktemp("sccp-pki") / "pki"
    return LabPKI.init(root, ["cucm1"])


@pytest.fixture
def endpoint(loop: BackgroundLoop, events: EventLog, pki: LabPKI) -> Iterator[SccpEndpoint]:
    server = SccpEndpoint(
        events, loop, pki.identity(CertRole.tftp, "cucm1"), node="cucm1", policy=known_only,
        client_cas=lambda: [pki.identity(CertRole.capf, "cucm1").cert,
                            pki.identity(CertRole.mfg_ca).cert],
        buttons=lambda device: 2, keepalive=30, idle_timeout=1.5)
    server.start()
    yield server
    server.stop()


def register(endpoint: SccpEndpoint, device: str = KNOWN, size: int = 124,
             protocol: int = 17) -> Station:
    station = Station.connect(endpoint.address)
    station.send(st.REGISTER, register_body(device, size=size, protocol=protocol),
                 version=protocol if protocol >= 10 else 0)
    return station


def test_register_ack_capabilities_keepalive_and_reset(endpoint: SccpEndpoint,
                                                       events: EventLog) -> None:
    station = register(endpoint)
    version, message_id, ack = station.receive() or (0, 0, b"")
    assert (version, message_id) == (0x11, st.REGISTER_ACK)
    keepalive, template, secondary, protocol = (struct.unpack_from("<I", ack)[0], ack[4:10],
                                                struct.unpack_from("<I", ack, 12)[0], ack[16])
    assert (keepalive, template, secondary, protocol) == (30, b"M/D/YA", 60, 17)
    station.expect(st.CAPABILITIES_REQ)
    station.send(st.CAPABILITIES_RES, struct.pack("<I", 1) + struct.pack("<II", 4, 40) + bytes(8))
    station.send(st.BUTTON_TEMPLATE_REQ)
    buttons = station.expect(st.BUTTON_TEMPLATE)
    assert struct.unpack_from("<III", buttons) == (0, 2, 2)
    assert buttons[12:16] == bytes([1, 0x09, 2, 0x09])
    station.send(0x0099)  # a post-ack request this endpoint does not know: tolerated
    station.send(st.KEEPALIVE)
    station.expect(st.KEEPALIVE_ACK)
    [registered] = events.of_kind("sccp.register")
    assert registered.phone == KNOWN and registered.source == "sccp@cucm1"
    assert registered.data["transport"] == "tcp" and registered.data["device_type"] == 404
    assert registered.data["load"] == "SCCP42.9-4-2SR3-1S" and registered.data["protocol"] == 17
    assert endpoint.reset(KNOWN, "restart")
    assert struct.unpack("<I", station.expect(st.RESET)) == (2,)
    assert events.of_kind("sccp.reset")[0].data["type"] == 2
    assert not endpoint.reset(OTHER)
    station.close()


@pytest.mark.parametrize("size, protocol", [(32, 0), (36, 0), (68, 11), (124, 17), (172, 20)])
def test_every_register_length_is_accepted(endpoint: SccpEndpoint, events: EventLog,
                                           size: int, protocol: int) -> None:
    station = register(endpoint, size=size, protocol=protocol)
    version, message_id, ack = station.receive() or (0, 0, b"")
    assert message_id == st.REGISTER_ACK
    assert ack[16] == min(protocol, 17)  # min(phone, CM)
    assert version == (min(protocol, 17) if protocol >= 10 else 0)
    assert events.of_kind("sccp.register")[0].phone == KNOWN
    station.close()


def test_unknown_device_is_rejected_and_closed(endpoint: SccpEndpoint, events: EventLog) -> None:
    station = register(endpoint, OTHER)
    reject = station.expect(st.REGISTER_REJECT)
    assert reject.rstrip(b"\0") == b"Device Unknown"
    assert station.closed()
    [event] = events.of_kind("sccp.register_rejected")
    assert event.phone == OTHER and "mixed mode" in event.data["reason"]
    assert OTHER not in endpoint.registrations and not events.of_kind("sccp.register")


def test_unregister_is_acked_and_closes(endpoint: SccpEndpoint, events: EventLog) -> None:
    station = register(endpoint)
    station.expect(st.REGISTER_ACK)
    station.send(st.UNREGISTER, struct.pack("<I", 0))
    station.expect(st.CAPABILITIES_REQ)
    assert struct.unpack("<I", station.expect(st.UNREGISTER_ACK)) == (0,)
    assert station.closed()
    assert events.of_kind("sccp.unregister")[0].phone == KNOWN
    assert _eventually(lambda: KNOWN not in endpoint.registrations)


def test_silent_phone_is_dropped_after_the_idle_timeout(endpoint: SccpEndpoint,
                                                        events: EventLog) -> None:
    station = register(endpoint)
    station.expect(st.REGISTER_ACK)
    station.sock.settimeout(5)
    assert station.closed()
    assert "idle timeout" in events.of_kind("sccp.error")[0].data["reason"]
    assert KNOWN not in endpoint.registrations


@pytest.mark.parametrize("garbage", [
    struct.pack("<III", 0, 0, 0),                                 # length 0
    struct.pack("<III", 0x7FFFFFFF, 0x11, 1),                     # huge
    struct.pack("<III", 128, 0x0C, 1) + bytes(124),               # bad header version
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",                         # garbage
    st.frame(st.REGISTER, register_body(KNOWN)[:20], 0x11),       # truncated Register body
    st.frame(st.REGISTER, register_body(KNOWN), 0x11)[:60],       # cut mid-frame, then EOF
], ids=["length-0", "huge", "version", "http", "short-register", "truncated"])
def test_malformed_frames_close_only_that_connection(endpoint: SccpEndpoint, events: EventLog,
                                                     garbage: bytes) -> None:
    bad = Station.connect(endpoint.address)
    bad.sock.sendall(garbage)
    bad.sock.shutdown(socket.SHUT_WR)
    assert bad.closed()
    assert _eventually(lambda: bool(events.of_kind("sccp.error")))
    assert "malformed" in events.of_kind("sccp.error")[0].data["reason"]
    good = register(endpoint)
    good.expect(st.REGISTER_ACK)
    good.close()
    bad.close()


# --- TLS ------------------------------------------------------------------------------------
def tls_station(endpoint: SccpEndpoint, identity: object | None) -> Station:
    address = endpoint.tls_address
    assert address is not None
    context = client_context(identity)  # type: ignore[arg-type]
    raw = socket.create_connection(address, timeout=3)
    return Station(context.wrap_socket(raw))


def test_tls_port_is_the_plain_port_plus_443(endpoint: SccpEndpoint) -> None:
    assert endpoint.tls_address is not None
    assert endpoint.tls_address[1] == endpoint.address[1] + 443


def test_busy_derived_tls_port_with_a_fixed_plain_port_fails_to_start(
        loop: BackgroundLoop, events: EventLog, pki: LabPKI) -> None:
    with socket.create_server(("127.0.0.1", 0)) as holder:
        busy = holder.getsockname()[1]
        server = SccpEndpoint(events, loop, pki.identity(CertRole.tftp, "cucm1"),
                              port=busy - 443)
        with pytest.raises(OSError):
            server.start()
        assert not server.running


def test_register_over_tls_with_the_mic(endpoint: SccpEndpoint, events: EventLog,
                                        pki: LabPKI) -> None:
    station = tls_station(endpoint, pki.issue_mic(KNOWN, "7962"))
    assert isinstance(station.sock, ssl.SSLSocket)
    server_cert = station.sock.getpeercert(binary_form=True)
    assert server_cert == pki.identity(CertRole.tftp, "cucm1").der
    station.send(st.REGISTER, register_body(KNOWN))
    station.expect(st.REGISTER_ACK)
    station.expect(st.CAPABILITIES_REQ)
    station.send(st.KEEPALIVE)
    station.expect(st.KEEPALIVE_ACK)
    assert endpoint.reset(KNOWN, "reset")
    assert struct.unpack("<I", station.expect(st.RESET)) == (1,)
    [event] = events.of_kind("sccp.register")
    assert event.source == "sccp-tls@cucm1" and event.data["transport"] == "tls"
    station.close()


def test_tls_without_a_client_certificate_is_refused(endpoint: SccpEndpoint,
                                                     events: EventLog) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        station = tls_station(endpoint, None)
        station.send(st.REGISTER, register_body(KNOWN))
        assert station.receive() is None  # TLS 1.3-style late failure ends here instead
        raise ConnectionError("closed")
    assert _eventually(lambda: bool(events.of_kind("sccp.error")))
    assert not events.of_kind("sccp.register")


def test_tls_certificate_of_another_device_is_rejected(endpoint: SccpEndpoint, events: EventLog,
                                                       pki: LabPKI) -> None:
    station = tls_station(endpoint, pki.issue_mic(OTHER, "7962"))
    station.send(st.REGISTER, register_body(KNOWN))
    station.expect(st.REGISTER_REJECT)
    assert station.closed()
    reason = events.of_kind("sccp.register_rejected")[0].data["reason"]
    assert "does not name the device" in reason


def _eventually(check: object, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_tls_certificate_from_an_unknown_issuer_is_refused(endpoint: SccpEndpoint,
                                                          events: EventLog) -> None:
    from tests.services.tvs_support import ident  # self-signed, names the right device

    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        station = tls_station(endpoint, ident(KNOWN))
        station.send(st.REGISTER, register_body(KNOWN))
        assert station.receive() is None
        raise ConnectionError("closed")
    assert _eventually(lambda: bool(events.of_kind("sccp.error")))
    assert "TLS handshake" in events.of_kind("sccp.error")[0].data["reason"]
    assert not events.of_kind("sccp.register")
