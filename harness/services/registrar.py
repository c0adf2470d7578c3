"""The registration endpoint: SIP REGISTER over UDP and TCP, and reset/restart NOTIFY.

Stands in for CUCM's call-control registration so tests can see "phone
registered" and push a Reset or Restart (HARDWARE.md §5) to a registered phone.
Reset/restart use Cisco's unsolicited NOTIFY with `Event: service-control` and
an `action=reset|restart` body. Whether a device may register is decided by
the owner's policy (e.g. no auto-registration in mixed mode).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.formats.errors import FormatError
from harness.services import sip_message as sip
from harness.services.base import Endpoint

Policy = Callable[[str], tuple[int, str]]


def accept_all(device: str) -> tuple[int, str]:
    return 200, "OK"


@dataclass
class Registration:
    device: str
    transport: str
    contact: tuple[str, int]
    call_id: str
    expires: int
    writer: asyncio.StreamWriter | None = None


class Registrar(Endpoint):
    """SIP registrar on one address, UDP and TCP on the same port."""

    name = "sip"

    def __init__(self, events: EventLog, loop: BackgroundLoop, host: str = "127.0.0.1",
                 port: int = 0, policy: Policy = accept_all, source: str = "sip") -> None:
        super().__init__(events, host, port)
        self.loop = loop
        self.policy = policy
        self.source = source
        self.registrations: dict[str, Registration] = {}
        self._tcp: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None

    @property
    def running(self) -> bool:
        return self._tcp is not None

    def start(self) -> None:
        if self._tcp is None:
            self.loop.run(self._start())

    async def _start(self) -> None:
        self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self.port)
        self._bind(self._tcp.sockets[0].getsockname())  # UDP shares the TCP port
        self._udp, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _UdpProtocol(self), local_addr=(self.host, self.port))

    def stop(self) -> None:
        tcp, udp, self._tcp, self._udp = self._tcp, self._udp, None, None
        if tcp is None:
            return

        async def _close() -> None:
            tcp.close()
            for reg in self.registrations.values():
                if reg.writer is not None:
                    reg.writer.close()
            if udp is not None:
                udp.close()
            await tcp.wait_closed()

        self.loop.run(_close(), timeout=10)
        # Phones re-register within seconds after a CallManager restart (keepalives);
        # UDP bindings stay valid across a restart, TCP ones died with the connection.
        self.registrations = {d: r for d, r in self.registrations.items() if r.writer is None}

    # --- requests --------------------------------------------------------
    def handle(self, data: bytes, peer: tuple[str, int], transport: str,
               writer: asyncio.StreamWriter | None = None) -> bytes | None:
        """Process one message; returns the response bytes (None for responses)."""
        try:
            message = sip.parse(data)
        except FormatError as exc:
            self.events.record("sip.error", source=self.source, address=peer[0], reason=str(exc))
            raise
        if message.status is not None:
            self.events.record("sip.response", source=self.source, address=peer[0],
                               status=message.status, cseq=message.header("cseq"))
            return None
        if message.method == "REGISTER":
            return self._register(message, peer, transport, writer).encode()
        if message.method == "OPTIONS":
            return sip.response(message, 200, "OK").encode()
        return sip.response(message, 501, "Not Implemented").encode()

    def _register(self, message: sip.SipMessage, peer: tuple[str, int], transport: str,
                  writer: asyncio.StreamWriter | None) -> sip.SipMessage:
        device = message.device_name()
        if device is None:
            self.events.record("sip.error", source=self.source, address=peer[0],
                               reason="REGISTER without a SEP<MAC> identity")
            return sip.response(message, 400, "Bad Request")
        expires_text = message.header("expires") or "3600"
        expires = int(expires_text) if expires_text.isdigit() else 3600
        if expires == 0:
            self.registrations.pop(device, None)
            self.events.record("sip.unregister", source=self.source, phone=device,
                               address=peer[0], transport=transport)
            return sip.response(message, 200, "OK")
        code, reason = self.policy(device)
        if code != 200:
            self.events.record("sip.register_rejected", source=self.source, phone=device,
                               address=peer[0], transport=transport, status=code, reason=reason)
            return sip.response(message, code, reason)
        call_id = message.header("call-id") or ""
        self.registrations[device] = Registration(device, transport, peer, call_id, expires, writer)
        self.events.bind_address(peer[0], device)  # rack phones get their address by DHCP
        self.events.record("sip.register", source=self.source, phone=device, address=peer[0],
                           transport=transport, expires=expires)
        contact = message.header("contact") or f"<sip:{device}@{peer[0]}:{peer[1]}>"
        return sip.response(message, 200, "OK", [("Contact", f"{contact};expires={expires}")])

    # --- reset / restart -------------------------------------------------
    def notify(self, device: str, action: str) -> bool:
        """Send `action` (reset or restart) to a registered phone; False if not registered."""
        if action not in ("reset", "restart"):
            raise ValueError(f"unknown action {action!r}")
        return self.loop.run(self._notify(device, action))

    async def _notify(self, device: str, action: str) -> bool:
        reg = self.registrations.get(device)
        if reg is None:
            return False
        host, port = reg.contact
        body = f"action={action}\r\nRegisterCallId={{{reg.call_id}}}\r\n".encode()
        request = sip.SipMessage(f"NOTIFY sip:{device}@{host}:{port} SIP/2.0", [
            ("Via", f"SIP/2.0/{reg.transport.upper()} {self.host}:{self.port};"
                    f"branch=z9hG4bK{secrets.token_hex(6)}"),
            ("From", f"<sip:cucm@{self.host}>;tag={secrets.token_hex(4)}"),
            ("To", f"<sip:{device}@{host}>"),
            ("Call-ID", f"{secrets.token_hex(8)}@{self.host}"),
            ("CSeq", "101 NOTIFY"),
            ("Event", "service-control"),
            ("Subscription-State", "active"),
            ("Content-Type", "text/plain"),
        ], body)
        if reg.writer is not None:
            reg.writer.write(request.encode())
        elif self._udp is not None:
            self._udp.sendto(request.encode(), reg.contact)
        self.events.record("sip.notify", source=self.source, phone=device, action=action,
                           transport=reg.transport)
        return True

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        buffer = b""
        try:
            while True:
                chunk = await asyncio.wait_for(reader.read(4096), timeout=3600)
                if not chunk:
                    return
                buffer += chunk
                while (frame := sip.split_frame(buffer)) is not None:
                    message, buffer = frame
                    reply = self.handle(message, (peer[0], peer[1]), "tcp", writer)
                    if reply is not None:
                        writer.write(reply)
        except (FormatError, TimeoutError, ConnectionError):
            return
        finally:
            writer.close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, registrar: Registrar) -> None:
        self.registrar = registrar
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = self.registrar.handle(data, addr, "udp")
        except FormatError:
            return
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
