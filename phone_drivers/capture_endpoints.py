"""Which cluster endpoints a capture watches, and the BPF filter that follows from them.

Kept apart from the sniffer so the filter logic is testable without privileges. Facts
behind it (docs/HARDWARE.md §1.2, §4): TFTP data never comes from port 69 — the server
answers from an ephemeral port — so TFTP is captured as *all UDP to/from the TFTP
host*; HTTP file service is TCP 6970, secure config HTTPS 6971/6972, TVS 2445, CAPF
3804, SIP 5060 over UDP and TCP, SIP-TLS 5061,
SCCP 2000 and SCCP-TLS 2443 over TCP. Hosts must be IP literals: the filter
is compiled by libpcap, which would otherwise resolve names at capture start.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from harness.errors import UsageError


class Service(StrEnum):
    TFTP = "tftp"
    HTTP = "http"
    HTTPS = "https"
    TVS = "tvs"
    CAPF = "capf"
    SIP = "sip"
    SIP_TLS = "sip-tls"
    SCCP = "sccp"
    SCCP_TLS = "sccp-tls"

    @property
    def default_port(self) -> int:
        return _DEFAULT_PORTS[self]

    @property
    def tls(self) -> bool:
        """Carried in TLS: only the handshake is readable on the wire (§4.3)."""
        return self in (Service.HTTPS, Service.TVS, Service.CAPF, Service.SIP_TLS,
                        Service.SCCP_TLS)


_DEFAULT_PORTS = {Service.TFTP: 69, Service.HTTP: 6970, Service.HTTPS: 6971, Service.TVS: 2445,
                  Service.CAPF: 3804, Service.SIP: 5060, Service.SIP_TLS: 5061,
                  Service.SCCP: 2000, Service.SCCP_TLS: 2443}


@dataclass(frozen=True)
class Endpoint:
    """One listening service of the cluster: `port` 0 means the service's standard port."""

    service: Service
    host: str
    port: int = 0

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            raise UsageError(f"capture endpoint {self.service.value}: host must be an IP "
                             f"address, not {self.host!r}") from None
        if not 0 <= self.port <= 65535:
            raise UsageError(f"capture endpoint {self.service.value}: bad port {self.port}")
        if self.port == 0:
            object.__setattr__(self, "port", self.service.default_port)

    @property
    def bpf(self) -> str:
        if self.service is Service.TFTP:  # request port and the ephemeral data ports
            return f"(udp and host {self.host})"
        if self.service is Service.SIP:
            return f"((udp or tcp) and host {self.host} and port {self.port})"
        return f"(tcp and host {self.host} and port {self.port})"


def build_filter(endpoints: Iterable[Endpoint], *, inbound_only: bool = False) -> str:
    """The BPF expression for `endpoints`; `inbound_only` drops loopback's second copy.

    On `lo` a PF_PACKET socket sees every packet twice (outgoing, then incoming); keeping
    only `inbound` gives one copy each. Never use it on a lab NIC: on the TFTP server
    host the server's own replies are outgoing and would vanish.
    """
    parts = sorted({e.bpf for e in endpoints})
    if not parts:
        raise UsageError("packet capture needs at least one endpoint to watch")
    expression = " or ".join(parts)
    return f"({expression}) and inbound" if inbound_only else expression
