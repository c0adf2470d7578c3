"""Reset, restart, erase and factory reset (docs/PROTOCOLS.md §7.11), and the observables."""

from __future__ import annotations

from firmware_lab import Pki, config_xml, ctl, itl, phone, signed
from firmware_net import FakeTvs, give_config, give_ctl, give_itl

from harness.formats.trustlist import Role
from phone_drivers.emulator.firmware import Firmware
from phone_drivers.emulator.trust_state import MAX_STATUS_MESSAGES


def _busy(pki: Pki, **options: bool) -> Firmware:
    """CTL, ITL, LSC, a config, a cached TVS answer and a failure flag."""
    fw = phone(mic=pki.mic, **options)
    assert give_ctl(fw, ctl(pki.sast, tftp=pki.tftp)).ok
    assert give_itl(fw, itl(pki.tftp, tftp=pki.tftp, tvs=[pki.tvs])).ok
    assert give_config(fw, signed(config_xml(), pki.tftp)).ok
    fw.install_lsc(pki.lsc.cert, pki.lsc.key)
    tvs = FakeTvs(pki.tvs).trust(pki.tftp2, Role.TFTP)
    assert give_config(fw, signed(config_xml(marker="v2"), pki.tftp2), tvs).ok
    assert not give_itl(fw, itl(pki.stranger), FakeTvs(pki.tvs)).ok
    return fw


def _flash(fw: Firmware) -> tuple[object, ...]:
    s = fw.state
    return s.ctl, s.itl, s.lsc, s.last_config


def test_reset_clears_ram_and_keeps_flash(pki: Pki) -> None:
    fw = _busy(pki)
    flash = _flash(fw)
    fw.reset()
    assert _flash(fw) == flash
    assert fw.state.tvs_cache.entries(now=0) == () and fw.state.status_messages == []
    assert not fw.state.trust_list_update_failed and fw.state.capf_result is None


def test_restart_keeps_status_messages_and_clears_the_cache_by_default(pki: Pki) -> None:
    fw = _busy(pki)
    fw.restart()
    assert fw.state.status_messages and fw.state.tvs_cache.entries(now=0) == ()
    keeper = _busy(pki, restart_clears_tvs_cache=False)
    keeper.restart()
    assert len(keeper.state.tvs_cache.entries(now=0)) == 1


def test_erase_itl_and_erase_ctl_drop_only_that_list(pki: Pki) -> None:
    fw = _busy(pki)
    fw.erase_itl()
    assert fw.state.itl is None and fw.state.ctl is not None and fw.state.lsc is not None
    fw.erase_ctl()
    assert fw.state.ctl is None and fw.state.last_config is not None


def test_factory_reset_drops_trust_lists_config_and_lsc(pki: Pki) -> None:
    fw = _busy(pki)
    decision = fw.factory_reset()
    assert _flash(fw) == (None, None, None, None)
    assert fw.state.config.tvs_members == ()
    assert decision.status == "Erasing CTL and ITL files"
    assert fw.state.status_messages == ["Erasing CTL and ITL files"]


def test_factory_reset_can_keep_the_lsc_by_option(pki: Pki) -> None:
    fw = _busy(pki, factory_reset_keeps_lsc=True)
    fw.factory_reset()
    assert fw.state.lsc is not None and fw.state.itl is None


def test_decision_log_records_every_decision_in_order(pki: Pki) -> None:
    fw = _busy(pki)
    subjects = [d.subject for d in fw.log]
    assert subjects == ["ctl", "itl", "config", "lsc", "config", "itl"]
    assert [d.at for d in fw.log] == [0.0] * 6


def test_status_messages_keep_the_newest_thirty() -> None:
    fw = phone()
    for _ in range(MAX_STATUS_MESSAGES + 5):
        fw.not_found("CTLSEP00112233AABB.tlv")
    assert len(fw.state.status_messages) == MAX_STATUS_MESSAGES
