"""The TFTP file set served by a live cluster, fetched with tftpy's independent client."""

from __future__ import annotations

from pathlib import Path

from harness.cluster.cluster import Cluster
from harness.cluster.fileset import build_file_set
from harness.cluster.state import PhoneRecord, Service
from harness.events import EventLog
from harness.formats.enc import parse_stub
from harness.formats.sgn import parse_signed
from harness.formats.trustlist import Role, parse_trust_list
from harness.pki import CertRole, LabPKI
from tests.cluster.conftest import (
    ENCRYPTED,
    LEGACY,
    PHONE,
    ClusterFactory,
    download,
    make_state,
)


def test_itl_holds_tftp_twice_every_tvs_and_capf(cluster: Cluster, tmp_path: Path) -> None:
    data = download(cluster, "ITLFile.tlv", tmp_path)
    assert data is not None
    itl = parse_trust_list(data)
    assert itl.verify()
    pki = cluster.pki
    tftp = pki.identity(CertRole.tftp, "cucm1").cert
    by_role = {(r.role, r.serial) for r in itl.records}
    assert (Role.SAST, tftp.serial_number) in by_role
    assert (Role.CCM_TFTP, tftp.serial_number) in by_role
    for node in ("cucm1", "cucm2"):
        assert (Role.TVS, pki.identity(CertRole.tvs, node).serial) in by_role
    assert (Role.CAPF, pki.identity(CertRole.capf, "cucm1").serial) in by_role
    assert itl.header.signer.serial == tftp.serial_number


def test_each_tftp_node_signs_its_own_itl(cluster: Cluster, tmp_path: Path) -> None:
    second = download(cluster, "ITLFile.tlv", tmp_path, node="cucm2")
    assert second is not None
    signer = parse_trust_list(second).header.signer
    assert signer.serial == cluster.pki.identity(CertRole.tftp, "cucm2").serial


def test_per_device_alias_serves_the_cluster_itl(cluster: Cluster, tmp_path: Path) -> None:
    assert download(cluster, f"ITL{PHONE}.tlv", tmp_path) == download(cluster, "ITLFile.tlv",
                                                                      tmp_path)
    assert download(cluster, f"CTL{PHONE}.tlv", tmp_path) is None  # non-secure: no CTL


def test_signed_config_verifies_with_the_tftp_certificate(cluster: Cluster, tmp_path: Path) -> None:
    data = download(cluster, f"{PHONE}.cnf.xml.sgn", tmp_path)
    assert data is not None
    signed = parse_signed(data)
    assert signed.verify(cluster.pki.identity(CertRole.tftp, "cucm1").cert)
    assert not signed.verify(cluster.pki.identity(CertRole.tvs, "cucm1").cert)
    assert b"<TVS>" in signed.body and b"127.0.1.2" in signed.body


def test_models_without_sbd_get_only_unsigned_config(cluster: Cluster, tmp_path: Path) -> None:
    assert download(cluster, f"{LEGACY}.cnf.xml", tmp_path) is not None
    assert download(cluster, f"{LEGACY}.cnf.xml.sgn", tmp_path) is None


def test_encrypted_phone_without_certificate_gets_a_stub_only(cluster: Cluster,
                                                            tmp_path: Path) -> None:
    stub = download(cluster, f"{ENCRYPTED}.cnf.xml.sgn", tmp_path)
    assert stub is not None
    facts = parse_stub(parse_signed(stub).body)
    assert facts.encrypted and not facts.cert_hash
    assert download(cluster, f"{ENCRYPTED}.cnf.xml.enc.sgn", tmp_path) is None
    assert download(cluster, f"{ENCRYPTED}.cnf.xml", tmp_path) is None  # no clear text


def test_signed_default_config_for_autoregistration(cluster: Cluster, tmp_path: Path) -> None:
    data = download(cluster, "XMLDefault.cnf.xml.sgn", tmp_path)
    assert data is not None and parse_signed(data).body.count(b"<Default>") == 1


def test_mixed_mode_serves_a_sast_signed_ctl_and_no_default(make_cluster: ClusterFactory,
                                                            tmp_path: Path) -> None:
    cluster = make_cluster(mode="mixed")
    ctl = parse_trust_list(download(cluster, f"CTL{PHONE}.tlv", tmp_path) or b"")
    assert ctl.verify()
    assert ctl.header.signer.serial == cluster.pki.identity(CertRole.sast1).serial
    roles = [r.role for r in ctl.records]
    assert roles.count(Role.SAST) == 2 and roles.count(Role.CCM_TFTP) == 2
    assert Role.TVS not in roles
    assert download(cluster, "XMLDefault.cnf.xml", tmp_path) is None
    assert cluster._registration_policy("SEP0000000000FF", "1000").status == 403


def test_7x_cluster_serves_no_itl_and_unsigned_configs(make_cluster: ClusterFactory,
                                                       tmp_path: Path) -> None:
    cluster = make_cluster(release="7.1(5)")
    assert download(cluster, "ITLFile.tlv", tmp_path) is None
    assert download(cluster, f"{PHONE}.cnf.xml", tmp_path) is not None
    assert download(cluster, f"{PHONE}.cnf.xml.sgn", tmp_path) is None
    assert not any(e.running for e in cluster.plane.of(Service.TVS))


def test_published_set_is_what_the_builder_makes_kept_deflated(pki: LabPKI,
                                                              tmp_path: Path) -> None:
    """The set is streamed in and kept deflated (issue 14): every file is served exactly
    as `build_file_set` makes it, tftpy included, in a fraction of the memory."""
    state = make_state()
    for n in range(60):  # a cluster's worth of alike phones of two shapes
        state.add_phone(PhoneRecord(f"SEP0000B{n:07X}", ("8845", "7962")[n % 2]))
    with Cluster(state, pki, events=EventLog()) as cluster:
        cluster.restart_service(Service.TFTP, "cucm1")
        built = build_file_set(state, pki, state.node("cucm1"), cluster.endpoints_for_phones(),
                               cluster._stamp, cluster.device_certificates())
        published = cluster.plane.files["cucm1"]
        assert published.names() == sorted(built)
        assert all(cluster.served(name, "cucm1") == data for name, data in built.items())
        assert published.stored_bytes() * 8 < sum(map(len, built.values()))
        name = "SEP0000B000003A.cnf.xml.sgn"
        assert download(cluster, name, tmp_path, node="cucm1") == built[name]
