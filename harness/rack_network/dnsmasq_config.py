"""The dnsmasq configuration that serves one rack's phones: pure, a rack in, lines out.

dnsmasq (Debian `dnsmasq-base`) is the DHCP server because it is small, runs in
the foreground without a system service, and encodes option 150 the way phones
want it: `dhcp-option=150,a.b.c.d,e.f.g.h` becomes 4 raw bytes per address, in
order (docs/REAL_WIRE.md §7, checked against udhcpc in the tests). Option 66 (one
string) carries the first TFTP node for phones that ignore 150.

Only the rack's phones are answered (`dhcp-ignore=tag:!known`): a bench network
may hold other hosts that have their own DHCP server or none. A phone with an
address in the topology gets it as a static lease; the others get one from the
range. The file is written beside the lease file and log so a run can be read
back, and `conf-file` on the command line keeps /etc/dnsmasq.conf out of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab_topology.dhcp import DhcpSpec, phone_mac, tftp_nodes
from lab_topology.schema import RackSpec


@dataclass(frozen=True)
class RunFiles:
    """Where one dnsmasq run keeps its files (a directory of the serve run)."""

    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "dnsmasq.conf"

    @property
    def leases(self) -> Path:
        return self.directory / "dnsmasq.leases"

    @property
    def log(self) -> Path:
        return self.directory / "dnsmasq.log"

    @property
    def pid(self) -> Path:
        return self.directory / "dnsmasq.pid"


def rack_dhcp(rack: RackSpec) -> DhcpSpec:
    if rack.dhcp is None:
        raise ValueError(f"rack {rack.name} has no dhcp section")
    return rack.dhcp


def dnsmasq_config(rack: RackSpec, files: RunFiles) -> str:
    """The configuration file's text for `rack` (one `key=value` per line)."""
    dhcp = rack_dhcp(rack)
    net = dhcp.network(rack.cluster.nodes)
    tftp = [str(a) for a in tftp_nodes(rack.cluster.nodes)]
    first, last = dhcp.range
    lines = [
        f"# phonelab: DHCP for rack {rack.name} (generated; edits are overwritten)",
        "port=0",  # no DNS
        f"interface={dhcp.interface}",
        "bind-interfaces",
        f"dhcp-range={first},{last},{net.netmask},{dhcp.lease_time}",
        "dhcp-authoritative",  # the bench net is ours: NAK stale leases at once
        f"dhcp-option=3,{dhcp.router}",
        f"dhcp-option=150,{','.join(tftp)}",
        f"dhcp-option=66,{tftp[0]}",
        "dhcp-ignore=tag:!known",
    ]
    for phone in rack.phones:
        static = f",{phone.address}" if phone.address is not None else ""
        lines.append(f"dhcp-host={phone_mac(phone.name)}{static}")
    lines += [
        f"dhcp-leasefile={files.leases}",
        "log-dhcp",
        f"log-facility={files.log}",
        f"pid-file={files.pid}",
    ]
    return "\n".join(lines) + "\n"


def dnsmasq_argv(binary: str, files: RunFiles) -> list[str]:
    """The command line: foreground, only our file (never /etc/dnsmasq.conf)."""
    return [binary, "--keep-in-foreground", f"--conf-file={files.config}"]
