"""The labgrid lease against a real coordinator: waits for a holder, names it, releases."""

from __future__ import annotations

import threading
import time

import pytest

from harness.errors import LabError
from harness.leases import labgrid_lease
from harness.leases.labgrid_lease import LabgridLease
from tests.shared_lab.labgrid_procs import Coordinator


def _place(lg: Coordinator, name: str = "rack1") -> None:
    lg.client("-p", name, "create")


def test_a_place_acquired_with_labgrid_client_makes_phonelab_wait_then_proceed(
        lg: Coordinator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(labgrid_lease, "PROGRESS_EVERY_S", 0.5)
    _place(lg)
    lg.client("-p", "rack1", "acquire", user="carol")
    lines: list[str] = []
    lease = LabgridLease(lg.address, "rack1", "lab", "rack1", user="phonelab-test")
    releaser = threading.Timer(1.5, lambda: lg.client("-p", "rack1", "release", user="carol"))
    releaser.start()
    started = time.monotonic()
    try:
        lease.acquire(timeout=30, progress=lines.append)
    finally:
        releaser.join()
    assert lease.held and time.monotonic() - started >= 1.4
    assert any("held by" in line and "/carol since" in line for line in lines), lines
    shown = lg.client("-p", "rack1", "show").stdout
    assert "acquired: " in shown and "/phonelab-test" in shown, shown
    lease.release()
    assert not lease.held
    assert "acquired: None" in lg.client("-p", "rack1", "show").stdout


def test_waiting_ends_at_the_bound_naming_the_holder_and_leaves_no_reservation(
        lg: Coordinator) -> None:
    _place(lg)
    lg.client("-p", "rack1", "acquire", user="dave")
    lease = LabgridLease(lg.address, "rack1", "lab", "rack1", user="phonelab-test")
    with pytest.raises(LabError, match=r"held by \S+/dave since"):
        lease.acquire(timeout=2)
    assert "phonelab-test" not in lg.client("reservations").stdout


def test_a_missing_place_or_coordinator_is_one_clear_lab_error(lg: Coordinator) -> None:
    with pytest.raises(LabError, match="no such place; create it with `labgrid-client"):
        LabgridLease(lg.address, "nowhere", "lab", "rack1").acquire(timeout=2)
    with pytest.raises(LabError, match=r"labgrid coordinator 127\.0\.0\.1:1"):
        LabgridLease("127.0.0.1:1", "rack1", "lab", "rack1", timeout=3).acquire(timeout=2)


def test_a_released_place_goes_to_the_waiting_run_within_a_poll(lg: Coordinator) -> None:
    _place(lg)
    first = LabgridLease(lg.address, "rack1", "lab", "rack1", user="first")
    second = LabgridLease(lg.address, "rack1", "lab", "rack1", user="second")
    first.acquire(timeout=10)
    got: list[float] = []
    waiter = threading.Thread(target=lambda: (second.acquire(timeout=30),
                                              got.append(time.monotonic())))
    waiter.start()
    try:
        time.sleep(1.2)
        assert not got and "/second" in lg.client("reservations").stdout  # queued, waiting
        released = time.monotonic()
        first.release()
        waiter.join(30)
        assert got and got[0] - released < 3.0, got  # not the coordinator's ~15 s rescheduling
        assert "/second" in lg.client("-p", "rack1", "show").stdout
    finally:
        waiter.join(30)
        second.release()


def test_one_process_holds_two_racks_at_once(lg: Coordinator) -> None:
    _place(lg, "rack1")
    _place(lg, "rack2")
    leases = [LabgridLease(lg.address, name, "lab", name, user="two-racks")
              for name in ("rack1", "rack2")]
    for lease in leases:
        lease.acquire(timeout=10)
    try:
        assert all(lease.held for lease in leases)
        for name in ("rack1", "rack2"):
            assert "/two-racks" in lg.client("-p", name, "show").stdout
    finally:
        for lease in leases:
            lease.release()
    assert all("acquired: None" in lg.client("-p", n, "show").stdout for n in ("rack1", "rack2"))
