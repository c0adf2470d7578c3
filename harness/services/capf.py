"""The CAPF server endpoint: TLS listener, connection lifecycle and event records.

Why it is split from `capf_session`: this part is about surviving the network
(the shared `tls_server.TlsServerEndpoint` lifecycle: failed TLS handshakes,
garbage and silent peers are *recorded* as `capf.error`; connections cut on
stop; a few KiB per connection on `tls_stream`), while the session module is the
protocol flow of docs/PROTOCOLS.md §6.5. Session ids come from a per-server counter
starting at 1, one per connection, as capfd does.
"""

from __future__ import annotations

import itertools
import ssl
from collections.abc import Sequence
from dataclasses import replace

from cryptography import x509

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services.capf_auth import Signer
from harness.services.capf_directory import CapfDirectory
from harness.services.capf_session import CapfSession, SessionSettings
from harness.services.tls_server import TlsServerEndpoint
from harness.services.tls_stream import TlsStream
from harness.tls import server_context


class CapfEndpoint(TlsServerEndpoint):
    """CAPF over TLS (default port 3804 on a lab; port 0 in tests).

    `identity` is the CAPF TLS certificate; `issuer` signs LSCs (defaults to the
    identity, as in capfd); `verify_cas` are extra CAs accepted for
    certificate authentication (e.g. the manufacturing CA for MICs).
    `auth_type_zero` reproduces capfd, which announces AUTH_TYPE 0 to every phone.
    """

    name = "capf"

    def __init__(
        self,
        events: EventLog,
        loop: BackgroundLoop,
        identity: Signer,
        directory: CapfDirectory,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        issuer: Signer | None = None,
        verify_cas: Sequence[x509.Certificate] = (),
        timeout: float = 10.0,
        keygen_timeout: float = 120.0,
        validity_days: int = 365,
        auth_type_zero: bool = False,
    ) -> None:
        super().__init__(events, loop, host, port, handshake_timeout=timeout)
        self.identity, self.issuer, self.directory = identity, issuer, directory
        self.settings = SessionSettings(
            issuer=issuer or identity,
            verify_cas=tuple(verify_cas),
            timeout=timeout,
            keygen_timeout=keygen_timeout,
            validity_days=validity_days,
            auth_type_zero=auth_type_zero,
        )
        self._session_ids = itertools.count(1)

    def _make_context(self) -> ssl.SSLContext:
        # re-read on every start: procedures regenerate certificates and restart the service
        self.settings = replace(self.settings, issuer=self.issuer or self.identity)
        return server_context(self.identity)

    def _record_error(self, reason: str, peer: str) -> None:
        self.events.record("capf.error", source=self.name, address=peer, reason=reason)

    async def _serve(self, stream: TlsStream, peer: str) -> None:
        session = CapfSession(self.settings, self.directory, stream,
                              next(self._session_ids), self.events.phone_at(peer))
        outcome = await session.run()
        if outcome.error is not None and not self._stopping:
            self.events.record("capf.error", source=self.name, phone=outcome.device,
                               address=peer, reason=outcome.error, session=session.session_id)
        if outcome.device is not None:
            self.events.record(
                "capf.session", source=self.name, phone=outcome.device, address=peer,
                session=session.session_id, device=outcome.device, operation=outcome.operation,
                auth=outcome.auth, result=outcome.result, reason=outcome.reason, **outcome.extra)
