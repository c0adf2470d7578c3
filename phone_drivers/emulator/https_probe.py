"""The twin phone's HTTPS access to phone services: fetch a URL, report the server cert.

The phone decides trust itself (CTL/ITL match, else TVS VERIFY, docs/PROTOCOLS.md
§7.6), so the TLS layer checks nothing and hands back the leaf certificate;
the request is only sent once the caller has judged that certificate. TLS runs on
`harness.services.tls_stream` (a few KiB per connection, not asyncio's 256 KiB).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.services.tls_stream import TlsStream
from harness.tls import client_context


@functools.cache
def _context() -> ssl.SSLContext:
    """One shared client context: twin phones present no client certificate here."""
    return client_context()


@dataclass(frozen=True)
class HttpsResult:
    trusted: bool
    status: int | None  # HTTP status when trusted and fetched
    server_cert: bytes


async def fetch(url: str, judge: Callable[[bytes], Awaitable[bool]], *, local_host: str,
                timeout: float = 10.0) -> HttpsResult:
    """Connect, let `judge` decide on the server certificate, then GET the path."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 443
    stream = await asyncio.wait_for(
        TlsStream.connect(host, port, _context(), local_host=local_host), timeout)
    try:
        der = stream.peer_certificate()
        if not await judge(der):
            return HttpsResult(False, None, der)
        path = parts.path or "/"
        await stream.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        status_line = await asyncio.wait_for(stream.readline(), timeout)
        fields = status_line.split()
        status = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None
        return HttpsResult(True, status, der)
    finally:
        stream.close()
