"""Turn a topology rack into `LabPhone`s: which switch port, console and keypad.

Hardware racks take switch and phone-SSH credentials from the environment
variables the topology names and console URLs from the file; a twin rack
supplies the same facts from the running emulation (its switch's SSH port, its
phones' ptys and SSH ports). Either way the drivers built here are the very
same classes: `SerialConsole` for serial URLs, `SshConsole` for `ssh://` (88xx).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from harness.cluster.from_spec import ssh_logins
from harness.errors import UsageError
from harness.events import EventLog
from harness.phone_models import lookup
from lab_topology.schema import PhoneSpec, RackSpec, SwitchSpec
from phone_drivers.console import Console, SerialConsole
from phone_drivers.console_ssh import SshConsole, SshTarget, learned_address
from phone_drivers.keypad import ConsoleKeypad, Keypad, ManualKeypad
from phone_drivers.phone import LabPhone
from phone_drivers.poe import IosPoePort, SwitchConnection, SwitchSession


@dataclass(frozen=True)
class Wiring:
    """Concrete coordinates: how to log into each switch, where each console is."""

    switches: Mapping[str, SwitchConnection]
    consoles: Mapping[str, tuple[str, int]]  # phone → (pyserial URL, baud)
    addresses: Mapping[str, str]  # phone → IP address, where known
    ssh_consoles: Mapping[str, SshTarget] = field(default_factory=dict)  # phone → SSH log

    def ssh_logins(self) -> dict[str, tuple[str, str]]:
        """phone → (sshUserId, sshPassword) the cluster must write into its config."""
        return {name: (t.username, t.password.get_secret_value())
                for name, t in self.ssh_consoles.items()}


def hardware_wiring(rack: RackSpec) -> Wiring:
    """Credentials from the environment, consoles from the file (UsageError if unset)."""
    def connect(s: SwitchSpec) -> SwitchConnection:
        c = s.credentials
        return SwitchConnection.from_env(s.host, s.port, username_env=c.username_env,
                                         password_env=c.password_env,
                                         secret_env=c.secret_env or "PHONELAB_SWITCH_SECRET",
                                         device_type=s.device_type)

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
        ssh_consoles={p.name: ssh_target(p, logins[p.name]) for p in rack.phones
                      if p.name in logins},
    )


def _keypad(spec: PhoneSpec, console: Console | None,
            confirm: Callable[[str], bool]) -> Keypad:
    family = lookup(spec.model).family
    if spec.keypad == "console":
        if console is None:
            raise UsageError(f"{spec.name}: keypad 'console' needs a console in the topology")
        return ConsoleKeypad(console, family)
    if spec.keypad == "cgi":
        # CGI key pushes need per-firmware menu maps (HARDWARE.md Q6); until the
        # topology carries them, an operator does the keys (documented fallback).
        return ManualKeypad(family, confirm)
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
            IosPoePort(sessions[spec.switch], spec.port, settle_timeout=30, poll_interval=0.2),
            _keypad(spec, console, confirm), console, wiring.addresses.get(spec.name))
    return phones


def close_phones(phones: Mapping[str, LabPhone]) -> None:
    closed: set[int] = set()
    for phone in phones.values():
        if isinstance(phone.console, SerialConsole | SshConsole):
            phone.console.close()
        session = getattr(phone.power, "session", None)
        if isinstance(session, SwitchSession) and id(session) not in closed:
            closed.add(id(session))
            session.close()
