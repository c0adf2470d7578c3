"""Freeing a rack whose holder is gone for good (SIGKILL, a host that lost power).

labgrid never expires an acquired place, and the dead run's reservation keeps the
place allocated to it for another minute after a plain `labgrid-client release
--kick`, so the next run still waits. Kicking here does both: cancels the
reservations of the holder (and the one the place is allocated to), then releases
the place. A file lease is simply removed. The xdist controller uses the same steps
for a worker that died (`fixtures.rack_leases`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from harness.errors import LabError
from harness.leases.base import Holder, holder_tag
from harness.leases.factory import coordinator_address, lease_for
from harness.leases.file_lease import FileLease
from lab_topology.schema import LabSpec, RackSpec


def kick_place(address: str, place: str, only: str | None = None) -> Holder | None:
    """Release `place` and cancel its holder's reservations; with `only`, only when that
    holder (`host/user`) still has it. The holder kicked, or None."""
    from harness.leases.coordinator import CoordinatorLink

    with CoordinatorLink(address, holder_tag("kick")) as link:
        state = link.place(place)
        if state is None:
            raise LabError(f"labgrid coordinator {address}: no place {place}")
        holder = state.acquired
        if only is not None and holder != only:
            return None
        stale = {token for token, owner, _ in link.reservations()
                 if holder is not None and owner == holder}
        if state.reservation and (only is None or state.reservation in stale or holder is None):
            stale.add(state.reservation)
        for token in stale:
            with contextlib.suppress(LabError):  # gone meanwhile
                link.cancel(token)
        if holder is not None:
            link.release(place, only_from=holder)
        return Holder(holder, state.changed) if holder else None


def kick(lab: LabSpec, rack: RackSpec, directory: Path | None = None) -> Holder | None:
    """Free `rack` whoever holds it; the holder it had, or None when it was free."""
    address = coordinator_address(rack)
    if address is not None and rack.reservation is not None:
        return kick_place(address, rack.reservation.place)
    lease = lease_for(lab, rack, directory, purpose="kick")
    assert isinstance(lease, FileLease)
    holder = lease.holder()
    lease.path.unlink(missing_ok=True)
    return holder
