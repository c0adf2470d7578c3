"""ITL acceptance: one test per row of the docs/PROTOCOLS.md §7.3 ITL table, plus negatives."""

from __future__ import annotations

from firmware_lab import Pki, config_xml, ctl, itl, phone, rollback_itl, signed
from firmware_net import FakeTvs, give_config, give_ctl, give_itl

from harness.formats.trustlist import Role
from phone_drivers.emulator.firmware import Firmware
from phone_drivers.emulator.firmware_types import Outcome


def _holding(pki: Pki) -> Firmware:
    """A phone holding the cluster ITL (TFTP signer, one TVS) and its config."""
    fw = phone()
    assert give_itl(fw, itl(pki.tftp, tftp=pki.tftp, tvs=[pki.tvs])).ok
    assert give_config(fw, signed(config_xml(), pki.tftp)).ok
    return fw


def _holding_both(pki: Pki) -> Firmware:
    """Also holding a CTL whose SAST token is not the ITL signer (installed via TVS)."""
    fw = _holding(pki)
    assert give_ctl(fw, ctl(pki.sast), FakeTvs(pki.tvs).trust(pki.sast, Role.SAST)).ok
    return fw


# Row 1: no CTL, no ITL -> sig_ok -> install (first ITL trusted automatically)
def test_itl_first_is_trusted_on_first_use(pki: Pki) -> None:
    fw = phone()
    decision = give_itl(fw, itl(pki.stranger, tftp=pki.stranger))
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "trust on first use"
    assert decision.status == "ITL installed" and fw.state.itl is not None


# Row 2: no CTL, rollback ITL -> sig_ok -> install (any ITL accepted)
def test_itl_after_rollback_itl_any_signer_is_accepted(pki: Pki) -> None:
    fw = phone()
    assert give_itl(fw, rollback_itl(pki.tftp)).ok
    decision = give_itl(fw, itl(pki.stranger, tftp=pki.stranger, tvs=[pki.tvs]))
    assert decision.outcome is Outcome.ACCEPTED
    assert decision.basis == "rollback ITL accepts any ITL"


# Row 3: no CTL, ITL I installed -> known(signer, I, SAST) -> install
def test_itl_signed_by_installed_itl_sast_is_accepted(pki: Pki) -> None:
    fw, tvs = _holding(pki), FakeTvs(pki.tvs)
    decision = give_itl(fw, itl(pki.tftp, tftp=pki.tftp, tvs=[pki.tvs2]), tvs)
    assert decision.outcome is Outcome.ACCEPTED
    assert decision.basis == "signer is a SAST of the installed ITL"
    assert decision.status == "Trust List updated" and tvs.asked == []


# Row 4: no CTL, ITL I installed -> else tvs_ok(signer, SAST); else reject, keep I
def test_itl_from_unknown_signer_accepted_when_tvs_vouches_sast(pki: Pki) -> None:
    fw = _holding(pki)
    tvs = FakeTvs(pki.tvs).trust(pki.tftp2, Role.SAST, Role.CCM_TFTP)
    decision = give_itl(fw, itl(pki.tftp2, tftp=pki.tftp2, tvs=[pki.tvs]), tvs)
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "TVS vouches SAST"


def test_itl_from_unknown_signer_rejected_keeps_itl_and_reports_failure(pki: Pki) -> None:
    fw = _holding(pki)
    before = fw.state.itl
    decision = give_itl(fw, itl(pki.stranger, tftp=pki.stranger), FakeTvs(pki.tvs))
    assert decision.outcome is Outcome.REJECTED and fw.state.itl is before
    assert decision.status == "Trust List update failed"
    assert fw.state.status_messages[-1] == "Trust List update failed"
    assert fw.state.trust_list_update_failed


def test_itl_tvs_answer_without_sast_role_is_rejected(pki: Pki) -> None:
    fw = _holding(pki)
    tvs = FakeTvs(pki.tvs).trust(pki.tftp2, Role.TFTP)
    decision = give_itl(fw, itl(pki.tftp2, tftp=pki.tftp2), tvs)
    assert decision.outcome is Outcome.REJECTED and "lacks role SAST" in decision.reason


def test_itl_rejected_when_tvs_unreachable(pki: Pki) -> None:
    fw = _holding(pki)
    tvs = FakeTvs(pki.tvs, reachable=False).trust(pki.tftp2, Role.SAST)
    decision = give_itl(fw, itl(pki.tftp2, tftp=pki.tftp2), tvs)
    assert decision.outcome is Outcome.REJECTED and "TVS unavailable" in decision.reason


