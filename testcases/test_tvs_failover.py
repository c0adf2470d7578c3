"""§2 TVS failover: when the TVS a phone asks first is down, it tries the next one."""

from __future__ import annotations

import allure
import pytest

from fixtures.expect import settle, trusting
from fixtures.lab_run import LabRun
from fixtures.reporting import step
from harness.cluster.state import Service

pytestmark = [allure.feature("Trust Verification Service"), allure.story("Failover")]


@allure.title("Phones fail over to the next TVS when the first is down")
@allure.severity(allure.severity_level.NORMAL)
@pytest.mark.requires_feature("two_tvs")
def test_phones_fail_over_to_the_next_tvs(lab: LabRun) -> None:
    """With TVS stopped on the first node of the phones' list, the phones ask the next one,
    and only it answers."""
    tvs_nodes = [n.name for n in lab.cluster.state.nodes_running(Service.TVS)]
    settle(lab)
    first, second = tvs_nodes[:2]
    with step(f"Stop the TVS service on {first}"):
        lab.cluster.stop_service(Service.TVS, first)
    with step("Reset all phones"):
        mark = lab.reset_all()
    trusting(lab, lab.plain_phones(), after=mark, itl="unchanged")
    answered = {e.data.get("node") for e in lab.events.since(mark) if e.kind == "tvs.verify"}
    assert answered == {second}, f"TVS answers came from {answered}"
