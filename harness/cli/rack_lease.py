"""The CLI's side of rack leases: `power`, `console` and `serve` leave a held rack alone.

A bench command aimed at a rack of a topology asks the rack's lease (file, or labgrid
place) who holds it, and refuses with the holder's name and since when unless
`--force`. `serve` goes further and holds the rack while it serves, so a test run
started meanwhile waits for it instead of fighting over the phones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from harness.cli.lab_target import LabTarget
from harness.leases import Lease, lease_for, refuse_if_held

ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Go ahead even when another run or person holds the rack.")]


def check_rack(target: LabTarget | None, force: bool, purpose: str) -> None:
    """UsageError (exit 2) naming the holder when the target's rack is held; no-op for
    explicit coordinates (no rack known) or with `force`."""
    if target is None or force:
        return
    refuse_if_held(lease_for(target.lab, target.rack, purpose=purpose), target.rack.name, False)


@contextmanager
def holding_rack(target: LabTarget, force: bool, purpose: str) -> Iterator[Lease | None]:
    """Hold the rack (after refusing if held) until the block ends; with `force`, no lease."""
    if force:
        yield None
        return
    lease = lease_for(target.lab, target.rack, purpose=purpose)
    refuse_if_held(lease, target.rack.name, False)
    lease.acquire(timeout=5.0)
    try:
        yield lease
    finally:
        lease.release()
