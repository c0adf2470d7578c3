"""Certificate regeneration (docs/PROTOCOLS.md §7.9) and rollback (§2.7, §7.8) scenarios.

Each test plays the server side as files plus a TVS and boots the phone through
the §7.2 sequence; the outcomes (accepted, stranded, looping) must come out of
the ordinary §7.3/§7.4 rules, never from special cases.
"""

from __future__ import annotations

from firmware_lab import CONFIG, DEVICE, Pki, cluster_files, config_xml, phone, rollback_itl
from firmware_net import boot, cluster_tvs, settle

from phone_drivers.emulator.firmware import Firmware
from phone_drivers.emulator.firmware_types import Decision, Outcome


def _booted(pki: Pki) -> Firmware:
    """A phone registered on the original cluster (CUCM 8.x-11.x: ITL signed by TFTP)."""
    fw = phone()
    files = cluster_files(pki.tftp, pki.tftp, pki.tvs, pki.capf, marker="v1")
    decisions = boot(fw, files, cluster_tvs(pki.tvs, pki.tftp))
    assert _outcome(decisions, "itl") is Outcome.ACCEPTED
    assert _outcome(decisions, "config") is Outcome.ACCEPTED
    return fw


def _outcome(decisions: list[Decision], subject: str) -> Outcome:
    return [d for d in decisions if d.subject == subject][-1].outcome


# Row 1: TFTP cert only -> TVS (old cert still in the ITL) vouches -> accepted
def test_tftp_regenerated_alone_new_itl_accepted_via_tvs(pki: Pki) -> None:
    fw = _booted(pki)
    fw.reset()
    files = cluster_files(pki.tftp2, pki.tftp2, pki.tvs, pki.capf, marker="v2")
    decisions = boot(fw, files, cluster_tvs(pki.tvs, pki.tftp2))
    itl_decision = next(d for d in decisions if d.subject == "itl")
    assert itl_decision.outcome is Outcome.ACCEPTED and itl_decision.basis == "TVS vouches SAST"
    assert _outcome(decisions, "config") is Outcome.ACCEPTED
    assert b"v2" in (fw.state.last_config or b"") and not fw.is_stranded


# Row 2: TVS cert only -> new ITL signed by the unchanged TFTP key -> accepted locally
def test_tvs_regenerated_alone_new_itl_accepted_and_new_tvs_learnt(pki: Pki) -> None:
    fw = _booted(pki)
    fw.reset()
    tvs = cluster_tvs(pki.tvs2, pki.tftp)
    decisions = boot(fw, cluster_files(pki.tftp, pki.tftp, pki.tvs2, pki.capf), tvs)
    assert _outcome(decisions, "itl") is Outcome.ACCEPTED and tvs.asked == []
    assert fw.server_cert_trusted_for_tvs(pki.tvs2.der)
    assert not fw.server_cert_trusted_for_tvs(pki.tvs.der)


# Row 3: CAPF cert only -> new ITL signed by the unchanged key -> accepted
def test_capf_regenerated_alone_new_itl_accepted(pki: Pki) -> None:
    fw = _booted(pki)
    fw.reset()
    files = cluster_files(pki.tftp, pki.tftp, pki.tvs, pki.capf2)
    decisions = boot(fw, files, cluster_tvs(pki.tvs, pki.tftp))
    assert _outcome(decisions, "itl") is Outcome.ACCEPTED
    assert fw.state.itl is not None and fw.state.itl.digest != ""


# Row 4: TFTP AND TVS -> ITL rejected, configs rejected, HTTPS via TVS fails: stranded
def test_tftp_and_tvs_regenerated_together_strands_phone(pki: Pki) -> None:
    fw = _booted(pki)
    files = cluster_files(pki.tftp2, pki.tftp2, pki.tvs2, pki.capf, marker="v2")
    tvs = cluster_tvs(pki.tvs2, pki.tftp2).trust(pki.app)
    for _ in range(2):  # the phone keeps retrying and keeps failing
        fw.reset()
        decisions = boot(fw, files, tvs)
        assert _outcome(decisions, "itl") is Outcome.REJECTED
        assert _outcome(decisions, "config") is Outcome.REJECTED
        assert fw.is_stranded and fw.state.trust_list_update_failed and fw.state.config_rejected
        assert b"v1" in (fw.state.last_config or b"")
    https = settle(fw, lambda r: fw.judge_https(pki.app.der, r), tvs)
    assert https.outcome is Outcome.REJECTED and "TVS unavailable" in https.reason


# Row 5: TFTP then TVS, phones reset and re-registered in between -> safe
def test_tftp_then_tvs_with_reset_in_between_is_safe(pki: Pki) -> None:
    fw = _booted(pki)
    fw.reset()
    first = boot(fw, cluster_files(pki.tftp2, pki.tftp2, pki.tvs), cluster_tvs(pki.tvs, pki.tftp2))
    assert _outcome(first, "itl") is Outcome.ACCEPTED
    fw.reset()
    files = cluster_files(pki.tftp2, pki.tftp2, pki.tvs2, marker="v3")
    second = boot(fw, files, cluster_tvs(pki.tvs2, pki.tftp2))
    assert _outcome(second, "itl") is Outcome.ACCEPTED
    assert _outcome(second, "config") is Outcome.ACCEPTED and not fw.is_stranded


def test_tvs_merely_unreachable_is_not_stranded(pki: Pki) -> None:
    fw = _booted(pki)
    fw.reset()
    tvs = cluster_tvs(pki.tvs, pki.tftp2)
    tvs.reachable = False
    decisions = boot(fw, cluster_files(pki.tftp2, pki.tftp2, pki.tvs), tvs)
    assert _outcome(decisions, "itl") is Outcome.REJECTED and not fw.is_stranded


