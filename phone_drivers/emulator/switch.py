"""The twin's Cisco IOS switch: netmiko logs in over real SSH and PoE really powers phones.

ARCHITECTURE.md principle 1: the PoE driver must not know whether it talks to a Catalyst
or to the twin, so the twin is a switch on the wire, not a mock of the driver. Built on
asyncssh's server (HARDWARE.md §3.5: fake-switches pins a Twisted that does not install on
Python 3.11 and has no PoE; asyncssh gives host keys, auth and line editing for free).
A change of a port's operational PoE state calls the attached device's `power_on()` /
`power_off()` on one dedicated thread, in order, so a slow twin phone never blocks SSH.
`freeze()` makes the switch hang mid-session so driver timeouts meet the real thing.
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
    """What a port powers (the twin phone). `power_*` run on the switch's power thread."""

    @property
    def name(self) -> str: ...  # SEP<MAC>, as announced in CDP
    @property
    def mac(self) -> str: ...
    @property
    def platform(self) -> str: ...  # "Cisco IP Phone 7962"
    @property
    def address(self) -> str: ...  # IPv4 text, "" before DHCP
    @property
    def power_watts(self) -> float: ...
    @property
    def software_version(self) -> str: ...
    def power_on(self) -> None: ...
    def power_off(self) -> None: ...


@dataclass
class SwitchPort:
    """One port (full IOS name); `oper` is kept by the switch, never set by hand."""

    name: str
    admin_poe: PoeAdmin = "auto"
    shutdown: bool = False
    device: PoweredDevice | None = None
    vlan: int = 1
    voice_vlan: int | None = None
    max_watts: float = 15.4
    fault: Literal["faulty", "power-deny"] | None = None
    oper: PoeOper = field(default="off", init=False)


def make_ports(count: int, prefix: str = "GigabitEthernet1/0/") -> list[SwitchPort]:
    """Ports 1..count (pass `FastEthernet1/0/` for a Fa model)."""
    return [SwitchPort(f"{prefix}{n}") for n in range(1, count + 1)]


