"""TVS server over real TLS on loopback, driven by a client written here from raw
ssl + struct (not the harness codec), which is what proves wire compatibility."""

from __future__ import annotations

import socket
import ssl
import struct
import warnings
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from tvs_support import Ident, ident

from harness.aio import BackgroundLoop
from harness.events import Event, EventLog
from harness.services.truststore import TrustStore
from harness.services.tvs import TvsEndpoint

DEVICE = b"CP-8861-SEPB000B4BA0AEE"
Address = tuple[str, int]


# --- an independent minimal TVS client ------------------------------------------
def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">BH", tag, len(value)) + value


def frame(command: int, session: int, *elements: bytes, proto: int = 0x57,
          version: int = 1, reserved: int = 0) -> bytes:
    payload = b"".join(elements)
    return struct.pack(">BBBBIH", proto, version, command, reserved, session,
                       len(payload)) + payload


def verify_frame(cert: bytes, session: int = 1001, device: bytes = DEVICE) -> bytes:
    return frame(1, session, tlv(1, b"\x01" + device), tlv(2, cert))


def connect(address: Address, version: ssl.TLSVersion | None = None,
            ciphers: str | None = None) -> ssl.SSLSocket:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    if version is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = version
    ctx.set_ciphers(ciphers or "DEFAULT:@SECLEVEL=0")  # as phones do: RSA AES-CBC-SHA (CUCM 8)
    return ctx.wrap_socket(socket.create_connection(address, timeout=3))


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def exchange(sock: ssl.SSLSocket, request: bytes) -> tuple[tuple[int, ...], dict[int, bytes]]:
    """Send one frame; return (header fields, {tag: value}) of the answer."""
    sock.sendall(request)
    header = struct.unpack(">BBBBIH", recv_exact(sock, 10))
    payload = recv_exact(sock, header[5])
    elements, off = {}, 0
    while off < len(payload):
        tag, length = struct.unpack_from(">BH", payload, off)
        elements[tag] = payload[off + 3 : off + 3 + length]
        off += 3 + length
    return header, elements


def closed_by_peer(sock: socket.socket) -> bool:
    try:
        while sock.recv(4096):
            pass
    except (ssl.SSLError, ConnectionError):
        pass
    return True


# --- fixtures --------------------------------------------------------------------
@pytest.fixture
def certs() -> dict[str, Ident]:
    ca = ident("stormin-CA", 0x42, slot=2)
    return {"tvs": ident("tvs-node1", 0x21), "https": ident("dir.lab", 0x77, slot=1),
            "sast": ident("SAST Test", 0x0A1B2C3D, slot=3, issuer=ca),
            "stranger": ident("stranger", 0x99, slot=1)}


@pytest.fixture
def store(certs: dict[str, Ident]) -> TrustStore:
    store = TrustStore()
    store.add(certs["https"].cert, [7], ttl=3600)
    store.add(certs["sast"].cert, [0, 3])
    return store


@pytest.fixture
def tvs(events: EventLog, loop: BackgroundLoop, certs: dict[str, Ident],
        store: TrustStore) -> Iterator[TvsEndpoint]:
    endpoint = TvsEndpoint(events, loop, certs["tvs"], store, node="pub", idle_timeout=0.5)
    with endpoint:
        yield endpoint


def error_event(events: EventLog, after: int = 0) -> Event:
    return events.wait_for(lambda e: e.kind == "tvs.error", 3, after=after, what="tvs.error")


# --- behaviour ------------------------------------------------------------------
def test_verify_trusted_gives_status_roles_ttl(tvs: TvsEndpoint, events: EventLog,
                                                certs: dict[str, Ident]) -> None:
    with connect(tvs.address) as sock:
        header, elements = exchange(sock, verify_frame(certs["https"].der, session=0x3EA))
    assert header == (0x57, 1, 2, 0, 0x3EA, 15)
    assert elements == {7: b"\x00", 8: b"\x07", 9: struct.pack(">I", 3600)}
    event = events.wait_for(lambda e: e.kind == "tvs.verify", 2)
    assert event.phone == "SEPB000B4BA0AEE"
    assert event.data | {"peer": None} == {
        "node": "pub", "status": "valid", "roles": [7], "subject": "CN=dir.lab,OU=Test,O=Lab,C=AU",
        "device": DEVICE.decode(), "peer": None}


