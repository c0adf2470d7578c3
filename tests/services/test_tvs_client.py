"""TvsClient against real TVS endpoints and against a hand-written TLS server."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from tvs_support import Ident, ident

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.formats.names import dn_string
from harness.services.truststore import TrustStore
from harness.services.tvs import TvsEndpoint
from harness.services.tvs_client import TvsClient, TvsServer, TvsUnavailable

DEVICE = "CP-7962-SEP001122334455"


@pytest.fixture
def certs() -> dict[str, Ident]:
    return {"node1": ident("tvs-node1", 0x21), "node2": ident("tvs-node2", 0x22, slot=2),
            "https": ident("dir.lab", 0x77, slot=1), "sast": ident("SAST Test", 0x0A1B2C3D)}


@pytest.fixture
def store(certs: dict[str, Ident]) -> TrustStore:
    store = TrustStore()
    store.add(certs["https"].cert, [7], ttl=3600)
    store.add(certs["sast"].cert, [0], ttl=60)
    return store


@pytest.fixture
def nodes(events: EventLog, loop: BackgroundLoop, certs: dict[str, Ident],
          store: TrustStore) -> Iterator[tuple[TvsEndpoint, TvsEndpoint]]:
    one = TvsEndpoint(events, loop, certs["node1"], store, node="node1")
    two = TvsEndpoint(events, loop, certs["node2"], store, node="node2")
    with one, two:
        yield one, two


def accept(*trusted: Ident) -> set[bytes]:
    return {t.der for t in trusted}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_verify_and_query(nodes: tuple[TvsEndpoint, TvsEndpoint], certs: dict[str, Ident]) -> None:
    one, _ = nodes
    client = TvsClient([(*one.address, 1)], accept(certs["node1"]).__contains__)
    result = client.verify_blocking(certs["https"].der, DEVICE)
    assert (result.valid, result.roles, result.ttl) == (True, (7,), 3600)
    assert result.server == one.address and not result.from_cache
    assert not client.verify_blocking(certs["node2"].der, DEVICE).valid
    sast = certs["sast"].cert
    issuer = dn_string(sast.issuer).replace(",", ";")
    answer = client.query_blocking(dn_string(sast.subject), issuer, sast.serial_number, DEVICE)
    assert answer.valid and answer.certificate == certs["sast"].der and answer.roles == (0,)


def test_failover_when_first_member_refuses_the_connection(
        nodes: tuple[TvsEndpoint, TvsEndpoint], events: EventLog,
        certs: dict[str, Ident]) -> None:
    _, two = nodes
    dead = ("127.0.0.1", free_port(), 1)
    client = TvsClient([(*two.address, 2), dead], accept(certs["node2"]).__contains__)
    assert [s.priority for s in client.servers] == [1, 2]
    result = client.verify_blocking(certs["https"].der, DEVICE)
    assert result.valid and result.server == two.address
    assert [e.data["node"] for e in events.of_kind("tvs.verify")] == ["node2"]


def test_failover_when_first_member_presents_an_unaccepted_cert(
        nodes: tuple[TvsEndpoint, TvsEndpoint], events: EventLog,
        certs: dict[str, Ident]) -> None:
    one, two = nodes
    client = TvsClient([TvsServer(*one.address, 1), TvsServer(*two.address, 2)],
                       accept(certs["node2"]).__contains__)
    result = client.verify_blocking(certs["https"].der, DEVICE)
    assert result.server == two.address
    assert [e.data["node"] for e in events.of_kind("tvs.verify")] == ["node2"]


def test_no_usable_member_raises_tvs_unavailable(
        nodes: tuple[TvsEndpoint, TvsEndpoint], certs: dict[str, Ident]) -> None:
    one, _ = nodes
    client = TvsClient([(*one.address, 1), ("127.0.0.1", free_port(), 2)],
                       accept(certs["https"]).__contains__)
    with pytest.raises(TvsUnavailable) as info:
        client.verify_blocking(certs["https"].der, DEVICE)
    assert len(info.value.failures) == 2 and "not an accepted" in info.value.failures[0]
    with pytest.raises(TvsUnavailable, match="none configured"):
        TvsClient([], lambda der: True).verify_blocking(certs["https"].der, DEVICE)


def test_positive_cache_avoids_connections_until_ttl_or_clear(
        nodes: tuple[TvsEndpoint, TvsEndpoint], events: EventLog,
        certs: dict[str, Ident]) -> None:
    one, _ = nodes
    now = [1000.0]
    client = TvsClient([(*one.address, 1)], accept(certs["node1"]).__contains__,
                       clock=lambda: now[0])
    first = client.verify_blocking(certs["https"].der, DEVICE)
    again = client.verify_blocking(certs["https"].der, DEVICE)
    assert not first.from_cache and again.from_cache and again.roles == first.roles
    assert len(events.of_kind("tvs.verify")) == 1
    for _ in range(2):  # negative answers are never cached
        client.verify_blocking(certs["node2"].der, DEVICE)
    assert len(events.of_kind("tvs.verify")) == 3
    now[0] += 3600  # TTL is 3600: expired
    assert not client.verify_blocking(certs["https"].der, DEVICE).from_cache
    client.clear_cache()
    assert not client.verify_blocking(certs["https"].der, DEVICE).from_cache
    assert len(events.of_kind("tvs.verify")) == 5


class HandWrittenTvs:
    """A TLS server from raw ssl + struct: records frames, answers per `behaviour`.

    Like tvsd it reads each request with a single recv, so it also checks that the
    client sends a frame in one write (one TLS record).
    """

    def __init__(self, ident_: Ident, tmp: Path, behaviour: str = "answer") -> None:
        pem = tmp / f"{behaviour}.pem"
        key = ident_.key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
        pem.write_bytes(ident_.cert.public_bytes(serialization.Encoding.PEM) + key)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pem)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = self.sock.getsockname()[:2]
        self.frames: list[bytes] = []
        self.behaviour = behaviour
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                data = tls.recv(65536)
                self.frames.append(data)
                if self.behaviour == "silent":
                    tls.recv(1)  # until the client gives up
                    continue
                session = struct.unpack_from(">I", data, 4)[0]
                if self.behaviour == "wrong-session":
                    session += 1
                payload = bytes.fromhex("070001 00 080002 0003 090004 00015180")
                tls.sendall(struct.pack(">BBBBIH", 0x57, 1, data[2] + 1, 0xF5, session,
                                        len(payload)) + payload)

    def close(self) -> None:
        self.sock.close()


def test_client_bytes_against_a_hand_written_server(tmp_path: Path,
                                                    certs: dict[str, Ident]) -> None:
    server = HandWrittenTvs(certs["node1"], tmp_path)
    try:
        client = TvsClient([(*server.address, 1)], accept(certs["node1"]).__contains__)
        result = client.verify_blocking(certs["https"].der, DEVICE)
        sast = certs["sast"].cert
        client.query_blocking("CN=SAST Test", "CN=SAST Test,O=Lab", sast.serial_number, DEVICE)
    finally:
        server.close()
    assert (result.status, result.roles, result.ttl) == (0, (0, 3), 86400)
    verify, query = server.frames
    assert verify[:8] == bytes.fromhex("57 01 01 00 000003E9")
    assert verify[10:13 + 24] == b"\x01\x00\x18\x01" + DEVICE.encode()
    assert verify[37:40] == b"\x02" + struct.pack(">H", len(certs["https"].der))
    assert query[:8] == bytes.fromhex("57 01 03 00 000003EA")  # next session id
    assert query.endswith(b"\x04\x00\x13CN=SAST Test,O=Lab\x00\x05\x00\x04\x0a\x1b\x2c\x3d")


@pytest.mark.parametrize("behaviour", ["silent", "wrong-session"])
def test_broken_first_member_fails_over(tmp_path: Path, nodes: tuple[TvsEndpoint, TvsEndpoint],
                                        certs: dict[str, Ident], behaviour: str) -> None:
    bad = HandWrittenTvs(certs["node1"], tmp_path, behaviour)
    try:
        client = TvsClient([(*bad.address, 1), (*nodes[1].address, 2)],
                           accept(certs["node1"], certs["node2"]).__contains__, timeout=0.5)
        assert client.verify_blocking(certs["https"].der, DEVICE).server == nodes[1].address
    finally:
        bad.close()


def test_many_concurrent_requests_on_one_loop(nodes: tuple[TvsEndpoint, TvsEndpoint],
                                              certs: dict[str, Ident]) -> None:
    client = TvsClient([(*nodes[0].address, 1)], accept(certs["node1"]).__contains__)

    async def burst() -> list[bool]:
        results = await asyncio.gather(*(client.verify(certs["https"].der, DEVICE)
                                         for _ in range(20)))
        return [r.valid for r in results]

    assert all(asyncio.run(burst()))
