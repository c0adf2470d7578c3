"""Is this host ready to serve a rack? Each check says what is missing and the exact fix.

`phonelab serve` on a hardware rack binds every node address of the topology on
the standard ports and, with a `dhcp:` section, runs dnsmasq on the phones'
interface. When the host lacks an address the bind fails with "cannot assign
requested address", which says nothing about the remedy; these checks run first
and print the `ip addr add` lines that fix it (and can run them).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from ipaddress import IPv4Interface
from pathlib import Path

from harness.cluster.plane import Ports
from harness.errors import LabError
from harness.rack_network.dhcp_server import DNSMASQ
from harness.rack_network.host import (
    CAP_NET_ADMIN,
    IP_TIMEOUT,
    HostNetwork,
    can_bind_below,
    has_capability,
    ip_command,
)
from lab_topology.dhcp import DEFAULT_PREFIX
from lab_topology.schema import RackSpec


@dataclass(frozen=True)
class Finding:
    """One check: `ok`, what was found, and the commands (or words) that fix it."""

    ok: bool
    what: str
    fix: tuple[str, ...] = ()
    command: tuple[str, ...] = ()  # for --apply: argv that performs the fix


def node_interfaces(rack: RackSpec) -> list[IPv4Interface]:
    """Each node address with the prefix it gets on the host (the DHCP subnet, else /24)."""
    dhcp = rack.dhcp
    prefix = dhcp.network(rack.cluster.nodes).prefixlen if dhcp else DEFAULT_PREFIX
    return [IPv4Interface(f"{node.address}/{prefix}") for node in rack.cluster.nodes]


def check_rack(rack: RackSpec, network: HostNetwork, interface: str | None, ports: Ports,
               netns: str | None = None, dnsmasq: str | None = None) -> list[Finding]:
    """Every check for `rack` on a host whose network is `network`."""
    interface = interface or (rack.dhcp.interface if rack.dhcp else None)
    ip = ip_command(netns)
    shown = " ".join(["ip", *ip[1:]])
    findings: list[Finding] = []
    link = network.links.get(interface) if interface else None
    if interface is not None and link is None:
        findings.append(Finding(False, f"interface {interface} does not exist on this host",
                                (f"`{shown} link` lists the interfaces; set dhcp.interface "
                                 "or pass --interface",)))
    elif interface is not None and link is not None and not link.up:
        findings.append(Finding(False, f"interface {interface} is down",
                                (f"{shown} link set {interface} up",),
                                (*ip, "link", "set", interface, "up")))
    for node, address in zip(rack.cluster.nodes, node_interfaces(rack), strict=True):
        findings.append(_address(node.name, address, network, interface, link is not None,
                                 rack.dhcp is not None, ip, shown))
    low = sorted(p for f in dataclass_fields(ports) if 0 < (p := getattr(ports, f.name)) < 1024)
    if low and not can_bind_below(low[0]):
        findings.append(Finding(False, f"ports {', '.join(map(str, low))} need root or "
                                "CAP_NET_BIND_SERVICE", (
                                    "run phonelab serve as root, or with --ephemeral-ports "
                                    "for a try without phones",)))
    elif low:
        findings.append(Finding(True, f"may bind ports {', '.join(map(str, low))}"))
    if rack.dhcp is not None:
        binary = dnsmasq or shutil.which("dnsmasq") or DNSMASQ
        if Path(binary).is_file():
            findings.append(Finding(True, f"dnsmasq at {binary}"))
        else:
            findings.append(Finding(False, "dnsmasq is not installed (dhcp is on)",
                                    ("apt-get install dnsmasq-base",)))
        if not has_capability(CAP_NET_ADMIN):
            findings.append(Finding(False, "DHCP (dnsmasq, port 67) needs root",
                                    ("run phonelab serve as root",)))
    return findings


def _address(name: str, address: IPv4Interface, network: HostNetwork, interface: str | None,
             link_exists: bool, dhcp: bool, ip: list[str], shown: str) -> Finding:
    where = network.where(address.ip)
    if where is not None and (where == interface or not dhcp):
        return Finding(True, f"node {name} {address.ip} is on {where}")
    if interface is None:
        return Finding(False, f"node {name} {address.ip} is not on this host", (
            "give the interface facing the phones: --interface IFACE (or dhcp.interface)",))
    add = f"{shown} addr add {address} dev {interface}"
    also = f" (it is on {where}, but dnsmasq answers on {interface})" if where else ""
    command = (*ip, "addr", "add", str(address), "dev", interface) if link_exists else ()
    return Finding(False, f"node {name} {address.ip} is not on {interface}{also}", (add,),
                   command)


def apply(findings: list[Finding]) -> list[str]:
    """Run every fix that has a command; return one line per command run (needs root)."""
    commands = [f.command for f in findings if not f.ok and f.command]
    if commands and not has_capability(CAP_NET_ADMIN):
        raise PermissionError("adding addresses needs root (CAP_NET_ADMIN)")
    done: list[str] = []
    for command in commands:
        try:
            result = subprocess.run(list(command), capture_output=True, text=True,
                                    timeout=IP_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LabError(f"`{' '.join(command)}` failed: {exc}") from None
        if result.returncode != 0:
            raise LabError(f"`{' '.join(command)}` failed: {result.stderr.strip()}")
        done.append(" ".join(command))
    return done
