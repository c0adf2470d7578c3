"""A rack lease held by another process (another run, another person) for the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HOLD = """
import sys, time
from pathlib import Path
from harness.leases import FileLease
lease = FileLease(Path(sys.argv[1]), sys.argv[2], sys.argv[3], ttl=float(sys.argv[4]),
                  name=sys.argv[5])
lease.acquire(timeout=5)
print("held", flush=True)
time.sleep(float(sys.argv[6]))
print("lost" if lease.lost else "kept", lease.lost or "", flush=True)
lease.release()
"""


def hold_file_lease(directory: Path, lab: str, rack: str, *, ttl: float = 3600,
                    name: str = "benchhost/frank", seconds: float = 30) -> subprocess.Popen[str]:
    """A process holding the rack's file lease; returns once it holds it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(directory), lab, rack, str(ttl),
                             name, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.strip() == "held", first
    return proc
