"""The SCCP codec against the literal forms of docs/REAL_WIRE.md §3 and random bytes."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.formats.errors import FormatError
from harness.services import sccp_wire as wire
from tests.services.sccp_station import frame, register_body

DEVICE = "SEP001122334455"


def test_keepalive_is_the_twelve_bytes_of_the_spec() -> None:
    assert wire.encode(wire.KeepAlive()) == bytes.fromhex("040000000000000000000000")


@pytest.mark.parametrize("size", [32, 36, 44, 68, 124, 172])
def test_every_register_length_parses(size: int) -> None:
    message = wire.Register.parse(register_body(DEVICE, size=size, ip="10.1.2.3"))
    assert message.device_name == DEVICE and message.station_ip == "10.1.2.3"
    assert message.device_type == 404 and message.length == size
    assert message.protocol == (17 if size >= 44 else 0)
    assert message.mac == ("001122334455" if size >= 64 else "")
    assert message.load_name == ("SCCP42.9-4-2SR3-1S" if size >= 124 else "")
    assert message.config_stamp == ("stamp-1234" if size > 124 else None)


def test_register_ascii_mac_form_of_the_6961() -> None:
    body = register_body(DEVICE, mac=b"001122AABBCC", protocol=15, instance=1)
    message = wire.Register.parse(body)
    assert message.mac == "001122AABBCC" and message.mac_ascii and message.instance == 1


def test_register_round_trip_keeps_the_79x1_form() -> None:
    original = wire.Register(DEVICE, station_ip="127.0.0.9", device_type=434, protocol=17,
                             features=0x8572, mac="001122334455", load_name="SCCP42.9-4-2S")
    data = wire.encode(original, 0x11)
    assert struct.unpack_from("<III", data) == (128, 0x11, 1)  # §3.3: length 0x80
    assert data[12 + 92:12 + 105] == b"SCCP42.9-4-2S"
    assert data[12 + 24:12 + 28] == bytes([127, 0, 0, 9])  # network order
    assert wire.decode(wire.split_frame(data)[0]) == original  # type: ignore[index]


def test_register_ack_layout() -> None:
    body = wire.RegisterAck(30, "M/D/YA", 60, 17, features=0x8572).encode_body()
    assert body == struct.pack("<I", 30) + b"M/D/YA" + bytes(2) + struct.pack(
        "<IBBH", 60, 17, 0, 0x8572)


def test_splitter_handles_many_per_segment_and_partial_frames() -> None:
    stream = frame(0) + frame(0x9F, struct.pack("<I", 2), 0x11) + frame(0x100)
    splitter = wire.FrameSplitter()
    got = []
    for i in range(0, len(stream), 5):
        got += splitter.feed(stream[i:i + 5])
    assert [f.message_id for f in got] == [0, 0x9F, 0x100] and splitter.pending == 0
    assert wire.decode(got[1]) == wire.Reset(2)
    assert wire.FrameSplitter().feed(stream) == got


def test_unknown_message_ids_decode_as_unknown() -> None:
    assert wire.decode(wire.Frame(0x0099, b"xy")) == wire.Unknown(0x0099, b"xy")


@pytest.mark.parametrize("data", [
    struct.pack("<III", 0, 0, 0),             # length 0: no message id
    struct.pack("<III", 3, 0, 0),
    struct.pack("<III", 1 << 20, 0, 1),       # huge
    struct.pack("<III", 4, 0x0C, 0),          # header version no phone uses
    struct.pack("<III", 4, 0xFFFFFFFF, 0),
], ids=["zero", "three", "huge", "version-12", "version-garbage"])
def test_bad_frame_headers_raise_format_error(data: bytes) -> None:
    with pytest.raises(FormatError):
        wire.FrameSplitter().feed(data)


@pytest.mark.parametrize("message_id, body", [
    (wire.MessageId.REGISTER, register_body(DEVICE, size=31)),
    (wire.MessageId.REGISTER, bytes(124)),                       # no device name
    (wire.MessageId.REGISTER, b"SEP\xff" + bytes(120)),          # not ASCII
    (wire.MessageId.RESET, b"\x01"),
    (wire.MessageId.CAPABILITIES_RES, struct.pack("<I", 2) + bytes(16)),
    (wire.MessageId.CAPABILITIES_RES, struct.pack("<I", 1000)),
    (wire.MessageId.BUTTON_TEMPLATE, struct.pack("<III", 0, 99, 99)),
    (wire.MessageId.ALARM, bytes(40)),
    (wire.MessageId.REGISTER_ACK, bytes(8)),
    (wire.MessageId.REGISTER_REJECT, b"short"),
])
def test_truncated_bodies_raise_format_error(message_id: int, body: bytes) -> None:
    with pytest.raises(FormatError):
        wire.decode(wire.Frame(message_id, body))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_format_error(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        for item in wire.FrameSplitter().feed(data):
            wire.decode(item)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(wire.MessageId)), st.binary(max_size=200))
def test_random_bodies_of_known_messages_raise_only_format_error(
        message_id: int, body: bytes) -> None:
    with contextlib.suppress(FormatError):
        wire.decode(wire.Frame(message_id, body))
