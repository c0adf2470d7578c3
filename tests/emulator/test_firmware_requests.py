"""File request order (docs/PROTOCOLS.md §7.2, §7.10) and the phone identity it uses."""

from __future__ import annotations

import pytest
from firmware_lab import CONFIG, DEVICE, Pki, config_xml, ctl, itl, phone, rollback_itl
from firmware_net import give_config, give_ctl, give_itl

from harness.errors import UsageError
from phone_drivers.emulator.firmware_types import FileStep, Outcome
from phone_drivers.emulator.trust_state import PhoneIdentity

DEFAULT = "XMLDefault.cnf.xml"


def test_fresh_phone_asks_ctl_then_itlsep_then_itlfile_then_plain_config() -> None:
    fw = phone()
    assert fw.trust_list_requests() == (
        FileStep("ctl", (f"CTL{DEVICE}.tlv",)),
        FileStep("itl", (f"ITL{DEVICE}.tlv", "ITLFile.tlv")),
    )
    assert fw.config_requests() == FileStep("config", (CONFIG, DEFAULT))


def test_phone_holding_an_itl_asks_only_signed_configs(pki: Pki) -> None:
    fw = phone()
    assert give_itl(fw, itl(pki.tftp, tftp=pki.tftp)).ok
    assert fw.config_requests().names == (f"{CONFIG}.sgn", f"{DEFAULT}.sgn")


def test_phone_holding_only_a_ctl_asks_signed_configs(pki: Pki) -> None:
    fw = phone(pre_itl_firmware=True)
    assert give_ctl(fw, ctl(pki.sast, tftp=pki.tftp)).ok
    assert fw.config_requests().names == (f"{CONFIG}.sgn", f"{DEFAULT}.sgn")


def test_rollback_itl_asks_sgn_then_plain_fallbacks(pki: Pki) -> None:
    fw = phone()
    assert give_itl(fw, rollback_itl(pki.tftp)).ok
    names = (f"{CONFIG}.sgn", CONFIG, f"{DEFAULT}.sgn", DEFAULT)
    assert fw.config_requests().names == names


def test_enc_first_option_asks_enc_sgn_before_the_stub(pki: Pki) -> None:
    fw = phone(enc_first=True)
    assert give_itl(fw, itl(pki.tftp, tftp=pki.tftp)).ok
    assert fw.config_requests().names[:2] == (f"{CONFIG}.enc.sgn", f"{CONFIG}.sgn")


def test_model_without_security_by_default_asks_no_trust_list_and_takes_plain_config() -> None:
    fw = phone("7940")
    assert fw.trust_list_requests() == ()
    assert fw.config_requests().names == (CONFIG, DEFAULT)
    assert give_config(fw, config_xml(), name=CONFIG).outcome is Outcome.ACCEPTED


def test_pre_itl_firmware_asks_the_ctl_only() -> None:
    fw = phone(pre_itl_firmware=True)
    assert fw.trust_list_requests() == (FileStep("ctl", (f"CTL{DEVICE}.tlv",)),)
    assert fw.not_found(f"CTL{DEVICE}.tlv").status == "No Trust List installed"


def test_identity_normalises_mac_and_names_the_device() -> None:
    ident = PhoneIdentity("00:11:22:33:aa:bb", "CP-8861")
    assert ident.name == DEVICE and ident.tvs_device_name == f"CP-8861-{DEVICE}"


def test_bad_mac_and_unknown_model_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        PhoneIdentity("0011", "8861")
    with pytest.raises(UsageError):
        phone("1234")
