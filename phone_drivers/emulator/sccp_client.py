"""The twin phone's SCCP side: Register on a kept TCP (or TLS) connection, keep alive,
obey Reset.

A phone on SCCP firmware never speaks SIP: it connects to `ethernetPhonePort` of its
first call manager (TLS to that port + 443 with its LSC, else MIC, when the config's
deviceSecurityMode is 2 or 3), sends Register in the 79x1/79x2 form of
docs/REAL_WIRE.md §3.3 (124-byte body, raw MAC, instance 0, protocol 17, header
version 0x11 per the twin rule §3.8), answers CapabilitiesReq, asks for its button
template and sends KeepAlive at the acked interval (scaled by the timing profile).
Reset 1 is a full reboot, 2 a restart, 3 (apply config) is treated as a restart
(docs/HARDWARE.md §5). If the call manager goes away the phone re-registers, as real
phones do after a CallManager restart. Message bytes come from the shared codec.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from harness.formats.errors import FormatError
from harness.services import sccp_wire as wire
from harness.services.plain_stream import PlainStream
from harness.services.tls_stream import TlsStream

PROTOCOL = 17
TLS_OFFSET = 443  # SCCP over TLS listens on ethernetPhonePort + 443 (2000 → 2443)
FEATURES = 0x8572  # 7941 8.5.3 (§3.3): abbreviated dial, RFC 2833, dynamic messages, UTF-8
MAX_STREAMS = 5
# G.711µ, G.711A, G.729A, G.722: 20 ms frames (what a 79x2 offers)
CAPABILITIES = tuple(wire.Capability(p, 40) for p in (4, 2, 0x0C, 6))
RESET_ACTIONS = {wire.ResetType.RESET: "reset", wire.ResetType.RESTART: "restart",
                 wire.ResetType.APPLY_CONFIG: "restart"}
REJOIN_ATTEMPTS = 1000  # × the keepalive interval; a powered-off phone stops at once
ActionHandler = Callable[[str], None]
Recorder = Callable[..., None]
_Target = tuple[tuple[str, int], "ssl.SSLContext | None", "Callable[[bytes], bool] | None"]


class SccpRegistrationError(Exception):
    """No connection, or no RegisterAck/RegisterReject in time."""


@dataclass(frozen=True)
class StationInfo:
    """What the phone puts into Register."""

    device: str
    mac: str
    address: str
    device_type: int
    load: str
    lines: int = 2
    last: str = ""  # why the phone last (re)started: power, reset or restart


# The station alarm list's index and `Last=` name per boot kind (docs/REAL_WIRE.md §1.4)
LAST_CAUSE = {"power": (25, "initialized"), "reset": (22, "reset-reset"),
              "restart": (23, "reset-restart")}


@dataclass(frozen=True)
class Outcome:
    registered: bool
    text: str = ""  # RegisterReject text
    keepalive: int = 0  # acked interval, seconds


class SccpStation:
    """One phone's SCCP connection to one call manager."""

    def __init__(self, info: StationInfo, on_action: ActionHandler, record: Recorder, *,
                 keepalive_scale: float = 1.0, timeout: float = 5.0) -> None:
        self.info, self.on_action, self.record = info, on_action, record
        self.keepalive_scale, self.timeout = keepalive_scale, timeout
        self.acked_keepalives = 0
        self._stream: TlsStream | PlainStream | None = None
        self._task: asyncio.Task[None] | None = None
        self._version = wire.header_version(PROTOCOL)

    def register_message(self) -> wire.Register:
        info = self.info
        return wire.Register(
            info.device, station_ip=info.address, device_type=info.device_type, instance=0,
            max_streams=MAX_STREAMS, protocol=PROTOCOL, features=FEATURES, max_conferences=1,
            mac=info.mac.upper(), ipv4_scope=3, max_lines=info.lines, load_name=info.load)

    def alarm(self) -> wire.Alarm | None:
        """The previous start's cause, as SCCP phones report it after registering (§3.2):
        informational, text as in SIP's cisco-alarm, parm1 the alarm's index."""
        if self.info.last not in LAST_CAUSE:
            return None
        index, cause = LAST_CAUSE[self.info.last]
        return wire.Alarm(2, f"Name={self.info.device} Load={self.info.load} Last={cause}",
                          index, self.info.address)

    async def register(self, server: tuple[str, int],
                       context: ssl.SSLContext | None = None,
                       judge: Callable[[bytes], bool] | None = None) -> Outcome:
        """Connect, Register, wait for the answer; on an ack keep the link in the background."""
        self.close()
        try:
            async with asyncio.timeout(self.timeout):
                stream = await self._connect(server, context)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            raise SccpRegistrationError(f"cannot reach {server[0]}:{server[1]}: {exc!r}") \
                from None
        if judge is not None and isinstance(stream, TlsStream) and \
                not judge(stream.peer_certificate()):
            stream.close()
            raise SccpRegistrationError("call manager certificate not in the CTL/ITL")
        self._stream = stream
        splitter = wire.FrameSplitter()
        try:
            await stream.write(wire.encode(self.register_message(), self._version))
            async with asyncio.timeout(self.timeout):
                while True:
                    chunk = await stream.read()
                    if not chunk:
                        raise SccpRegistrationError("call manager closed without an answer")
                    frames = splitter.feed(chunk)
                    for index, frame in enumerate(frames):
                        message = wire.decode(frame)
                        if isinstance(message, wire.RegisterReject):
                            self.close()
                            return Outcome(False, message.text)
                        if isinstance(message, wire.RegisterAck):
                            self._task = asyncio.get_running_loop().create_task(
                                self._link(stream, splitter, message.keepalive,
                                           (server, context, judge), frames[index + 1:]),
                                name=f"{self.info.device} sccp")
                            return Outcome(True, keepalive=message.keepalive)
        except (OSError, ssl.SSLError, TimeoutError, FormatError) as exc:
            self.close()
            raise SccpRegistrationError(f"registering: {exc!r}") from None

    async def _connect(self, server: tuple[str, int],
                       context: ssl.SSLContext | None) -> TlsStream | PlainStream:
        if context is not None:
            return await TlsStream.connect(server[0], server[1], context,
                                           local_host=self.info.address)
        return await PlainStream.connect(server, self.info.address)

    async def _link(self, stream: TlsStream | PlainStream, splitter: wire.FrameSplitter,
                    keepalive: int, target: _Target, backlog: list[wire.Frame]) -> None:
        """Keep the registration; when the call manager goes away, register again."""
        if not await self._keep(stream, splitter, keepalive, backlog):
            return  # reset: the phone reboots, a new boot registers
        for attempt in range(1, REJOIN_ATTEMPTS + 1):
            await asyncio.sleep(max(0.05, keepalive * self.keepalive_scale))
            try:
                outcome = await self.register(*target)
            except SccpRegistrationError:
                continue
            self.record("phone.sccp_rejoin", attempt=attempt, registered=outcome.registered,
                        text=outcome.text)
            return  # registered (a new link task runs) or rejected (the CM said no)

    async def _keep(self, stream: TlsStream | PlainStream, splitter: wire.FrameSplitter,
                    keepalive: int, backlog: list[wire.Frame]) -> bool:
        """After the ack: CapabilitiesRes then ButtonTemplateReq (§3.2 order), keepalives,
        resets. True when the connection was lost, False after a Reset."""
        interval = max(0.05, keepalive * self.keepalive_scale)

        async def send(message: wire.Message) -> None:
            await stream.write(wire.encode(message, self._version))

        async def handle(frames: list[wire.Frame]) -> bool:
            for frame in frames:
                message = wire.decode(frame)
                if isinstance(message, wire.CapabilitiesReq):
                    await send(wire.CapabilitiesRes(CAPABILITIES))
                    await send(wire.ButtonTemplateReq())
                    if (alarm := self.alarm()) is not None:
                        await send(alarm)
                elif isinstance(message, wire.KeepAliveAck):
                    self.acked_keepalives += 1
                elif isinstance(message, wire.Reset):
                    action = RESET_ACTIONS.get(wire.ResetType(message.kind), "restart") \
                        if message.kind in (1, 2, 3) else "restart"
                    self.record("phone.sccp_reset", type=message.kind, action=action)
                    self.on_action(action)
                    return False
            return True

        reader: asyncio.Task[bytes] | None = None
        try:
            if not await handle(backlog):
                return False
            while True:
                reader = reader or asyncio.get_running_loop().create_task(stream.read())
                done, _ = await asyncio.wait({reader}, timeout=interval)
                if not done:
                    await send(wire.KeepAlive())
                    continue
                chunk, reader = reader.result(), None
                if not chunk:
                    self.record("phone.sccp_lost", reason="call manager closed the connection")
                    return True
                if not await handle(splitter.feed(chunk)):
                    return False
        except (OSError, ssl.SSLError, FormatError) as exc:
            self.record("phone.sccp_lost", reason=repr(exc))
            return True
        finally:
            if reader is not None:  # cancelled, or failed as the stream closed under it
                if not reader.done():
                    reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError, ssl.SSLError):
                    await reader  # also collects a failure ("exception never retrieved")

    @property
    def connected(self) -> bool:
        return self._task is not None and not self._task.done()

    async def wait_closed(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def unregister(self) -> int | None:
        """Unregister and wait for UnregisterAck; its status (None if none came)."""
        stream = self._stream
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if stream is None:
            return None
        splitter = wire.FrameSplitter()
        try:
            await stream.write(wire.encode(wire.Unregister(0), self._version))
            async with asyncio.timeout(self.timeout):
                while chunk := await stream.read():
                    for frame in splitter.feed(chunk):
                        message = wire.decode(frame)
                        if isinstance(message, wire.UnregisterAck):
                            return message.status
        except (OSError, ssl.SSLError, TimeoutError, FormatError):
            return None
        finally:
            self.close()
        return None

    def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done() and task is not _current():
            task.cancel()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()


def _current() -> asyncio.Task[None] | None:
    with contextlib.suppress(RuntimeError):
        return asyncio.current_task()
    return None
