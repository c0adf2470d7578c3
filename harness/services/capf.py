"""The CAPF server endpoint: TLS listener, connection lifecycle and event records.

Why it is split from `capf_session`: this part is about surviving the network
(plain TCP accepted first so failed TLS handshakes, garbage and silent peers
can be *recorded* as `capf.error` instead of vanishing into asyncio's logger;
per-connection tasks cancelled on stop), while the session module is the
protocol flow of PROTOCOLS.md §6.5. Session ids come from a per-server counter
starting at 1, one per connection, as capfd does.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cryptography import x509

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services.base import AsyncioEndpoint
from harness.services.capf_auth import Signer
from harness.services.capf_directory import CapfDirectory
from harness.services.capf_io import close
from harness.services.capf_session import CapfSession, SessionSettings
from harness.tls import server_context


class CapfEndpoint(AsyncioEndpoint):
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
        super().__init__(events, loop, host, port)
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
        self._tasks: set[asyncio.Task[None]] = set()
        self._tls: ssl.SSLContext | None = None

    async def _start_server(self) -> asyncio.Server:
        # re-read on every start: procedures regenerate certificates and restart the service
        self._tls = server_context(self.identity)
        self.settings = replace(self.settings, issuer=self.issuer or self.identity)
        return await asyncio.start_server(self._on_connect, self.host, self.port)

    def stop(self) -> None:
        """Stop listening and cut sessions in progress (a stopped CAPF answers nobody)."""

        async def _cancel() -> None:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.running:
            self.loop.run(_cancel(), timeout=10)
        super().stop()

    def _error(self, reason: str, peer: str, phone: str | None = None, **data: Any) -> None:
        self.events.record("capf.error", source=self.name, phone=phone, address=peer,
                           reason=reason, **data)

    async def _on_connect(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        peer = str(writer.get_extra_info("peername", ("?", 0))[0])
        try:
            await self._serve(reader, writer, peer)
        except Exception as exc:  # the server must outlive any one connection
            self._error(f"internal error: {type(exc).__name__}: {exc}", peer)
        finally:
            await close(writer)
            if task is not None:
                self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     peer: str) -> None:
        assert self._tls is not None
        try:
            await writer.start_tls(self._tls, ssl_handshake_timeout=self.settings.timeout)
        except (ssl.SSLError, OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            self._error(f"TLS handshake failed: {exc or type(exc).__name__}", peer)
            return
        session = CapfSession(self.settings, self.directory, reader, writer,
                              next(self._session_ids), self.events.phone_at(peer))
        outcome = await session.run()
        if outcome.error is not None:
            self._error(outcome.error, peer, outcome.device, session=session.session_id)
        if outcome.device is not None:
            self.events.record(
                "capf.session", source=self.name, phone=outcome.device, address=peer,
                session=session.session_id, device=outcome.device, operation=outcome.operation,
                auth=outcome.auth, result=outcome.result, reason=outcome.reason, **outcome.extra)
