"""The pictures attached to every test: swimlane SVG and end-state table, from events only."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fixtures import end_state, swimlane
from fixtures.observe import PhoneOutcome
from harness.events import EventLog
from harness.phone_models import Family

P1, P2 = "SEP00000A000001", "SEP00000A000002"


def timeline() -> EventLog:
    log = EventLog()
    log.record("tftp.rrq", source="tftp", phone=P1, file="ITLSEP00000A000001.tlv", result="ok")
    log.record("tftp.rrq", source="tftp", phone=P1, file="SEP00000A000001.cnf.xml.sgn",
               result="ok")
    log.record("tvs.verify", source="tvs", phone=P1, status="valid")
    log.record("sip.register", source="sip", phone=P1, load="SIP42.9-4-2SR3-1S")
    log.record("tftp.rrq", source="tftp", phone=P2, file="CTLSEP00000A000002.tlv",
               result="not_found")  # normal on a non-secure cluster: not a failure
    log.record("tftp.rrq", source="tftp", phone=P2, file="ITLSEP00000A000002.tlv",
               result="denied")
    log.record("tvs.verify", source="tvs", phone=P2, status="invalid",
               reason="certificate not in the trust store")
    log.record("sccp.register_rejected", source="sccp", phone=P2, reason="Device Unknown")
    log.record("https.get", source="https", phone="SEPFFFFFFFFFFFF", path="/x")  # not ours
    return log


def test_swimlane_marks_stages_and_failures_with_their_cause() -> None:
    families = {P1: Family.C79X1, P2: Family.C88XX}
    found = swimlane.marks(timeline().snapshot(), families)
    assert [(m.phone, m.stage, m.ok) for m in found] == [
        (P1, "ITL", True), (P1, "config", True), (P1, "TVS", True), (P1, "register", True),
        (P2, "CTL", True), (P2, "ITL", False), (P2, "TVS", False), (P2, "register", False)]
    svg = swimlane.render(found, [P1, P2], title="rack1")
    root = ET.fromstring(svg)  # well-formed SVG
    assert root.tag.endswith("svg")
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert P1 in texts and P2 in texts
    assert "TVS: certificate not in the trust store" in texts
    assert "refused: Device Unknown" in texts
    reds = [r for r in root.iter("{http://www.w3.org/2000/svg}rect")
            if r.get("fill") == swimlane.FAILED]
    assert len(reds) == 3 + 1  # three failed marks and the legend


def test_an_empty_timeline_still_renders() -> None:
    svg = swimlane.render([], [P1])
    assert "no stage seen on the wire" in svg
    ET.fromstring(svg)


def test_end_state_table_shows_verdicts_and_running_load() -> None:
    good = PhoneOutcome(P1, trust_lists=[("ITLSEP00000A000001.tlv", "accepted")],
                        configs=[("SEP00000A000001.cnf.xml.sgn", "accepted")],
                        https_fetches=["/services"], tvs=[("verify", "valid")], registrations=1)
    bad = PhoneOutcome(P2, trust_lists=[("ITLSEP00000A000002.tlv", "rejected")],
                       configs=[("SEP00000A000002.cnf.xml.sgn", "rejected")])
    html = end_state.table({P1: good, P2: bad}, itl_signer="CN=cucm1", itl_records=5,
                           loads=end_state.running_loads(timeline()))
    assert "SIP42.9-4-2SR3-1S" in html and "CN=cucm1 (5 records)" in html
    assert '<td style="color:#d62728">ITLSEP00000A000002.tlv: rejected</td>' in html
    assert '<td style="color:#d62728">no</td>' in html  # P2 never registered


def test_scenario_titles_read_as_english() -> None:
    from fixtures.titles import title_of

    assert title_of("test_prepared_rollback_then_return_to_8_0[rack1]") == (
        "Prepared rollback then return to 8.0 (rack1)")
    assert title_of("test_first_itl_is_trusted_and_https_via_tvs") == (
        "First ITL is trusted and HTTPS via TVS")
    assert title_of("test_upgrade_from_7x[rack1-7.1(3)-False]") == (
        "Upgrade from 7.x (rack1-7.1(3)-False)")
