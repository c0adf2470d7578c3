"""CAPF wire codec (docs/PROTOCOLS.md §6.1-6.7): frames, element TLVs, nested layouts.

One definition of the bytes for the server, the phone-side client and tests;
hand-written because CAPF is a private Cisco protocol with no library. Pure:
bytes in, objects out (stream reading lives in `capf_io`). Malformed input
raises `FormatError` with the offset; nothing else escapes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from harness.formats.errors import FormatError

PROTOCOL_ID = 0x55
HEADER = struct.Struct(">BBIH")  # protocol id, command, session id, payload length
PROTOCOL_VERSION = 3


class Command(IntEnum):  # §6.2: those the §6.5 flows use; the others' meaning is unknown
    AUTH_REQUEST = 1
    AUTH_RESPONSE = 2
    KEY_GENERATE_REQUEST = 3
    KEY_GENERATE_RESPONSE = 4
    STORE_CERTIFICATE_REQUEST = 9
    STORE_CERTIFICATE_RESPONSE = 10
    FETCH_CERTIFICATE_REQUEST = 11
    FETCH_CERTIFICATE_RESPONSE = 12
    DELETE_CERTIFICATE_REQUEST = 13
    DELETE_CERTIFICATE_RESPONSE = 14
    END_SESSION = 15
    REQUEST_IN_PROGRESS = 17


class Tag(IntEnum):  # element tags, §6.3
    REASON = 1
    REASON_INFO = 2
    CERTIFICATE_TYPE = 3
    CERTIFICATE = 4
    SIGNED_DATA = 6
    VERSION = 7
    AUTH_TYPE = 8
    PUBLIC_KEY = 9
    KEY_SIZE = 10
    PASSWORD = 11
    DEVICE_NAME = 13
    SUDI_DATA = 16
    KEY_TYPE = 17
    CURVE = 18
    SHA2_SIGNED_DATA = 20


class Reason(IntEnum):
    NO_ACTION = 0
    UPDATE_CERTIFICATE = 1
    INVALID_ELEMENT = 7
    UNKNOWN_DEVICE = 9


REASON_WORDS = {0: "no action", 1: "certificate updated", 7: "failed (invalid element)",
                9: "unknown device"}


class AuthType(IntEnum):
    NONE = 0
    PASSWORD = 1
    NULL_STRING = 2
    LSC = 3
    MIC = 4


class CertType(IntEnum):
    LSC = 1
    MIC = 2


class KeyType(IntEnum):
    RSA = 0
    EC = 1


@dataclass
class Message:
    """One frame: command, session id and ordered (tag, value) elements."""

    command: int
    session_id: int
    elements: list[tuple[int, bytes]] = field(default_factory=list)

    def get(self, tag: int) -> bytes | None:
        return next((value for t, value in self.elements if t == tag), None)

    def number(self, tag: int, size: int = 1) -> int | None:
        """A big-endian integer element of exactly `size` bytes (u8 REASON, u16 KEY_SIZE)."""
        value = self.get(tag)
        if value is not None and len(value) != size:
            raise FormatError(f"element {tag} must be {size} byte(s), got {len(value)}")
        return None if value is None else int.from_bytes(value, "big")

    def text(self, tag: int) -> str | None:
        """A zstring element; a missing terminator is tolerated on input."""
        value = self.get(tag)
        return None if value is None else value.removesuffix(b"\0").decode("utf-8", "replace")


def zstring(text: str) -> bytes:
    """Text plus the 0x00 the length counts (§0.3)."""
    return text.encode() + b"\0"


def tlvs(items: list[tuple[int, bytes]]) -> bytes:
    """u8 tag + u16 length + value: payload elements and the nested layouts alike."""
    return b"".join(struct.pack(">BH", tag, len(v)) + v for tag, v in items)


def encode(message: Message) -> bytes:
    """The whole frame, to be sent in ONE write (§6.1: split frames stall phones)."""
    payload = tlvs(message.elements)
    if len(payload) > 0xFFFF:
        raise ValueError(f"CAPF payload of {len(payload)} bytes exceeds 65535")
    return HEADER.pack(PROTOCOL_ID, message.command, message.session_id, len(payload)) + payload


def decode_header(data: bytes) -> tuple[int, int, int]:
    """(command, session id, payload length) from the first 8 bytes."""
    if len(data) < HEADER.size:
        raise FormatError(f"truncated header ({len(data)} of {HEADER.size} bytes)", len(data))
    proto, command, session_id, length = HEADER.unpack_from(data)
    if proto != PROTOCOL_ID:
        raise FormatError(f"protocol id 0x{proto:02x}, expected 0x55", 0)
    return command, session_id, length


def decode_elements(payload: bytes, base: int = HEADER.size) -> list[tuple[int, bytes]]:
    elements, pos = [], 0
    while pos < len(payload):
        if pos + 3 > len(payload):
            raise FormatError("truncated element header", base + pos)
        tag, length = struct.unpack_from(">BH", payload, pos)
        if pos + 3 + length > len(payload):
            raise FormatError(f"element {tag} overruns the payload", base + pos)
        elements.append((tag, payload[pos + 3 : pos + 3 + length]))
        pos += 3 + length
    return elements


def decode(data: bytes) -> Message:
    """Exactly one frame; trailing or missing bytes are errors."""
    command, session_id, length = decode_header(data)
    if len(data) != HEADER.size + length:
        raise FormatError(f"frame is {len(data)} bytes, header says {HEADER.size + length}",
                          min(len(data), HEADER.size + length))
    return Message(command, session_id, decode_elements(data[HEADER.size :]))


def wrap_certificate(der: bytes, cert_type: int) -> bytes:
    """CERTIFICATE value (§6.6): ``01 | u16(len+2) | 00 | type | DER``."""
    return b"\x01" + (len(der) + 2).to_bytes(2, "big") + bytes([0, cert_type]) + der


def unwrap_certificate(value: bytes) -> tuple[int, bytes]:
    """(cert type, DER); receivers skip the 5-byte wrapper, we also check it."""
    if len(value) < 6 or value[0] != 1 or int.from_bytes(value[1:3], "big") != len(value) - 3:
        raise FormatError("bad certificate wrapper (tag 1, u16 = DER length + 2)", 0)
    return value[4], value[5:]


def sha2_signed(signature: bytes, digest_code: int = 3) -> bytes:
    """SHA2_SIGNED_DATA (§6.3): digest code (3 = SHA-512), u16 length, signature."""
    return tlvs([(digest_code, signature)])


def parse_sha2_signed(value: bytes) -> tuple[int, bytes]:
    items = decode_elements(value, 0)
    if len(items) != 1:
        raise FormatError(f"SHA2_SIGNED_DATA holds {len(items)} items, expected 1", 0)
    return items[0]


@dataclass(frozen=True)
class SudiData:
    """SUDI_DATA (§6.7.3): certificate, SHA-1 and SHA-512 raw signatures."""

    certificate: bytes
    sha1_signature: bytes
    sha512_signature: bytes

    def encode(self) -> bytes:
        return tlvs([(0, self.certificate), (1, self.sha1_signature), (3, self.sha512_signature)])

    @classmethod
    def parse(cls, value: bytes) -> SudiData:
        items = dict(decode_elements(value, 0))
        missing = {0, 1, 3} - items.keys()
        if missing:
            raise FormatError(f"SUDI_DATA lacks items {sorted(missing)}", 0)
        return cls(items[0], items[1], items[3])
