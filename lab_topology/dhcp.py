"""A rack's optional `dhcp:` section: the harness host hands phones their address and TFTP list.

A bench rack on its own network has nobody to give phones an address and option
150 (docs/REAL_WIRE.md §7, docs/HARDWARE.md §1.1 step 4); with this section
`phonelab serve` runs dnsmasq for the rack. The checks that need the rest of the
rack (node addresses decide the subnet; phone addresses must fit in it) live in
`check_dhcp`, called by the rack's validator, so every mistake names `dhcp.<key>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from lab_topology.schema import NodeSpec, PhoneSpec

DEFAULT_PREFIX = 24


class DhcpSpec(BaseModel):
    """dnsmasq settings for one rack's phone network (off unless the section is given)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interface: str = Field(pattern=r"^[A-Za-z0-9_.@:-]{1,15}$")  # a Linux interface name
    range: tuple[IPv4Address, IPv4Address]  # [first, last] address handed out dynamically
    router: IPv4Address  # option 3
    lease_time: int = Field(3600, ge=120, le=7 * 86400)  # seconds; dnsmasq's minimum is 120
    prefix: int | None = Field(None, ge=8, le=30)  # with the node addresses, gives the subnet
    subnet: IPv4Network | None = None  # explicit subnet instead of prefix

    def network(self, nodes: Sequence[NodeSpec]) -> IPv4Network:
        """The phone subnet: `subnet`, else the first node's address with `prefix` (24)."""
        if self.subnet is not None:
            return self.subnet
        return IPv4Network(f"{nodes[0].address}/{self.prefix or DEFAULT_PREFIX}", strict=False)


def phone_mac(name: str) -> str:
    """`SEP0021555542E6` → `00:21:55:55:42:e6` (the name is the phone's MAC)."""
    digits = name.removeprefix("SEP").lower()
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def tftp_nodes(nodes: Sequence[NodeSpec]) -> list[IPv4Address]:
    """Option 150's value: the addresses of the nodes running TFTP, in topology order."""
    return [node.address for node in nodes if "tftp" in node.services]


def check_dhcp(dhcp: DhcpSpec, nodes: Sequence[NodeSpec], phones: Sequence[PhoneSpec]) -> None:
    """Raise ValueError naming the `dhcp.` key when the section does not fit the rack."""
    if dhcp.subnet is not None and dhcp.prefix is not None:
        raise ValueError("dhcp: give subnet or prefix, not both")
    if not tftp_nodes(nodes):
        raise ValueError("dhcp: no node runs tftp, so option 150 would be empty")
    net = dhcp.network(nodes)
    how = "dhcp.subnet" if dhcp.subnet is not None else (
        f"node {nodes[0].name}'s address with prefix /{net.prefixlen}")
    usable = range(int(net.network_address) + 1, int(net.broadcast_address))

    def inside(address: IPv4Address) -> bool:
        return int(address) in usable

    for node in nodes:
        if not inside(node.address):
            raise ValueError(f"dhcp: node {node.name} address {node.address} is outside the "
                             f"phone subnet {net} (from {how}); the nodes are this host's "
                             f"addresses on {dhcp.interface}: set dhcp.subnet or dhcp.prefix")
    first, last = dhcp.range
    for key, address in (("range", first), ("range", last), ("router", dhcp.router)):
        if not inside(address):
            raise ValueError(f"dhcp.{key}: {address} is outside the phone subnet {net} "
                             f"(from {how})")
    if first > last:
        raise ValueError(f"dhcp.range: {first} comes after {last}; write [first, last]")
    taken = {node.address: f"node {node.name}" for node in nodes}
    taken.setdefault(dhcp.router, "the router")
    for address, who in taken.items():
        if first <= address <= last:
            raise ValueError(f"dhcp.range: {first}-{last} contains {who}'s address {address}")
    for phone in phones:
        if phone.address is None:
            continue
        if not inside(phone.address):
            raise ValueError(f"phone {phone.name} address {phone.address} is outside the "
                             f"DHCP subnet {net}")
        if phone.address in taken:
            raise ValueError(f"phone {phone.name} address {phone.address} is "
                             f"{taken[phone.address]}'s")
        taken[phone.address] = f"phone {phone.name}"
