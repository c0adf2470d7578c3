"""Rack leases: exclusive while held, taken over when expired or when the holder died."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.leases import RackLease
from harness.errors import LabError


def test_a_held_lease_blocks_another_holder_until_released(tmp_path: Path) -> None:
    mine = RackLease(tmp_path, "lab", "rack1")
    mine.acquire(timeout=1)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lease_file = mine.path
        record = json.loads(lease_file.read_text())
        record["pid"] = holder.pid  # another live process holds it now
        lease_file.write_text(json.dumps(record))
        other = RackLease(tmp_path, "lab", "rack1")
        started = time.monotonic()
        with pytest.raises(LabError, match="rack rack1 of lab lab is leased"):
            other.acquire(timeout=0.5, poll=0.1)
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()


def test_a_lease_whose_holder_died_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    lease = RackLease(tmp_path, "lab", "rack1")
    lease.path.write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(),
                                      "expires": time.time() + 3600}))
    lease.acquire(timeout=1)
    assert lease.record() and lease.record()["pid"] == os.getpid()  # type: ignore[index]
    lease.release()
    assert not lease.path.exists()


def test_an_expired_lease_is_taken_over_even_from_another_host(tmp_path: Path) -> None:
    lease = RackLease(tmp_path, "lab", "rack2")
    lease.path.write_text(json.dumps({"pid": 1, "host": "elsewhere",
                                      "expires": time.time() - 1}))
    lease.acquire(timeout=1)
    assert lease.held


def test_a_live_lease_of_another_host_is_respected(tmp_path: Path) -> None:
    lease = RackLease(tmp_path, "lab", "rack3")
    lease.path.write_text(json.dumps({"pid": 1, "host": "elsewhere",
                                      "expires": time.time() + 3600}))
    with pytest.raises(LabError, match="elsewhere"):
        lease.acquire(timeout=0.3, poll=0.1)
