"""§1/§6 CAPF enrollment and encrypted configuration files (.enc.sgn)."""

from __future__ import annotations

import allure
import pytest

from fixtures.expect import settle
from fixtures.lab_run import LabRun
from fixtures.reporting import step

pytestmark = [allure.feature("CAPF and encrypted configuration"),
              pytest.mark.requires_feature("encrypted_config")]


def encrypted_phone(lab: LabRun) -> str:
    return next(n for n, p in lab.cluster.state.phones.items() if p.encrypted_config)


@allure.title("A phone enrolls with CAPF, then decrypts its encrypted config")
@allure.story("Null-string enrollment")
@allure.severity(allure.severity_level.CRITICAL)
def test_phone_enrolls_then_decrypts_its_config(lab: LabRun) -> None:
    """The phone whose security profile asks for encrypted configs gets its certificate from
    CAPF (null-string authentication), then accepts its .cnf.xml.enc.sgn; no clear-text
    config is served for it."""
    name = encrypted_phone(lab)
    settle(lab, [name])
    outcome = lab.outcome(name)
    assert "installed" in outcome.capf or "ok" in outcome.capf, outcome.summary()
    assert (f"{name}.cnf.xml.enc.sgn", "accepted") in outcome.configs, outcome.summary()
    assert lab.cluster.served(f"{name}.cnf.xml") is None, "no clear-text config may be served"


def schedule_password_install(lab: LabRun, name: str) -> int:
    with step(f"Install/Upgrade for {name} by authentication string; reset it"):
        lab.cluster.update_phone(name, capf_operation="install", capf_auth="password",
                                 capf_password="4711")
        return lab.reset_all()


@allure.title("CAPF enrollment with the authentication string typed on the phone")
@allure.story("Authentication string")
@allure.severity(allure.severity_level.NORMAL)
@pytest.mark.needs_keys
def test_authentication_string_entered_on_the_phone(lab: LabRun) -> None:
    """Install/Upgrade by authentication string: the string typed on the phone's keypad
    authenticates the CAPF session, which updates the phone's certificate."""
    name = encrypted_phone(lab)
    settle(lab, [name])
    mark = schedule_password_install(lab, name)
    lab.wait_console(name, "authenticated successfully", after=mark)
    with step("Enter the authentication string on the phone"):
        lab.phones[name].keypad.enter_capf_auth("4711")
    session = lab.wait_event(name, "capf.session", after=mark, operation="install")
    assert session.data["auth"] == "password" and session.data["reason"] == 1


@allure.title("CAPF refuses a wrong authentication string")
@allure.severity(allure.severity_level.NORMAL)
@allure.story("Authentication string")
@pytest.mark.needs_keys
def test_wrong_authentication_string_is_refused(lab: LabRun) -> None:
    """A wrong string typed on the keypad ends the CAPF session as failed (reason 7), with
    no certificate issued."""
    name = encrypted_phone(lab)
    settle(lab, [name])
    mark = schedule_password_install(lab, name)
    lab.wait_console(name, "authenticated successfully", after=mark)
    with step("Enter a wrong authentication string"):
        lab.phones[name].keypad.enter_capf_auth("9999")
    session = lab.wait_event(name, "capf.session", after=mark)
    assert session.data["reason"] == 7, session.data
