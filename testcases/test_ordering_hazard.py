"""§6 ordering hazard: regenerating the TFTP and TVS certificates together strands phones."""

from __future__ import annotations

import allure
import pytest

from fixtures.expect import settle, stranded, trusting
from fixtures.lab_run import LabRun
from fixtures.reporting import step

pytestmark = [allure.feature("Certificate regeneration"), allure.story("Ordering hazard")]


def regenerate_both_then_reset(lab: LabRun) -> int:
    settle(lab)
    with step("Regenerate the TFTP certificate"):
        lab.cluster.regenerate_certificate("tftp")
    with step("Regenerate the TVS certificate (before the phones were reset: the hazard)"):
        lab.cluster.regenerate_certificate("tvs")
    with step("Restart TFTP on every node running it"):
        lab.cluster.restart_service("tftp")
    with step("Reset all phones"):
        return lab.reset_all()


@allure.title("Regenerating the TFTP and TVS certificates together strands every phone")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.destructive
def test_both_certificates_at_once_strand_every_phone(lab: LabRun) -> None:
    """The hazard: both certificates regenerated before the phones were reset. No TVS can
    vouch for the new ITL signer, so every phone rejects the new ITL and config and stays
    registered with its old config."""
    mark = regenerate_both_then_reset(lab)
    found = stranded(lab, lab.plain_phones(), after=mark)
    for name, outcome in found.items():
        assert outcome.registered, f"{name} should still register with its old config"


@allure.title("Erasing the ITL by hand recovers a stranded phone")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.destructive
@pytest.mark.needs_keys
def test_manual_itl_erase_recovers_a_stranded_phone(lab: LabRun) -> None:
    """After the hazard, deleting the ITL on each phone (Settings > Security) and a reset
    make it trust the new ITL on first use again."""
    mark = regenerate_both_then_reset(lab)
    phones = lab.plain_phones()
    stranded(lab, phones, after=mark)
    with step("Delete the ITL by hand on each phone, then reset it"):
        for name in phones:
            lab.phones[name].erase_itl()
        mark = lab.reset_all()
    trusting(lab, phones, after=mark)


@allure.title("The documented order (TFTP, reset, then TVS, reset) strands no phone")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.destructive
def test_documented_order_tftp_then_tvs_does_not_strand(lab: LabRun) -> None:
    """Regenerating the TFTP certificate, resetting the phones, then regenerating the TVS
    certificate and resetting again keeps every phone trusting: TVS vouches for the new
    ITL signer in between."""
    settle(lab)
    phones = lab.plain_phones()
    for role in ("tftp", "tvs"):
        with step(f"Regenerate the {role.upper()} certificate"):
            lab.cluster.regenerate_certificate(role)
        with step("Restart TFTP on every node running it"):
            lab.cluster.restart_service("tftp")
        with step("Reset all phones and wait for them to register"):
            mark = lab.reset_all()
            found = trusting(lab, phones, after=mark)
        if role == "tftp":
            assert all(("query", "valid") in o.tvs for o in found.values()), \
                "the new ITL signer must have been vouched for by TVS"
