"""CAPF transport shared by the server and the phone-side client: TLS and framing I/O.

Why a module of its own: both ends must agree on the same two rules that are
easy to get subtly wrong, (1) old phones need TLS 1.0-1.2 at OpenSSL security
level 0 (PROTOCOLS.md §6.1, §9: the fork's TLS 1.0 option), and (2) every frame
is written in ONE write (a split header stalls the phone's CAPF client) while
reads loop until the frame is complete, with a bound so a silent peer never
hangs a session.
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
import warnings
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from harness.formats.errors import FormatError
from harness.services.capf_auth import Signer
from harness.services.capf_wire import HEADER, Message, decode_elements, decode_header, encode

# Everything the library still has, down to security level 0, minus unauthenticated suites.
LEGACY_CIPHERS = "ALL:!aNULL:!eNULL:@SECLEVEL=0"


def _legacy(context: ssl.SSLContext) -> ssl.SSLContext:
    with warnings.catch_warnings():  # TLS 1.0 is deprecated, and deliberately allowed here
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(LEGACY_CIPHERS)
    return context


def server_context(identity: Signer) -> ssl.SSLContext:
    """TLS server context for the CAPF certificate (the `ssl` module reads only files,
    so the PEMs go through a private temporary directory that is removed at once)."""
    context = _legacy(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    key_pem = identity.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with tempfile.TemporaryDirectory(prefix="phonelab-capf-") as tmp:
        cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_path.write_bytes(identity.cert.public_bytes(serialization.Encoding.PEM))
        key_path.touch(mode=0o600)
        key_path.write_bytes(key_pem)
        context.load_cert_chain(cert_path, key_path)
    return context


def client_context() -> ssl.SSLContext:
    """TLS client context without library verification: the phone decides itself
    (CTL/ITL CAPF record or TVS), through the caller's `accept_server_cert`."""
    context = _legacy(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


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
