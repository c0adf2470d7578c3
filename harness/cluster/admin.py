"""Cluster administration: parameters, phones, DRS backup, crashes, upgrades, EMCC.

Split from `cluster.py` so each file reads in one sitting; these are the
procedures of docs/SECURITY_BY_DEFAULT.md §7-§10 and the admin actions testcases
need (add or remove a phone, take a service down to test failover).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cluster.releases import Release, ctl_client_required
from harness.cluster.state import (
    ClusterState,
    FirmwareLoad,
    Param,
    PhoneRecord,
    SecurityMode,
    Service,
)
from harness.cluster.trust import trusted_entries
from harness.errors import UsageError
from harness.formats.roles import Role
from harness.phone_models import lookup
from harness.pki import CertRole, Identity, LabPKI
from harness.services.https import HttpsServicesEndpoint
from harness.services.truststore import TrustEntry
from harness.services.tvs import TvsEndpoint

if TYPE_CHECKING:
    from harness.cluster.plane import ServicePlane


class ClusterAdmin:
    """Mixin of `Cluster`: needs its state, PKI, plane and core procedures."""

    name: str
    state: ClusterState
    pki: LabPKI
    plane: ServicePlane
    peer_entries: dict[str, list[TrustEntry]]

    def _step(self, text: str, **data: Any) -> None: ...  # pragma: no cover
    def sync_trust(self) -> None: ...  # pragma: no cover
    def sync_capf(self) -> None: ...  # pragma: no cover
    def restart_service(self, service: Service | str, node: str | None = None, *,
                        record: bool = True) -> None: ...  # pragma: no cover

    def set_parameter(self, param: Param | str, value: bool) -> None:
        param = Param(param)
        self._step(f"Set enterprise parameter '{param.value}' = {value}")
        self.state.parameters[param] = value

    def add_phone(self, phone: PhoneRecord) -> None:
        """Device > Phone > Add New (the TFTP files follow at the next TFTP restart)."""
        self._step(f"Add phone {phone.name} ({phone.model})")
        self.state.add_phone(phone)
        self.sync_capf()

    def remove_phone(self, name: str) -> None:
        """Delete the phone from the database: it must auto-register from now on."""
        self._step(f"Delete phone {name}")
        if self.state.phones.pop(name, None) is None:
            raise UsageError(f"no phone {name} in the cluster database")
        self.plane.capf_directory.remove(name)

    def set_firmware(self, model: str, load: str | None, directory: str | None = None) -> None:
        """Device Defaults: the load phones of `model` are told to run (None: none), from
        the next TFTP restart on (docs/REAL_WIRE.md §5); `directory` is served if given."""
        key = lookup(model).model
        self._step(f"Set the phone load for {key} to {load or '(none)'}")
        if load is None:
            self.state.firmware.pop(key, None)
        else:
            self.state.firmware[key] = FirmwareLoad(key, load, directory)

    def place_file(self, name: str, data: bytes, node: str | None = None) -> None:
        """Drop a file onto the TFTP server(s) by hand, e.g. a tampered or foreign CTL."""
        self._step(f"Place {name} on the TFTP server", node=node or "all")
        for tftp in [node] if node else [n.name for n in self.state.nodes_running(Service.TFTP)]:
            self.plane.files[tftp].update({name: data})

    def present_certificate(self, service: Service | str, identity: Identity,
                            node: str | None = None) -> None:
        """The service's server presents `identity` instead of the cluster's certificate,
        which no trust store learns: e.g. phone services moved to a third-party web server
        whose certificate was never uploaded. The next restart of the service presents the
        cluster's own certificate again."""
        service = Service(service)
        subject = identity.cert.subject.rfc4514_string()
        for name in [node] if node else [n.name for n in self.state.nodes_running(service)]:
            self._step(f"The {service.value} server presents another certificate ({subject})",
                       node=name)
            endpoint = self.plane.endpoint(service, name)
            if not isinstance(endpoint, (HttpsServicesEndpoint, TvsEndpoint)):
                raise UsageError(f"only the https and tvs servers can present another "
                                 f"certificate, not {service.value}")
            endpoint.identity = identity
            endpoint.restart()

    def stop_service(self, service: Service | str, node: str) -> None:
        """Take one service down (a node failure), e.g. to test TVS failover."""
        service = Service(service)
        self._step(f"Stop the {service.value} service", node=node)
        self.plane.endpoint(service, node).stop()

    def backup(self, path: Path, passphrase: str) -> None:
        self._step("Back up the cluster (DRS)", path=str(path))
        self.pki.backup(path, passphrase)

    def restore(self, path: Path, passphrase: str) -> None:
        self._step("Restore the cluster from backup (DRS)", path=str(path))
        self.pki.restore(path, passphrase)
        self.sync_trust()

    def crash(self, node: str) -> None:
        """The node is rebuilt: its keys are lost and new certificates generated."""
        self._step("Server crash: rebuild without backup", node=node)
        for role in (CertRole.tftp, CertRole.tvs, CertRole.capf, CertRole.tomcat):
            self.pki.forget(role, node)
            self.pki.regenerate(role, node)
        self.sync_trust()
        for service in self.state.node(node).services:
            if self.plane.endpoint(service, node).running or service is Service.TFTP:
                self.restart_service(service, node, record=False)

    def upgrade(self, to_release: str, *, es: bool = False) -> None:
        """Upgrade every node (§8); the CTL must be rebuilt if the old release needs it."""
        self._change_release(Release.parse(to_release, es=es), "Upgrade every node to")

    def switch_version(self, to_release: str, *, es: bool = False) -> None:
        """Switch every node to the inactive partition (rollback §9, return §10)."""
        self._change_release(Release.parse(to_release, es=es), "Switch every server to")
        for node in self.state.nodes:  # a version switch reboots the servers
            for service in node.services:
                self.restart_service(service, node.name, record=False)

    def _change_release(self, target: Release, wording: str) -> None:
        old = self.state.release
        legacy = old if not old.has_security_by_default else target
        self._step(f"{wording} {target}", from_release=str(old))
        mixed = self.state.mode is SecurityMode.MIXED
        self.state.ctl_current = not ctl_client_required(legacy, mixed)
        self.state.release = target
        for endpoint in self.plane.of(Service.TVS):
            endpoint.start() if target.has_security_by_default else endpoint.stop()

    def provision_bulk_certificates(self, other: ClusterAdmin) -> None:
        """EMCC: each cluster's TVS learns the other's current TFTP and TVS certificates."""
        self._step("Bulk certificate provisioning (EMCC)", peer=other.name)
        self.peer_entries[other.name] = other.exportable_entries()
        other.peer_entries[self.name] = self.exportable_entries()
        self.sync_trust()
        other.sync_trust()

    def exportable_entries(self) -> list[TrustEntry]:
        """What EMCC exchanges: the TFTP (CCM+TFTP) and TVS certificates of every node."""
        return [e for e in trusted_entries(self.state, self.pki)
                if e.roles & {Role.CCM_TFTP, Role.TVS}]
