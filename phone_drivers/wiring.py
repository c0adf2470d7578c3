"""Turn a topology rack into `LabPhone`s: which switch port, console and keypad.

Hardware racks take switch, CGI and phone-SSH credentials from the environment
variables the topology names and console URLs from the file; a twin rack
supplies the same facts from the running emulation (its switch's SSH port, its
phones' ptys, web servers and SSH ports, its generated CGI user). Either way the
drivers built here are the very same classes: `SerialConsole` for serial URLs,
`SshConsole` for `ssh://` (88xx), `CgiKeypad` for key presses.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from harness.cluster.from_spec import ssh_logins
from harness.errors import LabError, UsageError
from harness.events import EventLog
from harness.phone_models import lookup
from lab_topology.schema import PhoneSpec, RackSpec, SwitchSpec
from phone_drivers.console import Console, SerialConsole
from phone_drivers.console_ssh import SshConsole, SshTarget, learned_address
from phone_drivers.keypad import CgiKeypad, ConsoleKeypad, Keypad, ManualKeypad
from phone_drivers.phone import LabPhone
from phone_drivers.poe import IosPoePort, SwitchConnection, SwitchSession
from phone_drivers.power_protocol import PowerControl


@dataclass(frozen=True)
class Wiring:
    """Concrete coordinates: how to log into each switch, where each console is."""

    switches: Mapping[str, SwitchConnection]
    consoles: Mapping[str, tuple[str, int]]  # phone → (pyserial URL, baud)
    addresses: Mapping[str, str]  # phone → IP address, where known
    web: Mapping[str, str] = field(default_factory=dict)  # phone → HTTP base URL, if not :80
    cgi: CgiLogin | None = None  # the lab user phones' authenticationURL accepts
    key_pause: float = 0.5  # CGI keypad: wait between key pushes
    ssh_consoles: Mapping[str, SshTarget] = field(default_factory=dict)  # phone → SSH log

    def ssh_logins(self) -> dict[str, tuple[str, str]]:
        """phone → (sshUserId, sshPassword) the cluster must write into its config."""
        return {name: (t.username, t.password.get_secret_value())
                for name, t in self.ssh_consoles.items()}


@dataclass(frozen=True)
class CgiLogin:
    """The lab's CGI user (docs/REAL_WIRE.md §6.2); the password never reaches a log."""

    user: str
    password: SecretStr


def hardware_wiring(rack: RackSpec) -> Wiring:
    """Credentials from the environment, consoles from the file (UsageError if unset)."""
    def connect(s: SwitchSpec) -> SwitchConnection:
        c = s.credentials
        return SwitchConnection.from_env(s.host, s.port, username_env=c.username_env,
                                         password_env=c.password_env,
                                         secret_env=c.secret_env or "PHONELAB_SWITCH_SECRET",
                                         device_type=s.device_type)

    needs_cgi = any(p.keypad == "cgi" for p in rack.phones)

    def ssh_target(spec: PhoneSpec, login: tuple[str, str]) -> SshTarget:
        assert spec.console is not None
        host, port = spec.console.ssh_endpoint  # no host: the phone's (known or learned) address
        return SshTarget(host or (str(spec.address) if spec.address else None), port, login[0],
                         SecretStr(login[1]), spec.console.ssh_shell)

    switches = {s.name: connect(s) for s in rack.switches}  # their UsageError first
    logins = ssh_logins(rack)
    return Wiring(
        switches=switches,
        consoles={p.name: (p.console.url, p.console.baud) for p in rack.phones
                  if p.console and not p.console.is_ssh},
        addresses={p.name: str(p.address) for p in rack.phones if p.address},
        cgi=cgi_login(rack) if needs_cgi else None,
        ssh_consoles={p.name: ssh_target(p, logins[p.name]) for p in rack.phones
                      if p.name in logins},
    )


