"""§4 Auto-registration: signed default config in non-secure mode, none in mixed mode."""

from __future__ import annotations

import allure
import pytest

from fixtures.expect import settle
from fixtures.lab_run import LabRun
from fixtures.reporting import step

pytestmark = allure.feature("Auto-registration")


def unknown(lab: LabRun, name: str) -> int:
    with step(f"Delete {name} from the database, restart TFTP, power-cycle it"):
        lab.cluster.remove_phone(name)
        lab.cluster.restart_service("tftp")
        mark = lab.events.mark()
        lab.phones[name].power_cycle(off_seconds=0.5)
        return mark


@allure.title("An unknown Security-by-Default phone auto-registers with the signed default config")
@allure.story("Non-secure cluster")
@allure.severity(allure.severity_level.NORMAL)
def test_sbd_phone_autoregisters_with_the_signed_default(lab: LabRun) -> None:
    """A phone deleted from the database asks for its own config (not found), then accepts
    XMLDefault.cnf.xml.sgn, verified against its ITL."""
    settle(lab)
    name = lab.plain_phones()[0]
    mark = unknown(lab, name)
    settle(lab, [name], after=mark)
    outcome = lab.outcome(name, mark)
    assert ("XMLDefault.cnf.xml.sgn", "accepted") in outcome.configs, outcome.summary()
    assert (f"{name}.cnf.xml.sgn", "not_found") in outcome.requests


@allure.title("A model without Security by Default auto-registers with the unsigned default config")
@allure.severity(allure.severity_level.MINOR)
@allure.story("Non-secure cluster")
@pytest.mark.requires_feature("legacy_model")
def test_model_without_sbd_autoregisters_with_the_unsigned_default(lab: LabRun) -> None:
    """A model that has no Security by Default, deleted from the database, fetches only
    the unsigned XMLDefault.cnf.xml."""
    settle(lab)
    name = lab.legacy_phones()[0]
    mark = unknown(lab, name)
    settle(lab, [name], after=mark)
    files = [f for f, result in lab.outcome(name, mark).requests if result == "ok"]
    assert files == ["XMLDefault.cnf.xml"]


@allure.title("Mixed mode refuses auto-registration")
@allure.story("Mixed mode")
@allure.severity(allure.severity_level.NORMAL)
def test_mixed_mode_refuses_autoregistration(lab: LabRun) -> None:
    """Once the CTL client has put the cluster in mixed mode, TFTP serves no default config
    and an unknown phone's registration is refused (SIP 403)."""
    settle(lab)
    with step("Run the CTL client (mixed mode) and restart TFTP"):
        lab.cluster.run_ctl_client()
        lab.cluster.restart_service("tftp")
    name = lab.plain_phones()[0]
    mark = unknown(lab, name)
    refused = lab.wait_event(name, "sip.register_rejected", after=mark)
    assert refused.data["status"] == 403
    assert not lab.outcome(name, mark).registered
    assert lab.cluster.served("XMLDefault.cnf.xml") is None
