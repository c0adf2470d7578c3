"""Procedure methods of the Cluster change what is served exactly when CUCM would."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from harness.cluster.cluster import Cluster
from harness.cluster.state import Param, Service
from harness.errors import UsageError
from harness.formats.enc import parse_encrypted
from harness.formats.trustlist import Role, parse_trust_list
from harness.pki import CertRole, LabPKI
from harness.services.capf_client import CapfClient
from harness.services.tvs_client import TvsClient
from phone_drivers.emulator.sip_client import SipAgent
from tests.cluster.conftest import ENCRYPTED, PHONE, ClusterFactory, download


def itl_signer(cluster: Cluster, tmp_path: Path) -> int:
    data = download(cluster, "ITLFile.tlv", tmp_path)
    assert data is not None
    return parse_trust_list(data).header.signer.serial


def tvs_knows(cluster: Cluster, cert: x509.Certificate) -> bool:
    host, port = cluster.plane.endpoint(Service.TVS, "cucm1").address
    client = TvsClient([(host, port, 0)], lambda der: True, timeout=5)
    return client.verify_blocking(cert.public_bytes(Encoding.DER), "CP-7962-" + PHONE).valid


def test_tftp_regeneration_is_invisible_until_tftp_restarts(cluster: Cluster,
                                                            tmp_path: Path) -> None:
    before = itl_signer(cluster, tmp_path)
    cluster.regenerate_certificate("tftp", "cucm1")
    new = cluster.pki.identity(CertRole.tftp, "cucm1").serial
    assert new != before
    assert itl_signer(cluster, tmp_path) == before  # phones still see the old files
    cluster.restart_service("tftp", "cucm1")
    assert itl_signer(cluster, tmp_path) == new
    steps = [e.data["step"] for e in cluster.events.of_kind("cluster.step")]
    assert steps == ["Regenerate the tftp certificate", "Restart the tftp service"]


def test_tvs_vouches_for_a_new_tftp_certificate_at_once(cluster: Cluster) -> None:
    old = cluster.pki.identity(CertRole.tftp, "cucm1").cert
    cluster.regenerate_certificate("tftp", "cucm1")
    new = cluster.pki.identity(CertRole.tftp, "cucm1").cert
    assert tvs_knows(cluster, new)
    assert not tvs_knows(cluster, old)


def test_tvs_regeneration_changes_the_presented_certificate(cluster: Cluster) -> None:
    seen: list[bytes] = []

    def accept(der: bytes) -> bool:
        seen.append(der)
        return True

    host, port = cluster.plane.endpoint(Service.TVS, "cucm1").address
    TvsClient([(host, port, 0)], accept, timeout=5).verify_blocking(b"x", "CP-7962-" + PHONE)
    cluster.regenerate_certificate("tvs", "cucm1")
    TvsClient([(host, port, 0)], accept, timeout=5).verify_blocking(b"x", "CP-7962-" + PHONE)
    assert len(seen) == 2 and seen[0] != seen[1]
    current = cluster.pki.identity(CertRole.tvs, "cucm1").cert
    assert x509.load_der_x509_certificate(seen[1]) == current


def test_rollback_parameter_serves_the_rollback_itl(cluster: Cluster, tmp_path: Path) -> None:
    cluster.set_parameter(Param.PREPARE_ROLLBACK, True)
    assert not parse_trust_list(download(cluster, "ITLFile.tlv", tmp_path) or b"").is_rollback
    cluster.restart_service("tvs")
    cluster.restart_service("tftp")
    itl = parse_trust_list(download(cluster, "ITLFile.tlv", tmp_path) or b"")
    assert itl.is_rollback and itl.verify()
    assert all(r.is_empty for r in itl.records if r.role in (Role.TVS, Role.CCM_TFTP))
    cluster.set_parameter(Param.PREPARE_ROLLBACK, False)
    cluster.restart_service("tftp")
    assert not parse_trust_list(download(cluster, "ITLFile.tlv", tmp_path) or b"").is_rollback


def test_backup_crash_restore_brings_back_the_same_tftp_key(cluster: Cluster,
                                                            tmp_path: Path) -> None:
    original = itl_signer(cluster, tmp_path)
    cluster.backup(tmp_path / "drs.bak", "lab-passphrase")
    cluster.crash("cucm1")
    assert itl_signer(cluster, tmp_path) != original
    with pytest.raises(UsageError, match="passphrase"):
        cluster.restore(tmp_path / "drs.bak", "wrong")
    cluster.restore(tmp_path / "drs.bak", "lab-passphrase")
    cluster.restart_service("tftp")
    assert itl_signer(cluster, tmp_path) == original


def test_upgrade_from_affected_release_needs_the_ctl_client(make_cluster: ClusterFactory,
                                                            tmp_path: Path) -> None:
    cluster = make_cluster(release="7.1(3)", mode="mixed")
    assert download(cluster, "ITLFile.tlv", tmp_path) is None
    cluster.upgrade("8.0")
    cluster.restart_service("tftp")
    ctl = parse_trust_list(download(cluster, "CTLFile.tlv", tmp_path) or b"")
    assert Role.CCM_TFTP not in [r.role for r in ctl.records]  # stale pre-8.0 CTL
    assert download(cluster, "ITLFile.tlv", tmp_path) is not None
    cluster.run_ctl_client()
    ctl = parse_trust_list(download(cluster, "CTLFile.tlv", tmp_path) or b"")
    assert [r.role for r in ctl.records].count(Role.CCM_TFTP) == 2


def test_upgrade_from_unaffected_release_keeps_a_current_ctl(make_cluster: ClusterFactory,
                                                             tmp_path: Path) -> None:
    cluster = make_cluster(release="007.001(003.21900.003)", mode="mixed")
    cluster.upgrade("8.0")
    cluster.restart_service("tftp")
    ctl = parse_trust_list(download(cluster, "CTLFile.tlv", tmp_path) or b"")
    assert Role.CCM_TFTP in [r.role for r in ctl.records]


def test_emcc_peer_trusts_new_tftp_cert_only_after_reprovisioning(
    make_cluster: ClusterFactory, tmp_path: Path
) -> None:
    home = make_cluster(name="home")
    peer = make_cluster(name="peer", lab_pki=LabPKI.init(tmp_path / "peer", ["cucm1", "cucm2"]))
    home_tftp = home.pki.identity(CertRole.tftp, "cucm1").cert
    assert not tvs_knows(peer, home_tftp)
    home.provision_bulk_certificates(peer)
    assert tvs_knows(peer, home_tftp)
    home.regenerate_certificate("tftp", "cucm1")
    renewed = home.pki.identity(CertRole.tftp, "cucm1").cert
    assert not tvs_knows(peer, renewed)
    home.provision_bulk_certificates(peer)
    assert tvs_knows(peer, renewed)


def test_capf_install_then_the_phone_gets_a_decryptable_config(cluster: Cluster,
                                                               tmp_path: Path) -> None:
    capf = cluster.plane.endpoint(Service.CAPF, "cucm1").address
    client = CapfClient(ENCRYPTED, [capf], lambda der: True, password="1234", timeout=10)
    result = asyncio.run(client.run())
    assert result.reason == 1 and result.lsc is not None
    data = download(cluster, f"{ENCRYPTED}.cnf.xml.enc.sgn", tmp_path)
    assert data is not None
    encrypted = parse_encrypted(data)
    assert encrypted.verify(cluster.pki.identity(CertRole.tftp, "cucm1").cert)
    assert b"<deviceSecurityMode>3</deviceSecurityMode>" in encrypted.decrypt(result.lsc.key)


def test_reset_reaches_registered_phones_over_sip(cluster: Cluster) -> None:
    actions: list[str] = []

    async def scenario() -> list[str]:
        agent = SipAgent(PHONE, "127.0.2.9", actions.append)
        sip = cluster.plane.endpoint(Service.SIP, "cucm1").address
        assert await agent.register(sip) == 200
        done = await asyncio.to_thread(cluster.reset_phones)
        for _ in range(100):
            if actions:
                break
            await asyncio.sleep(0.02)
        agent.close()
        return done

    assert asyncio.run(scenario()) == [PHONE]
    assert actions == ["reset"]


def test_unknown_service_or_reset_kind_is_a_usage_error(cluster: Cluster) -> None:
    with pytest.raises(UsageError):
        cluster.restart_service("capf", "cucm2")  # CAPF runs on the publisher only
    with pytest.raises(UsageError):
        cluster.reset_phones(how="telepathy")
    with pytest.raises(UsageError):
        cluster.reset_phones(how="power")  # no power control attached
