"""What a manual lab command is aimed at: a phone of a topology file, or explicit coordinates.

`phonelab power`, `console` and `capture` name their target the same two ways — a
phone of a topology (`PHONE --lab FILE [--rack R]`) or coordinates given outright
(`--switch HOST[:PORT] --port Gi1/0/N`, `--url URL`) — and every mistake in either
must be one line and exit 2, so the resolution lives here once.

A twin's switch port and console ptys are chosen when `phonelab twin up` starts,
inside that other process; this process must not start a second twin. So a phone
named without a topology, or of a twin topology, is looked up among the running
twins (`harness.cli.running_twins`); when none has it the error says which run and
what to start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from harness.cli import running_twins
from harness.errors import UsageError
from lab_topology import LabSpec, load_lab
from lab_topology.schema import PhoneSpec, RackSpec, SwitchSpec
from phone_drivers.poe import SwitchConnection

_INTERFACE = re.compile(
    r"^(Gi|GigabitEthernet|Fa|FastEthernet|Te|TenGigabitEthernet)\d+(/\d+){1,2}$", re.I)
_HOST_PORT = re.compile(
    r"\[(?P<v6>[^\]]+)\](?::(?P<p6>[^:]*))?|(?P<host>[^:\s]+)(?::(?P<port>.*))?")


@dataclass(frozen=True)
class LabTarget:
    """A topology file, the rack chosen in it and, when one was named, the phone."""

    path: Path
    lab: LabSpec
    rack: RackSpec
    phone: PhoneSpec | None = None

    @property
    def is_twin(self) -> bool:
        return self.lab.backend == "twin"

    def switch_spec(self) -> SwitchSpec:
        """The switch the phone is cabled to (the topology guarantees it exists)."""
        assert self.phone is not None
        return next(s for s in self.rack.switches if s.name == self.phone.switch)


def resolve(path: Path, rack: str | None = None, phone: str | None = None) -> LabTarget:
    """Load `path` and find the rack (default: the phone's, else the first) and phone."""
    lab = load_lab(path)
    racks = [r for r in lab.racks if rack in (None, r.name)]
    if not racks:
        raise UsageError(f"{path}: no rack {rack!r}; racks are "
                         f"{', '.join(r.name for r in lab.racks)}")
    if phone is None:
        return LabTarget(path, lab, racks[0])
    wanted = running_twins.phone_name(phone)
    for candidate in racks:
        for spec in candidate.phones:
            if spec.name == wanted:
                return LabTarget(path, lab, candidate, spec)
    known = [p.name for r in racks for p in r.phones]
    shown = ", ".join(known[:6]) + (f" … ({len(known)} in all)" if len(known) > 6 else "")
    where = f"{path} rack {rack}" if rack else str(path)
    raise UsageError(f"{where}: no phone {phone!r}; phones are {shown}")


@dataclass(frozen=True)
class TwinPhone:
    """A phone of a running `phonelab twin up`: where its switch port and console are."""

    twin: running_twins.RunningTwin
    phone: dict[str, Any]  # its entry in the twin's description

    @property
    def name(self) -> str:
        return str(self.phone["name"])

    def switch(self, timeout: float) -> tuple[SwitchConnection, str]:
        """(connection to the phone's switch with the twin's login, the phone's port)."""
        s = self.twin.switch_of(self.phone)
        return SwitchConnection(host=s["host"], port=s["port"], username=s["username"],
                                password=SecretStr(s["password"]), timeout=timeout), \
            str(self.phone["switch_port"])


def running_twin_phone(phone: str, rack: str | None = None,
                       target: LabTarget | None = None) -> TwinPhone:
    """The phone in a running twin (of `target`'s topology when given); UsageError
    saying what runs and what to start when no twin has it."""
    found = running_twins.find(phone, lab_name=target.lab.name if target else None,
                               rack=rack)
    if found is None:
        start = (f"start `phonelab twin up --lab {target.path}`" if target else
                 "start `phonelab twin up`, or name the phone's topology: PHONE --lab FILE")
        raise UsageError(f"{running_twins.not_found(phone)}; {start}")
    return TwinPhone(*found)


def parse_host_port(text: str, option: str, default_port: int | None) -> tuple[str, int]:
    """`HOST`, `HOST:PORT` or `[V6]:PORT`; a bad value is a UsageError naming `option`."""
    example = f"{option} 127.0.0.1:2222"
    match = _HOST_PORT.fullmatch(text.strip())
    host = match and (match["v6"] or match["host"])
    port_text = match and (match["p6"] if match["v6"] else match["port"])
    if not host:
        raise UsageError(f"bad {option} {text!r}: write HOST or HOST:PORT, e.g. {example}")
    if port_text is None:
        if default_port is None:
            raise UsageError(f"bad {option} {text!r}: the port is missing, e.g. {example}")
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise UsageError(f"bad {option} {text!r}: port must be 1-65535, e.g. {example}")
    return host, int(port_text)


def check_interface(text: str) -> str:
    """A switch interface as IOS names it (Gi1/0/5, GigabitEthernet1/0/5, Fa0/3)."""
    if not _INTERFACE.match(text.strip()):
        raise UsageError(f"bad --port {text!r}: give a switch interface such as Gi1/0/5")
    return text.strip()


def switch_connection(spec: SwitchSpec, timeout: float) -> SwitchConnection:
    """A topology switch with its credentials read from the env variables it names."""
    c = spec.credentials
    if not 1 <= spec.port <= 65535:
        raise UsageError(f"switch {spec.name}: SSH port {spec.port} is not usable; set its "
                         "port in the topology (22 by default)")
    return SwitchConnection.from_env(
        spec.host, spec.port, username_env=c.username_env, password_env=c.password_env,
        secret_env=c.secret_env or "PHONELAB_SWITCH_SECRET", device_type=spec.device_type,
        timeout=timeout)
