"""The SCCP (Skinny) side of a node's CallManager service: registration, keepalive, reset.

SCCP phones (a 7942 on SCCP firmware) register over a TCP connection they keep
open: Register → RegisterAck + CapabilitiesReq, or RegisterReject and close
(docs/REAL_WIRE.md §3.2); KeepAlive → KeepAliveAck at the acked interval (§3.4);
Reset type 1/2/3 pushes a reset, restart or apply-config (docs/HARDWARE.md §5). Who
may register is the owner's policy, the same one the SIP registrar uses.

Two listeners per node: plain TCP (`ethernetPhonePort`, 2000) and SCCP over TLS
(§3.6). The config has no element for the TLS port; phones derive it as
ethernetPhonePort + 443 (2000 → 2443), so the TLS listener binds the plain port + 443
unless a TLS port is given; with both ports 0 the endpoint picks a free plain port
whose + 443 is free too. It presents the
node's CallManager certificate and requires a client certificate (the LSC, else
the MIC) issued by a CA the owner names (CAPF, manufacturing CA), whose subject
names the registering device. It always listens: configs give encrypted-config
phones deviceSecurityMode 3 even in non-secure mode, and CUCM listens on 2443 anyway.

Rejections carry the text "Device Unknown" (chan-sccp's wording; CUCM's is not
documented, §3.3); the policy's reason goes to the `sccp.register_rejected` event.
Every malformed frame is an `sccp.error` event and costs only that connection.
Transport shares `tls_stream` with TVS: plain sockets and TLS streams look alike here.

Bounds (docs/DESIGN.md "Connection caps and idle timeouts"): a connection quiet
for `idle_timeout` (3 x the acked keepalive: 90 s at 30 s) is closed, one that has
sent no frame `first_message_timeout` (10 s) after accept or handshake too (phones
send Register at once, docs/REAL_WIRE.md §3.2); a TLS one
takes a handshake slot only once its whole ClientHello has arrived, within one
`handshake_timeout` from accept; each listener has a `ConnectionCap`
(`max_connections`) that drops the longest-idle unregistered connection first.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography import x509
from cryptography.x509.oid import NameOID

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.formats.errors import FormatError
from harness.services import sccp_wire as wire
from harness.services.base import Endpoint
from harness.services.connection_cap import ConnectionCap
from harness.services.plain_stream import PlainStream
from harness.services.sip_binding import Policy, accept_all
from harness.services.tls_stream import (
    MAX_HANDSHAKES,
    Listener,
    TlsStream,
    accept_tls,
)
from harness.tls import (
    DEFAULT_POLICY,
    TlsIdentity,
    TlsPolicy,
    require_client_certificates,
    server_context,
)

TLS_OFFSET = 443  # SCCP over TLS = ethernetPhonePort + 443 (2000 → 2443)
PORT_PICKS = 20  # tries for a free port P with P + 443 free as well (ports 0)
MAX_PROTOCOL = 17  # what this call manager speaks; the ack carries min(phone, this)
DATE_TEMPLATE = "M/D/YA"
REJECT_TEXT = "Device Unknown"
RESET_KINDS = {"reset": wire.ResetType.RESET, "restart": wire.ResetType.RESTART,
               "apply-config": wire.ResetType.APPLY_CONFIG}
ButtonCount = Callable[[str], int]
CaSource = Callable[[], Sequence[x509.Certificate]]


class _Stream(Protocol):
    async def read(self, limit: int = ...) -> bytes: ...
    async def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


@dataclass(eq=False)  # one object per connection: identity is equality
class Session:
    """One phone's TCP/TLS connection; `device` once it registered on it."""

    stream: _Stream
    address: str
    transport: str  # tcp | tls
    source: str
    peer_cert: bytes = b""
    device: str | None = None
    version: int = 0  # header version of what we send
    keepalives: int = 0
    capabilities: tuple[wire.Capability, ...] = field(default=())


def _one_line(count: str) -> int:
    return 1


