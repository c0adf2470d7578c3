"""TftpEndpoint over real UDP on loopback: tftpy's client as the independent peer,
raw sockets for hostile and malformed packets."""

from __future__ import annotations

import io
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
import tftpy

from harness.errors import LabError
from harness.events import Event, EventLog
from harness.services.tftp import TftpEndpoint
from harness.services.tftp_files import MappingSource

ITL = bytes(range(256)) * 23 + b"tail"  # 5892 bytes: 12 blocks of 512
CONFIG = b"<device><deviceProtocol>SIP</deviceProtocol></device>"
PHONE, PHONE_IP = "SEP001122334455", "127.0.0.1"


@pytest.fixture
def events() -> EventLog:
    log = EventLog()
    log.bind_address(PHONE_IP, PHONE)
    return log


@pytest.fixture
def files() -> MappingSource:
    return MappingSource({"ITLFile.tlv": ITL, f"{PHONE}.cnf.xml": CONFIG})


@pytest.fixture
def tftp(files: MappingSource, events: EventLog) -> Iterator[TftpEndpoint]:
    with TftpEndpoint(files, events, timeout=0.3, retries=2) as endpoint:
        assert isinstance(endpoint, TftpEndpoint)
        yield endpoint


def download(endpoint: TftpEndpoint, name: str, **options: Any) -> tuple[bytes, list[Any]]:
    """Fetch with tftpy's client; returns the bytes and every packet the client received."""
    out, seen = io.BytesIO(), list[Any]()
    client = tftpy.TftpClient(*endpoint.address, options=options)
    client.download(name, out, packethook=seen.append, timeout=1, retries=2)
    return out.getvalue(), seen


def rrq(name: bytes, *options: bytes, opcode: int = 1) -> bytes:
    return struct.pack("!H", opcode) + name + b"\0octet\0" + b"".join(o + b"\0" for o in options)


