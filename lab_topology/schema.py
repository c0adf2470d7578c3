"""The lab topology file, as pydantic models: unknown keys are rejected.

A topology names racks; each rack has a cluster, switches and phones. The
backend (twin or hardware) follows from the file. Credentials never live in
the file: switches name environment variables that hold them.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.phone_models import MODELS
from lab_topology.dhcp import DhcpSpec, check_dhcp

_PHONE_NAME = re.compile(r"^SEP[0-9A-F]{12}$")
_PORT = re.compile(r"^(Gi|GigabitEthernet|Fa|FastEthernet)(\d+/\d+/\d+|\d+/\d+)$")
Service = Literal["tftp", "tvs", "capf", "https", "sip", "sccp"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ports(Strict):
    tftp: int = Field(0, ge=0, le=65535)
    tvs: int = Field(0, ge=0, le=65535)
    capf: int = Field(0, ge=0, le=65535)
    https: int = Field(0, ge=0, le=65535)
    sip: int = Field(0, ge=0, le=65535)
    sccp: int = Field(0, ge=0, le=65535)
    sip_tls: int = Field(0, ge=0, le=65535)
    sccp_tls: int = Field(0, ge=0, le=65535)


class NodeSpec(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
    address: IPv4Address
    services: list[Service] = ["tftp", "tvs", "capf", "https", "sip", "sccp"]


class TlsSpec(Strict):
    """What the cluster's TLS servers accept, over the release's own offer (harness.tls):
    the lowest version and OpenSSL suite names (TLS 1.2 suites; TLS 1.3 is never offered)."""

    minimum_version: Literal["1.0", "1.1", "1.2"] | None = None
    suites: list[str] | None = Field(None, min_length=1)


class ClusterSpec(Strict):
    release: str = "8.0"
    security_mode: Literal["non-secure", "mixed"] = "non-secure"
    auto_registration: bool = True
    prepare_rollback: bool = False
    ports: Ports = Ports()
    nodes: list[NodeSpec] = Field(min_length=1)
    # PEM files of the manufacturing CAs the phones' MICs chain to (Cisco's, on a real
    # rack; relative to the topology file). CAPF and TLS signalling accept MICs they issued.
    mic_cas: list[str] = []
    tls: TlsSpec = TlsSpec()  # empty: as the release offered it


class Credentials(Strict):
    """Names of environment variables, never the secrets themselves."""

    username_env: str = "PHONELAB_SWITCH_USER"
    password_env: str = "PHONELAB_SWITCH_PASSWORD"
    secret_env: str | None = None


class CgiCredentials(Strict):
    """Environment variable names of the lab's CGI user (phones' `/CGI/Execute`)."""

    username_env: str = "PHONELAB_CGI_USER"
    password_env: str = "PHONELAB_CGI_PASSWORD"


class SwitchSpec(Strict):
    name: str
    host: str = "127.0.0.1"
    port: int = Field(22, ge=0, le=65535)
    device_type: Literal["cisco_ios", "cisco_xe"] = "cisco_ios"
    credentials: Credentials = Credentials()


class SshLogin(Strict):
    """Names of the environment variables holding the phone's SSH user and password
    (CUCM "SSH Access", written into its config as sshUserId/sshPassword)."""

    username_env: str = "PHONELAB_PHONE_SSH_USER"
    password_env: str = "PHONELAB_PHONE_SSH_PASSWORD"


class SshShell(Strict):
    """What follows the SSH login on the phone (docs/HARDWARE.md §2.3). Public sources
    describe only the 79x2: a second `login:` prompt (users `log`, `debug`, `default`)
    and `show strace`; the 88xx second stage is unknown (docs/HARDWARE.md Q5), hence settable.
    These are firmware defaults, not site secrets, so they may live in the file."""

    login: str | None = "debug"  # None: no second `login:` prompt, straight to the prompt
    password: str = "debug"
    prompt: str = r"[>$#] ?$"  # regex for the shell prompt (end of the received text)
    log_command: str = Field("show strace", min_length=1)

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class ConsoleSpec(Strict):
    """A serial port (pyserial URL) or, for phones without one (88xx), `ssh://[HOST][:PORT]`;
    `ssh://` without a host means the phone's own address."""

    url: str  # /dev/ttyUSB0, socket://ts1:7001, rfc2217://ts1:7002, ssh://, ssh://10.0.0.7:22,
    # labgrid://NAME (a NetworkSerialPort of the rack's labgrid place)
    baud: int = 9600
    credentials: SshLogin | None = None  # ssh:// only; default env names when omitted
    shell: SshShell | None = None  # ssh:// only

    @model_validator(mode="after")
    def _kind(self) -> ConsoleSpec:
        if self.is_ssh:
            self.ssh_endpoint  # noqa: B018  # raises ValueError on a malformed URL
        elif self.credentials is not None or self.shell is not None:
            raise ValueError("credentials and shell apply only to ssh:// consoles")
        return self

    @property
    def is_ssh(self) -> bool:
        return self.url.lower().startswith("ssh://")

    @property
    def is_place_resource(self) -> bool:
        """`labgrid://NAME`: the NetworkSerialPort NAME of the rack's labgrid place, resolved
        to its rfc2217:// URL when the place is acquired (docs/shared-lab.md)."""
        return self.url.lower().startswith("labgrid://")

    @property
    def ssh_endpoint(self) -> tuple[str | None, int]:
        """(host or None for "the phone's address", port) of an ssh:// console."""
        parts = urlsplit(self.url)
        try:
            port = parts.port or 22
        except ValueError:
            raise ValueError(f"console url {self.url!r}: port must be 1-65535") from None
        if parts.username or parts.password or parts.path not in ("", "/") or parts.query \
                or parts.fragment:
            raise ValueError(f"console url {self.url!r}: only ssh://[HOST][:PORT] is allowed "
                             "(the user comes from credentials, by environment variable)")
        return parts.hostname or None, port

    @property
    def ssh_login(self) -> SshLogin:
        return self.credentials or SshLogin()

    @property
    def ssh_shell(self) -> SshShell:
        return self.shell or SshShell()


