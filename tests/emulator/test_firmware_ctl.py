"""CTL acceptance: one test per row of the docs/PROTOCOLS.md §7.3 CTL table, plus negatives."""

from __future__ import annotations

from firmware_lab import Pki, config_xml, ctl, itl, phone, rollback_itl, signed
from firmware_net import FakeTvs, give_config, give_ctl, give_itl

from harness.formats.trustlist import Role
from phone_drivers.emulator.firmware import Firmware
from phone_drivers.emulator.firmware_types import Outcome, TvsKind, TvsNeeded


def _with_itl(pki: Pki) -> Firmware:
    """A phone holding the cluster ITL and a config naming one TVS member."""
    fw = phone()
    assert give_itl(fw, itl(pki.tftp, tftp=pki.tftp, tvs=[pki.tvs])).ok
    assert give_config(fw, signed(config_xml(), pki.tftp)).ok
    return fw


# Row 1: no CTL, no ITL (or rollback ITL) -> sig_ok -> install (trust on first use)
def test_ctl_first_is_trusted_on_first_use(pki: Pki) -> None:
    fw = phone()
    decision = give_ctl(fw, ctl(pki.sast, tftp=pki.tftp))
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "trust on first use"
    assert fw.state.ctl is not None and decision.status == "CTL Installed"


def test_ctl_first_is_trusted_on_first_use_over_rollback_itl(pki: Pki) -> None:
    fw = phone()
    assert give_itl(fw, rollback_itl(pki.tftp)).ok
    decision = give_ctl(fw, ctl(pki.sast))
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "trust on first use"


# Row 2: no CTL, ITL installed -> known(signer, ITL, SAST/TFTP/CCM+TFTP) or tvs_ok(SAST)
def test_ctl_signed_by_itl_signer_accepted_without_tvs(pki: Pki) -> None:
    fw, tvs = _with_itl(pki), FakeTvs(pki.tvs)
    decision = give_ctl(fw, ctl(pki.tftp, sast=[pki.sast]), tvs)
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "signer in ITL"
    assert tvs.asked == []


def test_ctl_from_unknown_signer_accepted_when_tvs_vouches_sast(pki: Pki) -> None:
    fw, tvs = _with_itl(pki), FakeTvs(pki.tvs).trust(pki.sast, Role.SAST)
    decision = give_ctl(fw, ctl(pki.sast), tvs)
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "TVS vouches SAST"
    assert [need.kind for need in tvs.asked] == [TvsKind.QUERY]
    assert tvs.asked[0].roles == {Role.SAST}


def test_ctl_from_unknown_signer_rejected_when_tvs_does_not_vouch(pki: Pki) -> None:
    fw = _with_itl(pki)
    decision = give_ctl(fw, ctl(pki.sast), FakeTvs(pki.tvs))
    assert decision.outcome is Outcome.REJECTED and fw.state.ctl is None
    assert decision.status == "Trust List update failed" and fw.state.trust_list_update_failed


# Row 3: CTL C installed -> known(signer, C, SAST) -> install
def test_ctl_signed_by_installed_ctl_sast_is_accepted(pki: Pki) -> None:
    fw = phone()
    assert give_ctl(fw, ctl(pki.sast, sast=[pki.sast2])).ok
    decision = give_ctl(fw, ctl(pki.sast2, sast=[pki.sast], stamp=2))
    assert decision.outcome is Outcome.ACCEPTED
    assert decision.basis == "signer is a SAST of the installed CTL"
    assert decision.status == "Trust List updated"


# Row 4: CTL C installed -> else tvs_ok(signer, SAST) -> install, else reject and keep C
def test_ctl_from_new_cluster_accepted_when_tvs_vouches_sast(pki: Pki) -> None:
    """Migration between secure clusters relies on TVS vouching for the new SAST."""
    fw = _with_itl(pki)
    assert give_ctl(fw, ctl(pki.tftp)).ok
    tvs = FakeTvs(pki.tvs).trust(pki.sast2, Role.SAST)
    decision = give_ctl(fw, ctl(pki.sast2, stamp=3), tvs)
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "TVS vouches SAST"


def test_ctl_from_unknown_signer_rejected_keeps_installed_ctl(pki: Pki) -> None:
    fw = _with_itl(pki)
    assert give_ctl(fw, ctl(pki.tftp)).ok
    before = fw.state.ctl
    decision = give_ctl(fw, ctl(pki.stranger), FakeTvs(pki.tvs))
    assert decision.outcome is Outcome.REJECTED and fw.state.ctl is before


# Row 5: CTL not found -> keep current state
def test_ctl_not_found_keeps_current_state(pki: Pki) -> None:
    fw = phone()
    assert give_ctl(fw, ctl(pki.sast)).ok
    before = fw.state.ctl
    decision = fw.not_found(f"CTL{fw.state.identity.name}.tlv")
    assert decision.outcome is Outcome.NOT_FOUND and fw.state.ctl is before
    assert decision.status == "File Not Found <CTLFile.tlv>"


def test_tampered_ctl_rejected_even_on_first_use(pki: Pki) -> None:
    fw = phone()
    data = bytearray(ctl(pki.sast))
    data[-1] ^= 0x01
    decision = give_ctl(fw, bytes(data))
    assert decision.outcome is Outcome.REJECTED and fw.state.ctl is None
    assert decision.status == "CTL update failed"


def test_malformed_ctl_rejected() -> None:
    decision = give_ctl(phone(), b"\x01\x00\x02\x01\x02garbage")
    assert decision.outcome is Outcome.REJECTED and "malformed CTL" in decision.reason


def test_identical_ctl_is_a_noop(pki: Pki) -> None:
    fw = phone()
    data = ctl(pki.sast)
    assert give_ctl(fw, data).ok
    assert give_ctl(fw, data).outcome is Outcome.NO_OP


def test_ctl_tvs_question_carries_signer_names_and_servers(pki: Pki) -> None:
    fw = _with_itl(pki)
    need = fw.accept_ctl(ctl(pki.sast))
    assert isinstance(need, TvsNeeded) and need.serial == pki.sast.cert.serial_number
    assert need.certificate == pki.sast.der and [m.address for m in need.servers] == ["tvs1.lab"]
    assert fw.log[-1].subject == "config"  # a pending question is not a decision
