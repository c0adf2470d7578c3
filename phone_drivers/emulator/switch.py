"""The twin's Cisco IOS switch: netmiko logs in over real SSH and PoE really powers phones.

ARCHITECTURE.md principle 1: the PoE driver must not know whether it talks to a Catalyst
or to the twin, so the twin is a switch on the wire, not a mock of the driver. Built on
asyncssh's server (HARDWARE.md §3.5: fake-switches pins a Twisted that does not install on
Python 3.11 and has no PoE; asyncssh gives host keys, auth and line editing for free).
Each `SwitchPort` carries a `PoweredDevice` (the twin phone): a change of the port's
operational PoE state calls `power_on()` / `power_off()` on a dedicated thread, in order,
so a slow phone never blocks the SSH loop. `freeze()` makes the switch hang mid-session,
so the driver's timeouts can be tested against the real thing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import asyncssh

from harness.aio import BackgroundLoop
from harness.events import EventLog
from phone_drivers.emulator import ios_output
from phone_drivers.emulator.ios_cli import IosSession

PoeAdmin = Literal["auto", "never", "static"]
PoeOper = Literal["on", "off", "faulty", "power-deny"]


class PoweredDevice(Protocol):
    """What a port powers: the twin phone. Callbacks run on the switch's power thread."""

    @property
    def name(self) -> str: ...  # SEP<MAC>
    @property
    def mac(self) -> str: ...
    @property
    def platform(self) -> str: ...  # "Cisco IP Phone 7962"
    @property
    def address(self) -> str: ...  # IPv4 string, "" before DHCP
    @property
    def power_watts(self) -> float: ...
    @property
    def software_version(self) -> str: ...
    def power_on(self) -> None: ...
    def power_off(self) -> None: ...


@dataclass
class SwitchPort:
    """One switch port; `oper` is maintained by the switch, never set by hand."""

    name: str  # full IOS name, e.g. GigabitEthernet1/0/3
    admin_poe: PoeAdmin = "auto"
    shutdown: bool = False
    device: PoweredDevice | None = None
    vlan: int = 1
    voice_vlan: int | None = None
    max_watts: float = 15.4
    fault: Literal["faulty", "power-deny"] | None = None
    oper: PoeOper = field(default="off", init=False)


def make_ports(count: int, prefix: str = "GigabitEthernet1/0/") -> list[SwitchPort]:
    """`count` empty ports numbered from 1 (use `FastEthernet1/0/` for an Fa model)."""
    return [SwitchPort(f"{prefix}{n}") for n in range(1, count + 1)]


