"""What this host's network looks like: interfaces and IPv4 addresses, and its privileges.

A hardware rack's cluster binds the node addresses of the topology, so they must
exist on the harness host; `phonelab lab prepare` and the DHCP server ask here.
The addresses come from iproute2's JSON (`ip -j addr`), already on every lab host,
rather than a netlink library; `netns` runs the same inside a network namespace.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

from harness.errors import LabError

CAP_NET_BIND_SERVICE, CAP_NET_ADMIN = 10, 12
IP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Link:
    """One interface: its name, whether it is up, whether it is loopback, its IPv4s."""

    name: str
    up: bool
    loopback: bool
    addresses: tuple[IPv4Interface, ...]


@dataclass(frozen=True)
class HostNetwork:
    links: dict[str, Link]

    def where(self, address: IPv4Address) -> str | None:
        """The interface holding `address` (127/8 counts as on a loopback with 127.0.0.1/8)."""
        for link in self.links.values():
            for own in link.addresses:
                if own.ip == address or (link.loopback and address in own.network):
                    return link.name
        return None


def ip_command(netns: str | None) -> list[str]:
    """`ip`, or `ip -n NS` to act inside network namespace NS."""
    binary = shutil.which("ip") or "/usr/sbin/ip"
    return [binary] if netns is None else [binary, "-n", netns]


def parse_ip_addr(text: str) -> HostNetwork:
    """Read `ip -j addr` output (a JSON list of links with their `addr_info`)."""
    try:
        links = json.loads(text)
        result: dict[str, Link] = {}
        for item in links:
            flags = item.get("flags", [])
            addresses = tuple(IPv4Interface(f"{a['local']}/{a['prefixlen']}")
                              for a in item.get("addr_info", []) if a.get("family") == "inet")
            result[item["ifname"]] = Link(item["ifname"], "UP" in flags, "LOOPBACK" in flags,
                                          addresses)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LabError(f"cannot read the output of `ip -j addr`: {exc}") from None
    return HostNetwork(result)


def host_network(netns: str | None = None) -> HostNetwork:
    """This host's (or namespace's) interfaces and addresses, from `ip -j addr`."""
    command = [*ip_command(netns), "-j", "addr", "show"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=IP_TIMEOUT)
    except FileNotFoundError:
        raise LabError("`ip` (iproute2) is not installed: apt-get install iproute2") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"`{' '.join(command)}` did not answer in {IP_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        raise LabError(f"`{' '.join(command)}` failed: {done.stderr.strip()}")
    return parse_ip_addr(done.stdout)


def _effective_caps() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def has_capability(bit: int) -> bool:
    """The capability is in this process's effective set (root's usually holds all; a
    container's root may lack some, so euid 0 alone proves nothing)."""
    return bool(_effective_caps() >> bit & 1)


def can_bind_below(port: int) -> bool:
    """Whether this process may bind `port` (below 1024 needs root or CAP_NET_BIND_SERVICE,
    unless the kernel's ip_unprivileged_port_start was lowered)."""
    if has_capability(CAP_NET_BIND_SERVICE):
        return True
    try:
        start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        start = 1024
    return port >= start