def test_verify_untrusted_gives_status_1_only(tvs: TvsEndpoint, events: EventLog,
                                               certs: dict[str, Ident]) -> None:
    with connect(tvs.address) as sock:
        header, elements = exchange(sock, verify_frame(certs["stranger"].der))
    assert header[2] == 2 and elements == {7: b"\x01"}
    assert events.of_kind("tvs.verify")[-1].data["status"] == "invalid"


def test_old_phone_tls10_rsa_aes_cbc(tvs: TvsEndpoint, certs: dict[str, Ident]) -> None:
    with connect(tvs.address, ssl.TLSVersion.TLSv1, "AES256-SHA:@SECLEVEL=0") as sock:
        assert (sock.version(), sock.cipher()) == ("TLSv1", ("AES256-SHA", "SSLv3", 256))
        assert exchange(sock, verify_frame(certs["https"].der))[1][7] == b"\x00"
    with connect(tvs.address) as sock:
        assert sock.version() == "TLSv1.2"  # never above 1.2, like the CUCM TVS


@pytest.mark.parametrize("dialect", [";", ","])
def test_query_by_subject_issuer_serial(tvs: TvsEndpoint, events: EventLog,
                                        certs: dict[str, Ident], dialect: str) -> None:
    subject = dialect.join(["CN=SAST Test", "OU=Test", "O=Lab", "C=AU"]).encode()
    issuer = dialect.join(["cn=stormin-CA", "ou=Test", "o=Lab", "c=AU"]).encode()
    request = frame(3, 1001, tlv(1, b"\x01" + DEVICE), tlv(3, subject + b"\x00"),
                    tlv(4, issuer + b"\x00"), tlv(5, bytes.fromhex("0A1B2C3D")))
    with connect(tvs.address) as sock:
        header, elements = exchange(sock, request)
    assert header[2] == 4 and header[4] == 1001
    assert elements[7] == b"\x00" and elements[8] == b"\x00\x03"
    assert elements[9] == struct.pack(">I", 86400)
    assert elements[2] == certs["sast"].cert.public_bytes(Encoding.DER)
    assert events.of_kind("tvs.query")[-1].data["status"] == "valid"


def test_query_unknown_serial_or_wrong_subject_is_status_1(tvs: TvsEndpoint) -> None:
    issuer = tlv(4, b"CN=stormin-CA,OU=Test,O=Lab,C=AU\x00")
    with connect(tvs.address) as sock:
        unknown = frame(3, 5, tlv(1, b"\x01" + DEVICE), issuer, tlv(5, b"\x0a\x1b\x2c\x3e"))
        assert exchange(sock, unknown)[1] == {7: b"\x01"}
        liar = frame(3, 5, tlv(1, b"\x01" + DEVICE), tlv(3, b"CN=evil\x00"), issuer,
                     tlv(5, bytes.fromhex("0A1B2C3D")))
        assert exchange(sock, liar)[1] == {7: b"\x01"}


def test_trust_store_change_is_visible_on_the_same_connection(
        tvs: TvsEndpoint, store: TrustStore, certs: dict[str, Ident]) -> None:
    with connect(tvs.address) as sock:
        assert exchange(sock, verify_frame(certs["stranger"].der))[1][7] == b"\x01"
        store.add(certs["stranger"].cert, [21], ttl=5)
        assert exchange(sock, verify_frame(certs["stranger"].der))[1] == {
            7: b"\x00", 8: bytes([21]), 9: struct.pack(">I", 5)}
        store.remove(certs["stranger"].cert)
        assert exchange(sock, verify_frame(certs["stranger"].der))[1][7] == b"\x01"


def test_unverifiable_but_well_framed_gets_status_1_and_keeps_the_connection(
        tvs: TvsEndpoint, events: EventLog, certs: dict[str, Ident]) -> None:
    with connect(tvs.address) as sock:
        no_device = frame(1, 7, tlv(2, certs["https"].der), tlv(99, b"unknown tag"))
        assert exchange(sock, no_device)[1] == {7: b"\x01"}
        bad_name = verify_frame(certs["https"].der, session=7, device=b"SEP001122334455")
        assert exchange(sock, bad_name)[1] == {7: b"\x01"}
        assert exchange(sock, verify_frame(certs["https"].der, session=7))[1][7] == b"\x00"
    reasons = [e.data.get("reason") for e in events.of_kind("tvs.verify")]
    assert reasons == ["missing or malformed DEVICE_NAME"] * 2 + [None]


