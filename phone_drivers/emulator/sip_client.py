"""The twin phone's SIP user agent: REGISTER as Cisco firmware does, obey service-control.

docs/REAL_WIRE.md §1.1: TCP to `<sipPort>` by default over one persistent
connection from an ephemeral port (the same port in Via and Contact; CUCM's
NOTIFY comes back on it), TLS to `<securedSipPort>` presenting the LSC (else the
MIC) when the config asks for a secure device, UDP only when it says so. One
REGISTER per configured line, line 1 first with the bulk offer; refreshes reuse
each line's Call-ID with CSeq+1 every granted Expires − 5 s (§1.7). A NOTIFY
`Event: service-control` is answered 200 OK and then acted on (§2.1). Message
forms are in `sip_forms`; framing is shared with the registrar.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from harness.formats.errors import FormatError
from harness.phone_models import PhoneModel, lookup
from harness.services import sip_message as sip
from harness.services.tls_stream import TlsStream
from harness.tls import TlsIdentity, client_context
from phone_drivers.emulator import sip_forms as forms

ActionHandler = Callable[[str], None]
REGISTER_DELTA = 5  # timerRegisterDelta: refresh this long before the granted expiry
RECONNECT_ATTEMPTS = 30
RECONNECT_DELAY = 1.0


class SipRegistrationError(Exception):
    """REGISTER was refused or not answered."""


@dataclass(frozen=True)
class SipLine:
    """A line the phone registers: its DN and the `<contact>` user of its config."""

    dn: str
    contact: str


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, agent: SipAgent) -> None:
        self.agent = agent

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.agent._received(data, addr)


class SipAgent:
    """One phone's SIP user agent over UDP, TCP or TLS."""

    def __init__(self, device: str, local_host: str, on_action: ActionHandler, *,
                 model: PhoneModel | str = "7962", load: str | None = None,
                 lines: Sequence[SipLine] = (), transport: str = "tcp",
                 identity: TlsIdentity | None = None, boot: str = "power",
                 judge: Callable[[bytes], bool] | None = None) -> None:
        self.device = device.upper()
        self.local_host = local_host
        self.on_action = on_action
        info = model if isinstance(model, PhoneModel) else lookup(model)
        self.ua = forms.UaFacts(self.device[3:], info, load or f"SIP{info.model}.9-4-2SR3-1S")
        self.transport = transport.lower()
        self.identity = identity
        self.boot = boot
        self.judge = judge  # TLS: is the CallManager's certificate trusted? (None: any)
        self._counter = itertools.count(secrets.randbelow(16) + 1)
        start = 100 + secrets.randbelow(200)
        self.lines = [forms.LineDialog(line.dn, line.contact, self.ua.call_id(
            next(self._counter), local_host), self.ua.from_tag(), start)
            for line in (lines or [SipLine(self.device, self.device)])]
        self.first = True  # the next REGISTER is the first after boot (Reason, body)
        self.granted = 0  # Expires of the last 200 OK
        self.server: tuple[str, int] | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tls: TlsStream | None = None
        self._local: tuple[str, int] = (local_host, 0)
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: dict[tuple[str, str], asyncio.Future[sip.SipMessage]] = {}
        self._closed = False

    # --- connection ---------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._udp is not None or self._writer is not None or self._tls is not None

    async def open(self, server: tuple[str, int]) -> None:
        """Connect (TCP/TLS) or bind (UDP) towards `server`, from an ephemeral port."""
        if self.connected and self.server == server:
            return
        self._disconnect()
        loop = asyncio.get_running_loop()
        if self.transport == "udp":
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=(self.local_host, 0))
            self._udp = transport
            sockname = transport.get_extra_info("sockname")
        elif self.transport == "tls":
            stream = await TlsStream.connect(server[0], server[1], client_context(self.identity),
                                             local_host=self.local_host)
            if self.judge is not None and not self.judge(stream.peer_certificate()):
                stream.close()
                raise OSError("the CallManager certificate is not in the CTL/ITL")
            self._tls = stream
            sockname = stream.local_address()
            self._spawn(self._read_stream(stream.read, stream))
        else:
            reader, writer = await asyncio.open_connection(
                server[0], server[1], local_addr=(self.local_host, 0))
            self._writer = writer
            sockname = writer.get_extra_info("sockname")
            self._spawn(self._read_stream(lambda: reader.read(4096), writer))
        self._local = (str(sockname[0]), int(sockname[1]))
        self.server = server

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _disconnect(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._writer is not None:
            self._writer.close()
        if self._tls is not None:
            self._tls.close()
        self._udp, self._writer, self._tls = None, None, None

    def close(self) -> None:
        self._closed = True
        self._disconnect()
        try:
            current = asyncio.current_task()
        except RuntimeError:  # closed from outside any loop
            current = None
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()

    async def _send(self, data: bytes) -> None:
        if self._udp is not None and self.server is not None:
            self._udp.sendto(data, self.server)
        elif self._writer is not None:
            self._writer.write(data)
            await self._writer.drain()
        elif self._tls is not None:
            await self._tls.write(data)
        else:
            raise ConnectionError("not connected")

    # --- registration -------------------------------------------------------------
    async def register(self, server: tuple[str, int], expires: int = forms.EXPIRES,
                       timeout: float = 2.0, retries: int = 2) -> int:
        """REGISTER every line (line 1 first); line 1's final status (0 never happens:
        silence raises SipRegistrationError)."""
        try:
            await asyncio.wait_for(self.open(server), timeout * (retries + 1))
        except (OSError, TimeoutError) as exc:
            raise SipRegistrationError(f"cannot reach {server[0]}:{server[1]} over "
                                       f"{self.transport}: {exc}") from None
        first, status = self.first, 0
        for index, line in enumerate(self.lines):
            reply = await self._transaction(line, first=first, bulk=first and index == 0,
                                            expires=expires, timeout=timeout, retries=retries)
            code = reply.status or 0
            if index == 0:
                status = code
                if code != 200:
                    return code
                self.granted = _expires(reply, expires)
        self.first = False
        self._schedule_refresh()
        return status

    async def _transaction(self, line: forms.LineDialog, *, first: bool, bulk: bool,
                           expires: int, timeout: float, retries: int) -> sip.SipMessage:
        assert self.server is not None
        line.cseq += 1
        request = forms.register(self.ua, line, server=self.server, local=self._local,
                                 transport=self.transport, first=first, bulk=bulk,
                                 boot=self.boot, expires=expires)
        key = (line.call_id, f"{line.cseq} REGISTER")
        future: asyncio.Future[sip.SipMessage] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        sends = retries + 1 if self.transport == "udp" else 1  # streams never retransmit
        wait = timeout if self.transport == "udp" else timeout * (retries + 1)
        try:
            for _ in range(sends):
                try:
                    await self._send(request.encode())
                    return await asyncio.wait_for(asyncio.shield(future), wait)
                except TimeoutError:
                    continue
                except (OSError, ConnectionError) as exc:
                    raise SipRegistrationError(f"REGISTER not sent: {exc}") from None
            raise SipRegistrationError(
                f"no answer to REGISTER from {self.server[0]}:{self.server[1]}")
        finally:
            self._pending.pop(key, None)

    def _schedule_refresh(self) -> None:
        if self.granted > REGISTER_DELTA and not any(
                t.get_name() == "refresh" for t in self._tasks):
            task = asyncio.get_running_loop().create_task(self._refresh_loop(), name="refresh")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _refresh_loop(self) -> None:
        while not self._closed and self.server is not None:
            await asyncio.sleep(max(self.granted - REGISTER_DELTA, 1))
            with contextlib.suppress(SipRegistrationError):
                await self.refresh()

    async def refresh(self) -> int:
        """Refresh every line now (same Call-ID, CSeq+1, no body); line 1's status."""
        if self.server is None:
            raise SipRegistrationError("never registered")
        status = 0
        for index, line in enumerate(self.lines):
            reply = await self._transaction(line, first=False, bulk=False,
                                            expires=forms.EXPIRES, timeout=2.0, retries=2)
            if index == 0:
                status = reply.status or 0
        return status

    # --- receiving ----------------------------------------------------------------
    async def _read_stream(self, read: Callable[[], object], conn: object) -> None:
        buffer = b""
        try:
            while True:
                chunk = await read()  # type: ignore[misc]
                if not chunk:
                    break
                buffer += chunk
                while (frame := sip.split_frame(buffer)) is not None:
                    message, buffer = frame
                    await self._dispatch(message, self.server or ("", 0))
        except (FormatError, OSError, ConnectionError):
            pass
        if conn in (self._writer, self._tls) and not self._closed:
            self._lost()

    def _lost(self) -> None:
        """The CallManager closed our connection: register again (alarm 14, §1.4)."""
        server, registered = self.server, not self.first
        self._disconnect()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection closed by the CallManager"))
        if server is not None and registered:
            self.first, self.boot = True, "closed"
            self._spawn(self._reconnect(server))

    async def _reconnect(self, server: tuple[str, int]) -> None:
        for _ in range(RECONNECT_ATTEMPTS):
            await asyncio.sleep(RECONNECT_DELAY)
            if self._closed or self.connected:
                return
            with contextlib.suppress(SipRegistrationError):
                if await self.register(server) == 200:
                    return

    def _received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._spawn(self._dispatch(data, addr))

    async def _dispatch(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            message = sip.parse(data)
        except FormatError:
            return
        if message.status is not None:
            key = (message.header("call-id") or "", message.header("cseq") or "")
            future = self._pending.get(key)
            if future is not None and not future.done() and message.status >= 200:
                future.set_result(message)
            return
        if message.method == "NOTIFY":
            await self._reply(sip.response(message, 200, "OK"), addr)
            self._service_control(message)
            return
        await self._reply(sip.response(message, 501, "Not Implemented"), addr)

    async def _reply(self, message: sip.SipMessage, addr: tuple[str, int]) -> None:
        data = message.encode()
        with contextlib.suppress(OSError, ConnectionError):
            if self._udp is not None:
                self._udp.sendto(data, addr)
            else:
                await self._send(data)

    def _service_control(self, message: sip.SipMessage) -> None:
        """Act on `action=reset|restart` when RegisterCallId names one of our lines."""
        if (message.header("event") or "").lower() != "service-control":
            return
        fields: dict[str, str] = {}
        for line in message.body.decode("ascii", "replace").splitlines():
            key, _, value = line.partition("=")
            fields[key.strip()] = value.strip()
        call_id = fields.get("RegisterCallId", "").strip("{}")
        if call_id and call_id not in {line.call_id for line in self.lines}:
            return
        if fields.get("action") in ("reset", "restart"):
            self.on_action(fields["action"])


def _expires(reply: sip.SipMessage, asked: int) -> int:
    try:
        return sip.number(reply.header("expires"), "Expires")
    except FormatError:
        return asked
