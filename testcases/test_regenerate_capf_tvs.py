"""§6 CAPF and TVS certificate regeneration procedures, and what skipping a step does."""

from __future__ import annotations

import allure
import pytest

from fixtures.expect import settle, trusting
from fixtures.lab_run import LabRun
from fixtures.reporting import step
from harness.pki import CertRole

pytestmark = allure.feature("Certificate regeneration")


@allure.title("CAPF certificate regeneration procedure")
@allure.story("CAPF certificate")
@allure.severity(allure.severity_level.NORMAL)
def test_capf_regeneration_procedure(lab: LabRun) -> None:
    """Regenerate the CAPF certificate, restart CAPF and TFTP, reset the phones: they accept
    the new ITL (its CAPF record changed) locally, as its TFTP signer is the same, without
    asking TVS."""
    settle(lab)
    with step("1. Regenerate the CAPF certificate"):
        lab.cluster.regenerate_certificate("capf", lab.cluster.state.publisher.name)
    with step("2. Restart the CAPF service"):
        lab.cluster.restart_service("capf")
    with step("3. Restart TFTP on every node running it"):
        lab.cluster.restart_service("tftp")
    with step("4. Reset all phones"):
        mark = lab.reset_all()
    found = trusting(lab, lab.plain_phones(), after=mark)
    # the ITL changed (new CAPF record) and verified locally: same TFTP signer
    assert all(o.itl_verdicts() == ["accepted"] for o in found.values())
    assert all(("query", "valid") not in o.tvs for o in found.values())


@allure.title("A phone with an encrypted config enrolls against the regenerated CAPF")
@allure.severity(allure.severity_level.NORMAL)
@allure.story("CAPF certificate")
@pytest.mark.requires_feature("encrypted_config")
def test_encrypted_phone_enrolls_against_the_regenerated_capf(lab: LabRun) -> None:
    """After a CAPF certificate regeneration, an Install/Upgrade for a phone with encrypted
    configs still completes."""
    encrypted = [n for n, p in lab.cluster.state.phones.items() if p.encrypted_config]
    settle(lab)
    name = encrypted[0]
    with step("Regenerate the CAPF certificate, restart CAPF and TFTP"):
        lab.cluster.regenerate_certificate("capf", lab.cluster.state.publisher.name)
        lab.cluster.restart_service("capf")
        lab.cluster.restart_service("tftp")
    with step(f"Schedule Install/Upgrade for {name} and reset it"):
        lab.cluster.update_phone(name, capf_operation="install")
        mark = lab.reset_all()
    session = lab.wait_event(name, "capf.session", after=mark, operation="install")
    assert session.data["result"] in ("installed", "ok"), session.data


@allure.title("TVS certificate regeneration procedure")
@allure.story("TVS certificate")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.destructive
def test_tvs_regeneration_procedure(lab: LabRun) -> None:
    """Regenerate the TVS certificate on every node, restart TFTP, reset the phones: every
    phone accepts the rebuilt ITL."""
    settle(lab)
    with step("1. Regenerate the TVS certificate (every node)"):
        lab.cluster.regenerate_certificate("tvs")
    with step("2. Restart TFTP on every node running it"):
        lab.cluster.restart_service("tftp")
    with step("3. Reset all phones"):
        mark = lab.reset_all()
    found = trusting(lab, lab.plain_phones(), after=mark)
    assert all(o.itl_verdicts() == ["accepted"] for o in found.values())


@allure.title("Skipping the TFTP restart after a TVS regeneration breaks HTTPS through TVS")
@allure.severity(allure.severity_level.CRITICAL)
@allure.story("TVS certificate")
@pytest.mark.destructive
def test_tvs_regeneration_without_tftp_restart_breaks_https_via_tvs(lab: LabRun) -> None:
    """Negative path: skipping step 2 leaves phones with an ITL naming the old TVS cert."""
    settle(lab)
    with step("1. Regenerate the TVS certificate (every node)"):
        lab.cluster.regenerate_certificate("tvs")
    with step("3. Reset all phones (step 2, the TFTP restart, skipped)"):
        mark = lab.reset_all()
    found = trusting(lab, lab.plain_phones(), after=mark, itl="unchanged", https=False)
    assert all(not o.tvs for o in found.values()), "TLS to TVS must fail before any question"


@allure.title("TFTP regeneration without a TFTP restart changes nothing for the phones")
@allure.severity(allure.severity_level.MINOR)
@allure.story("TFTP certificate")
def test_tftp_regeneration_without_tftp_restart_changes_nothing_for_phones(lab: LabRun) -> None:
    """A regenerated TFTP certificate is not used until TFTP restarts: the served ITL stays
    the same, so phones have nothing new to verify."""
    settle(lab)
    served = lab.cluster.served("ITLFile.tlv")
    with step("1. Regenerate the TFTP certificate"):
        lab.cluster.regenerate_certificate("tftp")
    with step("5. Reset all phones (the TFTP restart skipped)"):
        mark = lab.reset_all()
    found = trusting(lab, lab.plain_phones(), after=mark, itl="unchanged")
    assert lab.cluster.served("ITLFile.tlv") == served, "TFTP must not rebuild by itself"
    new = lab.cluster.pki.identity(CertRole.tftp, lab.cluster.state.publisher.name)
    assert all(o.itl_verdicts() == [] for o in found.values()), "same file: nothing to verify"
    assert new.serial  # regenerated on disk, waiting for the restart
