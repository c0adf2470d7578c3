"""§9-§10 Rollback to a release before 8.0, with and without preparation, and return."""

from __future__ import annotations

import allure
import pytest

from fixtures.expect import looping, served_itl, settle, trusting
from fixtures.lab_run import LabRun
from fixtures.reporting import step
from harness.cluster.state import Param

pytestmark = allure.feature("Rollback to pre-8.0")
OLD = "7.1(5)"


def prepare(lab: LabRun) -> int:
    settle(lab)
    with step("1. Set 'Prepare Cluster for Rollback to pre-8.0' = True"):
        lab.cluster.set_parameter(Param.PREPARE_ROLLBACK, True)
    with step("2-4. Restart Cisco Trust Verification Service on every node"):
        lab.cluster.restart_service("tvs")
    with step("5-7. Restart Cisco TFTP on every node running it; wait for the rebuild"):
        mark = lab.events.mark()
        lab.cluster.restart_service("tftp")
        lab.wait_tftp_rebuilt(after=mark)
    with step("8-10. Reset all phones; wait for them to register"):
        return lab.reset_all()


@allure.title("HTTPS services fail while the cluster is prepared for rollback")
@allure.story("Prepared rollback")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.destructive
def test_https_services_fail_while_prepare_rollback_is_on(lab: LabRun) -> None:
    """With 'Prepare Cluster for Rollback to pre-8.0' on, TFTP serves an empty rollback ITL
    and unsigned configs: phones take both and register, but HTTPS through TVS stops."""
    mark = prepare(lab)
    assert served_itl(lab).is_rollback
    found = trusting(lab, lab.plain_phones(), after=mark, https=False)
    for name, outcome in found.items():
        assert outcome.registered, f"{name}: basic registration must keep working"
        assert (f"{name}.cnf.xml", "accepted") in outcome.configs, outcome.summary()


@allure.title("Prepared rollback to 7.x, then return to 8.0")
@allure.story("Prepared rollback and return to 8.0")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.destructive
def test_prepared_rollback_then_return_to_8_0(lab: LabRun) -> None:
    """After preparing the cluster, switching back to 7.x leaves phones registering with
    their unsigned config and no request loop; returning to 8.0 and clearing the
    parameter makes them trust a signed ITL again."""
    phones = lab.plain_phones()
    trusting(lab, phones, after=prepare(lab), https=False)
    with step(f"11-12. Switch every server back to {OLD}"):
        lab.cluster.switch_version(OLD)
    with step("14-16. Restart TFTP everywhere; 17-19. reset all phones"):
        lab.cluster.restart_service("tftp")
        mark = lab.reset_all()
    settle(lab, phones, after=mark)
    for name in phones:
        outcome = lab.outcome(name, mark)
        assert (f"{name}.cnf.xml", "accepted") in outcome.configs, outcome.summary()
        assert outcome.requested(".cnf.xml.sgn") == 1, "no request loop after a prepared rollback"
    with step("§10: 1. Switch the cluster to the inactive (8.0) partition"):
        lab.cluster.switch_version("8.0")
    with step("§10: 2. Set 'Prepare Cluster for Rollback to pre-8.0' = False"):
        lab.cluster.set_parameter(Param.PREPARE_ROLLBACK, False)
    with step("§10: 4-6. Restart TVS on every node; 7-9. restart TFTP"):
        lab.cluster.restart_service("tvs")
        lab.cluster.restart_service("tftp")
    with step("§10: 10-12. Reset all phones; wait for them to register"):
        mark = lab.reset_all()
    trusting(lab, phones, after=mark)
    assert not served_itl(lab).is_rollback


@allure.title("Unprepared rollback: phones loop until their ITL is erased")
@allure.story("Unprepared rollback")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.destructive
@pytest.mark.needs_keys
def test_unprepared_rollback_loops_until_the_itl_is_erased(lab: LabRun) -> None:
    """Rolling back to 7.x without preparing: phones keep rejecting the unsigned config
    (their ITL no longer matches) until the ITL is deleted by hand on each phone."""
    settle(lab)
    phones = lab.plain_phones()
    with step(f"Switch every server back to {OLD} without preparing (the hazard)"):
        lab.cluster.switch_version(OLD)
        lab.cluster.restart_service("tftp")
        mark = lab.reset_all()
    for name in phones:
        looping(lab, name, after=mark)
    recovered = lab.events.mark()  # before the keys: a phone may recover while the next is
    with step("Delete the ITL by hand on each phone"):  # still being keyed (CGI, by hand)
        for name in phones:
            lab.phones[name].erase_itl()
    settle(lab, phones, after=recovered)
    for name in phones:
        outcome = lab.outcome(name, recovered)
        assert (f"{name}.cnf.xml", "accepted") in outcome.configs, outcome.summary()