class FakeSwitch:
    """A Catalyst on 127.0.0.1 speaking IOS over SSH, with PoE wired to twin phones.

    PoE follows the port configuration from construction on, whether or not SSH is up:
    `stop()` takes the management plane away (the driver sees "unreachable"), not power.
    """

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
        self.host, self.port, self.events, self.loop = host, port, events, loop
        self.shutdown_cuts_poe, self._own_loop = shutdown_cuts_poe, loop is None
        self._server: asyncssh.SSHAcceptor | None = None
        self._conns: set[asyncssh.SSHServerConnection] = set()
        self._sessions: set[asyncssh.SSHServerProcess[str]] = set()
        self._thawed: asyncio.Event | None = None  # cleared while frozen
        self._power = ThreadPoolExecutor(1, thread_name_prefix=f"{hostname}-poe")
        self._born = time.monotonic()
        for each in self._ports:
            self._apply(each)

    # --- ports (any thread; the CLI calls `configure` on the loop) ---------------------
    @property
    def ports(self) -> Sequence[SwitchPort]:
        return tuple(self._ports)

    @property
    def secret(self) -> str:
        """The enable secret as netmiko's `secret` wants it ("" when none)."""
        return self.enable_secret or ""

    def uptime(self) -> float:
        return time.monotonic() - self._born

    def find_port(self, name: str) -> SwitchPort | None:
        """By full or abbreviated name: `GigabitEthernet1/0/3`, `Gi1/0/3`, `gi 1/0/3`."""
        kind, number = ios_output.split_name(name.replace(" ", ""))
        full = (ios_output.expand_kind(kind) or kind) + number
        return next((p for p in self._ports if p.name == full), None)

    def attach(self, name: str, device: PoweredDevice | None) -> SwitchPort:
        """Plug `device` into port `name` (None unplugs); power follows the port config."""
        port = self.find_port(name)
        if port is None:
            raise KeyError(f"{self.hostname} has no interface {name!r}")
        if port.device is not None and port.device is not device:
            self._set_oper(port, "off")
        port.device = device
        self._apply(port)
        return port

    def set_fault(self, name: str, fault: Literal["faulty", "power-deny"] | None) -> None:
        """Make a port report `faulty` / `power-deny` (no power) until cleared with None."""
        port = self.find_port(name)
        assert port is not None, name
        port.fault = fault
        self._apply(port)

    def configure(self, port: SwitchPort, *, admin_poe: PoeAdmin | None = None,
                  max_watts: float | None = None, shutdown: bool | None = None) -> None:
        if admin_poe is not None:
            port.admin_poe, port.max_watts = admin_poe, max_watts or 15.4
        if shutdown is not None:
            port.shutdown = shutdown
        self._apply(port)

    def _apply(self, port: SwitchPort) -> None:
        enabled = port.admin_poe != "never" and not (port.shutdown and self.shutdown_cuts_poe)
        on = enabled and port.device is not None
        self._set_oper(port, (port.fault or "on") if on else "off")

    def _set_oper(self, port: SwitchPort, oper: PoeOper) -> None:
        """Only transitions reach the device, in order, off the SSH loop."""
        was_on, port.oper, device = port.oper == "on", oper, port.device
        if device is None or was_on == (oper == "on"):
            return
        state = "on" if oper == "on" else "off"
        self._record("switch.power", device, port=ios_output.short_name(port.name), state=state)
        self._power.submit(self._call, device, state)

    def _call(self, device: PoweredDevice, state: str) -> None:
        try:
            device.power_on() if state == "on" else device.power_off()
        except Exception as exc:  # a broken twin must not kill the power thread
            self._record("switch.error", device, reason=f"power_{state}: {exc!r}")

    def _record(self, kind: str, device: PoweredDevice, **data: Any) -> None:
        if self.events is not None:
            self.events.record(kind, source=f"switch:{self.hostname}", phone=device.name, **data)

    # --- lifecycle (caller's thread) -----------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Listen (port 0 → a free port, kept across restarts); returns once accepting."""
        if self._server is None:
            self.loop = self.loop or BackgroundLoop(f"{self.hostname}-ssh")
            self._server = self.loop.run(self._listen())
            self.port = self._server.get_port()

    def stop(self) -> None:
        """Stop listening and drop every session (a reload, seen from the network)."""
        server, self._server = self._server, None
        if server is not None and self.loop is not None:
            self.loop.run(self._close(server), timeout=10)
        if self._own_loop and self.loop is not None:
            self.loop.close()
            self.loop = None

    def close(self) -> None:
        self.stop()
        self._power.shutdown(wait=False)

    def freeze(self, frozen: bool = True) -> None:
        """Keep accepting bytes but answer nothing, not even echo or login (a hung switch)."""
        async def flip() -> None:
            assert self._thawed is not None
            self._thawed.clear() if frozen else self._thawed.set()
            for process in self._sessions:
                _set_echo(process, not frozen)

        if self.loop is not None and self._thawed is not None:
            self.loop.run(flip())

    def unfreeze(self) -> None:
        self.freeze(False)

    def __enter__(self) -> FakeSwitch:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- SSH side (on the loop) ------------------------------------------------------
    async def _listen(self) -> asyncssh.SSHAcceptor:
        self._thawed = asyncio.Event()
        self._thawed.set()
        key = asyncssh.generate_private_key("ssh-ed25519")
        return await asyncssh.create_server(lambda: _Login(self), self.host, self.port,
                                            server_host_keys=[key], encoding="utf-8",
                                            process_factory=self._session)

    async def _close(self, server: asyncssh.SSHAcceptor) -> None:
        server.close()
        for conn in list(self._conns):
            conn.close()
        assert self._thawed is not None
        self._thawed.set()  # release sessions and logins parked by freeze()
        await server.wait_closed()

    async def _session(self, process: asyncssh.SSHServerProcess[str]) -> None:
        cli, thawed = IosSession(self), self._thawed
        assert thawed is not None
        eol = "\n" if process.get_terminal_type() else "\r\n"  # the PTY editor adds the \r
        self._sessions.add(process)
        try:
            await thawed.wait()
            if process.command is not None:  # `ssh switch show version`
                process.stdout.write(cli.handle(process.command).replace("\n", eol))
                return
            process.stdout.write(("\n" + cli.prompt).replace("\n", eol))
            while not cli.closed:
                try:
                    line = await process.stdin.readline()
                except (asyncssh.TerminalSizeChanged, asyncssh.BreakReceived):
                    continue
                await thawed.wait()
                if not line or not self.running:
                    break
                text = cli.handle(line.rstrip("\r\n"))
                _set_echo(process, cli.echo)
                tail = "" if cli.closed else cli.prompt
                process.stdout.write((text + tail).replace("\n", eol))
        except (OSError, asyncssh.Error):
            pass  # the client went away mid-write
        finally:
            self._sessions.discard(process)
            if not process.is_closing():
                process.exit(0)


class _Login(asyncssh.SSHServer):
    """Password login; tracks connections so `stop()` can drop them; parks while frozen."""

    def __init__(self, switch: FakeSwitch) -> None:
        self.switch = switch
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.switch._conns.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.switch._conns.discard(self.conn)

    def begin_auth(self, username: str) -> bool:
        return True  # always ask for a password

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        assert self.switch._thawed is not None
        await self.switch._thawed.wait()
        return (username, password) == (self.switch.username, self.switch.password)


def _set_echo(process: asyncssh.SSHServerProcess[str], echo: bool) -> None:
    """Line-editor echo (the editor only exists when the client asked for a PTY)."""
    setter: Any = getattr(process.channel, "set_echo", None)
    if setter is not None and process.get_terminal_type():
        setter(echo)
