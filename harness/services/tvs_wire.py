"""TVS wire codec (docs/PROTOCOLS.md §5.2-5.5): frames, elements, requests, responses.

Kept pure (bytes in, objects out) so the server, the client, the twin phone and
the tests share one encoding and so malformed input can be tried without sockets.
Hand-written because the protocol is Cisco-private: no library implements it.

Framing and content are kept apart on purpose: `parse_header`/`parse_message`
raise `FormatError` on bad framing (the server then closes), while
`decode_request` never fails (missing elements are None and the server answers
STATUS 1, §5.5.2). `decode_response` insists on a STATUS element.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from enum import IntEnum

from harness.formats.errors import FormatError

PROTOCOL_ID = 0x57
VERSION = 1
HEADER = struct.Struct(">BBBBIH")  # id, version, command, reserved, session, length
HEADER_SIZE = HEADER.size
DEVICE_PREFIX = b"\x01"  # meaning unknown (§5.4); phones and tvsd use it
_DEVICE_RE = re.compile(r"CP-[A-Za-z0-9]+-(SEP[0-9A-Fa-f]{12})")


class Command(IntEnum):
    VERIFY_REQUEST = 1
    VERIFY_RESPONSE = 2
    QUERY_REQUEST = 3
    QUERY_RESPONSE = 4


class Tag(IntEnum):
    DEVICE_NAME = 1
    CERTIFICATE = 2
    SUBJECT_NAME = 3
    ISSUER_NAME = 4  # tag number inferred (§5.5.3)
    SERIAL_NUMBER = 5  # tag number inferred (§5.5.3)
    STATUS = 7
    ROLES = 8
    TTL = 9


STATUS_VALID, STATUS_INVALID = 0, 1
Element = tuple[int, bytes]


@dataclass(frozen=True)
class Header:
    command: int
    session_id: int
    length: int
    version: int = VERSION
    reserved: int = 0


@dataclass(frozen=True)
class Message:
    header: Header
    elements: tuple[Element, ...]

    def first(self, tag: int) -> bytes | None:
        return next((value for t, value in self.elements if t == tag), None)


@dataclass(frozen=True)
class Request:
    """VERIFY uses `certificate`, QUERY `subject`/`issuer`/`serial`; absent ones are None."""

    device_name: str | None
    certificate: bytes | None = None
    subject: str | None = None
    issuer: str | None = None
    serial: int | None = None


@dataclass(frozen=True)
class Response:
    status: int
    roles: tuple[int, ...] = ()
    ttl: int | None = None
    certificate: bytes | None = None


def parse_header(data: bytes) -> Header:
    """The 10-byte header; rejects short data, a foreign protocol id, version > 1."""
    if len(data) < HEADER_SIZE:
        raise FormatError(f"truncated header ({len(data)} of {HEADER_SIZE} bytes)", len(data))
    proto, version, command, reserved, session, length = HEADER.unpack_from(data)
    if proto != PROTOCOL_ID:
        raise FormatError(f"protocol id 0x{proto:02X} is not 0x{PROTOCOL_ID:02X}", 0)
    if version > VERSION:  # the fork accepts <= 1 (§5.2)
        raise FormatError(f"unsupported version {version}", 1)
    return Header(command, session, length, version, reserved)


def parse_elements(payload: bytes, base: int = HEADER_SIZE) -> tuple[Element, ...]:
    """Element TLVs back to back; `base` only shifts the offsets in errors."""
    elements: list[Element] = []
    off = 0
    while off < len(payload):
        if off + 3 > len(payload):
            raise FormatError("truncated element header", base + off)
        tag, length = payload[off], int.from_bytes(payload[off + 1 : off + 3], "big")
        if off + 3 + length > len(payload):
            raise FormatError(f"element {tag} length {length} runs past the payload", base + off)
        elements.append((tag, payload[off + 3 : off + 3 + length]))
        off += 3 + length
    return tuple(elements)


def parse_message(data: bytes) -> Message:
    """A whole frame: header plus exactly `length` payload bytes."""
    header = parse_header(data)
    end = HEADER_SIZE + header.length
    if len(data) != end:
        raise FormatError(f"payload is {len(data) - HEADER_SIZE} bytes, header says "
                          f"{header.length}", min(len(data), end))
    return Message(header, parse_elements(data[HEADER_SIZE:end]))


def encode_message(command: int, session_id: int, elements: list[Element],
                   reserved: int = 0) -> bytes:
    """Header + payload as one buffer, so the sender can emit it in ONE write (§5.1)."""
    payload = bytearray()
    for tag, value in elements:
        if len(value) > 0xFFFF:
            raise ValueError(f"element {tag} is {len(value)} bytes; the limit is 65535")
        payload += bytes([tag]) + len(value).to_bytes(2, "big") + value
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload of {len(payload)} bytes does not fit a u16 length")
    return HEADER.pack(PROTOCOL_ID, VERSION, command, reserved, session_id, len(payload)) + payload


def _text(value: bytes) -> str:
    return value.rstrip(b"\x00").decode("utf-8", "replace")


def _device_tlv(device_name: str) -> Element:
    return (Tag.DEVICE_NAME, DEVICE_PREFIX + device_name.encode("ascii"))


def phone_of(device_name: str | None) -> str | None:
    """`CP-<model>-SEP<MAC>` -> `SEP<MAC>` (upper case); None when not that form."""
    match = _DEVICE_RE.fullmatch(device_name or "")
    return match.group(1).upper() if match else None


def build_verify_request(session_id: int, device_name: str, certificate: bytes) -> bytes:
    elements = [_device_tlv(device_name), (Tag.CERTIFICATE, certificate)]
    return encode_message(Command.VERIFY_REQUEST, session_id, elements)


def build_query_request(session_id: int, device_name: str, subject: str, issuer: str,
                        serial: int) -> bytes:
    """Issuer as tag 4 and serial (minimal unsigned bytes) as tag 5, per the harness rule."""
    raw_serial = serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")
    elements = [_device_tlv(device_name), (Tag.SUBJECT_NAME, subject.encode() + b"\x00"),
                (Tag.ISSUER_NAME, issuer.encode() + b"\x00"), (Tag.SERIAL_NUMBER, raw_serial)]
    return encode_message(Command.QUERY_REQUEST, session_id, elements)


def build_response(command: int, session_id: int, result: Response, reserved: int = 0) -> bytes:
    """Trusted: STATUS, [CERTIFICATE], ROLES, TTL (dump order, §5.5.3); else STATUS only."""
    elements: list[Element] = [(Tag.STATUS, bytes([result.status]))]
    if result.status == STATUS_VALID:
        if result.certificate is not None:
            elements.append((Tag.CERTIFICATE, result.certificate))
        elements.append((Tag.ROLES, bytes(result.roles)))  # ValueError if a role > 255
        elements.append((Tag.TTL, (result.ttl or 0).to_bytes(4, "big")))
    return encode_message(command, session_id, elements, reserved)


def _looks_like_dn(value: bytes) -> bool:
    """A zstring with `=`, no other NUL, valid UTF-8: a raw serial rarely is all three."""
    text = value[:-1].decode("utf-8", "replace")
    return value.endswith(b"\x00") and "=" in text and not {"\x00", "\ufffd"} & set(text)


def decode_request(message: Message) -> Request:
    """Either request; unknown tags are skipped. Tag 3 is the subject; among tags 4-6 a
    zstring holding `=` is the issuer and anything else the serial (§5.5.3 harness
    rule: those tag numbers are inferred, not seen)."""
    device, subject = message.first(Tag.DEVICE_NAME), message.first(Tag.SUBJECT_NAME)
    issuer: str | None = None
    serial: int | None = None
    for tag, value in message.elements:
        if tag in (4, 5, 6) and _looks_like_dn(value):
            issuer = _text(value)
        elif tag in (4, 5, 6) and value:
            serial = int.from_bytes(value, "big")
    name = None if device is None else _text(device.removeprefix(DEVICE_PREFIX))
    return Request(name, message.first(Tag.CERTIFICATE),
                   None if subject is None else _text(subject), issuer, serial)


def decode_response(message: Message) -> Response:
    """Client side: STATUS is required; ROLES, TTL and CERTIFICATE are optional."""
    status = message.first(Tag.STATUS)
    if status is None or len(status) != 1:
        raise FormatError("response without a one-byte STATUS element")
    ttl = message.first(Tag.TTL)
    if ttl is not None and len(ttl) != 4:
        raise FormatError(f"TTL element is {len(ttl)} bytes, expected 4")
    roles = message.first(Tag.ROLES) or b""
    return Response(status[0], tuple(roles), None if ttl is None else int.from_bytes(ttl, "big"),
                    message.first(Tag.CERTIFICATE))
