"""ReadTransfer (the endpoint's DATA/ACK engine) on a socket pair, and the endpoint's
handling of a client's retransmitted RRQ, with raw packets."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from harness.events import EventLog
from harness.services.tftp import TftpEndpoint
from harness.services.tftp_files import MappingSource
from harness.services.tftp_transfer import ReadTransfer, TransferError

DATA = bytes(range(256)) * 4 + b"xy"  # 1026 bytes: blocks of 512, 512, 2


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    client.settimeout(1)
    yield server, client
    server.close()
    client.close()


def ack(block: int) -> bytes:
    return struct.pack("!HH", 4, block)


def test_lock_step_blocks_then_done(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    transfer = ReadTransfer(server, DATA, {})
    transfer.start(0.0)
    got = b""
    for block in (1, 2, 3):
        packet = client.recv(600)
        assert packet[:4] == struct.pack("!HH", 3, block)
        got += packet[4:]
        done = transfer.receive(ack(block), 0.1)
        assert done == (block == 3)
    assert got == DATA and transfer.bytes_sent == len(DATA)


def test_oack_echoes_options_with_the_real_size(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    transfer = ReadTransfer(server, DATA, {"tsize": "0", "blksize": "1024"})
    transfer.start(0.0)
    assert client.recv(600) == b"\x00\x06tsize\x001026\x00blksize\x001024\x00"
    assert transfer.bytes_sent == 0
    transfer.receive(ack(0), 0.1)
    assert client.recv(2000) == struct.pack("!HH", 3, 1) + DATA[:1024]


def test_stale_ack_is_ignored_and_silence_is_retried_then_fatal(
        pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    transfer = ReadTransfer(server, DATA, {})
    transfer.start(0.0)
    client.recv(600)
    transfer.receive(ack(1), 0.1)
    client.recv(600)  # block 2
    assert transfer.receive(ack(1), 0.2) is False  # duplicate: no resend (no apprentice)
    client.settimeout(0.05)
    with pytest.raises(TimeoutError):
        client.recv(600)
    transfer.tick(0.5, timeout=1.0, retries=1)  # not yet silent for a timeout
    transfer.tick(1.2, timeout=1.0, retries=1)  # resend block 2
    assert client.recv(600)[:4] == struct.pack("!HH", 3, 2)
    with pytest.raises(TransferError, match="no ACK after 1 retries"):
        transfer.tick(2.5, timeout=1.0, retries=1)


@pytest.mark.parametrize(("packet", "reason"), [
    (b"\x00\x05\x00\x03disk full\x00", "client sent error 3: disk full"),
    (b"\x00\x03\x00\x01", "opcode 3 where an ACK was expected"),
    (b"\x00\x04\x00", "malformed 3-byte packet"),
])
def test_error_or_garbage_from_the_client_ends_it(
        pair: tuple[socket.socket, socket.socket], packet: bytes, reason: str) -> None:
    transfer = ReadTransfer(pair[0], DATA, {})
    transfer.start(0.0)
    with pytest.raises(TransferError, match=reason):
        transfer.receive(packet, 0.1)


def test_a_retransmitted_rrq_does_not_start_a_second_transfer() -> None:
    events = EventLog()
    with TftpEndpoint(MappingSource({"ITLFile.tlv": DATA}), events, timeout=0.5) as endpoint, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        assert isinstance(endpoint, TftpEndpoint)
        sock.settimeout(1)
        request = b"\x00\x01ITLFile.tlv\x00octet\x00"
        sock.sendto(request, endpoint.address)
        first, tid = sock.recvfrom(600)
        sock.sendto(request, endpoint.address)  # our RRQ "timed out": ask again
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):  # no DATA 1 from a second transfer port
            sock.recvfrom(600)
        sock.settimeout(1)
        for block in (1, 2, 3):
            if block > 1:
                first, tid = sock.recvfrom(600)
            assert first[:4] == struct.pack("!HH", 3, block)
            sock.sendto(ack(block), tid)
        done = events.wait_for(lambda e: e.kind == "tftp.rrq", 2)
    assert done.data["result"] == "ok" and done.data["bytes"] == len(DATA)
    assert len(events.of_kind("tftp.rrq")) == 1
