"""The TFTP endpoint's serving limit (docs/DESIGN.md "TFTP serving limit"): at most
`serving_limit` transfers at once, later requests wait in arrival order, a full queue
drops requests unanswered. Raw UDP sockets on loopback play the phones, so the tests
decide exactly when each phone acknowledges; tftpy's client is the independent peer for
a queued download that must still arrive whole."""

from __future__ import annotations

import io
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
import tftpy

from harness.events import EventLog
from harness.services.tftp import TftpEndpoint
from harness.services.tftp_files import MappingSource

ITL = bytes(range(256)) * 23 + b"tail"  # 5892 bytes: 12 blocks of 512
NAME = b"ITLFile.tlv"
QUIET = 0.4  # s: long enough to tell "no answer" from a loopback answer


def rrq(name: bytes = NAME) -> bytes:
    return struct.pack("!H", 1) + name + b"\0octet\0"


class Phone:
    """One raw client socket: send RRQs, read DATA, acknowledge when told."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2.0)

    def ask(self, endpoint: TftpEndpoint) -> None:
        self.sock.sendto(rrq(), endpoint.address)

    def data(self, timeout: float = 2.0) -> tuple[int, bytes, tuple[str, int]]:
        self.sock.settimeout(timeout)
        packet, peer = self.sock.recvfrom(2048)
        opcode, block = struct.unpack("!HH", packet[:4])
        assert opcode == 3, f"expected DATA, got opcode {opcode}"
        return block, packet[4:], peer

    def silent(self) -> bool:
        self.sock.settimeout(QUIET)
        try:
            self.sock.recvfrom(2048)
        except TimeoutError:
            return True
        return False

    def finish(self, block: int, payload: bytes, peer: tuple[str, int]) -> bytes:
        """Acknowledge from `block` on until the short last block; the whole file."""
        received = payload
        while True:
            self.sock.sendto(struct.pack("!HH", 4, block), peer)
            if len(payload) < 512:
                return received
            block, payload, _ = self.data()
            received += payload

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def events() -> EventLog:
    return EventLog()


def serving(events: EventLog, *, limit: int, queue: int) -> TftpEndpoint:
    return TftpEndpoint(MappingSource({"ITLFile.tlv": ITL}), events, timeout=0.5, retries=4,
                        serving_limit=limit, queue_limit=queue)


@pytest.fixture
def phones() -> Iterator[list[Phone]]:
    made: list[Phone] = []
    yield made
    for phone in made:
        phone.close()


def new_phone(phones: list[Phone]) -> Phone:
    phones.append(Phone())
    return phones[-1]


Held = tuple[int, bytes, tuple[str, int]]  # DATA 1 received, not yet acknowledged


def holding(tftp: TftpEndpoint, phones: list[Phone]) -> tuple[Phone, Held]:
    """A phone whose transfer is under way: it holds the only serving slot."""
    holder = new_phone(phones)
    holder.ask(tftp)
    return holder, holder.data()


def test_a_request_beyond_the_limit_waits_until_a_transfer_ends(
        events: EventLog, phones: list[Phone]) -> None:
    with serving(events, limit=1, queue=10) as tftp:
        first, (block, payload, peer) = holding(tftp, phones)
        second = new_phone(phones)
        second.ask(tftp)
        assert second.silent(), "the second request was served beside the first"
        assert first.finish(block, payload, peer) == ITL
        block, payload, peer = second.data()
        assert block == 1
        assert second.finish(block, payload, peer) == ITL
    assert [e.data["result"] for e in events.of_kind("tftp.rrq")] == ["ok", "ok"]


def test_a_retransmitted_request_keeps_its_place_and_starts_one_transfer(
        events: EventLog, phones: list[Phone]) -> None:
    with serving(events, limit=1, queue=10) as tftp:
        first, (block, payload, peer) = holding(tftp, phones)
        second = new_phone(phones)
        for _ in range(3):  # the waiting phone's RRQ retransmissions
            second.ask(tftp)
        first.finish(block, payload, peer)
        block, payload, peer = second.data()
        assert second.finish(block, payload, peer) == ITL
        assert second.silent(), "a retransmitted RRQ started a second transfer"
    assert len(events.of_kind("tftp.rrq")) == 2


def test_requests_wait_in_arrival_order(events: EventLog, phones: list[Phone]) -> None:
    with serving(events, limit=1, queue=10) as tftp:
        holder, held = holding(tftp, phones)
        waiting = [new_phone(phones) for _ in range(3)]
        for phone in waiting:
            phone.ask(tftp)
            assert phone.silent()
        holder.finish(*held)
        for index, phone in enumerate(waiting):
            block, payload, peer = phone.data()
            for later in waiting[index + 1:]:
                assert later.silent(), "a later request was served before an earlier one"
            phone.finish(block, payload, peer)


def test_a_full_queue_drops_the_request_unanswered_and_its_retry_is_served(
        events: EventLog, phones: list[Phone]) -> None:
    with serving(events, limit=1, queue=0) as tftp:
        first, held = holding(tftp, phones)
        second = new_phone(phones)
        second.ask(tftp)
        assert second.silent(), "a request beyond limit and queue was answered"
        busy = events.wait_for(lambda e: e.kind == "tftp.busy", timeout=2, what="tftp.busy")
        assert busy.data["file"] == "ITLFile.tlv"
        first.finish(*held)
        second.ask(tftp)  # the phone's retransmission after its timeout
        block, payload, peer = second.data()
        assert second.finish(block, payload, peer) == ITL


def test_a_waiting_phone_that_left_does_not_hold_the_queue(
        events: EventLog, phones: list[Phone]) -> None:
    with serving(events, limit=1, queue=10) as tftp:
        first, held = holding(tftp, phones)
        gone, third = new_phone(phones), new_phone(phones)
        gone.ask(tftp)
        third.ask(tftp)
        gone.close()  # gave up: its port is closed when its turn comes
        first.finish(*held)
        block, payload, peer = third.data(timeout=2.0)  # well before gone's retry budget
        assert third.finish(block, payload, peer) == ITL
        failed = events.wait_for(lambda e: e.kind == "tftp.rrq" and e.data["result"] == "error",
                                 timeout=2, what="the departed phone's transfer ending")
        assert failed.data["bytes"] <= 512


def test_a_queued_download_arrives_whole_for_tftpy(events: EventLog, phones: list[Phone]) -> None:
    with serving(events, limit=1, queue=10) as tftp:
        holder, held = holding(tftp, phones)
        out = io.BytesIO()
        client = tftpy.TftpClient(*tftp.address)
        thread = threading.Thread(target=client.download, args=("ITLFile.tlv", out),
                                  kwargs={"timeout": 1, "retries": 5}, daemon=True)
        thread.start()
        time.sleep(QUIET)  # tftpy's RRQ arrives and waits behind the holder
        assert thread.is_alive(), "tftpy was served beside the transfer in progress"
        holder.finish(*held)
        thread.join(10)
        assert not thread.is_alive()
        assert out.getvalue() == ITL


@pytest.mark.parametrize(("limit", "queue"), [(0, 10), (1, -1)])
def test_a_limit_below_one_or_a_negative_queue_is_refused(limit: int, queue: int) -> None:
    with pytest.raises(ValueError, match="serving_limit"):
        serving(EventLog(), limit=limit, queue=queue)
