"""CAPF triggers (docs/PROTOCOLS.md §7.7) and the LSC operations CAPF drives."""

from __future__ import annotations

import pytest
from firmware_lab import Pki, config_xml, itl, phone, signed
from firmware_net import give_config, give_itl

from harness.errors import UsageError
from phone_drivers.emulator.firmware import Firmware
from phone_drivers.emulator.firmware_config import DECRYPT_FAILED


def _phone(pki: Pki, mode: int | None, *, mic: bool = True, lsc: bool = False) -> Firmware:
    fw = phone(mic=pki.mic if mic else None)
    assert give_itl(fw, itl(pki.tftp, tftp=pki.tftp, tvs=[pki.tvs], capf=pki.capf)).ok
    assert give_config(fw, signed(config_xml(capf_mode=mode, capf=["c1", "c2"]), pki.tftp)).ok
    if lsc:
        fw.install_lsc(pki.lsc.cert, pki.lsc.key)
    return fw


def test_mode_0_schedules_nothing(pki: Pki) -> None:
    action = _phone(pki, 0).capf_action()
    assert not action.connect and action.reason == "no CAPF operation scheduled"


def test_mode_0_contacts_capf_on_decrypt_failure_with_typed_string(pki: Pki) -> None:
    fw = _phone(pki, 0)
    fw.state.capf_needed = DECRYPT_FAILED
    assert fw.capf_action().auth == "null"
    fw.enter_capf_string("1234")
    action = fw.capf_action()
    assert action.connect and action.auth == "password" and action.password == "1234"
    assert [(s.address, s.port) for s in action.servers] == [("c1", 3804), ("c2", 3804)]


def test_mode_1_waits_for_the_authentication_string(pki: Pki) -> None:
    fw = _phone(pki, 1)
    assert not fw.capf_action().connect
    fw.enter_capf_string("8765")
    action = fw.capf_action()
    assert action.connect and action.auth == "password" and action.password == "8765"


def test_mode_2_connects_with_the_null_string(pki: Pki) -> None:
    action = _phone(pki, 2).capf_action()
    assert action.connect and action.auth == "null" and action.password == ""


def test_mode_3_prefers_the_lsc_and_falls_back_to_the_mic(pki: Pki) -> None:
    assert _phone(pki, 3, lsc=True).capf_action().auth == "lsc"
    assert _phone(pki, 3).capf_action().auth == "mic"


def test_mode_4_prefers_the_mic_and_falls_back_to_the_lsc(pki: Pki) -> None:
    assert _phone(pki, 4, lsc=True).capf_action().auth == "mic"
    assert _phone(pki, 4, mic=False, lsc=True).capf_action().auth == "lsc"


def test_existing_certificate_mode_without_lsc_or_mic_fails(pki: Pki) -> None:
    action = _phone(pki, 3, mic=False).capf_action()
    assert not action.connect and "no LSC or MIC" in action.reason


def test_unknown_capf_mode_does_nothing(pki: Pki) -> None:
    assert not _phone(pki, 9).capf_action().connect


def test_install_lsc_refuses_a_key_that_does_not_match(pki: Pki) -> None:
    with pytest.raises(UsageError):
        phone().install_lsc(pki.lsc.cert, pki.mic.key)


def test_delete_lsc_and_capf_failure_are_recorded(pki: Pki) -> None:
    fw = _phone(pki, 2, lsc=True)
    fw.delete_lsc()
    assert fw.state.lsc is None and fw.state.capf_result == "deleted"
    assert fw.state.client_identity is fw.state.identity.mic
    fw.capf_failed("REASON 7: wrong authentication string")
    assert fw.state.capf_result == "failed: REASON 7: wrong authentication string"
    assert [d.subject for d in fw.log[-2:]] == ["lsc", "capf"]
