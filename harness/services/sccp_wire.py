"""SCCP (Skinny) wire codec: frames and the registration-time messages, bytes in, objects out.

Hand-written because no maintained Python library speaks Skinny; the layouts are
those of docs/REAL_WIRE.md §3.1 (framing) and §3.3 (messages). Both ends use it:
the call-manager endpoint (`harness.services.sccp`) and the twin's station
(`phone_drivers.emulator.sccp_client`). Every malformed input raises only
`FormatError`: a frame length outside 4..MAX_LENGTH, a header version outside the
set Wireshark's heuristic accepts (§3.7), a body too short for its message.
Integers are little-endian, IPv4 addresses network order, strings NUL-padded arrays.
"""

from __future__ import annotations

import ipaddress
import string
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar

from harness.formats.errors import FormatError

PREFIX = struct.Struct("<II")  # length (bytes after this prefix), header version
MAX_LENGTH = 2048  # registration messages are < 200 bytes; anything bigger is garbage
# §3.7: 0 (protocol < 10) and the protocol numbers seen on the wire since
HEADER_VERSIONS = frozenset({0x00, 0x0A, 0x0B, 0x0F, *range(0x10, 0x17)})
REGISTER_MIN = 32  # name, user id, instance, IP, device type: the oldest stacks' form
REGISTER_79X1 = 124  # §3.3: 7941 8.5.3 form, header length 128
_HEX = frozenset(string.hexdigits.encode())


class MessageId(IntEnum):
    KEEP_ALIVE = 0x0000
    REGISTER = 0x0001
    IP_PORT = 0x0002
    BUTTON_TEMPLATE_REQ = 0x000E
    CAPABILITIES_RES = 0x0010
    ALARM = 0x0020
    UNREGISTER = 0x0027
    REGISTER_ACK = 0x0081
    BUTTON_TEMPLATE = 0x0097
    CAPABILITIES_REQ = 0x009B
    REGISTER_REJECT = 0x009D
    RESET = 0x009F
    KEEP_ALIVE_ACK = 0x0100
    UNREGISTER_ACK = 0x0118


class ResetType(IntEnum):
    """Reset 0x009F body (§3.3, docs/HARDWARE.md §5)."""

    RESET = 1  # full reboot: DHCP + TFTP
    RESTART = 2  # quick restart: TFTP, re-register
    APPLY_CONFIG = 3


def header_version(protocol: int) -> int:
    """§3.8: header version 0 below protocol 10, else the protocol number."""
    return protocol if protocol >= 10 else 0


# --- framing ---------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    message_id: int
    body: bytes
    version: int = 0

    def encode(self) -> bytes:
        return (PREFIX.pack(4 + len(self.body), self.version)
                + struct.pack("<I", self.message_id) + self.body)


def split_frame(buffer: bytes) -> tuple[Frame, bytes] | None:
    """The first whole frame of `buffer` and what follows; None while incomplete."""
    if len(buffer) < PREFIX.size:
        return None
    length, version = PREFIX.unpack_from(buffer)
    if length < 4:
        raise FormatError(f"SCCP length {length} < 4 (no message id)", 0)
    if length > MAX_LENGTH:
        raise FormatError(f"SCCP length {length} > {MAX_LENGTH}", 0)
    if version not in HEADER_VERSIONS:
        raise FormatError(f"SCCP header version {version:#x} is not one phones use", 4)
    end = PREFIX.size + length
    if len(buffer) < end:
        return None
    (message_id,) = struct.unpack_from("<I", buffer, PREFIX.size)
    return Frame(message_id, bytes(buffer[PREFIX.size + 4:end]), version), bytes(buffer[end:])


