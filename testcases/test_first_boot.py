"""§3 Trust on first use: a phone with no trust list accepts the first ITL it sees."""

from __future__ import annotations

from collections.abc import Callable

import allure
import pytest

from fixtures.expect import served_itl, settle, trusting
from fixtures.lab_run import LabRun
from fixtures.reporting import step
from phone_drivers.capture import PacketCapture


@allure.title("First ITL is trusted on first use and the signed config verifies")
@allure.feature("Identity Trust List")
@allure.story("First boot: trust on first use")
@allure.severity(allure.severity_level.BLOCKER)
@pytest.mark.needs_keys
def test_first_itl_is_trusted_and_signed_config_verifies(lab: LabRun) -> None:
    """Trust on first use: phones with no CTL and no ITL accept the first ITL they are
    served, verify their signed config with it, reach HTTPS services through TVS and
    register."""
    settle(lab)
    with step("Erase the CTL and ITL on every phone (Settings > Security > Trust List)"):
        for name in lab.sbd_phones():
            lab.phones[name].keypad.erase_ctl()
            lab.phones[name].erase_itl()
    with step("Reset all phones"):
        mark = lab.reset_all()
    with step("Every phone trusts the first ITL, verifies its signed config, uses HTTPS "
              "through TVS and registers"):
        found = trusting(lab, lab.plain_phones(), after=mark)
    itl = served_itl(lab)
    assert itl.verify()
    for name, outcome in found.items():
        assert outcome.requested("ITLFile.tlv") + outcome.requested(f"ITL{name}.tlv") >= 1
        assert ("verify", "valid") in outcome.tvs, f"{name} never asked TVS about HTTPS"


@allure.title("A model without Security by Default gets an unsigned config and no ITL")
@allure.severity(allure.severity_level.MINOR)
@allure.feature("Identity Trust List")
@allure.story("Models without Security by Default")
@pytest.mark.requires_feature("legacy_model")
def test_model_without_sbd_gets_unsigned_config_and_no_itl(lab: LabRun) -> None:
    """A model that has no Security by Default asks for no trust list and no signed file:
    it fetches and uses its plain .cnf.xml."""
    legacy = lab.legacy_phones()
    settle(lab)  # a reset that lands while a phone still boots is not seen as one
    mark = lab.reset_all()
    settle(lab, legacy, after=mark)
    for name in legacy:
        outcome = lab.outcome(name, mark)
        files = [f for f, _ in outcome.requests]
        assert not any(f.endswith(".tlv") for f in files), files
        assert f"{name}.cnf.xml" in files and not any(f.endswith(".sgn") for f in files)


@allure.title("On the wire: CTL, then ITL, then the signed config, then TLS to TVS")
@allure.severity(allure.severity_level.NORMAL)
@allure.feature("Identity Trust List")
@allure.story("On the wire")
@pytest.mark.requires_feature("capture")
def test_capture_shows_trust_lists_then_config_then_tvs(
    lab: LabRun, capture: Callable[[str], PacketCapture]
) -> None:
    """A captured boot shows the phone fetch its CTL, then its ITL, then its signed config,
    then open TLS to TVS (the order docs/HARDWARE.md documents)."""
    settle(lab)
    name = lab.plain_phones()[0]
    with capture("boot") as cap, step(f"Power-cycle {name} while capturing"):
        mark = lab.events.mark()
        lab.phones[name].power_cycle(off_seconds=0.5)
        settle(lab, [name], after=mark)
        lab.wait_event(name, "https.get", after=mark)
    flows = cap.result.flows(name) if cap.result else None
    assert flows is not None, "no capture result"
    files = [f.file for f in flows.tftp]
    assert files[:2] == [f"CTL{name}.tlv", f"ITL{name}.tlv"], cap.result and cap.result.describe()
    assert f"{name}.cnf.xml.sgn" in files[2:]
    assert any(t.service == "tvs" for t in flows.tls), cap.result and cap.result.describe()
