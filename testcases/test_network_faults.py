"""Network faults between the phones and one service: loss, an outage, and recovery.

Each scenario impairs the path from one service to the phones with `lab.network`
(fixtures/network.py: the twin's endpoint sockets, `tc netem` on a rack) for a bounded
time and judges the phones only by what they do on the wire and print: a lossy TFTP
path still boots them, a TVS outage during a TFTP certificate regeneration leaves the
new ITL untrusted until TVS is back, and a CAPF session cut mid-enrollment is retried.
The seed of every impairment is in the report (PHONELAB_NETWORK_SEED reruns it).
"""

from __future__ import annotations

import allure
import pytest

from fixtures.expect import settle, trusting
from fixtures.lab_run import LabRun
from fixtures.reporting import step
from harness.cluster.state import Service

pytestmark = allure.feature("Network faults")


@allure.title("Phones complete their boot with 30 % loss on the TFTP path")
@allure.story("TFTP loss")
@allure.severity(allure.severity_level.CRITICAL)
def test_phones_boot_through_30_percent_tftp_loss(lab: LabRun) -> None:
    """With 30 % of what TFTP sends the phones lost on the way, a cold boot of the whole
    rack still ends with every phone registered, its signed config verified and its
    trust list unchanged: the phones' and the server's TFTP retransmissions, and the
    phone's next attempt when a transfer times out, make up for the loss."""
    settle(lab)
    phones = list(lab.phones)
    with lab.network.impair(Service.TFTP, loss=0.3, limit=3 * lab.bounds.registration) \
            as lossy, step("Power-cycle every phone with 30 % of TFTP's packets lost"):
        mark = lab.reset_all(how="power")
        # every lost block costs a retransmission timeout: twice the clean-network bound
        lab.wait_registered(phones, after=mark, bound=2 * lab.bounds.registration)
        settle(lab, phones, after=mark)
    assert lossy.taken > 0, "no TFTP packet was lost: the impairment did not bite"
    for name in lab.plain_phones():
        outcome = lab.outcome(name, mark)
        assert outcome.registered, outcome.summary()
        assert "rejected" not in outcome.itl_verdicts(), outcome.summary()
        assert "accepted" in outcome.config_verdicts(), outcome.summary()
    for name in lab.legacy_phones():
        assert lab.outcome(name, mark).registered, lab.outcome(name, mark).summary()


@allure.title("A TVS outage during a TFTP certificate regeneration leaves the new ITL "
              "untrusted until TVS is back")
@allure.story("TVS outage")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.destructive
def test_tvs_outage_during_regenerated_certificate_boot(lab: LabRun) -> None:
    """The TFTP certificate is regenerated, TFTP restarted and the phones reset while TVS
    cannot be reached: each phone rejects the new ITL (its signer is unknown and TVS,
    which would vouch for it, does not answer) and keeps its old trust. When TVS is back,
    a reset lets every phone accept the new ITL through TVS."""
    settle(lab)
    phones = lab.plain_phones()
    with step("1. Regenerate the TFTP certificate"):
        lab.cluster.regenerate_certificate("tftp")
    with step("2. Restart TFTP on every node running it; wait for the rebuild"):
        mark = lab.events.mark()
        lab.cluster.restart_service(Service.TFTP)
        lab.wait_tftp_rebuilt(after=mark)
    outage = 2 * lab.bounds.registration
    with lab.network.outage(Service.TVS, outage, limit=outage + 10), \
            step("3. Reset all phones while TVS is unreachable"):
        mark = lab.reset_all()
        settle(lab, phones, after=mark)
        for name in phones:
            outcome = lab.outcome(name, mark)
            assert "rejected" in outcome.itl_verdicts(), \
                f"{name} trusted an ITL TVS never vouched for: {outcome.summary()}"
            assert "accepted" not in outcome.itl_verdicts(), outcome.summary()
            assert ("query", "valid") not in outcome.tvs, outcome.summary()
    with step("4. TVS is back: reset all phones"):
        mark = lab.reset_all()
    found = trusting(lab, phones, after=mark)
    for name, outcome in found.items():
        assert ("query", "valid") in outcome.tvs, f"{name}: the new signer needs TVS"


@allure.title("A CAPF session cut mid-enrollment is retried and the enrollment completes")
@allure.story("CAPF outage")
@allure.severity(allure.severity_level.NORMAL)
@pytest.mark.requires_feature("encrypted_config")
@pytest.mark.destructive
def test_capf_outage_mid_enrollment_is_retried(lab: LabRun) -> None:
    """An Install/Upgrade (null string) is scheduled and the phone reset; CAPF goes away
    the moment the phone's enrollment reaches it (its CAPF connection is the outage's
    trigger) until the phone has given up and registered. The operation stays pending,
    so the phone's next attempt, at the next reset once CAPF is back, installs a new
    LSC and the phone decrypts its config with it."""
    name = next(n for n, p in lab.cluster.state.phones.items() if p.encrypted_config)
    settle(lab, [name])
    with step(f"1. Install/Upgrade by null string for {name}"):
        lab.cluster.update_phone(name, capf_operation="install", capf_auth="no password")
    outage = lab.bounds.registration  # outlasts the phone's CAPF timeout; the block ends it
    with lab.network.outage(Service.CAPF, outage, at_connection=1, limit=2 * outage) as cut:
        with step("2. Reset the phone; CAPF becomes unreachable as it connects"):
            mark = lab.reset_all()
            settle(lab, [name], after=mark)
        assert any(t.what == "out" for t in cut.history), "the phone never reached CAPF"
        first = lab.outcome(name, mark)
        assert "installed" not in first.capf, f"the cut session installed: {first.summary()}"
        assert lab.cluster.state.phones[name].capf_operation == "install", \
            "a cut session must leave the operation pending"
    with step("3. CAPF is back: the pending operation is retried at the next reset"):
        retry = lab.reset_all()
        session = lab.wait_event(name, "capf.session", after=retry, operation="install")
        settle(lab, [name], after=retry)
    assert session.data["reason"] == 1, session.data
    outcome = lab.outcome(name, retry)
    assert (f"{name}.cnf.xml.enc.sgn", "accepted") in outcome.configs, outcome.summary()
    assert lab.cluster.state.phones[name].capf_operation == "none", "the operation completed"
