"""The registration endpoint as Unified CM runs it: SIP over UDP, TCP and TLS.

Stands in for CUCM's SIP line side so tests see "phone registered" exactly as a
phone's REGISTER reaches CUCM (docs/REAL_WIRE.md §1): the device is named by the
Contact's `+u.sip!devicename.ccm.cisco.com` (else the MAC of `+sip.instance`),
the line by the DN in From/To, and the owner's policy says whether that device
may register that DN (configured lines; auto-registration for unknown devices,
never in mixed mode). Reset and Restart go back to the phone as Cisco's
out-of-dialog NOTIFY `Event: service-control` over the registration's own
connection (§2.1). In mixed mode a TLS listener (`sip-tls@NODE`, 5061) presents
the node's CallManager certificate and requires the phone's LSC or MIC.
Message forms live in `sip_cucm`, the records in `sip_binding`; this module owns
sockets and the request flow.

Bounds (docs/DESIGN.md "Connection caps and idle timeouts"): a TCP or TLS
connection that stays quiet for `IDLE_TIMEOUT` (1.5 x the 120 s registration
refresh plus a margin: 200 s) is closed, one that has sent no message for
`FIRST_MESSAGE_TIMEOUT` after accept (TLS: hello and handshake included) too;
each listener has a `ConnectionCap` (`max_connections`) that drops the
longest-idle connection without a registration first. A TLS connection takes a
handshake slot only once its whole ClientHello has arrived (`tls_stream.client_hello`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable
from typing import Any, cast

from cryptography.hazmat.primitives import hashes

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.formats.errors import FormatError
from harness.services import sip_cucm as cucm
from harness.services import sip_message as sip
from harness.services.base import Endpoint
from harness.services.connection_cap import ConnectionCap
from harness.services.plain_stream import PlainStream
from harness.services.sip_binding import (
    Admission,
    Channel,
    LineBinding,
    Policy,
    Registration,
    TcpChannel,
    TlsChannel,
    TlsSettings,
    accept_all,
    common_name,
)
from harness.services.sip_register import RegisterFacts
from harness.services.tls_stream import (
    MAX_HANDSHAKES,
    Listener,
    TlsStream,
    accept_tls,
)
from harness.tls import DEFAULT_POLICY, TlsPolicy, require_client_certificates, server_context

# a stream connection quiet for longer than 1.5 registration refreshes (+ margin) is dropped
IDLE_TIMEOUT = 1.5 * cucm.KEEPALIVE_INTERVAL + 20.0
FIRST_MESSAGE_TIMEOUT = 10.0  # accept (TLS: and handshake) to the first message
DEFERRED_NOTIFY_S = 30.0  # how long a reset waits for a phone our restart disconnected
HANDSHAKE_TIMEOUT = 10.0  # accept to the end of the TLS handshake


class Registrar(Endpoint):
    """CUCM's SIP registrar on one node: UDP and TCP on one port, TLS on another."""

    name = "sip"

    def __init__(self, events: EventLog, loop: BackgroundLoop, host: str = "127.0.0.1",
                 port: int = 0, policy: Policy = accept_all, source: str = "sip", *,
                 release: tuple[int, int] = (8, 0), tls: TlsSettings | None = None,
                 tls_enabled: Callable[[], bool] = lambda: True,
                 max_connections: int | None = None, idle_timeout: float = IDLE_TIMEOUT,
                 first_message_timeout: float = FIRST_MESSAGE_TIMEOUT) -> None:
        super().__init__(events, host, port)
        self.loop = loop
        self.policy = policy
        self.source = source
        self.release = release
        self.tls, self.tls_enabled = tls, tls_enabled
        self.registrations: dict[str, Registration] = {}
        self._tcp: Listener | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tls_listener: Listener | None = None
        self._tls_context: ssl.SSLContext | None = None
        self._tls_key: tuple[bytes, tuple[bytes, ...], TlsPolicy] = (b"", (), DEFAULT_POLICY)
        self._tls_port = tls.port if tls else 0
        self._streams: set[TlsStream] = set()
        self._connections: set[asyncio.Task[Any]] = set()  # deferred NOTIFYs under way
        self._stale: dict[str, Registration] = {}  # stream bindings cut by our restart
        self._deferred: dict[str, tuple[str, float]] = {}  # device -> (action, deadline)
        self._stopping = False
        self.idle_timeout, self.first_message_timeout = idle_timeout, first_message_timeout
        self.tcp_cap = ConnectionCap(max_connections, on_evict=self._evicted("tcp"))
        self.tls_cap = ConnectionCap(max_connections, on_evict=self._evicted("tls"))
        self._handshakes = asyncio.Semaphore(MAX_HANDSHAKES)
        self.tls_policy: Callable[[], TlsPolicy] = lambda: DEFAULT_POLICY

    @property
    def running(self) -> bool:
        return self._tcp is not None

    @property
    def tls_running(self) -> bool:
        return self._tls_listener is not None

    def start(self) -> None:
        if self._tcp is None:
            self.loop.run(self._start())
        if self.tls is not None and self.tls_enabled():
            self.start_tls()

    async def _start(self) -> None:
        self.tcp_cap.clear()
        tcp = Listener(self.path.stream(self._serve_tcp), backlog=1024)  # a rack at once
        self._bind(await tcp.start(self.host, self.port))  # UDP shares the TCP port
        self._tcp = tcp
        self._udp, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _UdpProtocol(self), sock=self.path.datagram_socket(bind=(self.host, self.port)))

    def start_tls(self) -> int:
        """Listen for SIP over TLS (idempotent); returns the bound port."""
        if self.tls is None:
            raise RuntimeError("this registrar has no TLS settings")
        if self._tls_listener is None:
            self._tls_context = self._current_context()
            listener = Listener(self.path.stream(self._serve_tls))
            address = self.loop.run(self._listen_tls(listener))
            self._tls_port = address[1]
            self._tls_listener = listener
        return self._tls_port

    async def _listen_tls(self, listener: Listener) -> tuple[str, int]:
        self._handshakes = asyncio.Semaphore(MAX_HANDSHAKES)  # bound to the running loop
        self.tls_cap.clear()
        return await listener.start(self.host, self._tls_port)

    def _evicted(self, transport: str) -> Callable[[str, str], None]:
        def record(peer: str, reason: str) -> None:
            self._error((peer, 0), transport, reason)
        return record

    def _current_context(self) -> ssl.SSLContext:
        """A TLS context for the current CallManager certificate and client CAs, rebuilt
        only when they changed. New connections get a regenerated certificate at once,
        like TVS and Tomcat here (on CUCM a CallManager restart is the documented step,
        docs/SECURITY_BY_DEFAULT.md §7; the harness does not make phones depend on it)."""
        assert self.tls is not None
        identity, cas, policy = self.tls.identity(), list(self.tls.client_cas()), \
            self.tls_policy()
        key = (identity.cert.fingerprint(hashes.SHA256()),
               tuple(c.fingerprint(hashes.SHA256()) for c in cas), policy)
        if self._tls_context is not None and key == self._tls_key:
            return self._tls_context
        # the phone's LSC or MIC, from a CA the owner names (§1.1)
        context = require_client_certificates(server_context(identity, policy), cas)
        self._tls_context, self._tls_key = context, key
        return context

    @property
    def tls_port(self) -> int:
        """The SIP-over-TLS port (the configured one until first started)."""
        return self._tls_port

    def stop(self) -> None:
        tcp, udp, self._tcp, self._udp = self._tcp, self._udp, None, None
        listener, self._tls_listener = self._tls_listener, None
        if tcp is None and listener is None:
            return

        async def _close() -> None:
            if listener is not None:
                listener.close()
                for stream in list(self._streams):
                    stream.abort()
            if tcp is not None:
                tcp.close()
            if udp is not None:
                udp.close()
            # handlers end by cancellation: each closes its own socket on the way out
            tasks = [t for t in self._connections if not t.done()]
            for server in (tcp, listener):
                if server is not None:
                    tasks += [t for t in server.tasks if not t.done()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=2.0)
            for reg in self.registrations.values():
                if reg.channel is not None:
                    reg.channel.close()

        self._stopping = True
        try:
            self.loop.run(_close(), timeout=10)
        finally:
            self._stopping = False
        # Phones re-register within seconds after a CallManager restart (keepalives);
        # UDP bindings stay valid across a restart, stream ones died with the connection
        # and wait in `_stale` for their phone to come back (see notify()).
        self._stale.update({d: r for d, r in self.registrations.items() if r.channel})
        self.registrations = {d: r for d, r in self.registrations.items() if r.channel is None}

    # --- requests --------------------------------------------------------
    def handle(self, data: bytes, peer: tuple[str, int], transport: str,
               channel: Channel | None = None) -> list[bytes]:
        """Process one message; returns the responses to send (none for responses)."""
        try:
            message = sip.parse(data)
        except FormatError as exc:
            self._error(peer, transport, f"unparsable message: {exc}")
            return []
        if message.status is not None:
            self.events.record("sip.response", source=self._source(transport),
                               address=peer[0], status=message.status,
                               cseq=message.header("cseq"))
            return []
        try:
            if message.method == "REGISTER":
                return [m.encode() for m in self._register(message, peer, transport, channel)]
            if message.method == "OPTIONS":
                return [sip.response(message, 200, "OK").encode()]
            return [sip.response(message, 501, "Not Implemented").encode()]
        except FormatError as exc:
            self._error(peer, transport, f"{message.method}: {exc}")
            return [cucm.bad_request(message, self.release, str(exc)).encode()]

    def _source(self, transport: str) -> str:
        return self.tls.source if transport == "tls" and self.tls else self.source

    def _error(self, peer: tuple[str, int], transport: str, reason: str) -> None:
        self.events.record("sip.error", source=self._source(transport), address=peer[0],
                           transport=transport, reason=reason)

    def _register(self, message: sip.SipMessage, peer: tuple[str, int], transport: str,
                  channel: Channel | None) -> list[sip.SipMessage]:
        request = RegisterFacts.read(message)
        source = self._source(transport)
        replies = [cucm.trying(message)] if transport != "udp" else []
        if request.keep_alive:  # backup CM keepalive: 200 OK, no binding (§1.7)
            self.events.record("sip.keepalive", source=source, phone=request.device,
                               address=peer[0], transport=transport)
            return [*replies, self._ok(message, request, "0" * 10, 0, newreg=False)]
        if request.expires == 0:
            self._unregister(request, peer, transport)
            return [*replies, self._ok(message, request, cucm.decimal_tag(), 0, newreg=False)]
        admission = self.policy(request.device, request.dn)
        if admission.status == 200 and channel is not None and channel.certificate_name \
                is not None and request.device not in channel.certificate_name:
            admission = Admission(403, "Forbidden", admission.lines)
            admission_text = f"certificate {channel.certificate_name} is not {request.device}"
        else:
            admission_text = admission.reason
        if admission.status != 200:
            self.events.record("sip.register_rejected", source=source, phone=request.device,
                               address=peer[0], transport=transport, dn=request.dn,
                               status=admission.status, reason=admission_text)
            return [*replies, cucm.refused(
                message, release=self.release, host=self.host, status=admission.status,
                reason=_REASONS.get(admission.status, "Forbidden"), text=admission_text)]
        return [*replies, self._bind_lines(message, request, admission, peer, transport, channel)]

    def _bind_lines(self, message: sip.SipMessage, request: RegisterFacts, admission: Admission,
                    peer: tuple[str, int], transport: str, channel: Channel | None
                    ) -> sip.SipMessage:
        reg = self.registrations.get(request.device)
        line1 = admission.lines[0] if admission.lines else request.dn
        known = reg.lines.get(request.dn) if reg else None
        if reg is not None and known is not None and known.call_id == request.call_id:
            known.cseq = request.cseq  # a refresh: same Call-ID, CSeq+1 (§1.7)
            reg.expires = cucm.KEEPALIVE_INTERVAL
            self.events.record("sip.refresh", source=self._source(transport),
                               phone=request.device, address=peer[0], transport=transport,
                               dn=request.dn, cseq=request.cseq)
            return self._ok(message, request, known.to_tag, cucm.KEEPALIVE_INTERVAL,
                            newreg=False)
        # A new registration of the device: nothing bound yet, or its first line again with
        # a new Call-ID (the phone rebooted); any other line joins the existing one.
        newreg = reg is None or request.dn == next(iter(reg.lines), request.dn)
        if newreg:
            reg = Registration(request.device, transport, peer, request.call_id,
                               cucm.KEEPALIVE_INTERVAL, channel, request.contact_host)
            self.registrations[request.device] = reg
            self._stale.pop(request.device, None)
        # A phone our restart cut off, coming back while a reset waits for it, is about
        # to reset: its timeline shows `sip.reconnect`, and `sip.register` after the reset.
        resetting = newreg and self._deliver_deferred(request.device)
        assert reg is not None
        tag = cucm.decimal_tag()
        dns = [request.dn]
        if request.bulk and request.dn == line1:
            dns += [dn for dn in admission.lines if dn != request.dn]
        for dn in dns:
            reg.lines[dn] = LineBinding(dn, request.call_id, request.cseq, tag)
        if channel is not None:
            channel.bound = True  # a registration lives on it: evicted last at the cap
        self.events.bind_address(peer[0], request.device)  # rack phones get theirs by DHCP
        kind = "sip.reconnect" if resetting else "sip.register"
        self.events.record(kind, source=self._source(transport), phone=request.device,
                           address=peer[0], transport=transport, dn=request.dn,
                           lines=list(reg.lines), load=request.load, model=request.model,
                           user_agent=request.user_agent, alarm=request.alarm,
                           expires=cucm.KEEPALIVE_INTERVAL, first=newreg, bulk=request.bulk)
        return self._ok(message, request, tag, cucm.KEEPALIVE_INTERVAL, newreg=newreg)

    def _deliver_deferred(self, device: str) -> bool:
        """A deferred reset goes out after this REGISTER's answer (a task runs later);
        True when there was one."""
        action, deadline = self._deferred.pop(device, ("", 0.0))
        loop = asyncio.get_running_loop()
        if not action or loop.time() > deadline:
            return False
        task = loop.create_task(self._notify(device, action))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)
        return True

    def _ok(self, message: sip.SipMessage, request: RegisterFacts, tag: str, expires: int, *,
            newreg: bool) -> sip.SipMessage:
        return cucm.register_ok(message, release=self.release, to_tag=tag, expires=expires,
                                newreg=newreg)

    def _unregister(self, request: RegisterFacts, peer: tuple[str, int], transport: str) -> None:
        reg = self.registrations.get(request.device)
        if reg is not None:
            reg.lines.pop(request.dn, None)
            if not reg.lines or request.call_id == reg.call_id:
                del self.registrations[request.device]
        self.events.record("sip.unregister", source=self._source(transport),
                           phone=request.device, address=peer[0], transport=transport,
                           dn=request.dn)

    def _connection_closed(self, channel: Channel, peer: tuple[str, int], transport: str) -> None:
        """A phone's TCP/TLS connection went away: its registration goes with it (§1.1)."""
        if self._stopping:
            return  # we cut it: stop() keeps the binding until the phone is back
        for device, reg in list(self.registrations.items()):
            if reg.channel is channel:
                del self.registrations[device]
                self.events.record("sip.unregister", source=self._source(transport),
                                   phone=device, address=peer[0], transport=transport,
                                   reason="connection closed")

    # --- reset / restart -------------------------------------------------
    def devices(self) -> list[str]:
        """Devices a reset reaches: registered, or cut off by our own restart and
        expected back (their NOTIFY waits for them, see `_notify`)."""
        return list(dict.fromkeys([*self.registrations, *self._stale]))

    def notify(self, device: str, action: str) -> bool:
        """Send `action` (reset or restart) to a registered phone; False if not registered."""
        if action not in ("reset", "restart"):
            raise ValueError(f"unknown action {action!r}")
        return self.loop.run(self._notify(device, action))

    async def _notify(self, device: str, action: str) -> bool:
        reg = self.registrations.get(device)
        if reg is None:
            if device not in self._stale:
                return False
            # Our own restart cut this phone's connection and it is reconnecting (its
            # keepalive, §1.7): deliver once it has registered again, within the bound.
            loop = asyncio.get_running_loop()
            self._deferred[device] = (action, loop.time() + DEFERRED_NOTIFY_S)
            self.events.record("sip.notify_deferred", source=self.source, phone=device,
                               action=action)
            return True
        dn = next(iter(reg.lines), device)
        port = self._tls_port if reg.transport == "tls" else self.port
        request = cucm.service_control(
            action=action, dn=dn, phone=reg.uri_host if reg.uri_host[0] else reg.contact,
            host=self.host, port=port, transport=reg.transport, release=self.release,
            register_call_id=reg.call_id)
        try:
            if reg.channel is not None:
                await reg.channel.send(request.encode())
            elif self._udp is not None:
                self._udp.sendto(request.encode(), reg.contact)
        except (OSError, ConnectionError) as exc:
            self._error(reg.contact, reg.transport, f"NOTIFY not delivered: {exc}")
            return False
        self.events.record("sip.notify", source=self._source(reg.transport), phone=device,
                           action=action, transport=reg.transport, dn=dn)
        return True

    # --- transports -------------------------------------------------------
    async def _serve_tcp(self, raw: socket.socket, peer: tuple[str, int]) -> None:
        if not self.tcp_cap.admit(peer[0]):
            raw.close()
            return
        stream = PlainStream(raw)
        try:
            await self._serve_stream(stream.read, TcpChannel(stream), peer, "tcp",
                                     self.tcp_cap)
        finally:
            self.tcp_cap.release()
            _drain(raw)  # a FIN, not a reset caused by the request bytes we left unread
            stream.close()

    async def _serve_tls(self, raw: socket.socket, peer: tuple[str, int]) -> None:
        stream: TlsStream | None = None
        if not self.tls_cap.admit(peer[0]):
            raw.close()
            return
        try:
            result = await accept_tls(raw, self._current_context(), deadline=HANDSHAKE_TIMEOUT,
                                      slots=self._handshakes, busy=self.tls_cap.busy,
                                      track=self._streams)
            if not isinstance(result, TlsStream):
                if result:
                    self._error(peer, "tls", result)
                return
            stream = result
            channel = TlsChannel(stream, common_name(stream.peer_certificate()))
            await self._serve_stream(stream.read, channel, peer, "tls", self.tls_cap)
        finally:
            self.tls_cap.release()
            if stream is None:
                raw.close()
            else:
                stream.close()
                self._streams.discard(stream)

    async def _serve_stream(self, read: Callable[[], Any], channel: Channel,
                            peer: tuple[str, int], transport: str, cap: ConnectionCap) -> None:
        buffer, spoken = b"", False
        try:
            while True:
                quiet = self.idle_timeout if spoken else self.first_message_timeout
                try:
                    chunk = await asyncio.wait_for(read(), timeout=quiet)
                except TimeoutError:
                    self._error(peer, transport, f"idle timeout: nothing in {quiet:g} s; "
                                                 "connection closed")
                    return
                if not chunk:
                    return
                buffer += chunk
                with cap.busy():
                    while (frame := sip.split_frame(buffer)) is not None:
                        message, buffer = frame
                        spoken = True
                        for reply in self.handle(message, peer, transport, channel):
                            await channel.send(reply)
                cap.touch(proven=channel.bound)
        except FormatError as exc:
            self._error(peer, transport, f"framing: {exc}; connection closed")
        except (ConnectionError, OSError, ssl.SSLError):
            return
        except Exception as exc:  # a bug must cost one connection, never the service
            self._error(peer, transport, f"internal error: {exc!r}")
        finally:
            self._connection_closed(channel, peer, transport)


def _drain(raw: socket.socket) -> None:
    """Send our FIN, then drop what the peer sent and we did not read (non-blocking)."""
    with contextlib.suppress(OSError, ValueError):
        raw.shutdown(socket.SHUT_WR)
        for _ in range(64):  # bounded: at most 256 KiB of leftovers
            if not raw.recv(4096):
                break


_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 503: "Service Unavailable"}


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, registrar: Registrar) -> None:
        self.registrar = registrar
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            replies = self.registrar.handle(data, addr, "udp")
        except Exception as exc:  # a bug must cost one datagram, never the service
            self.registrar._error(addr, "udp", f"internal error: {exc!r}")
            return
        if self.transport is not None:
            for reply in replies:
                with contextlib.suppress(OSError):
                    self.transport.sendto(reply, addr)
