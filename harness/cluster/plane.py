"""The cluster's security plane: the endpoints each node runs, started and stopped.

One object per cluster owns every endpoint (TFTP, TVS, CAPF, HTTPS, SIP, SCCP) and
the shared trust store and CAPF directory behind them. Each node binds its own
address; ports are given per service (the standard ones on a hardware lab,
0 = any free port in tests, kept across restarts).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cryptography import x509

from harness.aio import BackgroundLoop
from harness.cluster.fileset import AliasedFiles
from harness.cluster.state import ClusterState, Node, SecurityMode, Service
from harness.events import EventLog
from harness.firmware.folder import FirmwareFiles
from harness.pki import CertRole, LabPKI
from harness.services.base import Endpoint
from harness.services.capf import CapfEndpoint
from harness.services.capf_directory import CapfDirectory
from harness.services.https import HttpsServicesEndpoint
from harness.services.registrar import Registrar
from harness.services.sccp import SccpEndpoint
from harness.services.sip_binding import Policy, TlsSettings
from harness.services.tftp import TftpEndpoint
from harness.services.tftp_files import ChainSource
from harness.services.tls_server import TlsServerEndpoint
from harness.services.truststore import TrustStore
from harness.services.tvs import TvsEndpoint
from harness.tls import TlsPolicy


@dataclass(frozen=True)
class Ports:
    tftp: int = 0
    tvs: int = 0
    capf: int = 0
    https: int = 0
    sip: int = 0
    sccp: int = 0
    sip_tls: int = 0  # mixed mode only
    sccp_tls: int = 0  # mixed mode only

    @classmethod
    def standard(cls) -> Ports:
        """The ports phones use against a real CUCM (docs/PROTOCOLS.md §0.3,
        docs/REAL_WIRE.md §3.6)."""
        return cls(tftp=69, tvs=2445, capf=3804, https=8443, sip=5060, sccp=2000,
                   sip_tls=5061, sccp_tls=2443)


class ServicePlane:
    """Every endpoint of every node, keyed by (service, node name)."""

    def __init__(self, state: ClusterState, pki: LabPKI, events: EventLog,
                 loop: BackgroundLoop, ports: Ports, policy: Policy) -> None:
        self.state, self.pki, self.events, self.loop = state, pki, events, loop
        self.trust = TrustStore()
        self.capf_directory = CapfDirectory()
        self.files: dict[str, AliasedFiles] = {}  # each node's generated set
        self.served: dict[str, ChainSource] = {}  # ... with the firmware folders under it
        self.endpoints: dict[tuple[Service, str], Endpoint] = {}
        for node in state.nodes:
            for service in node.services:
                endpoint = self._make(service, node, ports, policy)
                if isinstance(endpoint, TlsServerEndpoint | Registrar | SccpEndpoint):
                    endpoint.tls_policy = self.tls_policy  # one policy for every TLS server
                self.endpoints[(service, node.name)] = endpoint

    def _make(self, service: Service, node: Node, ports: Ports, policy: Policy) -> Endpoint:
        host, source = node.address, f"{service.value}@{node.name}"
        if service is Service.TFTP:
            files = self.files[node.name] = AliasedFiles()
            served = self.served[node.name] = ChainSource(files, FirmwareFiles(self.state))
            return TftpEndpoint(served, self.events, host, ports.tftp, source_name=source)
        if service is Service.TVS:
            return TvsEndpoint(self.events, self.loop, self.pki.identity(CertRole.tvs, node.name),
                               self.trust, node=node.name, host=host, port=ports.tvs)
        if service is Service.CAPF:
            return CapfEndpoint(self.events, self.loop, self.pki.identity(CertRole.capf, node.name),
                                self.capf_directory, host=host, port=ports.capf,
                                verify_cas=[self.pki.identity(CertRole.mfg_ca).cert,
                                            *self.state.mic_cas])
        if service is Service.HTTPS:
            return HttpsServicesEndpoint(self.pki.identity(CertRole.tomcat, node.name),
                                         self.events, host, ports.https, source=source)
        if service is Service.SCCP:
            return SccpEndpoint(self.events, self.loop, self.pki.identity(CertRole.tftp, node.name),
                                node=node.name, host=host, port=ports.sccp,
                                tls_port=ports.sccp_tls, policy=policy,
                                client_cas=self._device_cas, buttons=self._line_count)
        return Registrar(self.events, self.loop, host, ports.sip, policy=policy, source=source,
                         release=(self.state.release.major, self.state.release.minor),
                         tls=self._sip_tls(node, ports), tls_enabled=self._mixed)

    def _sip_tls(self, node: Node, ports: Ports) -> TlsSettings:
        """`sip-tls@NODE`: the node's CallManager certificate (PKI role tftp) as server,
        LSCs (issued by any CAPF) and MICs (mfg CA) as clients (docs/REAL_WIRE.md §1.1)."""
        return TlsSettings(identity=lambda: self.pki.identity(CertRole.tftp, node.name),
                           client_cas=self._device_cas, port=ports.sip_tls,
                           source=f"sip-tls@{node.name}")

    def tls_policy(self) -> TlsPolicy:
        """The versions and suites the release offers, as the topology may override them
        (harness/tls.py); read at each endpoint start, so an upgrade changes them."""
        return self.state.tls.policy(self.state.release.major, self.state.release.minor)

    def _mixed(self) -> bool:
        return self.state.mode is SecurityMode.MIXED

    def _device_cas(self) -> list[x509.Certificate]:
        """Issuers of phone certificates SCCP over TLS accepts: CAPF (LSCs), mfg CA (MICs)."""
        capf = [self.pki.identity(CertRole.capf, n.name).cert
                for n in self.state.nodes_running(Service.CAPF)]
        return [*capf, self.pki.identity(CertRole.mfg_ca).cert, *self.state.mic_cas]

    def _line_count(self, device: str) -> int:
        phone = self.state.phones.get(device)
        return len(phone.lines) if phone is not None else 1

    def secured_sip_port(self, node: str) -> int:
        """The node's SIP-over-TLS port as phones are told; in mixed mode the listener
        starts on first ask (the mode changes at run time: CTL client), else 5061."""
        registrar = self.endpoints.get((Service.SIP, node))
        if not isinstance(registrar, Registrar):
            return 5061
        if registrar.running and self._mixed():
            return registrar.start_tls()
        return registrar.tls_port or 5061

    def endpoint(self, service: Service, node: str) -> Endpoint:
        return self.endpoints[(service, node)]

    def of(self, service: Service) -> list[Endpoint]:
        return [e for (s, _), e in self.endpoints.items() if s is service]

    def reload_identity(self, service: Service, node: str) -> None:
        """Give the endpoint the node's current certificate; it takes effect on restart."""
        endpoint = self.endpoints.get((service, node))
        if isinstance(endpoint, TvsEndpoint):
            endpoint.identity = self.pki.identity(CertRole.tvs, node)
        elif isinstance(endpoint, CapfEndpoint):
            capf = self.pki.identity(CertRole.capf, node)
            endpoint.identity = capf
            endpoint.settings = replace(endpoint.settings, issuer=capf)
        elif isinstance(endpoint, SccpEndpoint):
            endpoint.identity = self.pki.identity(CertRole.tftp, node)
        elif isinstance(endpoint, HttpsServicesEndpoint):
            endpoint.identity = self.pki.identity(CertRole.tomcat, node)

    def stop_all(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.stop()
