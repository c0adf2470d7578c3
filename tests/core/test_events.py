"""The event timeline: address resolution, queries, bounded waits, export."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from harness.events import EventLog, EventTimeout


def test_address_resolves_to_phone_and_explicit_phone_wins() -> None:
    log = EventLog()
    log.bind_address("127.0.2.1", "SEP001122334455")
    by_addr = log.record("tftp.rrq", source="tftp", address="127.0.2.1", file="ITLFile.tlv")
    explicit = log.record("tvs.verify", source="tvs", phone="SEPAABBCCDDEEFF", address="127.0.2.1")
    unknown = log.record("tftp.rrq", source="tftp", address="127.0.9.9")
    assert by_addr.phone == "SEP001122334455"
    assert by_addr.data == {"file": "ITLFile.tlv", "peer": "127.0.2.1"}
    assert explicit.phone == "SEPAABBCCDDEEFF"
    assert unknown.phone is None


def test_queries_by_phone_kind_and_mark() -> None:
    log = EventLog()
    log.record("tftp.rrq", source="tftp", phone="SEPA")
    mark = log.mark()
    log.record("tftp.error", source="tftp", phone="SEPB")
    log.record("tvs.verify", source="tvs", phone="SEPA")
    assert [e.kind for e in log.for_phone("SEPA")] == ["tftp.rrq", "tvs.verify"]
    assert [e.kind for e in log.for_phone("SEPA", since=mark)] == ["tvs.verify"]
    assert [e.kind for e in log.of_kind("tftp")] == ["tftp.rrq", "tftp.error"]
    assert [e.seq for e in log.since(mark)] == [1, 2]


def test_wait_for_returns_as_soon_as_the_event_arrives() -> None:
    log = EventLog()
    timer = threading.Timer(0.2, lambda: log.record("sip.register", source="sip", phone="SEPA"))
    start = time.monotonic()
    timer.start()
    event = log.wait_for(lambda e: e.kind == "sip.register", timeout=10)
    assert event.phone == "SEPA"
    assert time.monotonic() - start < 2


def test_wait_for_ignores_events_before_the_mark() -> None:
    log = EventLog()
    log.record("sip.register", source="sip", phone="SEPA")
    mark = log.mark()
    with pytest.raises(EventTimeout):
        log.wait_for(lambda e: e.kind == "sip.register", timeout=0.2, after=mark)


def test_wait_for_times_out_with_the_last_events_and_reports_progress() -> None:
    log = EventLog()
    log.record("tftp.rrq", source="tftp", phone="SEPA", file="CTLSEPA.tlv", result="not_found")
    seen: list[float] = []
    with pytest.raises(EventTimeout) as info:
        log.wait_for(lambda e: False, timeout=1.5, what="registration", on_progress=seen.append)
    assert "no registration within 1.5 s" in str(info.value)
    assert "CTLSEPA.tlv" in str(info.value)
    assert seen, "progress callback never called during a 1.5 s wait"


def test_jsonl_export_round_trips(tmp_path: Path) -> None:
    log = EventLog()
    log.record("capf.session", source="capf", phone="SEPA", operation="install", result="ok")
    path = log.to_jsonl(tmp_path / "events.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0]["kind"] == "capf.session"
    assert rows[0]["data"] == {"operation": "install", "result": "ok"}
    assert "SEPA" in log.render()


def test_listeners_see_every_event() -> None:
    log = EventLog()
    seen: list[str] = []
    log.subscribe(lambda e: seen.append(e.kind))
    log.record("a", source="x")
    log.record("b", source="x")
    assert seen == ["a", "b"]


def test_timestamps_never_go_backwards_at_a_second_boundary() -> None:
    """0.9996 s past a second used to print as ".000" of that same second."""
    from harness.events import Event

    base = 1_700_000_000.0
    earlier = Event(0, base + 0.9996, "a", None, "x").describe().split()[0]
    later = Event(1, base + 1.0002, "b", None, "x").describe().split()[0]
    assert earlier < later
    assert earlier.endswith(".999") and later.endswith(".000")


def test_memory_is_bounded_while_counts_and_positions_stay_exact(tmp_path: Path) -> None:
    spill = tmp_path / "spill.jsonl"
    log = EventLog(window=1000, spill=spill)
    mark = log.mark()
    for i in range(20_000):
        log.record("tftp.error", source="tftp", reason=f"garbage {i}")
    log.record("tftp.rrq", source="tftp", file="ITLFile.tlv")
    assert len(log.snapshot()) <= 1000
    assert len(log) == 20_001
    assert log.counts == {"tftp.error": 20_000, "tftp.rrq": 1}
    assert log.since(mark)[-1].kind == "tftp.rrq"  # an old mark still reaches the newest
    assert [e.seq for e in log.since(log.mark() - 3)] == [19_998, 19_999, 20_000]
    spilled = spill.read_text().splitlines()
    assert len(spilled) + len(log.snapshot()) == 20_001
    assert json.loads(spilled[0])["data"]["reason"] == "garbage 0"
    found = log.wait_for(lambda e: e.kind == "tftp.rrq", timeout=1, after=mark)
    assert found.seq == 20_000


def test_window_without_spill_drops_the_oldest() -> None:
    log = EventLog(window=10)
    for i in range(25):
        log.record("x", source="s", n=i)
    kept = [e.data["n"] for e in log.snapshot()]
    assert len(kept) <= 10 and kept[-1] == 24 and kept == sorted(kept)
    with pytest.raises(ValueError):
        EventLog(window=0)
