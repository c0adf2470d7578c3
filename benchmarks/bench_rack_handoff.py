"""How long a waiting run takes to get a rack once its holder lets go, and what taking and
giving back a free rack costs, for both lease kinds (docs/shared-lab.md).

A labgrid-coordinator is started on loopback for the labgrid figures. The hand-off is
bounded by the reservation's poll interval (1 s), which is what the figure shows; file
leases poll every second too (their hand-off needs two processes and is not measured
here). Run:

    python benchmarks/bench_rack_handoff.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness.leases import FileLease, Lease
from harness.leases.labgrid_lease import LabgridLease

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _handoff(make: Callable[[str], Lease], rounds: int, handoff: bool = True
             ) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"acquire free": [], "release": [], "hand-off": []}
    for n in range(rounds):
        first, second = make(f"bench-a{n}"), make(f"bench-b{n}")
        started = time.monotonic()
        first.acquire(timeout=30)
        figures["acquire free"].append(time.monotonic() - started)
        if not handoff:
            released = time.monotonic()
            first.release()
            figures["release"].append(time.monotonic() - released)
            continue
        got: list[float] = []

        def wait(lease: Lease = second, into: list[float] = got) -> None:
            lease.acquire(timeout=30)
            into.append(time.monotonic())

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(1.5)  # the second is waiting now
        released = time.monotonic()
        first.release()
        figures["release"].append(time.monotonic() - released)
        waiter.join(35)
        figures["hand-off"].append(got[0] - released)
        second.release()
    return {name: values for name, values in figures.items() if values}


def _show(kind: str, figures: dict[str, list[float]]) -> None:
    for name, values in figures.items():
        print(f"{kind:<8} {name:<13} median {statistics.median(values) * 1000:7.1f} ms   "
              f"max {max(values) * 1000:7.1f} ms   ({len(values)} rounds)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = max(1, min(parser.parse_args().rounds, 50))  # bounded
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        # two file leases of one process are one holder (its pid), so no hand-off here
        _show("file", _handoff(lambda who: _file_lease(directory, who), rounds, handoff=False))
        port = _free_port()
        coordinator = subprocess.Popen([str(BIN / "labgrid-coordinator"), "-l",
                                        f"127.0.0.1:{port}"], cwd=tmp,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            address = f"127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            while subprocess.run([str(BIN / "labgrid-client"), "-x", address, "-p", "rack1",
                                  "create"], capture_output=True).returncode != 0:
                if time.monotonic() > deadline:
                    raise SystemExit("labgrid-coordinator did not come up within 20 s")
                time.sleep(0.3)
            _show("labgrid", _handoff(
                lambda who: LabgridLease(address, "rack1", "bench", "rack1", user=who), rounds))
        finally:
            coordinator.terminate()
            coordinator.wait(10)


def _file_lease(directory: Path, who: str) -> Lease:
    return FileLease(directory, "bench", "rack1", name=f"bench/{who}")


if __name__ == "__main__":
    main()
