"""File leases are renewed while held: a holder past the lease period keeps its rack, and
one that stops renewing (suspended) loses it once the period passes."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from harness.errors import LabError
from harness.leases import FileLease
from tests.shared_lab.holders import hold_file_lease

TTL = 0.5  # the lease period; the holder runs well past it


def test_a_holder_that_runs_past_the_lease_period_keeps_its_rack(tmp_path: Path) -> None:
    holder = hold_file_lease(tmp_path, "lab", "rack1", ttl=TTL, name="ci7/nightly",
                             seconds=4 * TTL + 1.0)
    try:
        contender = FileLease(tmp_path, "lab", "rack1")
        first = contender.record()
        assert first is not None
        started = time.monotonic()
        with pytest.raises(LabError, match=r"leased by ci7/nightly since"):
            contender.acquire(timeout=4 * TTL, poll=0.1)  # four periods: it would have expired
        assert time.monotonic() - started >= 4 * TTL
        renewed = contender.record()
        assert renewed is not None and renewed["acquired"] == first["acquired"]
        assert float(renewed["expires"]) > float(first["expires"]) + TTL  # pushed ahead
        out, _ = holder.communicate(timeout=10)
        assert out.split()[0] == "kept", out
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_a_holder_that_stops_renewing_loses_the_rack_after_the_period(tmp_path: Path) -> None:
    holder = hold_file_lease(tmp_path, "lab", "rack1", ttl=TTL, name="ci7/stuck",
                             seconds=4 * TTL + 1.0)
    try:
        record = FileLease(tmp_path, "lab", "rack1").record()
        assert record is not None
        record["host"] = "elsewhere"  # a dead pid on another host is not detectable...
        os.kill(holder.pid, signal.SIGSTOP)  # ...and a stopped holder cannot renew
        (tmp_path / "lab.rack1.lease").write_text(json.dumps(record))
        contender = FileLease(tmp_path, "lab", "rack1")
        started = time.monotonic()
        contender.acquire(timeout=10 * TTL, poll=0.05)
        assert TTL * 0.5 <= time.monotonic() - started <= 10 * TTL
        assert contender.held
        os.kill(holder.pid, signal.SIGCONT)
        out, _ = holder.communicate(timeout=10)
        assert out.startswith("lost"), out  # its heartbeat noticed the lease is gone
        contender.release()
        assert not (tmp_path / "lab.rack1.lease").exists()
    finally:
        if holder.poll() is None:
            os.kill(holder.pid, signal.SIGCONT)
            holder.kill()
            holder.wait()


def test_release_stops_the_heartbeat_and_a_second_acquire_renews_again(tmp_path: Path) -> None:
    lease = FileLease(tmp_path, "lab", "rack1", ttl=0.2)
    lease.acquire(timeout=1)
    time.sleep(0.5)
    assert lease.renew() and lease.held
    lease.release()
    assert not lease.held and lease.record() is None
    time.sleep(0.3)  # a heartbeat still running would write the file again
    assert lease.record() is None
    lease.acquire(timeout=1)
    assert lease.held and lease.record() is not None
    lease.release()
