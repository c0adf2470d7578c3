"""The harness TVS server (docs/PROTOCOLS.md §5): answers VERIFY and QUERY over TLS.

Behaviour chosen to be a superset of tvsd and CUCM ([HARNESS] rules of §5.1/5.5):
requests are served in a loop until the peer closes; well-framed but unverifiable
requests get STATUS 1; only framing errors (and a changed session id) close the
connection. Every verdict is a `tvs.verify`/`tvs.query` event keyed by the phone
named in DEVICE_NAME; garbage, timeouts and TLS failures are `tvs.error` events.

The connection lifecycle (hello gate, handshake slots, deadlines, errors as
events) is `tls_server.TlsServerEndpoint`, shared with CAPF and HTTPS.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from typing import Any

from cryptography import x509

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.formats.errors import FormatError
from harness.formats.names import dn_string
from harness.services import tvs_wire as wire
from harness.services.tls_server import TlsServerEndpoint
from harness.services.tls_stream import TlsStream
from harness.services.truststore import TrustEntry, TrustStore, dn_key
from harness.tls import TlsIdentity, server_context

DEFAULT_PORT = 2445


class TvsEndpoint(TlsServerEndpoint):
    """TVS of one cluster node: `identity` is its TVS certificate and key."""

    name = "tvs"

    def __init__(self, events: EventLog, loop: BackgroundLoop, identity: TlsIdentity,
                 store: TrustStore, *, node: str = "tvs", host: str = "127.0.0.1",
                 port: int = 0, idle_timeout: float = 10.0) -> None:
        super().__init__(events, loop, host, port, handshake_timeout=idle_timeout)
        self.identity = identity
        self.store = store
        self.node = node
        self.idle_timeout = idle_timeout

    def _make_context(self) -> ssl.SSLContext:
        # TLS 1.0-1.2 with RSA key exchange, the range of §5.1 (harness.tls)
        return server_context(self.identity)

    def _record_error(self, reason: str, peer: str) -> None:
        self.events.record("tvs.error", source=self.name, address=peer, node=self.node,
                           reason=reason)

    async def _read(self, stream: TlsStream, size: int, what: str) -> bytes:
        try:
            return await stream.readexactly(size)
        except asyncio.IncompleteReadError as exc:
            raise FormatError(f"{what}: peer closed after {len(exc.partial)} of {size} bytes",
                              len(exc.partial)) from None

    async def _serve(self, stream: TlsStream, peer: str | None) -> None:
        session: int | None = None
        while True:
            async with asyncio.timeout(self.idle_timeout):  # one bound per message
                try:
                    first = await stream.readexactly(1)
                except asyncio.IncompleteReadError:
                    return  # clean close between messages
                head = first + await self._read(stream, wire.HEADER_SIZE - 1,
                                                "truncated header")
                header = wire.parse_header(head)
                payload = await self._read(stream, header.length,
                                           "payload shorter than its length")
            message = wire.parse_message(head + payload)
            if session is not None and header.session_id != session:
                raise FormatError(f"session id {header.session_id} after {session}", 4)
            session = header.session_id
            await stream.write(self.answer(message, peer))  # ONE write per answer (§5.1)

    def answer(self, message: wire.Message, peer: str | None = None) -> bytes:
        """The response frame for one parsed request; FormatError for a non-request."""
        command = message.header.command
        if command not in (wire.Command.VERIFY_REQUEST, wire.Command.QUERY_REQUEST):
            raise FormatError(f"command {command} is not a TVS request", 2)
        request = wire.decode_request(message)
        verify = command == wire.Command.VERIFY_REQUEST
        if wire.phone_of(request.device_name) is None:
            entry, reason = None, "missing or malformed DEVICE_NAME"
        else:
            entry, reason = self._verify(request) if verify else self._query(request)
        if entry is None:
            result = wire.Response(wire.STATUS_INVALID)
        else:
            roles = tuple(sorted(map(int, entry.roles)))  # plain ints in events, not enums
            result = wire.Response(wire.STATUS_VALID, roles, entry.ttl,
                                   None if verify else entry.der)
        data: dict[str, Any] = {"reason": reason} if reason else {}
        phone = wire.phone_of(request.device_name)
        if phone and peer:  # a rack phone's DHCP address, learnt from who asks
            self.events.bind_address(peer, phone)
        self.events.record(
            "tvs.verify" if verify else "tvs.query", source=self.name,
            phone=phone, address=peer, node=self.node,
            status="valid" if entry else "invalid", roles=list(result.roles),
            subject=_subject(request.certificate) if verify else request.subject,
            device=request.device_name, **data)
        reply = command + 1  # each response code follows its request code (§5.3)
        return wire.build_response(reply, message.header.session_id, result)

    def _verify(self, request: wire.Request) -> tuple[TrustEntry | None, str]:
        if not request.certificate:
            return None, "no CERTIFICATE element"
        entry = self.store.by_der(request.certificate)
        return entry, "" if entry else "certificate not in the trust store"

    def _query(self, query: wire.Request) -> tuple[TrustEntry | None, str]:
        """Key is integer serial + normalised issuer (§5.5.3); the subject must agree."""
        if query.issuer is not None and query.serial is not None:
            entry = self.store.by_issuer_serial(query.issuer, query.serial)
            subject = query.subject
            if entry and subject and entry.subject_key != dn_key(subject):
                return None, "subject does not match issuer/serial"
        elif query.subject:
            found = self.store.by_subject(query.subject)
            entry = found[0] if len(found) == 1 else None
        else:
            return None, "no subject, issuer or serial"
        return entry, "" if entry else "no matching certificate"


@functools.lru_cache(maxsize=256)
def _subject(der: bytes | None) -> str | None:
    """Subject text for the event; cached, as a storm asks about the same few certificates."""
    try:
        return dn_string(x509.load_der_x509_certificate(der).subject) if der else None
    except ValueError:
        return "(unparseable certificate)"
