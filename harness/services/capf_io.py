"""CAPF framing I/O shared by the server and the phone-side client.

Why a module of its own: both ends must agree that every frame is written in
ONE write (a split header stalls the phone's CAPF client) while reads loop
until the frame is complete, with a bound so a silent peer never hangs a
session. TLS contexts (TLS 1.0-1.2, security level 0, §6.1) come from
`harness.tls`, shared with TVS and HTTPS.
"""

from __future__ import annotations

import asyncio
import ssl

from harness.formats.errors import FormatError
from harness.services.capf_wire import HEADER, Message, decode_elements, decode_header, encode


async def read_message(reader: asyncio.StreamReader, timeout: float) -> Message:
    """One frame within `timeout` s: TimeoutError if silent, FormatError if cut or malformed."""
    async with asyncio.timeout(timeout):
        try:
            head = await reader.readexactly(HEADER.size)
            command, session_id, length = decode_header(head)
            payload = await reader.readexactly(length)
        except asyncio.IncompleteReadError as exc:
            got = len(exc.partial)
            raise FormatError(f"connection closed mid-frame ({got} bytes read)") from None
    return Message(command, session_id, decode_elements(payload))


async def send(writer: asyncio.StreamWriter, message: Message, timeout: float) -> None:
    """Write the frame in one call (one TLS record) and wait for it to drain."""
    writer.write(encode(message))
    async with asyncio.timeout(timeout):
        await writer.drain()


async def close(writer: asyncio.StreamWriter) -> None:
    """Close without letting a TLS shutdown on a dead peer raise or hang."""
    writer.close()
    try:
        async with asyncio.timeout(1.0):
            await writer.wait_closed()
    except (OSError, TimeoutError, ssl.SSLError):
        pass
