"""Wire compatibility and robustness of CAPF, checked WITHOUT the harness codec.

An independent client and server built from `ssl` + `struct` speak to the
harness server and client, so a symmetric bug in capf_wire cannot hide; and
hostile peers (garbage, truncation, plain TCP, silence) must be dropped with a
`capf.error` while the next good session still succeeds.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from capf_support import PHONE, capf_ca, enroll, mic
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services.capf import CapfEndpoint
from harness.services.capf_client import CapfClient, CapfIdentity, CapfResult
from harness.services.capf_directory import CapfDirectory

Elements = dict[int, bytes]


def frame(command: int, session: int, *elements: tuple[int, bytes]) -> bytes:
    payload = b"".join(struct.pack(">BH", tag, len(value)) + value for tag, value in elements)
    return struct.pack(">BBIH", 0x55, command, session, len(payload)) + payload


def parse(data: bytes) -> tuple[int, int, Elements]:
    proto, command, session, length = struct.unpack(">BBIH", data[:8])
    assert proto == 0x55 and len(data) == 8 + length
    elements, pos = {}, 8
    while pos < len(data):
        tag, size = struct.unpack(">BH", data[pos:pos + 3])
        elements[tag] = data[pos + 3:pos + 3 + size]
        pos += 3 + size
    return command, session, elements


def recv_frame(sock: ssl.SSLSocket) -> tuple[int, int, Elements]:
    """One recv must carry the whole frame: the server writes each message at once."""
    return parse(sock.recv(65536))


def client_tls() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # as phones do: RSA AES-CBC-SHA (CUCM 8)
    return context


@pytest.fixture
def capf(events: EventLog, loop: BackgroundLoop,
         directory: CapfDirectory) -> Iterator[CapfEndpoint]:
    with CapfEndpoint(events, loop, capf_ca(), directory, timeout=0.5) as endpoint:
        yield endpoint


@pytest.fixture
def raw(capf: CapfEndpoint) -> Iterator[ssl.SSLSocket]:
    sock = client_tls().wrap_socket(socket.create_connection(capf.address, timeout=3))
    yield sock
    sock.close()


def auth_response(session: int, *extra: tuple[int, bytes]) -> bytes:
    return frame(2, session, (1, b"\x01"), (7, b"\x03"), (13, PHONE.encode() + b"\0"), *extra)


def test_raw_none_session(raw: ssl.SSLSocket, directory: CapfDirectory) -> None:
    directory.add(PHONE, "none")
    first = raw.recv(65536)
    assert first == bytes.fromhex("55 01 00000001 0008 07 0001 03 08 0001 00")
    raw.sendall(auth_response(1, (11, b"\0"), (99, b"unknown element, ignored")))
    assert raw.recv(65536) == bytes.fromhex("55 0f 00000001 0004 01 0001 00")


def test_raw_password_install(raw: ssl.SSLSocket, directory: CapfDirectory) -> None:
    directory.add(PHONE, "install", "password", password="1234", key_size=1024)
    command, session, _ = recv_frame(raw)
    assert (command, session) == (1, 1)
    raw.sendall(auth_response(session, (11, b"1234\0")))
    request = raw.recv(65536)
    assert request == bytes.fromhex("55 03 00000001 0009 0a 0002 0400 11 0001 00")
    raw.sendall(frame(17, session))  # REQUEST_IN_PROGRESS
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    raw.sendall(frame(4, session, (9, spki)))
    command, _, elements = recv_frame(raw)
    assert command == 9 and elements[3] == b"\x01"
    wrapped = elements[4]
    assert wrapped[0] == 1 and struct.unpack(">H", wrapped[1:3])[0] == len(wrapped) - 3
    assert wrapped[3:5] == b"\x00\x01"
    cert = x509.load_der_x509_certificate(wrapped[5:])
    assert cert.public_key() == key.public_key()
    raw.sendall(frame(10, session, (1, b"\x01")))
    assert recv_frame(raw) == (15, session, {1: b"\x01"})
    assert directory.get(PHONE).certificate == cert  # type: ignore[union-attr]


def test_newer_version_ends_with_reason_7(raw: ssl.SSLSocket, directory: CapfDirectory) -> None:
    directory.add(PHONE, "none")
    _, session, _ = recv_frame(raw)
    raw.sendall(frame(2, session, (7, b"\x04"), (13, PHONE.encode() + b"\0")))
    assert recv_frame(raw) == (15, session, {1: b"\x07"})


def test_session_id_mismatch_ends_with_reason_7(raw: ssl.SSLSocket,
                                                directory: CapfDirectory) -> None:
    directory.add(PHONE, "none")
    _, session, _ = recv_frame(raw)
    raw.sendall(auth_response(session + 5, (11, b"\0")))
    assert recv_frame(raw) == (15, session, {1: b"\x07"})


def good_session_still_works(capf: CapfEndpoint, directory: CapfDirectory) -> None:
    if directory.get(PHONE) is None:
        directory.add(PHONE, "none")
    assert enroll(capf.address)[0].reason == 0


@pytest.mark.parametrize("attack", ["plaintext", "bad-id", "truncated", "huge-length"])
def test_garbage_is_dropped_and_logged(capf: CapfEndpoint, directory: CapfDirectory,
                                       events: EventLog, attack: str) -> None:
    with socket.create_connection(capf.address, timeout=3) as plain:
        if attack == "plaintext":
            plain.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while plain.recv(100):  # at most a TLS alert, then the server closes
                pass
        else:
            tls = client_tls().wrap_socket(plain)
            recv_frame(tls)
            tls.sendall({"bad-id": bytes.fromhex("54 02 00000001 0000"),
                         "truncated": bytes.fromhex("55 02 00000001 0010 07 00"),
                         "huge-length": bytes.fromhex("55 02 00000001 ffff")}[attack])
            if attack == "bad-id":
                assert tls.recv(100) == b""  # dropped without END_SESSION
            tls.close()
    error = events.wait_for(lambda e: e.kind == "capf.error", 3.0)
    assert "session" in error.data["reason"] or "TLS" in error.data["reason"]
    good_session_still_works(capf, directory)


def test_silent_peers_are_dropped_within_the_timeout(capf: CapfEndpoint, events: EventLog,
                                                     directory: CapfDirectory) -> None:
    start = time.monotonic()
    with socket.create_connection(capf.address, timeout=3) as silent:  # no TLS at all
        assert silent.recv(100) == b""
    with client_tls().wrap_socket(socket.create_connection(capf.address, timeout=3)) as tls:
        recv_frame(tls)  # AUTH_REQUEST, then say nothing
        assert tls.recv(100) == b""
    assert time.monotonic() - start < 2.5
    reasons = [e.data["reason"] for e in events.of_kind("capf.error")]
    assert any("TLS handshake" in r for r in reasons) and any("timeout" in r for r in reasons)
    good_session_still_works(capf, directory)


def test_tls_1_0_is_accepted_for_old_phones(capf: CapfEndpoint) -> None:
    context = client_tls()
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("ALL:@SECLEVEL=0")
    with context.wrap_socket(socket.create_connection(capf.address, timeout=3)) as tls:
        assert tls.version() == "TLSv1"
        assert recv_frame(tls)[0] == 1


# --- the harness client against an independent raw server ---------------------------

class RawServer:
    """Accepts one TLS connection, sends AUTH_REQUEST{auth_type}, records the reply,
    then sends `then` (bytes) or runs `then(tls)` for a longer exchange."""

    def __init__(self, tmp: Path, auth_type: int,
                 then: bytes | Callable[[ssl.SSLSocket], None]) -> None:
        ident = capf_ca()
        (tmp / "c.pem").write_bytes(ident.cert.public_bytes(serialization.Encoding.PEM))
        (tmp / "k.pem").write_bytes(ident.key.private_bytes(  # type: ignore[union-attr]
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.auth_type, self.then = auth_type, then
        self.reply: Elements = {}
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with self.context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(frame(1, 77, (7, b"\x03"), (8, bytes([self.auth_type]))))
            _, _, self.reply = recv_frame(tls)
            if callable(self.then):
                self.then(tls)
            else:
                tls.sendall(self.then)
            tls.recv(100)

    def run(self, client_options: dict[str, object]) -> tuple[CapfResult, Elements]:
        trusted = capf_ca().der
        client = CapfClient(PHONE, [self.listener.getsockname()], lambda der: der == trusted,
                            timeout=3, **client_options)  # type: ignore[arg-type]
        result = asyncio.run(client.run())
        self.thread.join(3)
        self.listener.close()
        return result, self.reply


def lsc_identity() -> CapfIdentity:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return CapfIdentity(mic().cert, key)  # only the wrapper type byte is inspected here


@pytest.mark.parametrize(("auth_type", "has_lsc", "cert_type"), [
    (3, True, 1), (4, True, 2), (3, False, 2), (0, True, 1)])
def test_client_picks_certificate_by_auth_type(tmp_path: Path, auth_type: int, has_lsc: bool,
                                               cert_type: int) -> None:
    server = RawServer(tmp_path, auth_type, frame(15, 77, (1, b"\x00")))
    options: dict[str, object] = {"mic": mic(), "lsc": lsc_identity() if has_lsc else None}
    result, reply = server.run(options)
    assert (result.reason, result.session_id) == (0, 77)
    assert reply[4][3:5] == bytes([0, cert_type]) and 6 in reply and reply[20][0] == 3
    assert reply[13] == PHONE.encode() + b"\0" and reply[7] == b"\x03" and reply[1] == b"\x01"


@pytest.mark.parametrize(("auth_type", "password"), [(1, b"1234\0"), (2, b"\0"), (0, b"1234\0")])
def test_client_password_answers(tmp_path: Path, auth_type: int, password: bytes) -> None:
    server = RawServer(tmp_path, auth_type, frame(15, 77, (1, b"\x00")))
    _, reply = server.run({"password": "1234"})
    assert reply[11] == password and 4 not in reply


def test_client_closes_on_unknown_command(tmp_path: Path) -> None:
    server = RawServer(tmp_path, 2, frame(6, 77))  # ENCRYPT_REQUEST: semantics unknown
    result, _ = server.run({})
    assert result.reason is None and "unexpected command 6" in (result.error or "")


def test_client_generates_asked_key_and_refuses_foreign_certificate(tmp_path: Path) -> None:
    seen: list[tuple[int, int, Elements]] = []

    def script(tls: ssl.SSLSocket) -> None:
        tls.sendall(frame(3, 77, (17, b"\x05")))  # KEY_TYPE 5: unknown
        seen.append(recv_frame(tls))  # REQUEST_IN_PROGRESS, then the refusal
        seen.append(recv_frame(tls))
        tls.sendall(frame(3, 77, (17, b"\x01"), (18, b"\x00")))  # EC secp256r1
        seen.append(recv_frame(tls))  # REQUEST_IN_PROGRESS first
        seen.append(recv_frame(tls))
        tls.sendall(frame(9, 77, (3, b"\x01"), (4, b"\x01" + struct.pack(">H", len(mic().der) + 2)
                                                  + b"\x00\x01" + mic().der)))
        seen.append(recv_frame(tls))
        tls.sendall(frame(15, 77, (1, b"\x01")))

    result, _ = RawServer(tmp_path, 2, script).run({})
    assert seen[:3] == [(17, 77, {}), (4, 77, {1: b"\x07"}), (17, 77, {})]
    command, _, elements = seen[3]
    public = serialization.load_der_public_key(elements[9])
    assert command == 4 and isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"
    assert seen[4] == (10, 77, {1: b"\x07"})  # MIC is not for the generated key
    assert (result.reason, result.lsc) == (1, None)


def test_stop_cuts_sessions_in_progress(events: EventLog, loop: BackgroundLoop,
                                        directory: CapfDirectory) -> None:
    endpoint = CapfEndpoint(events, loop, capf_ca(), directory, timeout=30)
    endpoint.start()
    with client_tls().wrap_socket(socket.create_connection(endpoint.address, timeout=3)) as tls:
        recv_frame(tls)
        start = time.monotonic()
        endpoint.stop()
        assert tls.recv(100) == b"" and time.monotonic() - start < 2
    assert not endpoint.running
