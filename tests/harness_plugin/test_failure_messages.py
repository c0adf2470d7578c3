"""Failures lead with the cause in a few lines; waits show progress without `-s`."""

from __future__ import annotations

import threading
import time

import pytest

from fixtures import waits
from fixtures.diagnose import cause_lines, clip, first_failure
from harness.events import EventLog, EventTimeout
from harness.phone_models import Family

P1, P2 = "SEP00000A000001", "SEP00000A000002"


def failing_timeline() -> EventLog:
    log = EventLog()
    log.record("tftp.rrq", source="tftp", phone=P1, file="ITLSEP00000A000001.tlv", result="ok")
    log.record("tftp.rrq", source="tftp", phone=P2, file="ITLSEP00000A000002.tlv", result="ok")
    log.record("tvs.verify", source="tvs", phone=P2, status="invalid",
               reason="server certificate is not an accepted TVS certificate")
    log.record("console.line", source="console", phone=P2, line="noise " * 20)
    for i in range(40):  # the noise that used to bury the cause
        log.record("tftp.rrq", source="tftp", phone=P1, file=f"file{i}", result="ok")
    return log


def test_the_first_failing_stage_is_the_cause() -> None:
    events = failing_timeline().snapshot()
    mark = first_failure(events, P2, Family.C79X1)
    assert mark is not None and mark.stage == "TVS"
    assert first_failure(events, P1, Family.C79X1) is None
    lines = cause_lines(events, [P1, P2], {P1: Family.C79X1, P2: Family.C79X1})
    assert len(lines) == 1 and lines[0].startswith(
        f"{P2}: failed at TVS: TVS: server certificate is not an accepted TVS certificate")


def test_a_timeout_leads_with_the_cause_in_ten_lines_or_fewer() -> None:
    log = failing_timeline()

    def explain(phone: str | None, after: int) -> list[str]:
        return cause_lines(log.since(after), [phone or P2], {P2: Family.C79X1})

    with pytest.raises(EventTimeout) as caught:
        waits.wait_for(log, lambda e: e.kind == "sip.register", 0.2, what="registration",
                       explain=explain, phone=P2)
    lines = str(caught.value).splitlines()
    assert len(lines) <= 10
    assert lines[0] == "no registration within 0.2 s"
    assert "failed at TVS" in lines[1]


def test_clip_says_what_it_left_out() -> None:
    text = clip([f"line {i}" for i in range(25)])
    assert len(text.splitlines()) == 10 and "(+16 more lines" in text


def test_progress_reaches_the_terminal_writer_once_per_interval(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, bool]] = []
    monkeypatch.setattr(waits, "QUIET_PROGRESS_S", 0.4)
    waits.set_progress(lambda text, live: seen.append((text, live)), live=False)
    log = EventLog()
    try:
        threading.Timer(1.6, lambda: log.record("tftp.rebuilt", source="tftp")).start()
        started = time.monotonic()
        waits.wait_for(log, lambda e: e.kind == "tftp.rebuilt", 5, what="TFTP file rebuild")
        assert time.monotonic() - started < 3
    finally:
        waits.set_progress(None, live=False)
    quiet = [text for text, live in seen if not live]
    assert 1 <= len(quiet) <= 4 and all("still waiting for TFTP file rebuild" in t for t in quiet)
