"""The TFTP file set, derived from cluster state exactly as CUCM's TFTP service does.

Pure functions of (state, certificates, endpoints): the Cluster calls them when
the TFTP service (re)starts, because the documented procedures rely on phones
seeing the old files until that step (docs/SECURITY_BY_DEFAULT.md §6), and for one
phone's config when its device record changes (e.g. CAPF issued an LSC).
Per-device trust-list names are aliases resolved at lookup time (§2.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from cryptography import x509

from harness.cluster.configs import Endpoints, default_config, device_config, version_stamp
from harness.cluster.state import ClusterState, Node, Param, PhoneRecord, SecurityMode, Service
from harness.formats.enc import encrypt_config, stub_config
from harness.formats.header import Signer
from harness.formats.sgn import sign_file
from harness.formats.trustlist import Record, Role, build_trust_list
from harness.pki import CertRole, LabPKI
from harness.services.tftp_files import MappingSource

ITL, CTL, DEFAULT = "ITLFile.tlv", "CTLFile.tlv", "XMLDefault.cnf.xml"


def itl_records(state: ClusterState, pki: LabPKI, node: Node) -> list[Record]:
    """TFTP cert as SAST and as CCM+TFTP, every TVS cert, the CAPF cert (§3)."""
    tftp = pki.identity(CertRole.tftp, node.name).cert
    records = [Record.from_certificate(tftp, Role.SAST)]
    tvs_nodes = state.nodes_running(Service.TVS)
    if state.parameters[Param.PREPARE_ROLLBACK]:  # §2.7: blank TFTP and TVS entries
        records.append(Record.empty(Role.CCM_TFTP))
        records += [Record.empty(Role.TVS) for _ in tvs_nodes]
    else:
        records.append(Record.from_certificate(tftp, Role.CCM_TFTP))
        records += [Record.from_certificate(pki.identity(CertRole.tvs, n.name).cert, Role.TVS)
                    for n in tvs_nodes]
    return records + _capf_records(state, pki)


def ctl_records(state: ClusterState, pki: LabPKI) -> list[Record]:
    """SAST tokens, every TFTP server as CCM+TFTP (with name and address), CAPF.

    After an upgrade from a release that needs the CTL client again (§8), the
    CTL on the server is still the pre-8.0 one: it names no 8.0 TFTP signer
    until `run_ctl_client` rebuilds it (phonelab's model of that rule).
    """
    records = [Record.from_certificate(pki.identity(r).cert, Role.SAST)
               for r in (CertRole.sast1, CertRole.sast2)]
    if state.ctl_current:
        records += [Record.from_certificate(pki.identity(CertRole.tftp, n.name).cert,
                                            Role.CCM_TFTP, dns_name=n.name, ip=n.address)
                    for n in state.nodes_running(Service.TFTP)]
    return records + _capf_records(state, pki)


def _capf_records(state: ClusterState, pki: LabPKI) -> list[Record]:
    return [Record.from_certificate(pki.identity(CertRole.capf, n.name).cert, Role.CAPF)
            for n in state.nodes_running(Service.CAPF)[:1]]


def ctl_file(state: ClusterState, pki: LabPKI, stamp: int) -> dict[str, bytes]:
    """The CTL in mixed mode (signed with SAST token 1), else nothing."""
    if state.mode is not SecurityMode.MIXED:
        return {}
    signer = pki.identity(CertRole.sast1)
    return {CTL: build_trust_list(ctl_records(state, pki), signer, filename=CTL, timestamp=stamp)}


def phone_files(state: ClusterState, phone: PhoneRecord, signer: Signer, where: Endpoints,
                device_cert: x509.Certificate | None, stamp: int) -> dict[str, bytes]:
    """One phone's config: plain, signed, or stub + encrypted (§3, §4.1)."""
    name = f"{phone.name}.cnf.xml"
    xml = device_config(phone, where, version_stamp(stamp, phone.name), state.firmware)
    sbd = state.release.has_security_by_default and phone.supports_sbd
    if sbd and phone.encrypted_config:
        files = {name + ".sgn": sign_file(stub_config(xml, device_cert), signer,
                                          filename=name + ".sgn", timestamp=stamp)}
        if device_cert is not None:  # no certificate yet: the phone must enroll first
            files[name + ".enc.sgn"] = encrypt_config(xml, device_cert, signer,
                                                      filename=name + ".enc.sgn", timestamp=stamp)
        return files
    files = {name: xml}
    if sbd or (state.mode is SecurityMode.MIXED and phone.supports_sbd):
        files[name + ".sgn"] = sign_file(xml, signer, filename=name + ".sgn", timestamp=stamp)
    return files


def build_file_set(state: ClusterState, pki: LabPKI, node: Node, where: Endpoints, stamp: int,
                   device_certs: Mapping[str, x509.Certificate]) -> dict[str, bytes]:
    """Every file the TFTP service on `node` serves after a restart, by name."""
    return dict(file_set(state, pki, node, where, stamp, device_certs))


def file_set(state: ClusterState, pki: LabPKI, node: Node, where: Endpoints, stamp: int,
             device_certs: Mapping[str, x509.Certificate],
             phones: Iterable[PhoneRecord] | None = None, *,
             shared: bool = True) -> Iterator[tuple[str, bytes]]:
    """`build_file_set` one file at a time (10,000 phones' configs need not all be held
    at once); `phones` limits the per-phone files to those phones, `shared=False` leaves
    out the files that are not any phone's (CTL, ITL, the default config)."""
    signer = pki.identity(CertRole.tftp, node.name)
    sbd = state.release.has_security_by_default
    if shared:
        yield from ctl_file(state, pki, stamp).items()
        if sbd:
            yield ITL, build_trust_list(itl_records(state, pki, node), signer, filename=ITL,
                                        timestamp=stamp)
    for phone in state.phones.values() if phones is None else phones:
        yield from phone_files(state, phone, signer, where, device_certs.get(phone.name),
                               stamp).items()
    if not shared:
        return
    if state.parameters[Param.AUTO_REGISTRATION] and state.mode is SecurityMode.NON_SECURE:
        default = default_config(where, version_stamp(stamp, DEFAULT), state.firmware)
        yield DEFAULT, default
        if sbd:
            yield DEFAULT + ".sgn", sign_file(default, signer, filename=DEFAULT + ".sgn",
                                              timestamp=stamp)


def alike_phones(state: ClusterState) -> list[PhoneRecord]:
    """One phone of each config shape (model, protocol, encryption, lines): their files
    are the samples the published set is deflated against (deflated_files.py)."""
    shapes: dict[tuple[str, str, bool, int], PhoneRecord] = {}
    for phone in state.phones.values():
        shapes.setdefault((phone.model, phone.protocol, phone.encrypted_config,
                           len(phone.lines)), phone)
    return list(shapes.values())


class AliasedFiles(MappingSource):
    """A node's published files; `ITLSEP<MAC>.tlv` / `CTLSEP<MAC>.tlv` resolve to the
    cluster-wide trust lists (docs/PROTOCOLS.md §2.1)."""

    def lookup(self, name: str) -> bytes | None:
        upper = name.upper()
        if len(name) == 22 and upper.endswith(".TLV") and upper[3:6] == "SEP":
            name = {"ITL": ITL, "CTL": CTL}.get(upper[:3], name)
        return super().lookup(name)
