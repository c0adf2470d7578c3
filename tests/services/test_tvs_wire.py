"""TVS codec: frames and elements as docs/PROTOCOLS.md §5.2-5.5 lays them out."""

from __future__ import annotations

import struct

import pytest

from harness.formats.errors import FormatError
from harness.services import tvs_wire as wire

DEVICE = "CP-8861-SEPB000B4BA0AEE"


def test_verify_request_bytes_match_the_cucm_log_header() -> None:
    frame = wire.build_verify_request(1002, DEVICE, b"\x30\x03\x02\x01\x05")
    assert frame[:8] == bytes.fromhex("57 01 01 00 00 00 03 EA")
    assert struct.unpack(">H", frame[8:10])[0] == len(frame) - 10
    # DEVICE_NAME: tag 1, length 24, 0x01 prefix, then the name without terminator
    assert frame[10:13] == b"\x01\x00\x18" and frame[13:37] == b"\x01" + DEVICE.encode()
    assert frame[37:40] == b"\x02\x00\x05"


def test_query_request_layout_follows_the_decoded_dump() -> None:
    subject = "CN=ucm11pub.stormin.local;OU=IST;O=Stormin;L=Brisbane;ST=QLD;C=AU"
    serial = int("24000000179479B8F124AC3F3B000000000017", 16)
    frame = wire.build_query_request(1001, DEVICE, subject, "CN=stormin-WIN2012-CA", serial)
    assert len(frame) == 153  # the dump: 10 + 143
    assert frame[:10] == bytes.fromhex("57 01 03 00 000003E9 008F")
    message = wire.parse_message(frame)
    query = wire.decode_request(message)
    assert (query.device_name, query.subject) == (DEVICE, subject)
    assert (query.issuer, query.serial) == ("CN=stormin-WIN2012-CA", serial)


def test_query_elements_are_told_apart_by_content_not_tag() -> None:
    """Harness rule §5.5.3: among tags 4-6, a zstring with `=` is the issuer."""
    swapped = [(1, b"\x01" + DEVICE.encode()), (3, b"CN=x\x00"), (6, b"\x0a\x1b"),
               (4, b"CN=CA,O=Lab\x00")]
    query = wire.decode_request(wire.parse_message(wire.encode_message(3, 7, swapped)))
    assert (query.subject, query.issuer, query.serial) == ("CN=x", "CN=CA,O=Lab", 0x0A1B)
    # raw serial bytes that happen to hold 0x3D and end in 0x00 but are not UTF-8 text
    odd = [(4, b"CN=CA\x00"), (5, b"\xff\x3d\x00")]
    query = wire.decode_request(wire.parse_message(wire.encode_message(3, 7, odd)))
    assert (query.issuer, query.serial, query.device_name) == ("CN=CA", 0xFF3D00, None)


def test_responses_trusted_and_not() -> None:
    ok = wire.build_response(2, 5, wire.Response(0, (0, 3), 86400))
    assert ok[10:] == bytes.fromhex("07 0001 00  08 0002 00 03  09 0004 00015180")
    bad = wire.build_response(2, 5, wire.Response(1, (0, 3), 86400))
    assert bad[10:] == bytes.fromhex("07 0001 01")
    full = wire.build_response(4, 5, wire.Response(0, (21,), 60, b"DER"))
    answer = wire.decode_response(wire.parse_message(full))
    assert answer == wire.Response(0, (21,), 60, b"DER")
    assert [t for t, _ in wire.parse_message(full).elements] == [7, 2, 8, 9]


def test_reserved_byte_is_ignored_and_version_zero_accepted() -> None:
    frame = bytearray(wire.build_response(4, 1001, wire.Response(1)))
    frame[1], frame[3] = 0, 0xF7  # CUCM answers were seen with F5/F7
    header = wire.parse_message(bytes(frame)).header
    assert (header.command, header.session_id, header.reserved) == (4, 1001, 0xF7)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"\x57\x01\x01\x00\x00", "truncated header"),
        (b"\x58\x01\x01\x00\x00\x00\x00\x01\x00\x00", "protocol id"),
        (b"\x57\x02\x01\x00\x00\x00\x00\x01\x00\x00", "version"),
        (b"\x57\x01\x01\x00\x00\x00\x00\x01\x00\x09\x02\x00\x01", "header says"),
        (b"\x57\x01\x01\x00\x00\x00\x00\x01\x00\x04\x02\x00\x05\x00", "runs past"),
        (b"\x57\x01\x01\x00\x00\x00\x00\x01\x00\x02\x02\x00", "truncated element"),
    ],
)
def test_malformed_frames_raise_format_error(frame: bytes, reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        wire.parse_message(frame)


def test_content_problems_are_not_framing_problems() -> None:
    """Missing elements decode to None (the server answers STATUS 1, not a close)."""
    message = wire.parse_message(wire.encode_message(1, 1, [(99, b"junk")]))
    assert wire.decode_request(message) == wire.Request(None)
    with pytest.raises(FormatError, match="STATUS"):
        wire.decode_response(message)


@pytest.mark.parametrize(
    ("name", "phone"),
    [(DEVICE, "SEPB000B4BA0AEE"), ("CP-7962G-SEPaabbccddeeff", "SEPAABBCCDDEEFF"),
     ("CP-8861-SEPB000B4BA0AE", None), ("SEPB000B4BA0AEE", None), (None, None)],
)
def test_phone_key_from_device_name(name: str | None, phone: str | None) -> None:
    assert wire.phone_of(name) == phone


def test_oversized_elements_are_refused_at_build_time() -> None:
    with pytest.raises(ValueError, match="65535"):
        wire.encode_message(1, 1, [(2, bytes(70000))])
    with pytest.raises(ValueError):
        wire.build_response(2, 1, wire.Response(0, (300,), 1))
