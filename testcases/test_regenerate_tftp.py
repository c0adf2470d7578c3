"""§6 TFTP certificate regeneration, in non-secure and mixed mode, with the EMCC step."""

from __future__ import annotations

import allure
import pytest

from fixtures.expect import served_itl, settle, trusting
from fixtures.lab_run import LabRun
from fixtures.reporting import step
from harness.cluster.cluster import Cluster
from harness.cluster.state import Service
from harness.pki import CertRole, LabPKI

pytestmark = [allure.feature("Certificate regeneration"), allure.story("TFTP certificate")]


@allure.title("TFTP certificate regeneration: phones accept the new ITL through TVS")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.destructive
def test_tftp_regeneration_procedure_phones_accept_the_new_itl_via_tvs(lab: LabRun) -> None:
    """Regenerate the TFTP certificate, restart TFTP, reset the phones: the ITL has a new
    signer, which every phone has TVS vouch for before accepting it."""
    settle(lab)
    old = served_itl(lab).header.signer.serial
    with step("1. Regenerate the TFTP certificate"):
        lab.cluster.regenerate_certificate("tftp")
    with step("3. Restart TFTP on every node running it"):
        mark = lab.events.mark()
        lab.cluster.restart_service("tftp")
        lab.wait_tftp_rebuilt(after=mark)
    with step("5. Reset all phones"):
        mark = lab.reset_all()
    found = trusting(lab, lab.plain_phones(), after=mark)
    assert served_itl(lab).header.signer.serial != old
    for name, outcome in found.items():
        assert ("query", "valid") in outcome.tvs, f"{name}: the new signer needs TVS"


@allure.title("TFTP certificate regeneration in mixed mode, with the CTL client")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.destructive
def test_tftp_regeneration_in_mixed_mode_with_the_ctl_client(lab: LabRun) -> None:
    """In mixed mode the procedure adds the CTL client run and a CallManager restart; after
    it every phone accepts the new CTL and trusts the new ITL."""
    settle(lab)
    with step("Put the cluster in mixed mode (CTL client), restart TFTP, reset phones"):
        lab.cluster.run_ctl_client()
        lab.cluster.restart_service("tftp")
        mark = lab.reset_all()
        settle(lab, lab.plain_phones(), after=mark)
        assert all(lab.outcome(p, mark).ctl_verdicts() == ["accepted"]
                   for p in lab.plain_phones())
    with step("1. Regenerate the TFTP certificate"):
        lab.cluster.regenerate_certificate("tftp")
    with step("2. Run the CTL client (mixed mode)"):
        lab.cluster.run_ctl_client()
    with step("3. Restart TFTP on every node running it"):
        lab.cluster.restart_service("tftp")
    with step("4. Restart Cisco CallManager (the registration endpoint) where running"):
        lab.cluster.restart_service(Service.SIP)
    with step("5. Reset all phones"):
        mark = lab.reset_all(how="power")
    found = trusting(lab, lab.plain_phones(), after=mark)
    for name, outcome in found.items():
        assert outcome.ctl_verdicts() == ["accepted"], f"{name}: {outcome.summary()}"


@allure.title("An EMCC peer trusts the new TFTP certificate only after bulk provisioning")
@allure.severity(allure.severity_level.NORMAL)
def test_emcc_peer_trusts_the_new_certificate_only_after_bulk_provisioning(
    lab: LabRun, tmp_path_factory: object
) -> None:
    """A peer cluster's TVS vouches for the TFTP certificate it was given by bulk certificate
    provisioning; after a regeneration it does not know the new one until provisioning is
    repeated."""
    import tempfile
    from pathlib import Path

    from harness.services.tvs_client import TvsClient

    peer_state = lab.cluster.state.__class__(
        [n.__class__(n.name, n.address, frozenset({Service.TVS})) for n in
         lab.cluster.state.nodes[:1]])
    peer_pki = LabPKI.init(Path(tempfile.mkdtemp()) / "peer", [lab.cluster.state.nodes[0].name],
                           addresses={lab.cluster.state.nodes[0].name:
                                      lab.cluster.state.nodes[0].address})
    with Cluster(peer_state, peer_pki, name="emcc-peer") as peer:
        def peer_trusts() -> bool:
            cert = lab.cluster.pki.identity(CertRole.tftp, lab.cluster.state.nodes[0].name)
            client = TvsClient([(*peer.plane.of(Service.TVS)[0].address, 0)], lambda d: True)
            return client.verify_blocking(cert.der, "CP-7962-SEP000000000000").valid

        with step("EMCC: bulk certificate provisioning between the clusters"):
            lab.cluster.provision_bulk_certificates(peer)
        assert peer_trusts()
        with step("1. Regenerate the TFTP certificate"):
            lab.cluster.regenerate_certificate("tftp")
        assert not peer_trusts(), "the peer must not know the new certificate yet"
        with step("6. Repeat bulk certificate provisioning (EMCC)"):
            lab.cluster.provision_bulk_certificates(peer)
        assert peer_trusts()
