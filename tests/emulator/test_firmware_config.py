"""Config acceptance: one test per row of the docs/PROTOCOLS.md §7.4 table, plus negatives."""

from __future__ import annotations

from firmware_lab import CONFIG, Pki, config_xml, ctl, itl, phone, rollback_itl, signed
from firmware_net import FakeTvs, give_config, give_ctl, give_itl

from harness.formats.trustlist import Role
from phone_drivers.emulator.firmware import Firmware
from phone_drivers.emulator.firmware_types import Outcome, TvsKind


def _holding(pki: Pki) -> Firmware:
    fw = phone()
    assert give_itl(fw, itl(pki.tftp, tftp=pki.tftp, tvs=[pki.tvs], capf=pki.capf)).ok
    assert give_config(fw, signed(config_xml(marker="v1"), pki.tftp)).ok
    return fw


# Row 1: no CTL, no ITL -> SEP<MAC>.cnf.xml -> any well-formed XML
def test_config_without_trust_list_accepts_any_wellformed_xml() -> None:
    fw = phone()
    decision = give_config(fw, b"<device><anything/></device>", name=CONFIG)
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "unsigned"
    assert fw.state.last_config == b"<device><anything/></device>"


def test_config_without_trust_list_rejects_malformed_xml() -> None:
    fw = phone()
    decision = give_config(fw, b"<device><open></device>", name=CONFIG)
    assert decision.outcome is Outcome.REJECTED and fw.state.last_config is None


def test_config_with_a_dtd_is_refused() -> None:
    body = b'<!DOCTYPE d [<!ENTITY a "aaaa">]><device>&a;</device>'
    assert give_config(phone(), body, name=CONFIG).outcome is Outcome.REJECTED


# Row 2: rollback ITL -> .sgn first; if missing or not verifiable, plain -> any
def test_config_with_rollback_itl_accepts_unsigned_config(pki: Pki) -> None:
    fw = phone()
    assert give_itl(fw, rollback_itl(pki.tftp)).ok
    decision = give_config(fw, config_xml(marker="plain"), name=CONFIG)
    assert decision.outcome is Outcome.ACCEPTED and b"plain" in (fw.state.last_config or b"")


def test_config_with_rollback_itl_unverifiable_sgn_falls_back_to_plain(pki: Pki) -> None:
    fw = phone()
    assert give_itl(fw, rollback_itl(pki.tftp)).ok
    decision = give_config(fw, signed(config_xml(), pki.tftp2))
    assert decision.outcome is Outcome.REJECTED and decision.try_next
    assert fw.config_requests().names.index(CONFIG) == 1


# Row 3: CTL and/or ITL -> .sgn verified by TFTP cert of CTL (first), ITL, or TVS role 2/3
def test_config_signed_by_itl_tftp_record_is_accepted(pki: Pki) -> None:
    fw = _holding(pki)
    decision = give_config(fw, signed(config_xml(marker="v2"), pki.tftp))
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "ITL TFTP record"


def test_config_signed_by_ctl_tftp_record_is_checked_first(pki: Pki) -> None:
    fw = phone()
    assert give_ctl(fw, ctl(pki.sast, tftp=pki.tftp)).ok
    assert give_itl(fw, itl(pki.tftp, tftp=pki.tftp)).ok
    decision = give_config(fw, signed(config_xml(), pki.tftp))
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "CTL TFTP record"


def test_config_signer_vouched_by_tvs_with_tftp_role_is_accepted(pki: Pki) -> None:
    fw = _holding(pki)
    tvs = FakeTvs(pki.tvs).trust(pki.tftp2, Role.TFTP)
    decision = give_config(fw, signed(config_xml(marker="v3"), pki.tftp2), tvs)
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "TVS"
    assert tvs.asked[0].kind is TvsKind.QUERY
    assert tvs.asked[0].roles == {Role.TFTP, Role.CCM_TFTP}


def test_config_tvs_answer_without_tftp_role_is_rejected(pki: Pki) -> None:
    fw = _holding(pki)
    tvs = FakeTvs(pki.tvs).trust(pki.tftp2, Role.SAST, Role.CCM)
    decision = give_config(fw, signed(config_xml(), pki.tftp2), tvs)
    assert decision.outcome is Outcome.REJECTED and "lacks role" in decision.reason


def test_config_signed_by_a_non_tftp_role_is_rejected(pki: Pki) -> None:
    """The CAPF certificate is in the ITL, but not with a role that signs configs."""
    fw = _holding(pki)
    decision = give_config(fw, signed(config_xml(), pki.capf), FakeTvs(pki.tvs))
    assert decision.outcome is Outcome.REJECTED and fw.state.config_rejected


def test_rejected_config_keeps_last_accepted_config(pki: Pki) -> None:
    fw = _holding(pki)
    decision = give_config(fw, signed(config_xml(marker="evil"), pki.stranger), FakeTvs(pki.tvs))
    assert decision.outcome is Outcome.REJECTED and not decision.try_next
    assert b"v1" in (fw.state.last_config or b"") and fw.state.config_rejected
    assert decision.status == f"invalid file {CONFIG}.sgn, authenticated fail"


def test_tampered_signed_config_is_rejected(pki: Pki) -> None:
    fw = _holding(pki)
    data = bytearray(signed(config_xml(marker="v2"), pki.tftp))
    data[-3] ^= 0x01
    assert give_config(fw, bytes(data)).outcome is Outcome.REJECTED


def test_unsigned_config_refused_while_holding_an_itl(pki: Pki) -> None:
    fw = _holding(pki)
    decision = give_config(fw, config_xml(marker="plain"), name=CONFIG)
    assert decision.outcome is Outcome.REJECTED and b"v1" in (fw.state.last_config or b"")


def test_config_filename_check_is_an_option(pki: Pki) -> None:
    data = signed(config_xml(), pki.tftp, name="SEP999999999999.cnf.xml.sgn")
    lax = _holding(pki)
    assert give_config(lax, data).outcome is Outcome.ACCEPTED
    strict = phone(check_config_filename=True)
    assert give_itl(strict, itl(pki.tftp, tftp=pki.tftp)).ok
    assert give_config(strict, data).outcome is Outcome.REJECTED


# After a .sgn is accepted: fullConfig true, encrConfig false -> the whole config
def test_full_signed_config_is_the_whole_config(pki: Pki) -> None:
    fw = _holding(pki)
    decision = give_config(fw, signed(config_xml(capf_mode=2, tvs=["b", "a"]), pki.tftp))
    assert decision.outcome is Outcome.ACCEPTED and decision.fetch_next is None
    assert fw.state.config.capf_auth_mode == 2
    assert [m.address for m in fw.state.config.tvs_members] == ["b", "a"]
    assert [c.address for c in fw.state.config.capf_servers] == ["capf.lab"]


def test_default_config_is_accepted_for_autoregistration(pki: Pki) -> None:
    fw = _holding(pki)
    decision = give_config(fw, signed(config_xml(root="Default", tvs=()), pki.tftp),
                           name="XMLDefault.cnf.xml.sgn")  # fmt: skip
    assert decision.outcome is Outcome.ACCEPTED and "autoregistration" in decision.reason
    assert fw.state.config.tvs_members == ()