class PowerPortSpec(Strict):
    """Power through a labgrid power backend (PDU, SNMP PoE, REST relay) instead of the
    switch's PoE: a `NetworkPowerPort` resource of the rack's labgrid place, resolved when
    the place is acquired, or the port given outright (docs/shared-lab.md)."""

    resource: str | None = None  # name of the NetworkPowerPort in the rack's place
    model: str | None = Field(None, pattern=r"^[a-z0-9_]+$")  # labgrid backend: gude, netio...
    host: str | None = None  # as the backend wants it (host name, or URL for rest/simplerest)
    index: str = Field("0", pattern=r"^\d{1,4}$")

    @model_validator(mode="after")
    def _one_way(self) -> PowerPortSpec:
        if self.resource is not None and (self.model or self.host):
            raise ValueError("resource comes with its own model and host; give one or the other")
        if self.resource is None and (self.model is None or self.host is None):
            raise ValueError("give either resource (a NetworkPowerPort of the rack's place) "
                             "or model and host")
        return self


class CapfSpec(Strict):
    operation: Literal["install", "fetch", "delete", "none"] = "none"
    auth: Literal["password", "no password", "certificate"] = "no password"
    password: str | None = Field(None, pattern=r"^\d{4,16}$")
    key_size: Literal[1024, 2048, 4096] = 2048


class LineSpec(Strict):
    """A directory number on the phone's next line button."""

    dn: str = Field(pattern=r"^[0-9*#+]{1,24}$")
    label: str = ""


class FirmwareSpec(Strict):
    """The firmware under test for one model (docs/REAL_WIRE.md §5)."""

    model: str
    load: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")  # loadInformation, without .loads
    directory: str | None = None  # folder with <load>.loads and its images; relative to the file

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return _model_key(value)


class PhoneSpec(Strict):
    name: str
    model: str
    protocol: Literal["SIP", "SCCP"] = "SIP"
    switch: str
    port: str
    address: IPv4Address | None = None  # the twin phone's loopback address; DHCP on hardware
    console: ConsoleSpec | None = None
    power: PowerPortSpec | None = None  # None: the switch port's PoE
    keypad: Literal["console", "cgi", "manual"] = "cgi"  # docs/REAL_WIRE.md §6.2
    encrypted_config: bool = False
    capf: CapfSpec = CapfSpec()
    in_database: bool = True  # False: the phone must auto-register
    lines: list[LineSpec] = []  # empty: one line with a default DN from the phone's position

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.upper()
        if not _PHONE_NAME.match(value):
            raise ValueError("must be SEP followed by 12 hex digits, e.g. SEP001122334455")
        return value

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return _model_key(value)

    @field_validator("port")
    @classmethod
    def _port(cls, value: str) -> str:
        if not _PORT.match(value):
            raise ValueError("must be an interface like Gi1/0/3 or GigabitEthernet1/0/3")
        return value