def exchange(endpoint: TftpEndpoint, packet: bytes, timeout: float = 2.0) -> tuple[bytes, Any]:
    """Send one datagram to the request port; return the first reply and where it came from."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, endpoint.address)
        return sock.recvfrom(70000)


def error_code(reply: bytes) -> int:
    opcode, code = struct.unpack("!HH", reply[:4])
    assert opcode == 5, f"expected a TFTP ERROR, got opcode {opcode}"
    return int(code)


def rrq_event(events: EventLog, mark: int, result: str) -> Event:
    return events.wait_for(lambda e: e.kind == "tftp.rrq" and e.data["result"] == result,
                           timeout=2, after=mark, what=f"tftp.rrq {result}")


def test_download_matches_and_records_the_phone(tftp: TftpEndpoint, events: EventLog) -> None:
    data, _ = download(tftp, "ITLFile.tlv")
    assert data == ITL
    event = rrq_event(events, 0, "ok")
    assert event.phone == PHONE
    assert event.data == {"file": "ITLFile.tlv", "result": "ok", "bytes": len(ITL),
                          "peer": PHONE_IP}
    assert download(tftp, f"/{PHONE}.cnf.xml")[0] == CONFIG  # one leading '/' is the root


def test_missing_file_is_error_1_and_not_found(tftp: TftpEndpoint, events: EventLog) -> None:
    reply, _ = exchange(tftp, rrq(b"CTLSEP001122334455.tlv"))
    assert error_code(reply) == 1
    assert rrq_event(events, 0, "not_found").data["file"] == "CTLSEP001122334455.tlv"
    with pytest.raises(tftpy.TftpShared.TftpFileNotFoundError):
        download(tftp, "/etc/passwd")  # stripped of one '/', it names root/etc/passwd: absent


@pytest.mark.parametrize("name", [
    b"../x", b"a/../../b", b"//etc/passwd", b"a\\b", b"ITLFile.tlv\0../../etc/passwd",
    b"x" * 300, b"private/key.pem", b"tftp.key", b"\xff.tlv", b"a//b", b"",
])
def test_hostile_names_are_error_2_then_service_goes_on(
    tftp: TftpEndpoint, events: EventLog, name: bytes,
) -> None:
    reply, _ = exchange(tftp, rrq(name))
    assert error_code(reply) == 2
    assert rrq_event(events, 0, "denied").data["reason"]
    assert download(tftp, "ITLFile.tlv")[0] == ITL


def test_private_key_content_is_denied_whatever_the_source(events: EventLog) -> None:
    class Leaky:
        def lookup(self, name: str) -> bytes | None:
            return b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"

    with TftpEndpoint(Leaky(), events) as endpoint:
        assert isinstance(endpoint, TftpEndpoint)
        assert error_code(exchange(endpoint, rrq(b"tftp.pem"))[0]) == 2
    assert "private key" in rrq_event(events, 0, "denied").data["reason"]


def test_broken_source_is_error_0_and_recorded(events: EventLog) -> None:
    class Broken:
        def lookup(self, name: str) -> bytes | None:
            raise RuntimeError("disk on fire")

    with TftpEndpoint(Broken(), events) as endpoint:
        assert isinstance(endpoint, TftpEndpoint)
        assert error_code(exchange(endpoint, rrq(b"ITLFile.tlv"))[0]) == 0
        assert error_code(exchange(endpoint, rrq(b"ITLFile.tlv"))[0]) == 0  # still serving
    assert "disk on fire" in rrq_event(events, 0, "error").data["reason"]


@pytest.mark.parametrize("packet", [
    b"\x00\x09junk\x00octet\x00",  # unknown opcode
    b"\x00\x01", b"\x00\x01ITLFile.tlv",  # truncated requests
    b"\x00\x04\x00",  # a 3-byte ACK kills tftpy's own server loop
    b"\x00\x01ITLFile.tlv\x00mail\x00",  # no octet/netascii mode
])
def test_malformed_packets_get_error_4_and_service_goes_on(
    tftp: TftpEndpoint, events: EventLog, packet: bytes,
) -> None:
    reply, _ = exchange(tftp, packet)
    assert error_code(reply) == 4
    events.wait_for(lambda e: e.kind == "tftp.error", timeout=2)
    assert download(tftp, "ITLFile.tlv")[0] == ITL


def test_error_packets_are_recorded_never_answered(tftp: TftpEndpoint, events: EventLog) -> None:
    with pytest.raises(TimeoutError):
        exchange(tftp, b"\x00\x05\x00\x01nope\x00", timeout=0.3)
    assert events.wait_for(lambda e: e.kind == "tftp.error", timeout=2).phone == PHONE
    assert download(tftp, "ITLFile.tlv")[0] == ITL


def test_write_requests_are_refused(tftp: TftpEndpoint, events: EventLog) -> None:
    reply, _ = exchange(tftp, rrq(b"upload.bin", opcode=2))
    assert error_code(reply) == 2
    with pytest.raises(tftpy.TftpShared.TftpException, match="errorcode = 2"):
        tftpy.TftpClient(*tftp.address, flock=False).upload("x.bin", io.BytesIO(b"x"), timeout=1)
    assert "write request refused" in events.of_kind("tftp.error")[0].data["reason"]
    assert events.of_kind("tftp.error")[0].data["file"] == "upload.bin"


def test_blksize_is_negotiated_and_honoured(tftp: TftpEndpoint) -> None:
    data, seen = download(tftp, "ITLFile.tlv", blksize=1024)
    assert data == ITL
    oack = [p for p in seen if isinstance(p, tftpy.TftpPacketTypes.TftpPacketOACK)]
    assert [p.options for p in oack] == [{"blksize": "1024"}]
    blocks = [len(p.data) for p in seen if isinstance(p, tftpy.TftpPacketTypes.TftpPacketDAT)]
    assert blocks == [1024] * 5 + [len(ITL) - 5 * 1024]


def test_oack_echoes_only_what_was_asked(tftp: TftpEndpoint) -> None:
    reply, _ = exchange(tftp, rrq(b"ITLFile.tlv", b"tsize", b"0"))
    assert reply == b"\x00\x06tsize\x00" + str(len(ITL)).encode() + b"\x00"  # no blksize
    reply, _ = exchange(tftp, rrq(b"ITLFile.tlv", b"windowsize", b"8"))
    assert reply[:4] == b"\x00\x03\x00\x01"  # unsupported option only: plain DATA, no OACK
    reply, _ = exchange(tftp, rrq(b"ITLFile.tlv", b"blksize", b"abc"))
    assert reply[:4] == b"\x00\x03\x00\x01" and len(reply) == 516  # nonsense ignored: 512
    reply, _ = exchange(tftp, rrq(b"ITLFile.tlv", b"blksize", b"70000"))
    assert reply == b"\x00\x06blksize\x0065464\x00"  # clamped to what fits a datagram


def test_data_comes_from_a_new_port_on_the_endpoint_address(events: EventLog) -> None:
    with TftpEndpoint(MappingSource({"a": b"x"}), events, host="127.0.0.2") as endpoint:
        assert isinstance(endpoint, TftpEndpoint)
        reply, source = exchange(endpoint, rrq(b"a"))
        assert reply == b"\x00\x03\x00\x01x"
        assert source[0] == "127.0.0.2" and source[1] != endpoint.address[1]


def test_mapping_swap_is_seen_by_the_next_request(tftp: TftpEndpoint, files: MappingSource) -> None:
    assert download(tftp, "ITLFile.tlv")[0] == ITL
    files.replace({"ITLFile.tlv": b"regenerated ITL"})
    assert download(tftp, "ITLFile.tlv")[0] == b"regenerated ITL"


def test_unacknowledged_data_is_resent_then_given_up(tftp: TftpEndpoint, events: EventLog) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(rrq(b"ITLFile.tlv"), tftp.address)
        first, _ = sock.recvfrom(600)
        again, _ = sock.recvfrom(600)  # we never ACK: the endpoint retransmits block 1
        assert first == again and first[:4] == b"\x00\x03\x00\x01"
        event = rrq_event(events, 0, "error")  # socket still open: only the retries end it
    assert event.data["reason"] == "no ACK after 2 retries"
    assert event.data["bytes"] == 512


def test_a_vanished_client_ends_its_transfer_at_once(tftp: TftpEndpoint, events: EventLog) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(rrq(b"ITLFile.tlv"), tftp.address)
        sock.recvfrom(600)
    # the port is closed now: the retransmission draws an ICMP port unreachable
    assert "ConnectionRefused" in rrq_event(events, 0, "error").data["reason"]
    assert download(tftp, "ITLFile.tlv")[0] == ITL


def test_stop_is_prompt_releases_the_port_and_restart_keeps_it(
    tftp: TftpEndpoint, events: EventLog,
) -> None:
    port = tftp.address[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # a transfer left hanging
        sock.sendto(rrq(b"ITLFile.tlv"), tftp.address)
        sock.settimeout(2)
        sock.recvfrom(600)
        started = time.monotonic()
        tftp.stop()
        assert time.monotonic() - started < 1.0
    assert not tftp.running
    assert rrq_event(events, 0, "error").data["reason"] == "server stopped"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", port))  # released
    tftp.start()
    assert tftp.address == ("127.0.0.1", port)
    assert download(tftp, "ITLFile.tlv")[0] == ITL


def test_busy_port_is_a_lab_error(tftp: TftpEndpoint, events: EventLog) -> None:
    other = TftpEndpoint(MappingSource(), events, port=tftp.address[1])
    with pytest.raises(LabError, match="Address already in use"):
        other.start()
    assert not other.running
    with pytest.raises(RuntimeError, match="not running"):
        _ = other.address


def test_a_stranger_on_the_transfer_port_gets_error_5_and_the_transfer_goes_on(
        tftp: TftpEndpoint, events: EventLog) -> None:
    """RFC 1350: a packet from another TID is answered with ERROR 5, not obeyed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        client.settimeout(2)
        stranger.settimeout(2)
        client.sendto(rrq(b"ITLFile.tlv"), tftp.address)
        first, transfer_port = client.recvfrom(70000)
        assert first[:4] == b"\x00\x03\x00\x01"
        stranger.sendto(b"\x00\x04\x00\x01", transfer_port)  # an ACK from the wrong port
        reply, source = stranger.recvfrom(100)
        assert error_code(reply) == 5 and source == transfer_port
        got = first[4:]
        block = 1
        while True:  # the real client finishes undisturbed
            client.sendto(struct.pack("!HH", 4, block), transfer_port)
            if len(first) < 516:
                break
            first, _ = client.recvfrom(70000)
            block += 1
            assert first[:4] == struct.pack("!HH", 3, block)
            got += first[4:]
        assert got == ITL
    assert rrq_event(events, 0, "ok").data["bytes"] == len(ITL)
    assert any("unknown transfer ID" in e.data.get("reason", "")
               for e in events.of_kind("tftp.error"))


def test_blksize_below_8_is_ignored_not_clamped(tftp: TftpEndpoint) -> None:
    reply, _ = exchange(tftp, rrq(b"ITLFile.tlv", b"blksize", b"0"))
    assert reply[:4] == b"\x00\x03\x00\x01" and len(reply) == 516  # plain 512-byte DATA


def test_an_icmp_error_about_a_stranger_does_not_end_the_transfer(
        tftp: TftpEndpoint, events: EventLog) -> None:
    """A stranger that pokes the transfer port and leaves draws ERROR 5 and then an ICMP
    port-unreachable; only an error about the client itself may end the transfer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(2)
        client.sendto(rrq(b"ITLFile.tlv"), tftp.address)
        _, transfer_port = client.recvfrom(70000)
        for _ in range(3):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hit_and_run:
                hit_and_run.sendto(b"\x00\x04\x00\x01", transfer_port)
            # closed at once: our ERROR 5 to it comes back as ICMP port unreachable
        time.sleep(0.2)
        client.sendto(struct.pack("!HH", 4, 1), transfer_port)
        second, _ = client.recvfrom(70000)
        assert second[:4] == b"\x00\x03\x00\x02"  # still going
