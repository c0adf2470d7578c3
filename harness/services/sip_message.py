"""Minimal SIP message model: parse and build the requests Cisco phones and CUCM exchange.

Hand-written because no maintained Python SIP library fits a small, embeddable
registrar: phonelab needs only REGISTER, NOTIFY (Cisco reset/restart) and
their responses, with RFC 3261 framing (start line, headers, Content-Length body),
plus the few Cisco Contact parameters CUCM identifies a phone by
(docs/REAL_WIRE.md §1.3). Messages come off the network, so every problem is a
`FormatError`: no `ValueError` from a number, no decode error, no unbounded size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.formats.errors import FormatError

MAX_MESSAGE = 65535
MAX_HEADERS = 100
MAX_NUMBER_DIGITS = 10  # Content-Length, Expires, CSeq: 32-bit values (RFC 3261 §20)
_DEVICE = re.compile(r"sips?:(SEP[0-9A-Fa-f]{12})@", re.IGNORECASE)
_URI_USER = re.compile(r"sips?:([^@;>\s]+)@", re.IGNORECASE)
_INSTANCE_MAC = re.compile(r"urn:uuid:[0-9a-f-]*-([0-9a-f]{12})\W*$", re.IGNORECASE)
_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
            "l": "content-length", "c": "content-type", "e": "content-encoding", "o": "event",
            "k": "supported"}
DEVICENAME = "+u.sip!devicename.ccm.cisco.com"
MODEL = "+u.sip!model.ccm.cisco.com"
INSTANCE = "+sip.instance"


@dataclass
class SipMessage:
    """A request (method set) or a response (status set)."""

    start_line: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def method(self) -> str | None:
        parts = self.start_line.split(" ", 2)
        return None if parts[0].startswith("SIP/") else parts[0]

    @property
    def status(self) -> int | None:
        parts = self.start_line.split(" ", 2)
        if parts[0].startswith("SIP/") and len(parts) > 1 and parts[1].isascii() \
                and parts[1].isdigit() and len(parts[1]) == 3:
            return int(parts[1])
        return None

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def device_name(self) -> str | None:
        """`SEP<MAC>` as a `sip:SEP<MAC>@` user in Contact, From or To (upper-case MAC)."""
        for name in ("contact", "from", "to"):
            match = _DEVICE.search(self.header(name) or "")
            if match:
                return "SEP" + match.group(1)[3:].upper()
        return None

    def encode(self) -> bytes:
        """Wire form; Content-Length is computed, in place if listed (79xx refreshes put
        `Expires` after it, docs/REAL_WIRE.md §1.2), else last."""
        length = f"Content-Length: {len(self.body)}"
        lines = [self.start_line]
        lines += [length if k.lower() == "content-length" else f"{k}: {v}"
                  for k, v in self.headers]
        if self.header("content-length") is None:
            lines.append(length)
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def number(text: str | None, what: str) -> int:
    """A decimal header value (FormatError unless 1-10 ASCII digits)."""
    value = (text or "").strip()
    if not (value.isascii() and value.isdigit() and len(value) <= MAX_NUMBER_DIGITS):
        raise FormatError(f"bad {what} {value[:20]!r}", 0)
    return int(value)


def cseq(message: SipMessage) -> tuple[int, str]:
    """(sequence number, method) of the CSeq header."""
    parts = (message.header("cseq") or "").split()
    if len(parts) != 2:
        raise FormatError("missing or malformed CSeq", 0)
    return number(parts[0], "CSeq"), parts[1]


def uri_user(value: str | None) -> str | None:
    """The user part of the first SIP URI in a From/To/Contact value."""
    match = _URI_USER.search(value or "")
    return match.group(1) if match else None


def params(value: str) -> dict[str, str]:
    """Header parameters after the `<uri>` (or after the bare URI), names lower-cased;
    quotes kept out of the values, a flag parameter maps to ""."""
    tail = value[value.find(">") + 1:] if ">" in value else value.partition(";")[2]
    found: dict[str, str] = {}
    for part in _split_params(tail):
        name, _, raw = part.partition("=")
        if name.strip():
            found[name.strip().lower()] = raw.strip().strip('"')
    return found


def _split_params(text: str) -> list[str]:
    """Split on `;` outside double quotes (`+sip.instance="<urn:...>"` holds none, but be safe)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def uri_params(value: str) -> dict[str, str]:
    """Parameters inside the `<...>` URI (e.g. transport)."""
    inner = value[value.find("<") + 1:value.find(">")] if "<" in value and ">" in value else ""
    return params(";" + inner.partition(";")[2]) if ";" in inner else {}


def instance_device(instance: str) -> str | None:
    """`SEP<MAC>` from a `+sip.instance` whose last UUID group is the MAC (§1.3)."""
    match = _INSTANCE_MAC.search(instance)
    return "SEP" + match.group(1).upper() if match else None


def split_frame(buffer: bytes) -> tuple[bytes, bytes] | None:
    """For stream transports: one complete message and the rest, or None if incomplete."""
    buffer = buffer.lstrip(b"\r\n")  # keep-alive CRLFs between messages (RFC 5626 §3.5.1)
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_MESSAGE:
            raise FormatError("SIP headers too long", 0)
        return None
    head = buffer[:end].decode("utf-8", "replace")
    length = 0
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if _COMPACT.get(key.strip().lower(), key.strip().lower()) == "content-length":
            length = number(value, "Content-Length")
    total = end + 4 + length
    if total > MAX_MESSAGE:
        raise FormatError("SIP message too long", 0)
    return (buffer[:total], buffer[total:]) if len(buffer) >= total else None


def parse(data: bytes) -> SipMessage:
    """Parse one whole SIP message; FormatError on anything that is not SIP."""
    if len(data) > MAX_MESSAGE:
        raise FormatError("SIP message too long", 0)
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise FormatError("no end of SIP headers", len(data))
    try:
        head = data[:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError("SIP headers are not UTF-8", exc.start) from None
    lines = head.split("\r\n")
    start = lines[0]
    parts = start.split(" ")
    if not ((start.startswith("SIP/2.0 ") and len(parts) >= 3 and len(parts[1]) == 3
             and parts[1].isascii() and parts[1].isdigit())
            or (len(parts) == 3 and parts[2] == "SIP/2.0" and parts[0].isalpha()
                and parts[0].isascii() and parts[1])):
        raise FormatError("not a SIP start line", 0)
    if len(lines) - 1 > MAX_HEADERS:
        raise FormatError("too many SIP headers", 0)
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if not sep or not key.strip() or " " in key.strip():
            raise FormatError(f"malformed header line {line[:40]!r}", 0)
        name = key.strip()
        headers.append((_COMPACT.get(name.lower(), name), value.strip()))
    message = SipMessage(start, headers, data[end + 4:])
    declared = message.header("content-length")
    if declared is not None:
        length = number(declared, "Content-Length")
        if length > len(message.body):
            raise FormatError("SIP body shorter than its Content-Length", len(data))
        message.body = message.body[:length]
    return message


def response(request: SipMessage, status: int, reason: str,
             extra: list[tuple[str, str]] | None = None) -> SipMessage:
    """A response echoing the request's dialog headers (Via, From, To, Call-ID, CSeq)."""
    copied = [(k, v) for k, v in request.headers
              if k.lower() in ("via", "from", "to", "call-id", "cseq")]
    return SipMessage(f"SIP/2.0 {status} {reason}", copied + (extra or []))