# Row 5: CTL C installed -> known(signer, C, SAST/CCM+TFTP/TFTP) or known(signer, I, SAST)
def test_itl_signed_by_ctl_tftp_record_is_accepted(pki: Pki) -> None:
    fw = phone()
    assert give_ctl(fw, ctl(pki.sast, tftp=pki.tftp)).ok
    decision = give_itl(fw, itl(pki.tftp, tftp=pki.tftp, tvs=[pki.tvs]))
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "signer in CTL"


def test_itl_with_ctl_signed_by_installed_itl_sast_is_accepted(pki: Pki) -> None:
    fw = _holding_both(pki)
    decision = give_itl(fw, itl(pki.tftp, tftp=pki.tftp, tvs=[pki.tvs2]))
    assert decision.outcome is Outcome.ACCEPTED
    assert decision.basis == "signer is a SAST of the installed ITL"


def test_first_itl_after_first_ctl_reports_both_installed(pki: Pki) -> None:
    fw = phone()
    assert give_ctl(fw, ctl(pki.sast, tftp=pki.tftp)).status == "CTL Installed"
    assert give_itl(fw, itl(pki.tftp, tftp=pki.tftp)).status == "CTL and ITL installed"


# Row 6: CTL C installed -> else tvs_ok(signer, SAST) -> install / reject
def test_itl_with_ctl_from_unknown_signer_accepted_when_tvs_vouches_sast(pki: Pki) -> None:
    fw = _holding_both(pki)
    tvs = FakeTvs(pki.tvs).trust(pki.tftp2, Role.SAST)
    decision = give_itl(fw, itl(pki.tftp2, tftp=pki.tftp2, tvs=[pki.tvs]), tvs)
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "TVS vouches SAST"


def test_itl_with_ctl_from_unknown_signer_rejected_without_tvs_vouching(pki: Pki) -> None:
    fw = _holding_both(pki)
    decision = give_itl(fw, itl(pki.stranger), FakeTvs(pki.tvs))
    assert decision.outcome is Outcome.REJECTED


# Row 7: ITL not found -> keep current ITL
def test_itl_not_found_keeps_current_itl(pki: Pki) -> None:
    fw = _holding(pki)
    before = fw.state.itl
    for name in fw.trust_list_requests()[1].names:
        assert fw.not_found(name).outcome is Outcome.NOT_FOUND
    assert fw.state.itl is before and fw.state.status_messages[-1] != "No Trust List installed"


# Row 8: user erases ITL (or CTL) -> back to "no ITL" (resp. no CTL)
def test_erase_itl_returns_to_no_itl_and_next_itl_is_trusted(pki: Pki) -> None:
    fw = _holding(pki)
    fw.erase_itl()
    assert fw.state.itl is None
    decision = give_itl(fw, itl(pki.stranger, tftp=pki.stranger))
    assert decision.basis == "trust on first use"


def test_erase_ctl_returns_to_no_ctl(pki: Pki) -> None:
    fw = _holding_both(pki)
    fw.erase_ctl()
    assert fw.state.ctl is None and fw.state.itl is not None


def test_tampered_itl_rejected_even_on_first_use(pki: Pki) -> None:
    fw = phone()
    data = bytearray(itl(pki.tftp, tftp=pki.tftp))
    data[-5] ^= 0x40
    decision = give_itl(fw, bytes(data))
    assert decision.outcome is Outcome.REJECTED and fw.state.itl is None
    assert decision.status == "Trust List update failed"


def test_itl_whose_signer_is_not_a_sast_record_is_rejected(pki: Pki) -> None:
    """sig_ok needs the header's signer among the SAST records (§2.5)."""
    from harness.formats.trustlist import Record, build_trust_list

    records = [Record.from_certificate(pki.tftp.cert, Role.CCM_TFTP)]
    decision = give_itl(phone(), build_trust_list(records, pki.tftp))
    assert decision.outcome is Outcome.REJECTED and "signature" in decision.reason


def test_identical_itl_is_a_noop(pki: Pki) -> None:
    fw = _holding(pki)
    assert give_itl(fw, itl(pki.tftp, tftp=pki.tftp, tvs=[pki.tvs])).outcome is Outcome.NO_OP


def test_no_trust_list_installed_status_when_none_found() -> None:
    fw = phone()
    for step in fw.trust_list_requests():
        for name in step.names:
            fw.not_found(name)
    assert fw.state.status_messages == ["File Not Found <CTLFile.tlv>", "No Trust List installed"]