def test_erase_itl_recovers_stranded_phone(pki: Pki) -> None:
    fw = _booted(pki)
    files = cluster_files(pki.tftp2, pki.tftp2, pki.tvs2, marker="v2")
    tvs = cluster_tvs(pki.tvs2, pki.tftp2)
    boot(fw, files, tvs)
    assert fw.is_stranded
    fw.erase_itl()
    fw.reset()
    decisions = boot(fw, files, tvs)
    assert _outcome(decisions, "itl") is Outcome.ACCEPTED
    assert _outcome(decisions, "config") is Outcome.ACCEPTED and not fw.is_stranded


def test_restoring_tftp_certificate_from_backup_recovers_stranded_phone(pki: Pki) -> None:
    fw = _booted(pki)
    boot(fw, cluster_files(pki.tftp2, pki.tftp2, pki.tvs2), cluster_tvs(pki.tvs2, pki.tftp2))
    assert fw.is_stranded
    fw.reset()
    restored = cluster_files(pki.tftp, pki.tftp, pki.tvs2, marker="restored")
    decisions = boot(fw, restored, cluster_tvs(pki.tvs2, pki.tftp))
    assert _outcome(decisions, "itl") is Outcome.ACCEPTED
    assert b"restored" in (fw.state.last_config or b"") and not fw.is_stranded


def test_itlrecovery_regeneration_through_localkey_reset_is_safe(pki: Pki) -> None:
    """12.0+: ITL signed by ITLRecovery; `utils itl reset localkey` re-signs with the
    CallManager key (a SAST record of the phone's ITL), then the new ITLRecovery signs."""
    fw = phone()
    start = cluster_files(pki.recovery, pki.tftp, pki.tvs, sast=[pki.tftp])
    assert _outcome(boot(fw, start, cluster_tvs(pki.tvs)), "itl") is Outcome.ACCEPTED
    fw.reset()
    localkey = cluster_files(pki.tftp, pki.tftp, pki.tvs, sast=[pki.recovery2])
    assert _outcome(boot(fw, localkey, cluster_tvs(pki.tvs)), "itl") is Outcome.ACCEPTED
    fw.reset()
    final = cluster_files(pki.recovery2, pki.tftp, pki.tvs, sast=[pki.tftp], marker="12")
    decisions = boot(fw, final, cluster_tvs(pki.tvs))
    assert _outcome(decisions, "itl") is Outcome.ACCEPTED
    assert _outcome(decisions, "config") is Outcome.ACCEPTED


def test_rollback_without_preparation_loops_on_signed_files(pki: Pki) -> None:
    """SECURITY_BY_DEFAULT §9: a pre-8.0 cluster serves no ITL and no signed config."""
    fw = _booted(pki)
    pre8 = {CONFIG: config_xml(marker="pre8")}
    for _ in range(2):
        fw.reset()
        decisions = boot(fw, pre8)
        assert all(d.outcome is Outcome.NOT_FOUND for d in decisions)
        assert CONFIG not in [d.name for d in decisions]
        assert decisions[-1].status == "File not found <XMLDefault.cnf.xml.sgn>"
    assert b"v1" in (fw.state.last_config or b"")


def test_prepared_rollback_itl_lets_phone_take_unsigned_config(pki: Pki) -> None:
    fw = _booted(pki)
    fw.reset()
    prepared = cluster_files(pki.tftp, pki.tftp, pki.tvs)
    prepared[f"ITL{DEVICE}.tlv"] = rollback_itl(pki.tftp)
    tvs = cluster_tvs(pki.tvs, pki.tftp).trust(pki.app)
    assert _outcome(boot(fw, prepared, tvs), "itl") is Outcome.ACCEPTED
    https = settle(fw, lambda r: fw.judge_https(pki.app.der, r), tvs)
    assert https.outcome is Outcome.REJECTED and "rollback ITL" in https.reason
    fw.reset()
    decisions = boot(fw, {CONFIG: config_xml(marker="pre8")})
    assert _outcome(decisions, "config") is Outcome.ACCEPTED
    assert b"pre8" in (fw.state.last_config or b"")


def test_switching_back_after_rollback_accepts_the_normal_itl(pki: Pki) -> None:
    fw = phone()
    rollback = {f"ITL{DEVICE}.tlv": rollback_itl(pki.tftp2)}
    assert _outcome(boot(fw, rollback), "itl") is Outcome.ACCEPTED
    fw.reset()
    decisions = boot(fw, cluster_files(pki.tftp, pki.tftp, pki.tvs), cluster_tvs(pki.tvs))
    assert _outcome(decisions, "itl") is Outcome.ACCEPTED
    assert _outcome(decisions, "config") is Outcome.ACCEPTED


def test_restoring_both_certificates_from_backup_recovers_stranded_phone(pki: Pki) -> None:
    fw = _booted(pki)
    boot(fw, cluster_files(pki.tftp2, pki.tftp2, pki.tvs2), cluster_tvs(pki.tvs2, pki.tftp2))
    assert fw.is_stranded  # no reset: the flag must follow what the servers offer now
    original = cluster_files(pki.tftp, pki.tftp, pki.tvs, pki.capf, marker="v1")
    decisions = boot(fw, original, cluster_tvs(pki.tvs, pki.tftp))
    assert _outcome(decisions, "itl") is Outcome.NO_OP and not fw.is_stranded
    assert _outcome(decisions, "config") is Outcome.ACCEPTED
