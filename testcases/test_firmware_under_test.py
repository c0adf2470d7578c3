"""Firmware under test (docs/REAL_WIRE.md §5): phones run the load the cluster names.

The topology names a load per model (`firmware:`); configs carry it in
`loadInformation`. A phone whose running load differs fetches it and reboots into
it before registering, so after a reset every phone of such a model must show
that load on the wire (its registration, else its boot banner, §5.4).
"""

from __future__ import annotations

import allure
import pytest

from fixtures.expect import settle
from fixtures.lab_run import LabRun
from fixtures.reporting import step

pytestmark = allure.feature("Firmware under test")


def under_test(lab: LabRun) -> dict[str, str]:
    """Phone name -> the load its model must run, for phones in the database."""
    loads = {model: f.load for model, f in lab.cluster.state.firmware.items()}
    return {name: loads[phone.model.model] for name, phone in lab.phones.items()
            if phone.model.model in loads and name in lab.cluster.state.phones}


@allure.title("Every phone runs the firmware under test after boot")
@allure.story("Every phone runs the load under test")
@allure.severity(allure.severity_level.BLOCKER)
def test_every_phone_runs_the_firmware_under_test_after_boot(lab: LabRun) -> None:
    """After a reset every phone of a model the topology names a load for runs that load
    (fetched and installed first if it differed), as its registration or boot banner shows."""
    wanted = under_test(lab)
    if not wanted:
        pytest.skip("the rack names no firmware under test for any of its phones' models")
    settle(lab)  # a reset that lands while a phone still boots is not seen as one
    with step("Reset all phones"):
        mark = lab.reset_all()
    with step("Every phone registers (after fetching and installing its load if needed)"):
        settle(lab, after=mark)
    with step("Each phone of a model with a load under test runs that load"):
        seen = {name: lab.outcome(name, mark).running_load for name in lab.phones}
        allure.attach("\n".join(f"{n} ({lab.phones[n].model.model}): {load}"
                                for n, load in seen.items()), name="running loads",
                      attachment_type=allure.attachment_type.TEXT)
        wrong = {n: (seen[n], load) for n, load in wanted.items() if seen[n] != load}
        assert not wrong, f"phones not on the firmware under test (seen, wanted): {wrong}"


@allure.title("A phone told to run a load the TFTP server lacks keeps its load and registers")
@allure.story("A load that is not on the TFTP server")
@allure.severity(allure.severity_level.NORMAL)
def test_phone_told_an_absent_load_keeps_its_load_and_registers(lab: LabRun) -> None:
    """A phone told to run a load the TFTP server does not hold gets "File not found",
    keeps the load it runs and registers (expected from docs/REAL_WIRE.md, not yet
    confirmed on hardware)."""
    settle(lab)  # a reset that lands while a phone still boots is not seen as one
    with step("Reset all phones and note what they run"):
        mark = lab.reset_all()
        settle(lab, after=mark)
    name = lab.plain_phones()[0]
    before = lab.outcome(name, mark).running_load
    if before is None:
        pytest.skip(f"{name} showed no load on the wire (no console, no load in REGISTER)")
    model = lab.phones[name].model.model
    absent = f"{before}-absent"
    with step(f"Set the {model} load to {absent}, which the TFTP server does not hold; "
              "restart TFTP; reset the phones"):
        lab.cluster.set_firmware(model, absent)
        lab.cluster.restart_service("tftp")
        mark = lab.reset_all()
    with step(f"{name} asks for {absent}.loads, gets File not found, keeps its load and "
              "registers"):
        settle(lab, [name], after=mark)
        outcome = lab.outcome(name, mark)
        assert (f"{absent}.loads", "not_found") in outcome.requests, outcome.summary()
        assert outcome.running_load == before, (outcome.running_load, before)