class FakeSwitch:
    """A Catalyst on 127.0.0.1 speaking IOS over SSH, with PoE wired to twin phones."""

    device_type = "cisco_ios"

    def __init__(
        self, ports: Iterable[SwitchPort] | int = 8, *, hostname: str = "lab-sw1",
        username: str = "admin", password: str = "cisco", enable_secret: str | None = None,
        loop: BackgroundLoop | None = None, events: EventLog | None = None,
        host: str = "127.0.0.1", port: int = 0, model: str = "WS-C3750X-48P",
        budget_watts: float = 370.0, shutdown_cuts_poe: bool = False,
    ) -> None:
        self._ports = make_ports(ports) if isinstance(ports, int) else list(ports)
        self.hostname, self.model, self.budget_watts = hostname, model, budget_watts
        self.username, self.password, self.enable_secret = username, password, enable_secret
        self.host, self.port, self.events = host, port, events
        self.shutdown_cuts_poe = shutdown_cuts_poe
        self._loop, self._own_loop = loop, loop is None
        self._server: asyncssh.SSHAcceptor | None = None
        self._conns: set[asyncssh.SSHServerConnection] = set()
        self._sessions: set[asyncssh.SSHServerProcess[str]] = set()
        self._thawed: asyncio.Event | None = None
        self._power = ThreadPoolExecutor(1, thread_name_prefix=f"{hostname}-poe")
        self._started = time.monotonic()
        for each in self._ports:  # PoE follows config from power-up, SSH or not
            self._apply(each)

    # --- port state (any thread; the CLI calls `configure` on the loop) -------------
    @property
    def ports(self) -> Sequence[SwitchPort]:
        return tuple(self._ports)

    @property
    def secret(self) -> str:
        return self.enable_secret or ""

    def uptime(self) -> float:
        return time.monotonic() - self._started

    def find_port(self, name: str) -> SwitchPort | None:
        """Port by full or abbreviated name (`GigabitEthernet1/0/3`, `Gi1/0/3`, `gi1/0/3`)."""
        kind, number = ios_output.split_name(name.replace(" ", ""))
        full = (ios_output.expand_kind(kind) or kind) + number
        return next((p for p in self._ports if p.name == full), None)

    def port_named(self, name: str) -> SwitchPort:
        port = self.find_port(name)
        if port is None:
            raise KeyError(f"{self.hostname} has no interface {name!r}")
        return port

    def attach(self, name: str, device: PoweredDevice | None) -> SwitchPort:
        """Plug `device` into port `name` (None unplugs); power follows the port config."""
        port = self.port_named(name)
        if port.device is not None and port.device is not device:
            self._set_oper(port, "off")
        port.device = device
        self._apply(port)
        return port

    def set_fault(self, name: str, fault: Literal["faulty", "power-deny"] | None) -> None:
        port = self.port_named(name)
        port.fault = fault
        self._apply(port)

    def configure(
        self, port: SwitchPort, *, admin_poe: PoeAdmin | None = None,
        max_watts: float | None = None, shutdown: bool | None = None,
        vlan: int | None = None, voice_vlan: int | None = None,
    ) -> None:
        """Apply interface configuration; `voice_vlan=0` removes the voice VLAN."""
        if admin_poe is not None:
            port.admin_poe = admin_poe
            port.max_watts = max_watts if max_watts is not None else 15.4
        if shutdown is not None:
            port.shutdown = shutdown
        if vlan is not None:
            port.vlan = vlan
        if voice_vlan is not None:
            port.voice_vlan = voice_vlan or None
        self._apply(port)

    def _apply(self, port: SwitchPort) -> None:
        enabled = port.admin_poe != "never" and not (port.shutdown and self.shutdown_cuts_poe)
        if not enabled or port.device is None:
            self._set_oper(port, "off")
        else:
            self._set_oper(port, port.fault or "on")

    def _set_oper(self, port: SwitchPort, oper: PoeOper) -> None:
        was_on, port.oper = port.oper == "on", oper
        device = port.device
        if device is None or was_on == (oper == "on"):
            return
        state = "on" if oper == "on" else "off"
        if self.events is not None:
            self.events.record("switch.power", source=f"switch:{self.hostname}",
                               phone=device.name, port=ios_output.short_name(port.name),
                               state=state)
        self._power.submit(self._call, device, state)

    def _call(self, device: PoweredDevice, state: str) -> None:
        try:
            device.power_on() if state == "on" else device.power_off()
        except Exception as exc:  # a broken twin must not kill the power thread
            if self.events is not None:
                self.events.record("switch.error", source=f"switch:{self.hostname}",
                                   phone=device.name, reason=f"power_{state}: {exc!r}")

    # --- lifecycle --------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Listen (port 0 → a free port, kept across restarts); returns once accepting."""
        if self._server is not None:
            return
        if self._loop is None:
            self._loop = BackgroundLoop(f"{self.hostname}-ssh")
        self._server = self._loop.run(self._listen())
        self.port = self._server.get_port()

    def stop(self) -> None:
        """Stop listening and drop every session (what a reload looks like to a client)."""
        server, self._server = self._server, None
        if server is not None and self._loop is not None:
            self._loop.run(self._close(server), timeout=10)
        if self._own_loop and self._loop is not None:
            self._loop.close()
            self._loop = None

    def close(self) -> None:
        self.stop()
        self._power.shutdown(wait=False)

    def freeze(self) -> None:
        """Keep accepting bytes but answer nothing (a hung switch) until `unfreeze()`."""
        self._set_frozen(True)

    def unfreeze(self) -> None:
        self._set_frozen(False)

    def _set_frozen(self, frozen: bool) -> None:
        async def flip() -> None:
            assert self._thawed is not None
            self._thawed.clear() if frozen else self._thawed.set()
            for process in self._sessions:
                _set_echo(process, not frozen)

        if self._loop is not None and self._thawed is not None:
            self._loop.run(flip())

    def __enter__(self) -> FakeSwitch:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- SSH side (runs on the loop) -----------------------------------------------
    async def _listen(self) -> asyncssh.SSHAcceptor:
        self._thawed = asyncio.Event()
        self._thawed.set()
        key = asyncssh.generate_private_key("ssh-ed25519")
        return await asyncssh.create_server(
            lambda: _Auth(self), self.host, self.port, server_host_keys=[key],
            process_factory=self._session, encoding="utf-8",
        )

    async def _close(self, server: asyncssh.SSHAcceptor) -> None:
        server.close()
        for conn in list(self._conns):
            conn.close()
        assert self._thawed is not None
        self._thawed.set()  # release sessions parked by freeze()
        await server.wait_closed()

    async def _session(self, process: asyncssh.SSHServerProcess[str]) -> None:
        cli = IosSession(self)
        assert self._thawed is not None
        newline = "\n" if process.get_terminal_type() else "\r\n"  # the editor adds \r
        self._sessions.add(process)
        try:
            await self._thawed.wait()
            if process.command is not None:  # `ssh switch show version`
                process.stdout.write(cli.handle(process.command).replace("\n", newline))
                return
            process.stdout.write(("\n" + cli.prompt).replace("\n", newline))
            while not cli.closed:
                try:
                    line = await process.stdin.readline()
                except (asyncssh.TerminalSizeChanged, asyncssh.BreakReceived):
                    continue
                if not line:
                    break
                await self._thawed.wait()
                if not self.running:
                    break
                text = cli.handle(line.rstrip("\r\n"))
                _set_echo(process, cli.echo)
                process.stdout.write((text + ("" if cli.closed else cli.prompt)).replace(
                    "\n", newline))
        except (OSError, asyncssh.Error):
            pass  # client went away mid-write
        finally:
            self._sessions.discard(process)
            if not process.is_closing():
                process.exit(0)


class _Auth(asyncssh.SSHServer):
    """Password login; while the switch is frozen, authentication never completes."""

    def __init__(self, switch: FakeSwitch) -> None:
        self._switch = switch

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._switch._conns.add(conn)
        self._conn = conn

    def connection_lost(self, exc: Exception | None) -> None:
        self._switch._conns.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        assert self._switch._thawed is not None
        await self._switch._thawed.wait()
        return username == self._switch.username and password == self._switch.password


def _set_echo(process: asyncssh.SSHServerProcess[str], echo: bool) -> None:
    """Line-editor echo (only present when the client asked for a PTY)."""
    setter: Any = getattr(process.channel, "set_echo", None)
    if setter is not None and process.get_terminal_type():
        setter(echo)