class CaptureSpec(Strict):
    interface: str = "lo"


class ReservationSpec(Strict):
    """The rack is a place on a labgrid coordinator (docs/shared-lab.md); LG_COORDINATOR
    overrides the address. Without it a rack is leased with a file on this host."""

    coordinator: str = Field(pattern=r"^[A-Za-z0-9_.:\[\]-]+$")  # HOST or HOST:PORT
    place: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    priority: int = Field(0, ge=-100, le=100)  # labgrid's reservation priority


class RackSpec(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    cluster: ClusterSpec
    switches: list[SwitchSpec] = Field(min_length=1)
    phones: list[PhoneSpec] = Field(min_length=1)
    capture: CaptureSpec = CaptureSpec()
    firmware: list[FirmwareSpec] = []  # the loads under test, one per model at most
    cgi: CgiCredentials = CgiCredentials()  # hardware; the twin generates its own user
    dhcp: DhcpSpec | None = None  # the harness host serves the phones DHCP (lab_topology/dhcp.py)
    reservation: ReservationSpec | None = None  # shared through labgrid (docs/shared-lab.md)

    @model_validator(mode="after")
    def _wiring(self) -> RackSpec:
        for i, phone in enumerate(self.phones):
            if phone.console and phone.console.is_place_resource and self.reservation is None:
                raise ValueError(f"phones[{i}] ({phone.name}): console {phone.console.url} names "
                                 "a resource of the rack's labgrid place, but the rack has no "
                                 "reservation section")
            if phone.power and phone.power.resource and self.reservation is None:
                raise ValueError(f"phones[{i}] ({phone.name}): power names resource "
                                 f"{phone.power.resource} of the rack's labgrid place, but the "
                                 "rack has no reservation section")
        switches = {s.name for s in self.switches}
        seen_ports: set[tuple[str, str]] = set()
        for i, phone in enumerate(self.phones):
            if phone.switch not in switches:
                raise ValueError(f"phones[{i}] ({phone.name}) is on switch {phone.switch!r}, "
                                 f"which is not defined; switches are {sorted(switches)}")
            wire = (phone.switch, _short_port(phone.port))
            if wire in seen_ports:
                raise ValueError(f"phones[{i}] ({phone.name}): port {phone.port} on "
                                 f"{phone.switch} already has a phone")
            seen_ports.add(wire)
        models = [f.model for f in self.firmware]
        if len(set(models)) != len(models):
            raise ValueError(f"firmware names a model twice: {models}")
        if self.dhcp is not None:
            check_dhcp(self.dhcp, self.cluster.nodes, self.phones)
        return self


class LabSpec(Strict):
    name: str
    backend: Literal["twin", "hardware"]
    racks: list[RackSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> LabSpec:
        names: dict[str, str] = {}
        for rack in self.racks:
            for phone in rack.phones:
                if phone.name in names:
                    raise ValueError(f"duplicate phone {phone.name} (racks {names[phone.name]} "
                                     f"and {rack.name}); each MAC may appear once")
                names[phone.name] = rack.name
        racks = [r.name for r in self.racks]
        if len(set(racks)) != len(racks):
            raise ValueError(f"duplicate rack names in {racks}")
        if self.backend == "twin":
            for rack in self.racks:
                for node in rack.cluster.nodes:
                    if not node.address.is_loopback:
                        raise ValueError(f"rack {rack.name}: node {node.name} address "
                                         f"{node.address} must be in 127.0.0.0/8 on the twin")
            if rack.dhcp is not None:
                raise ValueError(f"rack {rack.name}: dhcp is for hardware racks (twin "
                                 "phones do not use DHCP); remove the section")
        return self


def _model_key(value: str) -> str:
    key = value.upper().removeprefix("CP-").rstrip("G")
    if key not in MODELS:
        raise ValueError(f"unknown model; known: {', '.join(sorted(MODELS))}")
    return key


def _short_port(port: str) -> str:
    return re.sub(r"^(GigabitEthernet|Gi)", "Gi", re.sub(r"^(FastEthernet|Fa)", "Fa", port))