class FrameSplitter:
    """Cuts a TCP byte stream into frames: several per segment, or one over many."""

    def __init__(self) -> None:
        self._buffer = b""

    @property
    def pending(self) -> int:
        """Bytes of a frame not yet complete (non-zero at EOF means a truncated frame)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while (cut := split_frame(self._buffer)) is not None:
            frame, self._buffer = cut
            frames.append(frame)
        return frames


# --- field helpers -----------------------------------------------------------------
def _text(raw: bytes, what: str, *, strict: bool = False) -> str:
    value = raw.split(b"\0", 1)[0]
    if strict and not all(0x21 <= b < 0x7F for b in value):
        raise FormatError(f"{what} is not printable ASCII: {value[:20]!r}")
    return value.decode("latin-1")


def _pad(text: str, size: int, *, terminated: bool = True) -> bytes:
    """NUL-padded fixed array; `terminated` keeps room for a final NUL."""
    data = text.encode("latin-1", "replace")[:size - terminated]
    return data + b"\0" * (size - len(data))


def _u32(body: bytes, offset: int) -> int:
    return int(struct.unpack_from("<I", body, offset)[0])


def _need(body: bytes, size: int, what: str) -> None:
    if len(body) < size:
        raise FormatError(f"{what} body of {len(body)} bytes, needs {size}", len(body))


# --- messages --------------------------------------------------------------------------
@dataclass(frozen=True)
class Register:
    """Register 0x0001 in every length form of §3.3; absent fields keep their defaults."""

    ID: ClassVar[int] = MessageId.REGISTER
    device_name: str
    station_ip: str = "0.0.0.0"
    device_type: int = 0
    instance: int = 0
    user_id: int = 0
    max_streams: int = 0
    active_streams: int = 0
    protocol: int = 0
    unknown: int = 0
    features: int = 0
    max_conferences: int = 0
    active_conferences: int = 0
    mac: str = ""  # 12 upper-case hex digits ("" when the form has none)
    mac_ascii: bool = False  # 6961 style: 12 ASCII hex characters instead of 6 raw bytes
    ipv4_scope: int = 0
    max_lines: int = 0
    ipv6: bytes = bytes(16)
    ipv6_scope: int = 0
    load_name: str = ""
    config_stamp: str | None = None
    length: int = REGISTER_79X1  # body bytes, i.e. which form

    @classmethod
    def parse(cls, body: bytes) -> Register:
        _need(body, REGISTER_MIN, "Register")
        n = len(body)
        name = _text(body[0:16], "device name", strict=True)
        if not name:
            raise FormatError("Register without a device name", 0)
        values: dict[str, object] = dict(
            device_name=name, user_id=_u32(body, 16), instance=_u32(body, 20),
            station_ip=str(ipaddress.IPv4Address(body[24:28])), device_type=_u32(body, 28),
            length=n)
        if n >= 36:
            values["max_streams"] = _u32(body, 32)
        if n >= 40:
            values["active_streams"] = _u32(body, 36)
        if n >= 44:
            values["protocol"], values["unknown"] = body[40], body[41]
            values["features"] = int(struct.unpack_from("<H", body, 42)[0])
        if n >= 48:
            values["max_conferences"] = _u32(body, 44)
        if n >= 52:
            values["active_conferences"] = _u32(body, 48)
        if n >= 64:
            values["mac"], values["mac_ascii"] = _mac(body[52:64])
        if n >= 68:
            values["ipv4_scope"] = _u32(body, 64)
        if n >= 72:
            values["max_lines"] = _u32(body, 68)
        if n >= 88:
            values["ipv6"] = bytes(body[72:88])
        if n >= 92:
            values["ipv6_scope"] = _u32(body, 88)
        if n >= 124:
            values["load_name"] = _text(body[92:124], "firmware load name")
        if n > 124:
            values["config_stamp"] = _text(body[124:172], "config version stamp")
        return cls(**values)  # type: ignore[arg-type]

    def encode_body(self) -> bytes:
        mac = bytes.fromhex(self.mac) if self.mac else bytes(6)
        mac_field = self.mac.encode() if self.mac_ascii else mac + bytes(6)
        body = (_pad(self.device_name, 16)
                + struct.pack("<II", self.user_id, self.instance)
                + ipaddress.IPv4Address(self.station_ip).packed
                + struct.pack("<IIIBBHII", self.device_type, self.max_streams,
                              self.active_streams, self.protocol, self.unknown, self.features,
                              self.max_conferences, self.active_conferences)
                + mac_field
                + struct.pack("<II", self.ipv4_scope, self.max_lines)
                + self.ipv6 + struct.pack("<I", self.ipv6_scope)
                + _pad(self.load_name, 32)
                + _pad(self.config_stamp or "", 48))
        return body[:self.length]


def _mac(raw: bytes) -> tuple[str, bool]:
    if all(b in _HEX for b in raw):
        return raw.decode("ascii").upper(), True
    return raw[:6].hex().upper(), False


@dataclass(frozen=True)
class _Empty:
    """A message without a body (extra bytes, which some stacks add, are ignored)."""

    ID: ClassVar[int]

    def encode_body(self) -> bytes:
        return b""


@dataclass(frozen=True)
class KeepAlive(_Empty):
    ID: ClassVar[int] = MessageId.KEEP_ALIVE

    @classmethod
    def parse(cls, body: bytes) -> KeepAlive:
        return cls()


@dataclass(frozen=True)
class KeepAliveAck(_Empty):
    ID: ClassVar[int] = MessageId.KEEP_ALIVE_ACK

    @classmethod
    def parse(cls, body: bytes) -> KeepAliveAck:
        return cls()


@dataclass(frozen=True)
class CapabilitiesReq(_Empty):
    ID: ClassVar[int] = MessageId.CAPABILITIES_REQ

    @classmethod
    def parse(cls, body: bytes) -> CapabilitiesReq:
        return cls()


@dataclass(frozen=True)
class ButtonTemplateReq(_Empty):
    """Empty; some stacks add a u32 count, which is ignored."""

    ID: ClassVar[int] = MessageId.BUTTON_TEMPLATE_REQ

    @classmethod
    def parse(cls, body: bytes) -> ButtonTemplateReq:
        return cls()


@dataclass(frozen=True)
class IpPort:
    ID: ClassVar[int] = MessageId.IP_PORT
    rtp_port: int

    @classmethod
    def parse(cls, body: bytes) -> IpPort:
        _need(body, 4, "IpPort")
        return cls(_u32(body, 0))

    def encode_body(self) -> bytes:
        return struct.pack("<I", self.rtp_port)


@dataclass(frozen=True)
class Capability:
    payload: int  # 4 G.711µ, 2 G.711A, 0x0b G.729, 0x0c G.729A, 6 G.722
    max_frames: int
    params: bytes = bytes(8)


MAX_CAPABILITIES = 18


@dataclass(frozen=True)
class CapabilitiesRes:
    ID: ClassVar[int] = MessageId.CAPABILITIES_RES
    capabilities: tuple[Capability, ...] = ()

    @classmethod
    def parse(cls, body: bytes) -> CapabilitiesRes:
        _need(body, 4, "CapabilitiesRes")
        count = _u32(body, 0)
        if count > MAX_CAPABILITIES:
            raise FormatError(f"CapabilitiesRes count {count} > {MAX_CAPABILITIES}", 0)
        _need(body, 4 + 16 * count, "CapabilitiesRes")
        caps = tuple(Capability(_u32(body, 4 + 16 * i), _u32(body, 8 + 16 * i),
                                bytes(body[12 + 16 * i:20 + 16 * i])) for i in range(count))
        return cls(caps)

    def encode_body(self) -> bytes:
        return struct.pack("<I", len(self.capabilities)) + b"".join(
            struct.pack("<II", c.payload, c.max_frames) + c.params[:8].ljust(8, b"\0")
            for c in self.capabilities)


@dataclass(frozen=True)
class Alarm:
    ID: ClassVar[int] = MessageId.ALARM
    severity: int
    text: str
    parm1: int = 0
    parm2: str = "0.0.0.0"  # an IPv4 address, network order on the wire

    @classmethod
    def parse(cls, body: bytes) -> Alarm:
        _need(body, 92, "Alarm")
        return cls(_u32(body, 0), _text(body[4:84], "alarm text"), _u32(body, 84),
                   str(ipaddress.IPv4Address(body[88:92])))

    def encode_body(self) -> bytes:
        return (struct.pack("<I", self.severity) + _pad(self.text, 80)
                + struct.pack("<I", self.parm1) + ipaddress.IPv4Address(self.parm2).packed)


@dataclass(frozen=True)
class Unregister:
    ID: ClassVar[int] = MessageId.UNREGISTER
    reason: int = 0  # 0 unknown, 1 power-save; absent in older stacks

    @classmethod
    def parse(cls, body: bytes) -> Unregister:
        return cls(_u32(body, 0) if len(body) >= 4 else 0)

    def encode_body(self) -> bytes:
        return struct.pack("<I", self.reason)


@dataclass(frozen=True)
class UnregisterAck:
    ID: ClassVar[int] = MessageId.UNREGISTER_ACK
    status: int = 0  # 0 OK, 1 error, 2 NAK (call active)

    @classmethod
    def parse(cls, body: bytes) -> UnregisterAck:
        _need(body, 4, "UnregisterAck")
        return cls(_u32(body, 0))

    def encode_body(self) -> bytes:
        return struct.pack("<I", self.status)


@dataclass(frozen=True)
class RegisterAck:
    ID: ClassVar[int] = MessageId.REGISTER_ACK
    keepalive: int = 30
    date_template: str = "M/D/YA"
    secondary_keepalive: int = 60
    protocol: int = 17
    unknown: int = 0
    features: int = 0

    @classmethod
    def parse(cls, body: bytes) -> RegisterAck:
        _need(body, 16, "RegisterAck")
        values: dict[str, object] = dict(
            keepalive=_u32(body, 0), date_template=_text(body[4:10], "date template"),
            secondary_keepalive=_u32(body, 12), protocol=0)
        if len(body) >= 20:
            values["protocol"], values["unknown"] = body[16], body[17]
            values["features"] = int(struct.unpack_from("<H", body, 18)[0])
        return cls(**values)  # type: ignore[arg-type]

    def encode_body(self) -> bytes:
        return (struct.pack("<I", self.keepalive) + _pad(self.date_template, 6, terminated=False)
                + bytes(2)
                + struct.pack("<IBBH", self.secondary_keepalive, self.protocol, self.unknown,
                              self.features))


@dataclass(frozen=True)
class RegisterReject:
    ID: ClassVar[int] = MessageId.REGISTER_REJECT
    text: str

    @classmethod
    def parse(cls, body: bytes) -> RegisterReject:
        _need(body, 32, "RegisterReject")
        return cls(_text(body[:32], "reject text"))

    def encode_body(self) -> bytes:
        return _pad(self.text, 32)


class ButtonDefinition(IntEnum):
    LINE = 0x09
    NONE = 0xFF


MAX_BUTTONS = 42


@dataclass(frozen=True)
class ButtonTemplate:
    ID: ClassVar[int] = MessageId.BUTTON_TEMPLATE
    buttons: tuple[tuple[int, int], ...] = ()  # (instance, definition) pairs
    offset: int = 0
    total: int | None = None

    @classmethod
    def parse(cls, body: bytes) -> ButtonTemplate:
        _need(body, 12, "ButtonTemplate")
        offset, count, total = struct.unpack_from("<III", body)
        if count > MAX_BUTTONS:
            raise FormatError(f"ButtonTemplate count {count} > {MAX_BUTTONS}", 4)
        _need(body, 12 + 2 * count, "ButtonTemplate")
        pairs = tuple((body[12 + 2 * i], body[13 + 2 * i]) for i in range(count))
        return cls(pairs, int(offset), int(total))

    def encode_body(self) -> bytes:
        total = len(self.buttons) if self.total is None else self.total
        return struct.pack("<III", self.offset, len(self.buttons), total) + b"".join(
            bytes((instance & 0xFF, definition & 0xFF)) for instance, definition in self.buttons)


@dataclass(frozen=True)
class Reset:
    ID: ClassVar[int] = MessageId.RESET
    kind: int  # ResetType

    @classmethod
    def parse(cls, body: bytes) -> Reset:
        _need(body, 4, "Reset")
        return cls(_u32(body, 0))

    def encode_body(self) -> bytes:
        return struct.pack("<I", self.kind)


@dataclass(frozen=True)
class Unknown:
    """A message id this codec does not decode; kept so callers can ignore it."""

    message_id: int
    body: bytes = field(default=b"", repr=False)

    def encode_body(self) -> bytes:
        return self.body


Message = (Register | KeepAlive | KeepAliveAck | CapabilitiesReq | ButtonTemplateReq | IpPort
           | CapabilitiesRes | Alarm | Unregister | UnregisterAck | RegisterAck
           | RegisterReject | ButtonTemplate | Reset | Unknown)

_PARSERS: dict[int, Callable[[bytes], Message]] = {
    t.ID: t.parse for t in (Register, KeepAlive, KeepAliveAck, CapabilitiesReq, ButtonTemplateReq,
                      IpPort, CapabilitiesRes, Alarm, Unregister, UnregisterAck, RegisterAck,
                      RegisterReject, ButtonTemplate, Reset)
}


def decode(frame: Frame) -> Message:
    """The message a frame carries (Unknown for ids not in the table)."""
    parse = _PARSERS.get(frame.message_id)
    if parse is None:
        return Unknown(frame.message_id, frame.body)
    return parse(frame.body)


def encode(message: Message, version: int = 0) -> bytes:
    """One whole frame; `version` is the header version (see `header_version`)."""
    message_id = message.message_id if isinstance(message, Unknown) else message.ID
    return Frame(message_id, message.encode_body(), version).encode()
