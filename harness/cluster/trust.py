"""What the cluster's TVS trusts and what its CAPF knows, derived from state and PKI.

TVS answers from the union of the cluster's trust stores (docs/PROTOCOLS.md §5.6):
the TFTP (CallManager) certificates vouch as SAST and CCM+TFTP, which is what
lets a phone accept an ITL re-signed after a TFTP regeneration (§7.9 row 1).
Derived afresh after every change, so TVS reflects it at once (§2).
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.cluster.state import ClusterState, SecurityMode, Service
from harness.formats.trustlist import Role
from harness.pki import CertRole, LabPKI
from harness.services.capf_directory import AuthMode, DeviceRecord, Operation
from harness.services.truststore import TrustEntry

_ROLES_BY_CERT: dict[CertRole, frozenset[int]] = {
    CertRole.tftp: frozenset({Role.SAST, Role.CCM_TFTP}),
    CertRole.tvs: frozenset({Role.TVS}),
    CertRole.capf: frozenset({Role.CAPF}),
    CertRole.tomcat: frozenset({Role.APP_SERVER}),
}
_SERVICE_OF = {CertRole.tftp: Service.TFTP, CertRole.tvs: Service.TVS,
               CertRole.capf: Service.CAPF, CertRole.tomcat: Service.HTTPS}


def trusted_entries(state: ClusterState, pki: LabPKI, ttl: int = 86400) -> list[TrustEntry]:
    """One entry per current certificate of a service some node runs.

    In mixed mode the CTL client has also put the SAST tokens into the
    Phone-SAST-trust store, which TVS reports with role SAST (docs/PROTOCOLS.md §5.6):
    that is how a phone holding only an ITL accepts its first CTL (§7.3).
    """
    entries: list[TrustEntry] = []
    if state.mode is SecurityMode.MIXED:
        entries += [TrustEntry(pki.identity(token).cert, frozenset({Role.SAST}), ttl)
                    for token in (CertRole.sast1, CertRole.sast2) if pki.has(token)]
    for node in state.nodes:
        for role, roles in _ROLES_BY_CERT.items():
            if _SERVICE_OF[role] in node.services and pki.has(role, node.name):
                entries.append(TrustEntry(pki.identity(role, node.name).cert, roles, ttl))
    return entries


def capf_records(state: ClusterState, known: Mapping[str, DeviceRecord]) -> list[DeviceRecord]:
    """CAPF's view of each phone record, keeping any certificate it already holds."""
    records = []
    for phone in state.phones.values():
        previous = known.get(phone.name)
        records.append(DeviceRecord(
            phone.name, Operation(phone.capf_operation), AuthMode(phone.capf_auth),
            phone.capf_password, phone.key_size,
            certificate=previous.certificate if previous else None,
            certificate_type=previous.certificate_type if previous else None,
        ))
    return records