def cgi_login(rack: RackSpec) -> CgiLogin:
    """The CGI user from the environment variables the rack names (UsageError if unset)."""
    names = rack.cgi
    user, password = os.environ.get(names.username_env), os.environ.get(names.password_env)
    if not user or not password:
        raise UsageError(f"rack {rack.name}: CGI keypad credentials missing: set "
                         f"{names.username_env} and {names.password_env}")
    return CgiLogin(user, SecretStr(password))


def _learnt_address(events: EventLog, name: str) -> Callable[[], str]:
    """A DHCP-addressed phone's web server: where its last request to the cluster came
    from (TFTP, SIP, TVS...), looked up when a key is to be pressed."""
    locate = learned_address(events, name)

    def resolve() -> str:
        if (address := locate()) is not None:
            return f"http://{address}"
        raise LabError(f"{name}: address unknown (no request from it yet); the CGI keypad "
                       "needs it: set `address` in the topology or let the phone boot first")
    return resolve


def _keypad(spec: PhoneSpec, wiring: Wiring, console: Console | None, events: EventLog,
            confirm: Callable[[str], bool]) -> Keypad:
    family = lookup(spec.model).family
    if spec.keypad == "console":
        if console is None:
            raise UsageError(f"{spec.name}: keypad 'console' needs a console in the topology")
        return ConsoleKeypad(console, family)
    if spec.keypad == "cgi":
        base: str | Callable[[], str] = wiring.web.get(spec.name) or (
            f"http://{wiring.addresses[spec.name]}" if spec.name in wiring.addresses
            else _learnt_address(events, spec.name))
        if wiring.cgi is None:
            raise UsageError(f"{spec.name}: keypad 'cgi' needs the lab's CGI credentials")
        return CgiKeypad(base, family, user=wiring.cgi.user,
                         password=wiring.cgi.password.get_secret_value(),
                         pause=wiring.key_pause)
    return ManualKeypad(family, confirm)


def build_phones(rack: RackSpec, wiring: Wiring, *, log_dir: Path, events: EventLog,
                 confirm: Callable[[str], bool]) -> dict[str, LabPhone]:
    """One LabPhone per topology phone; consoles are opened (and logged) right away."""
    sessions = {name: SwitchSession(conn) for name, conn in wiring.switches.items()}
    phones: dict[str, LabPhone] = {}
    for spec in rack.phones:
        console: Console | None = None
        if spec.name in wiring.ssh_consoles:
            console = SshConsole(wiring.ssh_consoles[spec.name], name=spec.name, events=events,
                                 log_path=log_dir / f"{spec.name}.console.log",
                                 locate=learned_address(events, spec.name)).open()
        elif spec.name in wiring.consoles:
            url, baud = wiring.consoles[spec.name]
            serial_console = SerialConsole(url, name=spec.name, baudrate=baud, events=events,
                                           log_path=log_dir / f"{spec.name}.console.log")
            serial_console.open()
            console = serial_console
        phones[spec.name] = LabPhone(
            spec.name, lookup(spec.model), spec.protocol,
            _power(spec, sessions),
            _keypad(spec, wiring, console, events, confirm), console,
            wiring.addresses.get(spec.name))
    return phones


def _power(spec: PhoneSpec, sessions: Mapping[str, SwitchSession]) -> PowerControl:
    """The switch port's PoE, or the labgrid power port the topology (or its place) gives."""
    if spec.power is not None and spec.power.model and spec.power.host:
        from phone_drivers.power_labgrid import LabgridPowerPort  # the labgrid extra

        return LabgridPowerPort(spec.power.model, spec.power.host, spec.power.index,
                                label=f"{spec.name} power", settle_timeout=30)
    return IosPoePort(sessions[spec.switch], spec.port, settle_timeout=30, poll_interval=0.2)


def close_phones(phones: Mapping[str, LabPhone]) -> None:
    closed: set[int] = set()
    for phone in phones.values():
        if isinstance(phone.console, SerialConsole | SshConsole):
            phone.console.close()
        session = getattr(phone.power, "session", None)
        if isinstance(session, SwitchSession) and id(session) not in closed:
            closed.add(id(session))
            session.close()