class SccpEndpoint(Endpoint):
    """SCCP on one node: plain TCP on `port`, TLS on `tls_port` (see module doc)."""

    name = "sccp"

    def __init__(self, events: EventLog, loop: BackgroundLoop, identity: TlsIdentity | None,
                 *, node: str = "cm", host: str = "127.0.0.1", port: int = 0,
                 tls_port: int = 0, policy: Policy = accept_all,
                 client_cas: CaSource = tuple, buttons: ButtonCount = _one_line,
                 keepalive: int = 30, secondary_keepalive: int = 60,
                 idle_timeout: float | None = None, handshake_timeout: float = 10.0,
                 max_connections: int | None = None,
                 first_message_timeout: float = 10.0) -> None:
        super().__init__(events, host, port)
        self.loop, self.identity, self.node = loop, identity, node
        self.tls_port, self.policy, self.client_cas, self.buttons = (
            tls_port, policy, client_cas, buttons)
        self.keepalive, self.secondary_keepalive = keepalive, secondary_keepalive
        self.idle_timeout = idle_timeout if idle_timeout is not None else 3.0 * keepalive
        self.handshake_timeout = handshake_timeout
        self.first_message_timeout = first_message_timeout  # phones Register at once
        self.source, self.tls_source = f"sccp@{node}", f"sccp-tls@{node}"
        self.registrations: dict[str, Session] = {}
        self.keepalive_count: Counter[str] = Counter()
        self._plain: Listener | None = None
        self._tls: Listener | None = None
        self._tls_bound: tuple[str, int] | None = None
        self._sessions: set[Session] = set()
        self._handshakes = asyncio.Semaphore(MAX_HANDSHAKES)
        self._stopping = False
        self.plain_cap = ConnectionCap(max_connections, on_evict=self._evicted(self.source))
        self.tls_cap = ConnectionCap(max_connections, on_evict=self._evicted(self.tls_source))
        self.tls_policy: Callable[[], TlsPolicy] = lambda: DEFAULT_POLICY  # read at start

    # --- lifecycle -----------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._plain is not None

    @property
    def tls_address(self) -> tuple[str, int] | None:
        """Where SCCP over TLS listens (None without an identity or before start)."""
        return self._tls_bound

    def start(self) -> None:
        if self._plain is not None:
            return
        self._stopping = False
        self._handshakes = asyncio.Semaphore(MAX_HANDSHAKES)
        self.plain_cap.clear()
        self.tls_cap.clear()
        if self.identity is not None:
            self._context = self._server_context(self.identity)
        self._plain, self._tls = self.loop.run(self._listen())

    async def _listen(self) -> tuple[Listener, Listener | None]:
        """Bind plain and TLS; with both ports free to choose, pick a plain port whose
        + 443 is free too, since that is where phones look for TLS."""
        pick = self.port == 0 and self.tls_port == 0 and self.identity is not None
        for _ in range(PORT_PICKS if pick else 1):
            plain = Listener(self.path.stream(self._plain_connection))
            bound = await plain.start(self.host, self.port)
            if self.identity is None:
                self._bind(bound)
                return plain, None
            tls = Listener(self.path.stream(self._tls_connection))
            try:
                self._tls_bound = await tls.start(self.host, self.tls_port
                                                  or bound[1] + TLS_OFFSET)
            except OSError:
                plain.close()
                if pick:
                    continue  # that plain port's + 443 is taken: another free port
                raise
            self._bind(bound)
            self.tls_port = self._tls_bound[1]
            return plain, tls
        raise OSError(f"no free port pair (P, P + {TLS_OFFSET}) on {self.host} "
                      f"in {PORT_PICKS} tries")

    def _evicted(self, source: str) -> Callable[[str, str], None]:
        def record(peer: str, reason: str) -> None:
            self._error(source, peer, reason)
        return record

    def _server_context(self, identity: TlsIdentity) -> ssl.SSLContext:
        return require_client_certificates(server_context(identity, self.tls_policy()),
                                           list(self.client_cas()))

    def stop(self) -> None:
        plain, tls, self._plain, self._tls = self._plain, self._tls, None, None
        if plain is not None:
            self.loop.run(self._shutdown([x for x in (plain, tls) if x is not None]), timeout=10)

    async def _shutdown(self, listeners: list[Listener]) -> None:
        self._stopping = True
        for listener in listeners:
            listener.close()
        for session in list(self._sessions):
            session.stream.abort()  # a stopped service drops its phones, no goodbye
        tasks = [t for listener in listeners for t in listener.tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        self.registrations.clear()

    # --- reset -------------------------------------------------------------------------
    def reset(self, device: str, kind: str | int = "reset") -> bool:
        """Send Reset (1 reset, 2 restart, 3 apply config) to a registered phone;
        False if it is not registered here."""
        reset_type = wire.ResetType(RESET_KINDS[kind] if isinstance(kind, str) else kind)
        return bool(self.loop.run(self._reset(device, reset_type), timeout=10))

    def notify(self, device: str, action: str) -> bool:
        """The registrar's `notify` shape, so procedures reset either kind of phone."""
        return self.reset(device, action)

    async def _reset(self, device: str, kind: wire.ResetType) -> bool:
        session = self.registrations.get(device)
        if session is None:
            return False
        self._record("sccp.reset", session, phone=device, type=int(kind),
                     action=kind.name.lower().replace("_", "-"))
        try:
            await session.stream.write(wire.encode(wire.Reset(kind), session.version))
        except OSError:
            return False
        return True

    # --- connections ---------------------------------------------------------------------
    async def _plain_connection(self, raw: socket.socket, peer: tuple[str, int]) -> None:
        if not self.plain_cap.admit(peer[0]):
            raw.close()
            return
        try:
            await self._serve(Session(PlainStream(raw), peer[0], "tcp", self.source),
                              self.plain_cap)
        finally:
            self.plain_cap.release()

    async def _tls_connection(self, raw: socket.socket, peer: tuple[str, int]) -> None:
        if not self.tls_cap.admit(peer[0]):
            raw.close()
            return
        try:
            stream = await self._tls_handshake(raw, peer[0])
            if stream is not None:
                await self._serve(Session(stream, peer[0], "tls", self.tls_source,
                                          peer_cert=stream.peer_certificate()), self.tls_cap)
        finally:
            self.tls_cap.release()

    async def _tls_handshake(self, raw: socket.socket, peer: str) -> TlsStream | None:
        """The established stream, or None (error recorded, socket closed)."""
        try:
            result = await accept_tls(raw, self._context, deadline=self.handshake_timeout,
                                      slots=self._handshakes, busy=self.tls_cap.busy)
        except BaseException:  # evicted or stopped: the socket still closes
            raw.close()
            raise
        if isinstance(result, TlsStream):
            return result
        raw.close()
        if result:
            self._error(self.tls_source, peer, result)
        return None

    async def _serve(self, session: Session, cap: ConnectionCap) -> None:
        self._sessions.add(session)
        splitter = wire.FrameSplitter()
        quiet = min(self.first_message_timeout, self.idle_timeout)  # until a first frame
        try:
            while True:
                async with asyncio.timeout(quiet):
                    chunk = await session.stream.read()
                if not chunk:
                    if splitter.pending:
                        raise FormatError(f"peer closed inside a frame ({splitter.pending} "
                                          "bytes pending)", splitter.pending)
                    return
                with cap.busy():
                    for frame in splitter.feed(chunk):
                        quiet = self.idle_timeout
                        if not await self._handle(session, wire.decode(frame)):
                            return
                cap.touch(proven=session.device is not None)
        except FormatError as exc:
            self._error(session.source, session.address, f"malformed: {exc}",
                        phone=session.device)
        except TimeoutError:
            self._error(session.source, session.address,
                        f"idle timeout: nothing in {quiet:g} s", phone=session.device)
        except (ssl.SSLError, OSError) as exc:
            self._error(session.source, session.address, f"connection: {exc!r}",
                        phone=session.device)
        except Exception as exc:  # a bug costs one connection, never the service
            self._error(session.source, session.address, f"internal error: {exc!r}",
                        phone=session.device)
        finally:
            self._sessions.discard(session)
            if session.device and self.registrations.get(session.device) is session:
                del self.registrations[session.device]
            session.stream.close()

    async def _send(self, session: Session, message: wire.Message) -> None:
        await session.stream.write(wire.encode(message, session.version))

    async def _handle(self, session: Session, message: wire.Message) -> bool:
        """Answer one message; False ends the connection."""
        if isinstance(message, wire.Register):
            return await self._register(session, message)
        if isinstance(message, wire.KeepAlive):
            await self._send(session, wire.KeepAliveAck())
            session.keepalives += 1
            if session.device:
                self.keepalive_count[session.device] += 1
                if session.keepalives == 1:  # the first one shows the link is alive; no flood
                    self._record("sccp.keepalive", session, phone=session.device)
        elif isinstance(message, wire.Unregister):
            await self._send(session, wire.UnregisterAck(0))
            self._record("sccp.unregister", session, phone=session.device, reason=message.reason)
            return False
        elif session.device is None:
            return True  # nothing else means anything before Register: ignored
        elif isinstance(message, wire.ButtonTemplateReq):
            lines = max(1, self.buttons(session.device))
            await self._send(session, wire.ButtonTemplate(tuple(
                (i, wire.ButtonDefinition.LINE) for i in range(1, lines + 1))))
        elif isinstance(message, wire.CapabilitiesRes):
            session.capabilities = message.capabilities
        elif isinstance(message, wire.Alarm):
            self._record("sccp.alarm", session, phone=session.device,
                         severity=message.severity, text=message.text)
        return True  # IpPort, unknown ids and the rest of the post-ack requests: tolerated

    async def _register(self, session: Session, message: wire.Register) -> bool:
        device = message.device_name.upper()
        session.version = wire.header_version(message.protocol)
        admission = self.policy(device, device)  # SCCP names no DN: the device stands for it
        code, reason = admission.status, admission.reason
        if code == 200 and session.transport == "tls" and not _names(session.peer_cert, device):
            code, reason = 403, "client certificate does not name the device"
        if code != 200:
            await self._send(session, wire.RegisterReject(REJECT_TEXT))
            self._record("sccp.register_rejected", session, phone=device, status=code,
                         reason=reason, device_type=message.device_type)
            return False
        protocol = min(message.protocol, MAX_PROTOCOL)
        session.version = wire.header_version(protocol)
        old = self.registrations.get(device)
        if old is not None and old is not session:
            old.stream.abort()  # the phone came back on a new connection
        session.device, self.registrations[device] = device, session
        self.events.bind_address(session.address, device)
        self._record("sccp.register", session, phone=device, device_type=message.device_type,
                     protocol=message.protocol, load=message.load_name,
                     station_ip=message.station_ip)  # on the timeline before the phone knows
        await self._send(session, wire.RegisterAck(
            self.keepalive, DATE_TEMPLATE, self.secondary_keepalive, protocol,
            features=message.features))
        await self._send(session, wire.CapabilitiesReq())
        return True

    # --- events ----------------------------------------------------------------------------
    def _record(self, kind: str, session: Session, **data: Any) -> None:
        self.events.record(kind, source=session.source, address=session.address,
                           transport=session.transport, node=self.node, **data)

    def _error(self, source: str, address: str, reason: str, **data: Any) -> None:
        if not self._stopping:  # connections we cut on stop() are not the peer's fault
            self.events.record("sccp.error", source=source, address=address, node=self.node,
                               reason=reason, **data)


def _names(der: bytes, device: str) -> bool:
    """The client certificate's CN names the device (LSC: `SEP…`, MIC: `CP-7962G-SEP…`)."""
    with contextlib.suppress(ValueError):
        cert = x509.load_der_x509_certificate(der)
        return any(device in str(a.value).upper()
                   for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    return False
