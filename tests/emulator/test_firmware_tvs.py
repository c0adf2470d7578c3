"""TVS client rules (docs/PROTOCOLS.md §7.5) and HTTPS server verification (§7.6)."""

from __future__ import annotations

from firmware_lab import Pki, config_xml, ctl, itl, phone, rollback_itl, signed
from firmware_net import FakeTvs, give_config, give_ctl, give_itl, settle

from harness.formats.trustlist import Role
from phone_drivers.emulator.firmware import Firmware
from phone_drivers.emulator.firmware_types import (
    Decision,
    Outcome,
    TvsAnswer,
    TvsKind,
    TvsNeeded,
    TvsStatus,
)


def _holding(pki: Pki, config: bytes | None = None) -> Firmware:
    fw = phone()
    assert give_itl(fw, itl(pki.tftp, tftp=pki.tftp, tvs=[pki.tvs])).ok
    assert give_config(fw, signed(config or config_xml(), pki.tftp)).ok
    return fw


def _config(fw: Firmware, data: bytes, now: float) -> Decision | TvsNeeded:
    return fw.accept_config("SEP00112233AABB.cnf.xml.sgn", data, now=now)


def test_tvs_cache_answers_without_a_connection(pki: Pki) -> None:
    fw, tvs = _holding(pki), FakeTvs(pki.tvs, ttl=60).trust(pki.tftp2, Role.TFTP)
    data = signed(config_xml(marker="v2"), pki.tftp2)
    assert give_config(fw, data, tvs).basis == "TVS"
    cached = _config(fw, data, now=59)
    assert isinstance(cached, Decision) and cached.basis == "TVS cache" and len(tvs.asked) == 1
    assert [e.roles for e in fw.state.tvs_cache.entries(now=59)] == [{Role.TFTP}]


def test_expired_cache_entry_is_not_used(pki: Pki) -> None:
    fw, tvs = _holding(pki), FakeTvs(pki.tvs, ttl=60).trust(pki.tftp2, Role.TFTP)
    data = signed(config_xml(marker="v2"), pki.tftp2)
    assert give_config(fw, data, tvs).ok
    assert isinstance(_config(fw, data, now=60), TvsNeeded)


def test_negative_tvs_answers_are_not_cached(pki: Pki) -> None:
    fw = _holding(pki)
    data = signed(config_xml(), pki.tftp2)
    assert give_config(fw, data, FakeTvs(pki.tvs)).outcome is Outcome.REJECTED
    assert isinstance(_config(fw, data, now=1), TvsNeeded)


def test_reset_clears_the_tvs_cache(pki: Pki) -> None:
    fw, tvs = _holding(pki), FakeTvs(pki.tvs).trust(pki.tftp2, Role.TFTP)
    data = signed(config_xml(), pki.tftp2)
    assert give_config(fw, data, tvs).ok
    fw.reset()
    assert fw.state.tvs_cache.entries(now=0) == ()
    assert isinstance(_config(fw, data, now=0), TvsNeeded)


def test_tvs_members_are_offered_in_priority_order(pki: Pki) -> None:
    members = (
        '<member priority="2"><port>2445</port><address>late</address></member>'
        '<member priority="1"><port>12445</port><address>early</address></member>'
    )
    fw = _holding(pki, f"<device><TVS><members>{members}</members></TVS></device>".encode())
    need = _config(fw, signed(config_xml(), pki.tftp2), now=0)
    assert isinstance(need, TvsNeeded)
    assert [(m.address, m.port) for m in need.servers] == [("early", 12445), ("late", 2445)]


def test_tvs_unusable_without_a_tvs_member_fails_closed(pki: Pki) -> None:
    fw = _holding(pki, config_xml(tvs=()))
    decision = _config(fw, signed(config_xml(), pki.tftp2), now=0)
    assert isinstance(decision, Decision) and decision.outcome is Outcome.REJECTED
    assert "no <TVS> member" in decision.reason


def test_tvs_unusable_without_an_itl_fails_closed(pki: Pki) -> None:
    fw = phone()
    assert give_ctl(fw, ctl(pki.sast, tftp=pki.tftp)).ok
    decision = fw.judge_https(pki.app.der)
    assert isinstance(decision, Decision) and decision.reason == "TVS unusable: no ITL"


def test_server_cert_trusted_for_tvs_only_with_an_itl_tvs_record(pki: Pki) -> None:
    fw = _holding(pki)
    assert fw.server_cert_trusted_for_tvs(pki.tvs.der)
    assert not fw.server_cert_trusted_for_tvs(pki.tftp.der)  # in the ITL, not as TVS
    assert not fw.server_cert_trusted_for_tvs(b"not a certificate")
    fresh = phone()
    assert give_itl(fresh, rollback_itl(pki.tftp)).ok
    assert not fresh.server_cert_trusted_for_tvs(pki.tvs.der)


def test_tvs_answer_about_another_certificate_is_rejected(pki: Pki) -> None:
    fw = _holding(pki)
    data = signed(config_xml(), pki.tftp2)
    answer = TvsAnswer(TvsStatus.OK, (Role.TFTP,), pki.stranger.der, 3600)
    decision = fw.accept_config("SEP00112233AABB.cnf.xml.sgn", data, answer)
    assert isinstance(decision, Decision) and "another certificate" in decision.reason
    assert fw.state.tvs_cache.entries(now=0) == ()


def test_https_server_in_the_trust_list_is_trusted_without_tvs(pki: Pki) -> None:
    fw = _holding(pki)
    decision = fw.judge_https(pki.tftp.der)
    assert isinstance(decision, Decision) and decision.basis == "trust list"


def test_https_server_vouched_by_tvs_verify_is_trusted(pki: Pki) -> None:
    fw, tvs = _holding(pki), FakeTvs(pki.tvs).trust(pki.app)
    decision = settle(fw, lambda r: fw.judge_https(pki.app.der, r), tvs)
    assert decision.outcome is Outcome.ACCEPTED and decision.basis == "TVS"
    assert tvs.asked[0].kind is TvsKind.VERIFY and tvs.asked[0].certificate == pki.app.der
    assert settle(fw, lambda r: fw.judge_https(pki.app.der, r)).basis == "TVS cache"


def test_https_server_unknown_to_tvs_fails(pki: Pki) -> None:
    fw = _holding(pki)
    decision = settle(fw, lambda r: fw.judge_https(pki.stranger.der, r), FakeTvs(pki.tvs))
    assert decision.outcome is Outcome.REJECTED and fw.log[-1] is decision


def test_https_unparseable_certificate_is_rejected(pki: Pki) -> None:
    decision = _holding(pki).judge_https(b"\x30\x03junk")
    assert isinstance(decision, Decision) and decision.outcome is Outcome.REJECTED

