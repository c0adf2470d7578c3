"""§8 Upgrade from 7.x to 8.0, including the CTL-client release rule."""

from __future__ import annotations

import allure
import pytest

from fixtures.expect import settle, trusting, verdicts_seen
from fixtures.lab_run import LabRun
from fixtures.reporting import step
from harness.cluster.releases import Release, ctl_client_required

pytestmark = [pytest.mark.destructive, pytest.mark.needs_keys, allure.feature("Upgrade from 7.x"),
              allure.severity(allure.severity_level.CRITICAL)]


def start_on_7x(lab: LabRun, release: str, *, mixed: bool, es: bool = False) -> None:
    """A cluster still on 7.x: phones hold no ITL (and a CTL in mixed mode)."""
    settle(lab)
    phones = lab.plain_phones()
    with step(f"Start from a {release} cluster{' in mixed mode' if mixed else ''}"):
        lab.cluster.switch_version(release, es=es)
        for name in phones:
            lab.phones[name].keypad.erase_ctl()
            lab.phones[name].erase_itl()
        if mixed:
            lab.cluster.run_ctl_client()
            lab.cluster.restart_service("tftp")
        mark = lab.reset_all()
        settle(lab, phones, after=mark)
        assert all(not lab.outcome(p, mark).itl_verdicts() for p in phones), "7.x has no ITL"


def upgrade_and_reset(lab: LabRun, *, run_ctl_client: bool) -> int:
    with step("1. Upgrade every node to 8.0"):
        lab.cluster.upgrade("8.0")
    if run_ctl_client:
        with step("2. Run the CTL client (the old release needs it)"):
            lab.cluster.run_ctl_client()
    with step("3-5. Restart Cisco TFTP on every node; wait for TFTP to rebuild its files"):
        mark = lab.events.mark()
        lab.cluster.restart_service("tftp")
        lab.wait_tftp_rebuilt(after=mark)
    with step("6-8. Reset all phones; wait for them to register"):
        return lab.reset_all()


@allure.title("Non-secure upgrade from 7.x: phones take their first ITL")
def test_non_secure_upgrade_phones_take_their_first_itl(lab: LabRun) -> None:
    """A non-secure 7.x cluster upgraded to 8.0: after the TFTP restart and a reset the
    phones, which held no ITL, trust the first one on first use."""
    start_on_7x(lab, "7.1(5)", mixed=False)
    mark = upgrade_and_reset(lab, run_ctl_client=False)
    trusting(lab, lab.plain_phones(), after=mark)
    with step("9. Back up the cluster with DRS"):
        lab.cluster.backup(lab.log_dir / "after-upgrade.drs", "lab-drs-passphrase")


@allure.title("Mixed-mode upgrade from {release} needs the CTL client")
@pytest.mark.parametrize(("release", "es"), [("7.1(3)", False), ("007.001(002.32015.001)", True)])
def test_mixed_mode_upgrade_from_affected_release_needs_the_ctl_client(
    lab: LabRun, release: str, es: bool
) -> None:
    """From an affected release, phones holding a 7.x CTL reject the new ITL and config
    until the CTL client is run after the upgrade; then they trust both."""
    assert ctl_client_required(Release.parse(release, es=es), mixed_mode=True)
    start_on_7x(lab, release, mixed=True, es=es)
    phones = lab.plain_phones()
    mark = upgrade_and_reset(lab, run_ctl_client=False)
    # the phones reject the new ITL and config, keep their last config and register with
    # it; wait for that, so the next reset does not race a phone still booting (a phone
    # between boot and registration is not reset by CUCM's "Reset all" either)
    verdicts_seen(lab, phones, after=mark)
    lab.wait_registered(phones, after=mark)
    for name in phones:
        outcome = lab.outcome(name, mark)
        assert "rejected" in outcome.itl_verdicts(), f"step 2 skipped: {outcome.summary()}"
        assert "accepted" not in outcome.config_verdicts(), outcome.summary()
    with step("2. Run the CTL client; restart TFTP; reset all phones"):
        lab.cluster.run_ctl_client()
        lab.cluster.restart_service("tftp")
        mark = lab.reset_all()
    trusting(lab, phones, after=mark)


@pytest.mark.parametrize(("release", "es"), [("007.001(003.21900.003)", False),
                                             ("007.001(003.21005.001)", True)])
@allure.title("Mixed-mode upgrade from {release} needs no CTL client")
def test_mixed_mode_upgrade_from_fixed_release_needs_no_ctl_client(
    lab: LabRun, release: str, es: bool
) -> None:
    """From a release with the fix, phones trust the new ITL after the upgrade without the
    CTL client being run again."""
    assert not ctl_client_required(Release.parse(release, es=es), mixed_mode=True)
    start_on_7x(lab, release, mixed=True, es=es)
    mark = upgrade_and_reset(lab, run_ctl_client=False)
    trusting(lab, lab.plain_phones(), after=mark)
