"""Minimal SIP message model: parse and build the requests phones and CUCM exchange.

Hand-written because no maintained Python SIP library fits a small, embeddable
registrar: phonelab needs only REGISTER, NOTIFY (Cisco reset/restart) and
their responses, with RFC 3261 framing (start line, headers, Content-Length body).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.formats.errors import FormatError

MAX_MESSAGE = 65535
_DEVICE = re.compile(r"sips?:(SEP[0-9A-Fa-f]{12})@", re.IGNORECASE)
_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
            "l": "content-length", "c": "content-type", "e": "content-encoding", "o": "event"}


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
        if parts[0].startswith("SIP/") and len(parts) > 1 and parts[1].isdigit():
            return int(parts[1])
        return None

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def device_name(self) -> str | None:
        """`SEP<MAC>` from Contact, From or To (upper-case MAC), if present."""
        for name in ("contact", "from", "to"):
            match = _DEVICE.search(self.header(name) or "")
            if match:
                return "SEP" + match.group(1)[3:].upper()
        return None

    def encode(self) -> bytes:
        lines = [self.start_line]
        lines += [f"{k}: {v}" for k, v in self.headers if k.lower() != "content-length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def split_frame(buffer: bytes) -> tuple[bytes, bytes] | None:
    """For stream transports: one complete message and the rest, or None if incomplete."""
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
            if not value.strip().isdigit():
                raise FormatError("bad Content-Length", 0)
            length = int(value.strip())
    total = end + 4 + length
    if total > MAX_MESSAGE:
        raise FormatError("SIP message too long", 0)
    return (buffer[:total], buffer[total:]) if len(buffer) >= total else None


def parse(data: bytes) -> SipMessage:
    """Parse one whole SIP message; FormatError on anything that is not SIP."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise FormatError("no end of SIP headers", len(data))
    try:
        head = data[:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError("SIP headers are not UTF-8", exc.start) from None
    lines = head.split("\r\n")
    start = lines[0]
    if not (start.startswith("SIP/2.0 ") or start.endswith(" SIP/2.0")):
        raise FormatError("not a SIP start line", 0)
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise FormatError(f"malformed header line {line[:40]!r}", 0)
        name = key.strip()
        headers.append((_COMPACT.get(name.lower(), name), value.strip()))
    message = SipMessage(start, headers, data[end + 4:])
    declared = message.header("content-length")
    if declared is not None and declared.isdigit():
        message.body = message.body[: int(declared)]
    return message


def response(request: SipMessage, status: int, reason: str,
             extra: list[tuple[str, str]] | None = None) -> SipMessage:
    """A response echoing the request's dialog headers (Via, From, To, Call-ID, CSeq)."""
    copied = [(k, v) for k, v in request.headers
              if k.lower() in ("via", "from", "to", "call-id", "cseq")]
    return SipMessage(f"SIP/2.0 {status} {reason}", copied + (extra or []))
