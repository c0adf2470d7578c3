"""CAPF framing I/O shared by the server and the phone-side client.

Why a module of its own: both ends must agree that every frame is written in
ONE write (a split header stalls the phone's CAPF client) while reads loop
until the frame is complete, with a bound so a silent peer never hangs a
session. Both ends run on `tls_stream.TlsStream` (a few KiB per connection
instead of asyncio's 256 KiB TLS buffers); TLS contexts (TLS 1.0-1.2, security
level 0, docs/PROTOCOLS.md §6.1) come from `harness.tls`, shared with TVS and HTTPS.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from harness.formats.errors import FormatError
from harness.services.capf_wire import HEADER, Message, decode_elements, decode_header, encode


class FrameStream(Protocol):
    """What CAPF needs of a connection (a `TlsStream` qualifies)."""

    async def readexactly(self, size: int) -> bytes: ...

    async def write(self, data: bytes) -> None: ...


async def read_message(stream: FrameStream, timeout: float) -> Message:
    """One frame within `timeout` s: TimeoutError if silent, FormatError if cut or malformed."""
    async with asyncio.timeout(timeout):
        try:
            head = await stream.readexactly(HEADER.size)
            command, session_id, length = decode_header(head)
            payload = await stream.readexactly(length)
        except asyncio.IncompleteReadError as exc:
            got = len(exc.partial)
            raise FormatError(f"connection closed mid-frame ({got} bytes read)") from None
    return Message(command, session_id, decode_elements(payload))


async def send(stream: FrameStream, message: Message, timeout: float) -> None:
    """Write the frame in one call (one TLS record), bounded by `timeout`."""
    async with asyncio.timeout(timeout):
        await stream.write(encode(message))
