"""What a cluster is: nodes, services, release, security mode, parameters, phones.

Plain data, so it can be built from Python or from a topology file and so the
file-set builder can be a pure function of it. Procedures (cluster.py) mutate
it; nothing here touches sockets or disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography import x509

from harness.cluster.releases import Release
from harness.errors import UsageError
from harness.phone_models import lookup
from harness.tls import TlsChoice

_DEVICE = re.compile(r"^SEP[0-9A-F]{12}$")


class SecurityMode(StrEnum):
    NON_SECURE = "non-secure"
    MIXED = "mixed"


class Service(StrEnum):
    TFTP = "tftp"
    TVS = "tvs"
    CAPF = "capf"
    HTTPS = "https"
    SIP = "sip"  # SIP line side of the CallManager service (5060; 5061 TLS in mixed mode)
    SCCP = "sccp"  # SCCP side of the CallManager service (2000; 2443 TLS in mixed mode)


class Param(StrEnum):
    """Enterprise parameters the procedures touch."""

    PREPARE_ROLLBACK = "Prepare Cluster for Rollback to pre-8.0"
    AUTO_REGISTRATION = "Auto Registration"


@dataclass
class Node:
    name: str
    address: str
    services: frozenset[Service] = frozenset(Service)


@dataclass(frozen=True)
class LineRecord:
    """One directory number on a phone's line button (Device > Phone > Line)."""

    dn: str
    label: str = ""
    contact: str = ""  # the per-line UUID CUCM writes into `<contact>` (REGISTER user part)


@dataclass(frozen=True)
class FirmwareLoad:
    """The firmware under test for one model: its load id and the folder of its files."""

    model: str
    load: str  # e.g. SCCP42.9-4-2SR3-1S (what `loadInformation` names, without .loads)
    directory: str | None = None  # holds <load>.loads, the .sbn/.sgn parts, term<NN>.default.loads


@dataclass
class PhoneRecord:
    """A phone in the CUCM database (Device > Phone)."""

    name: str
    model: str
    protocol: str = "SIP"
    encrypted_config: bool = False
    capf_operation: str = "none"  # install | fetch | delete | none
    capf_auth: str = "no password"  # password | no password | certificate
    capf_password: str | None = None
    key_size: int = 2048
    lines: list[LineRecord] = field(default_factory=list)  # empty: one default DN
    ssh_user: str | None = None  # written as sshUserId/sshPassword (88xx log console)
    ssh_password: str | None = None
    web_access: bool = True  # vendorConfig/webAccess: the phone's web server and CGI

    def __post_init__(self) -> None:
        self.name = self.name.upper()
        if not _DEVICE.match(self.name):
            raise UsageError(f"phone name {self.name!r} must be SEP followed by 12 hex digits")
        lookup(self.model)

    @property
    def mac(self) -> str:
        return self.name[3:]

    @property
    def supports_sbd(self) -> bool:
        return lookup(self.model).supports_sbd


@dataclass
class ClusterState:
    nodes: list[Node]
    release: Release = field(default_factory=lambda: Release.parse("8.0"))
    mode: SecurityMode = SecurityMode.NON_SECURE
    parameters: dict[Param, bool] = field(
        default_factory=lambda: {Param.PREPARE_ROLLBACK: False, Param.AUTO_REGISTRATION: True}
    )
    phones: dict[str, PhoneRecord] = field(default_factory=dict)
    ctl_current: bool = True  # False after an upgrade that needs the CTL client (§8)
    firmware: dict[str, FirmwareLoad] = field(default_factory=dict)  # model → load under test
    mic_cas: list[x509.Certificate] = field(default_factory=list)  # who issued phones' MICs
    tls: TlsChoice = field(default_factory=TlsChoice)  # the topology's override, if any

    def __post_init__(self) -> None:
        if not self.nodes:
            raise UsageError("a cluster needs at least one node")
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise UsageError(f"duplicate node names in {names}")

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise UsageError(f"no node {name!r}; nodes are {[n.name for n in self.nodes]}")

    def nodes_running(self, service: Service) -> list[Node]:
        return [n for n in self.nodes if service in n.services]

    @property
    def publisher(self) -> Node:
        """The first node: CAPF and the CTL provider live here."""
        return self.nodes[0]

    def add_phone(self, phone: PhoneRecord) -> None:
        if phone.name in self.phones:
            raise UsageError(f"duplicate phone {phone.name}")
        self.phones[phone.name] = phone
