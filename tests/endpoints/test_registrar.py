"""The SIP registrar over real UDP and TCP sockets on loopback."""

from __future__ import annotations

import socket

import pytest

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services import sip_message as sip
from harness.services.registrar import Registrar
from harness.services.sip_binding import Admission

MAC = "001122334455"


def register(device: str, port: int, transport: str = "UDP", expires: int = 3600) -> bytes:
    return sip.SipMessage(f"REGISTER sip:127.0.0.1:{port} SIP/2.0", [
        ("Via", f"SIP/2.0/{transport} 127.0.0.1:5060;branch=z9hG4bKabc"),
        ("From", f"<sip:{device}@127.0.0.1>;tag=1"),
        ("To", f"<sip:{device}@127.0.0.1>"),
        ("Call-ID", "c1@127.0.0.1"),
        ("CSeq", "1 REGISTER"),
        ("Contact", f"<sip:{device}@127.0.0.1:5060;transport={transport.lower()}>"),
        ("Expires", str(expires)),
    ]).encode()


@pytest.fixture
def registrar(loop: BackgroundLoop, events: EventLog) -> Registrar:
    server = Registrar(events, loop)
    server.start()
    yield server
    server.stop()


def final(sock: socket.socket) -> sip.SipMessage:
    """Read from a stream until a final (>= 200) response or a request arrives."""
    buffer = b""
    while True:
        while (frame := sip.split_frame(buffer)) is not None:
            data, buffer = frame
            message = sip.parse(data)
            if message.status is None or message.status >= 200:
                return message
        chunk = sock.recv(65535)
        assert chunk, "connection closed"
        buffer += chunk


def udp_exchange(sock: socket.socket, port: int, payload: bytes) -> sip.SipMessage:
    sock.sendto(payload, ("127.0.0.1", port))
    data, _ = sock.recvfrom(65535)
    return sip.parse(data)


def test_register_over_udp_is_recorded(registrar: Registrar, events: EventLog) -> None:
    port = registrar.address[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        reply = udp_exchange(sock, port, register("SEP" + MAC.lower(), port))
    assert reply.status == 200
    assert reply.header("call-id") == "c1@127.0.0.1"
    [event] = events.of_kind("sip.register")
    assert event.phone == "SEP" + MAC and event.data["transport"] == "udp"
    assert "SEP" + MAC in registrar.registrations


def test_register_over_tcp_then_notify_reset_arrives(
    registrar: Registrar, events: EventLog
) -> None:
    port = registrar.address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(register("SEP" + MAC, port, "TCP"))
        reply = final(sock)
        assert reply.status == 200
        assert registrar.notify("SEP" + MAC, "reset")
        notify = final(sock)
    assert notify.method == "NOTIFY"
    assert notify.header("event") == "service-control"
    assert notify.body.startswith(b"action=reset")
    assert events.of_kind("sip.notify")[0].data["action"] == "reset"


def test_notify_restart_over_udp_and_unknown_device(registrar: Registrar) -> None:
    port = registrar.address[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        udp_exchange(sock, port, register("SEP" + MAC, port))
        assert registrar.notify("SEP" + MAC, "restart")
        notify = sip.parse(sock.recvfrom(65535)[0])
    assert notify.body.startswith(b"action=restart")
    assert not registrar.notify("SEPFFFFFFFFFFFF", "reset")
    with pytest.raises(ValueError):
        registrar.notify("SEP" + MAC, "explode")


def test_policy_rejects_unknown_phones(loop: BackgroundLoop, events: EventLog) -> None:
    server = Registrar(events, loop, policy=lambda d, dn: Admission(404, "Not Found"))
    server.start()
    try:
        port = server.address[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            reply = udp_exchange(sock, port, register("SEP" + MAC, port))
    finally:
        server.stop()
    assert reply.status == 404
    assert not events.of_kind("sip.register")
    assert events.of_kind("sip.register_rejected")[0].data["status"] == 404


def test_unregister_removes_the_binding(registrar: Registrar, events: EventLog) -> None:
    port = registrar.address[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        udp_exchange(sock, port, register("SEP" + MAC, port))
        reply = udp_exchange(sock, port, register("SEP" + MAC, port, expires=0))
    assert reply.status == 200
    assert "SEP" + MAC not in registrar.registrations
    assert events.of_kind("sip.unregister")


@pytest.mark.parametrize("garbage", [b"\x00\x01\x02", b"HELLO\r\n\r\n", b"REGISTER x SIP/2.0\r\n"])
def test_garbage_is_recorded_and_service_continues(
    registrar: Registrar, events: EventLog, garbage: bytes
) -> None:
    port = registrar.address[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(garbage, ("127.0.0.1", port))
        reply = udp_exchange(sock, port, register("SEP" + MAC, port))
    assert reply.status == 200
    assert events.of_kind("sip.error")


def test_register_without_device_identity_is_a_bad_request(registrar: Registrar) -> None:
    port = registrar.address[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        reply = udp_exchange(sock, port, register("alice", port))
    assert reply.status == 400


def test_tcp_garbage_closes_that_connection_only(registrar: Registrar) -> None:
    port = registrar.address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as bad:
        bad.sendall(b"X" * 70000)
        assert bad.recv(100) == b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as good:
        good.sendall(register("SEP" + MAC, port, "TCP"))
        assert final(good).status == 200
