"""§3 Phones holding a CTL verify the ITL with it; CTL changes need a known SAST signer."""

from __future__ import annotations

from pathlib import Path

import allure
import pytest

from fixtures.expect import settle, trusting
from fixtures.lab_run import LabRun
from fixtures.reporting import step
from harness.formats.trustlist import Record, Role, build_trust_list
from harness.pki import CertRole, LabPKI

pytestmark = [pytest.mark.destructive, allure.feature("Certificate Trust List"),
              allure.story("Mixed mode")]


def go_mixed(lab: LabRun) -> int:
    settle(lab)
    with step("Run the CTL client (mixed mode), restart TFTP, reset all phones"):
        lab.cluster.run_ctl_client()
        lab.cluster.restart_service("tftp")
        return lab.reset_all()


@allure.title("In mixed mode, phones install the CTL and keep trusting the ITL")
@allure.severity(allure.severity_level.CRITICAL)
def test_phones_install_the_ctl_and_keep_trusting_the_itl(lab: LabRun) -> None:
    """After the CTL client runs, every phone accepts its first CTL (vouched for by TVS)
    and keeps the ITL it holds."""
    mark = go_mixed(lab)
    found = trusting(lab, lab.plain_phones(), after=mark, itl="unchanged")
    for name, outcome in found.items():
        assert outcome.ctl_verdicts() == ["accepted"], outcome.summary()
        assert ("query", "valid") in outcome.tvs, f"{name}: first CTL vouched by TVS (SAST)"


@allure.title("A phone holding a CTL verifies a new ITL without asking TVS")
@allure.severity(allure.severity_level.CRITICAL)
def test_ctl_verifies_a_new_itl_without_tvs(lab: LabRun) -> None:
    """With a CTL installed, a regenerated TFTP certificate and a new CTL are enough: the
    phones verify the new ITL with the CTL alone and never ask TVS about its signer."""
    trusting(lab, lab.plain_phones(), after=go_mixed(lab), itl="unchanged")
    with step("Regenerate the TFTP certificate, run the CTL client, restart TFTP, reset"):
        lab.cluster.regenerate_certificate("tftp")
        lab.cluster.run_ctl_client()
        lab.cluster.restart_service("tftp")
        mark = lab.reset_all()
    found = trusting(lab, lab.plain_phones(), after=mark)
    for outcome in found.values():
        assert ("query", "valid") not in outcome.tvs, "the CTL alone must authenticate the ITL"


@allure.title("A tampered CTL is rejected and the old one kept")
@allure.severity(allure.severity_level.CRITICAL)
def test_tampered_ctl_is_rejected_and_the_old_one_kept(lab: LabRun) -> None:
    """A CTLFile.tlv with a changed byte fails its signature check on every phone, which
    keeps the CTL it holds."""
    trusting(lab, lab.plain_phones(), after=go_mixed(lab), itl="unchanged")
    ctl = bytearray(lab.cluster.served("CTLFile.tlv") or b"")
    ctl[-20] ^= 0xFF
    with step("Place a tampered CTLFile.tlv on the TFTP servers and reset all phones"):
        lab.cluster.place_file("CTLFile.tlv", bytes(ctl))
        mark = lab.reset_all()
    found = trusting(lab, lab.plain_phones(), after=mark, itl="unchanged")
    assert all(o.ctl_verdicts() == ["rejected"] for o in found.values())


@allure.title("A CTL from another cluster is rejected")
@allure.severity(allure.severity_level.CRITICAL)
def test_ctl_from_a_foreign_cluster_is_rejected(lab: LabRun, tmp_path: Path) -> None:
    """A CTL signed by eTokens this cluster's TVS does not know: the old CTL stays."""
    trusting(lab, lab.plain_phones(), after=go_mixed(lab), itl="unchanged")
    foreign = LabPKI.init(tmp_path / "foreign", ["other1"], key_size=2048)
    token = foreign.identity(CertRole.sast1)
    records = [Record.from_certificate(token.cert, Role.SAST),
               Record.from_certificate(foreign.identity(CertRole.tftp, "other1").cert,
                                       Role.CCM_TFTP)]
    with step("Place another cluster's CTLFile.tlv on the TFTP servers and reset all phones"):
        lab.cluster.place_file("CTLFile.tlv", build_trust_list(records, token,
                                                               filename="CTLFile.tlv"))
        mark = lab.reset_all()
    found = trusting(lab, lab.plain_phones(), after=mark, itl="unchanged")
    for name, outcome in found.items():
        assert outcome.ctl_verdicts() == ["rejected"], name
        assert ("query", "invalid") in outcome.tvs, f"{name} should have asked TVS first"


@allure.title("Phones holding the CTL register over TLS")
@allure.severity(allure.severity_level.NORMAL)
def test_phones_with_the_ctl_register_over_tls(lab: LabRun) -> None:
    """Mixed mode: deviceSecurityMode 2 sends phones to securedSipPort over TLS with their
    LSC/MIC (docs/REAL_WIRE.md); the registration is seen on `sip-tls@<node>`."""
    mark = go_mixed(lab)
    trusting(lab, lab.plain_phones(), after=mark, itl="unchanged")
    for name in lab.plain_phones():
        event = lab.wait_event(name, "sip.register", after=mark, transport="tls")
        assert event.source.startswith("sip-tls@"), event
        assert event.data["load"], "the running load is reported in the cisco-alarm"
