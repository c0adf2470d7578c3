"""The twin phone's SIP side: REGISTER to the call agent, obey reset/restart NOTIFYs.

Uses UDP from the phone's own loopback address, like a SIP phone's default
transport, so the registrar's NOTIFY comes back to the same socket. Message
framing is shared with the registrar (`harness.services.sip_message`).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Callable

from harness.formats.errors import FormatError
from harness.services import sip_message as sip

ActionHandler = Callable[[str], None]


class SipRegistrationError(Exception):
    """REGISTER was refused or not answered."""


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, agent: SipAgent) -> None:
        self.agent = agent

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.agent._received(data, addr)


class SipAgent:
    """One phone's SIP user agent (UDP)."""

    def __init__(self, device: str, local_host: str, on_action: ActionHandler) -> None:
        self.device = device
        self.local_host = local_host
        self.on_action = on_action
        self._transport: asyncio.DatagramTransport | None = None
        self._pending: dict[str, asyncio.Future[sip.SipMessage]] = {}
        self._cseq = itertools.count(1)
        self._call_id = f"{secrets.token_hex(8)}@{local_host}"

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(self.local_host, 0))
        self._transport = transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()

    async def register(self, server: tuple[str, int], expires: int = 3600,
                       timeout: float = 2.0, retries: int = 2) -> int:
        """Send REGISTER, retransmitting on silence; returns the final status code."""
        if self._transport is None:
            await self.open()
        assert self._transport is not None
        port = self._transport.get_extra_info("sockname")[1]
        cseq = f"{next(self._cseq)} REGISTER"
        request = sip.SipMessage(f"REGISTER sip:{server[0]}:{server[1]} SIP/2.0", [
            ("Via", f"SIP/2.0/UDP {self.local_host}:{port};branch=z9hG4bK{secrets.token_hex(6)}"),
            ("From", f"<sip:{self.device}@{server[0]}>;tag={secrets.token_hex(4)}"),
            ("To", f"<sip:{self.device}@{server[0]}>"),
            ("Call-ID", self._call_id),
            ("CSeq", cseq),
            ("Contact", f"<sip:{self.device}@{self.local_host}:{port};transport=udp>"),
            ("Expires", str(expires)),
            ("User-Agent", "Cisco-CP phonelab-twin"),
        ])
        future: asyncio.Future[sip.SipMessage] = asyncio.get_running_loop().create_future()
        self._pending[cseq] = future
        try:
            for _ in range(retries + 1):
                self._transport.sendto(request.encode(), server)
                try:
                    reply = await asyncio.wait_for(asyncio.shield(future), timeout)
                    return reply.status or 0
                except TimeoutError:
                    continue
            raise SipRegistrationError(f"no answer to REGISTER from {server[0]}:{server[1]}")
        finally:
            self._pending.pop(cseq, None)

    def _received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            message = sip.parse(data)
        except FormatError:
            return
        if message.status is not None:
            future = self._pending.get(message.header("cseq") or "")
            if future is not None and not future.done() and message.status >= 200:
                future.set_result(message)
            return
        if self._transport is None:
            return
        if message.method == "NOTIFY":
            self._transport.sendto(sip.response(message, 200, "OK").encode(), addr)
            for line in message.body.decode("ascii", "replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "action" and value.strip() in ("reset", "restart"):
                    self.on_action(value.strip())
            return
        self._transport.sendto(sip.response(message, 501, "Not Implemented").encode(), addr)