def test_session_id_is_echoed_and_may_not_change(tvs: TvsEndpoint, events: EventLog,
                                                 certs: dict[str, Ident]) -> None:
    with connect(tvs.address) as sock:
        assert exchange(sock, verify_frame(certs["https"].der, session=1001))[0][4] == 1001
        assert exchange(sock, verify_frame(certs["https"].der, session=1001))[0][4] == 1001
        sock.sendall(verify_frame(certs["https"].der, session=1002))
        assert closed_by_peer(sock)
    assert "session id 1002 after 1001" in error_event(events).data["reason"]


@pytest.mark.parametrize(
    ("request_bytes", "reason"),
    [
        (frame(1, 1, tlv(2, b"x"), proto=0x55), "protocol id"),
        (frame(1, 1, tlv(2, b"x"), version=2), "version"),
        (frame(2, 1, tlv(7, b"\x00")), "not a TVS request"),
        (frame(1, 1, struct.pack(">BH", 2, 50) + b"short"), "runs past"),
        (b"\x57\x01\x01", "idle timeout"),  # truncated header, then silence
        (frame(1, 1, tlv(2, b"cert"))[:-2], "idle timeout"),  # payload shorter than length
    ],
    ids=["protocol-id", "version", "not-a-request", "element-overrun", "truncated-header",
         "payload-beyond-data"],
)
def test_framing_errors_close_the_connection(tvs: TvsEndpoint, events: EventLog,
                                             request_bytes: bytes, reason: str) -> None:
    with connect(tvs.address) as sock:
        sock.sendall(request_bytes)
        assert closed_by_peer(sock)
    assert reason in error_event(events).data["reason"]


def test_peer_closing_mid_header_is_reported(tvs: TvsEndpoint, events: EventLog) -> None:
    with connect(tvs.address) as sock:
        sock.sendall(b"\x57\x01\x01\x00")
    assert "truncated header" in error_event(events).data["reason"]


def test_garbage_on_the_port_then_a_good_request(tvs: TvsEndpoint, events: EventLog,
                                                 certs: dict[str, Ident]) -> None:
    with socket.create_connection(tvs.address, timeout=3) as raw:
        raw.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)))
        assert closed_by_peer(raw)
    assert "SSL" in error_event(events).data["reason"]
    with connect(tvs.address) as sock:
        assert exchange(sock, verify_frame(certs["https"].der))[1][7] == b"\x00"


def test_silent_tcp_client_is_timed_out_without_blocking_others(
        tvs: TvsEndpoint, events: EventLog, certs: dict[str, Ident]) -> None:
    with socket.create_connection(tvs.address, timeout=3) as idle:
        with connect(tvs.address) as sock:
            assert exchange(sock, verify_frame(certs["https"].der))[1][7] == b"\x00"
        assert closed_by_peer(idle)
    assert "handshake" in error_event(events).data["reason"]


def test_client_that_does_not_trust_the_server_fails(tvs: TvsEndpoint, events: EventLog,
                                                     certs: dict[str, Ident]) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.load_verify_locations(cadata=certs["stranger"].cert.public_bytes(Encoding.PEM).decode())
    with socket.create_connection(tvs.address, timeout=3) as raw, pytest.raises(
            ssl.SSLCertVerificationError):
        ctx.wrap_socket(raw)
    assert "unknown ca" in error_event(events).data["reason"].lower()


def test_stop_drops_connections_and_restart_keeps_the_port(
        tvs: TvsEndpoint, certs: dict[str, Ident]) -> None:
    port = tvs.address[1]
    with connect(tvs.address) as sock:
        assert exchange(sock, verify_frame(certs["https"].der))[1][7] == b"\x00"
        tvs.stop()
        assert closed_by_peer(sock)
    tvs.start()
    assert tvs.address[1] == port
    with connect(tvs.address) as sock:
        assert exchange(sock, verify_frame(certs["https"].der))[1][7] == b"\x00"
