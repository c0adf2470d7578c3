"""The phone side of TVS (docs/PROTOCOLS.md §7.5), shared by the twin phone and the CLI.

A phone does not validate the TVS certificate by chain or host name: it accepts the
server only if the certificate matches a TVS (role 21) record of its ITL. That
judgement stays with the caller (`accept_server_cert`), since only the twin knows
its ITL. The client adds what the phone does around it: priority order with
failover, one request per connection, per-attempt timeout, a positive-only
cache for TTL seconds, and session ids 1001, 1002, ... as an 8861 sends them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import ssl
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from harness.formats.errors import FormatError
from harness.services import tvs_wire as wire
from harness.services.tls_stream import TlsStream
from harness.services.truststore import dn_key
from harness.services.tvs import DEFAULT_PORT
from harness.tls import TlsIdentity, client_context

FIRST_SESSION_ID = 1001


@dataclass(frozen=True)
class TvsServer:
    """One `<TVS><members><member priority>` entry; lower priority is tried first."""

    host: str
    port: int = DEFAULT_PORT
    priority: int = 0


@dataclass(frozen=True)
class TvsResult:
    """A TVS answer; `server` is who answered, `from_cache` if no connection was made."""

    status: int
    roles: tuple[int, ...] = ()
    ttl: int | None = None
    certificate: bytes | None = None
    server: tuple[str, int] | None = None
    from_cache: bool = False

    @property
    def valid(self) -> bool:
        return self.status == wire.STATUS_VALID


class TvsUnavailable(Exception):
    """No TVS member gave an answer; every trust decision needing TVS fails closed."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        super().__init__("no TVS server usable: " + ("; ".join(failures) or "none configured"))


class _ServerRejected(Exception):
    """The server's certificate is not one the caller trusts for TVS."""


class TvsClient:
    """Asks the TVS members in priority order; one TLS connection per request."""

    def __init__(self, servers: Iterable[TvsServer | tuple[str, int, int]],
                 accept_server_cert: Callable[[bytes], bool], *,
                 client_identity: TlsIdentity | None = None, timeout: float = 10.0,
                 clock: Callable[[], float] = time.monotonic,
                 local_host: str | None = None) -> None:
        members = [s if isinstance(s, TvsServer) else TvsServer(*s) for s in servers]
        self.servers = sorted(members, key=lambda s: s.priority)
        self.accept_server_cert = accept_server_cert
        self.timeout = timeout
        self.local_host = local_host  # the phone's own address, so TVS knows who asks
        self._clock = clock
        self._context = _client_context(client_identity)
        self._cache: dict[Hashable, tuple[float, TvsResult]] = {}
        self._next_session = FIRST_SESSION_ID

    def clear_cache(self) -> None:
        """What a phone reset does (§7.5)."""
        self._cache.clear()

    async def verify(self, cert_der: bytes, device_name: str) -> TvsResult:
        """VERIFY a certificate met in a TLS handshake (HTTPS server and the like)."""
        key = ("verify", hashlib.sha256(cert_der).digest())
        return await self._ask(key, wire.Command.VERIFY_RESPONSE,
                               lambda sid: wire.build_verify_request(sid, device_name, cert_der))

    async def query(self, subject: str, issuer: str, serial: int, device_name: str) -> TvsResult:
        """QUERY the signer of a file by the names and serial in its header."""
        key = ("query", dn_key(issuer), serial)
        return await self._ask(key, wire.Command.QUERY_RESPONSE, lambda sid: (
            wire.build_query_request(sid, device_name, subject, issuer, serial)))

    def verify_blocking(self, cert_der: bytes, device_name: str) -> TvsResult:
        """For synchronous callers (the CLI); not from inside a running event loop."""
        return asyncio.run(self.verify(cert_der, device_name))

    def query_blocking(self, subject: str, issuer: str, serial: int,
                       device_name: str) -> TvsResult:
        return asyncio.run(self.query(subject, issuer, serial, device_name))

    async def _ask(self, key: Hashable, reply: int, build: Callable[[int], bytes]) -> TvsResult:
        hit = self._cache.get(key)
        if hit is not None and hit[0] > self._clock():
            return dataclasses.replace(hit[1], from_cache=True)
        self._cache.pop(key, None)
        failures: list[str] = []
        for server in self.servers:
            session, self._next_session = self._next_session, self._next_session + 1
            try:
                result = await asyncio.wait_for(
                    self._exchange(server, build(session), reply, session), self.timeout)
            except TimeoutError:
                failures.append(f"{server.host}:{server.port}: no answer in {self.timeout:g} s")
            except (FormatError, _ServerRejected) as exc:
                failures.append(f"{server.host}:{server.port}: {exc}")
            except (OSError, EOFError) as exc:
                failures.append(f"{server.host}:{server.port}: {type(exc).__name__}: {exc}")
            else:
                if result.valid and result.ttl:
                    self._cache[key] = (self._clock() + result.ttl, result)
                return result
        raise TvsUnavailable(failures)

    async def _exchange(self, server: TvsServer, frame: bytes, reply: int,
                        session: int) -> TvsResult:
        stream = await TlsStream.connect(server.host, server.port, self._context,
                                         local_host=self.local_host)
        try:
            der = stream.peer_certificate()
            if not der or not self.accept_server_cert(der):
                raise _ServerRejected("server certificate is not an accepted TVS certificate")
            await stream.write(frame)
            head = await stream.readexactly(wire.HEADER_SIZE)
            header = wire.parse_header(head)
            message = wire.parse_message(head + await stream.readexactly(header.length))
        finally:
            stream.close()
        if header.command != reply or header.session_id != session:
            raise FormatError(f"unexpected answer: command {header.command}, "
                              f"session {header.session_id}")
        answer = wire.decode_response(message)
        return TvsResult(answer.status, answer.roles, answer.ttl, answer.certificate,
                         (server.host, server.port))


_CONTEXTS: dict[int, tuple[TlsIdentity | None, ssl.SSLContext]] = {}
_MAX_CONTEXTS = 256


def _client_context(identity: TlsIdentity | None) -> ssl.SSLContext:
    """One client context per identity: building one costs ~150 us and a few KiB, and
    a rack of phones makes a TvsClient per boot. Keyed by identity object (held, so
    its id cannot be reused); bounded, oldest dropped first."""
    hit = _CONTEXTS.get(id(identity))
    if hit is not None and hit[0] is identity:
        return hit[1]
    if len(_CONTEXTS) >= _MAX_CONTEXTS:
        del _CONTEXTS[next(iter(_CONTEXTS))]
    context = client_context(identity)
    _CONTEXTS[id(identity)] = (identity, context)
    return context
