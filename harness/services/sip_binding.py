"""What the registrar keeps about phones: admission answers, bindings, the channel back.

Split from `registrar` (which owns sockets and the request flow) because these are
plain records the cluster's policy, the SCCP endpoint and the tests share: the
owner's `Admission` for a (device, DN), a device's `Registration` with its bound
lines, and the `Channel` a NOTIFY goes back over (TCP or TLS).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from cryptography.x509.oid import NameOID

from harness.services.plain_stream import PlainStream
from harness.services.tls_stream import TlsStream
from harness.tls import TlsIdentity


@dataclass(frozen=True)
class Admission:
    """The owner's answer for (device, DN): status, reason, and every DN of the device
    in button order (line 1 first; a bulk REGISTER binds them all)."""

    status: int
    reason: str
    lines: tuple[str, ...] = ()


Policy = Callable[[str, str], Admission]


def accept_all(device: str, dn: str) -> Admission:
    return Admission(200, "OK", (dn,))


@dataclass(frozen=True)
class TlsSettings:
    """SIP over TLS: the server identity and the CAs client certificates must chain to,
    both read at start so regenerated certificates count after a restart."""

    identity: Callable[[], TlsIdentity]
    client_cas: Callable[[], Sequence[x509.Certificate]]
    port: int = 0
    source: str = "sip-tls"


class Channel(Protocol):
    """A stream connection a phone registered over (NOTIFY goes back on it)."""

    certificate_name: str | None
    bound: bool  # a registration was made over it

    async def send(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class TcpChannel:
    certificate_name: str | None = None

    def __init__(self, stream: PlainStream) -> None:
        self.stream = stream
        self.bound = False
        self._lock = asyncio.Lock()  # a NOTIFY and a reply must not interleave

    async def send(self, data: bytes) -> None:
        async with self._lock:
            await self.stream.write(data)

    def close(self) -> None:
        self.stream.close()


class TlsChannel:
    def __init__(self, stream: TlsStream, certificate_name: str | None) -> None:
        self.stream, self.certificate_name = stream, certificate_name
        self.bound = False
        self._lock = asyncio.Lock()  # TlsStream: one writer at a time

    async def send(self, data: bytes) -> None:
        async with self._lock:
            await self.stream.write(data)

    def close(self) -> None:
        self.stream.close()


@dataclass
class LineBinding:
    dn: str
    call_id: str
    cseq: int
    to_tag: str


@dataclass
class Registration:
    """One registered device: where it is, how, and its bound lines (line 1 first)."""

    device: str
    transport: str
    contact: tuple[str, int]  # where datagrams go back (the REGISTER's source)
    call_id: str  # line 1's REGISTER Call-ID (NOTIFY's RegisterCallId)
    expires: int
    channel: Channel | None = None
    uri_host: tuple[str, int] = ("", 0)  # Contact host:port (NOTIFY Request-URI)
    lines: dict[str, LineBinding] = field(default_factory=dict)


def common_name(der: bytes) -> str | None:
    if not der:
        return None
    try:
        cert = x509.load_der_x509_certificate(der)
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return None
    return str(names[0].value) if names else ""
