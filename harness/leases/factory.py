"""Which lease a rack gets, where file leases live, and the CLI's "is it free?" check."""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import UsageError
from harness.leases.base import Lease, holder_tag, this_host
from harness.leases.file_lease import FileLease
from harness.pki.locations import lease_home
from lab_topology.schema import LabSpec, RackSpec


def default_lease_dir() -> Path:
    """Where file leases live, shared by pytest and the CLI (`harness.pki.locations`)."""
    return lease_home()


def coordinator_address(rack: RackSpec) -> str | None:
    """The rack's coordinator: `LG_COORDINATOR` overrides the topology, as in labgrid."""
    if rack.reservation is None:
        return None
    return os.environ.get("LG_COORDINATOR") or rack.reservation.coordinator


def lease_for(lab: LabSpec, rack: RackSpec, directory: Path | None = None, *,
              purpose: str = "pytest", worker: str | None = None) -> Lease:
    """The rack's lease: its labgrid place when it names one, else a file on this host."""
    user = holder_tag(purpose, worker)
    address = coordinator_address(rack)
    if address is not None and rack.reservation is not None:
        from harness.leases.labgrid_lease import LabgridLease  # labgrid is an optional extra

        return LabgridLease(address, rack.reservation.place, lab.name, rack.name, user=user,
                            prio=rack.reservation.priority)
    return FileLease(directory or default_lease_dir(), lab.name, rack.name,
                     name=f"{this_host()}/{user}")


def refuse_if_held(lease: Lease, rack: str, force: bool) -> None:
    """UsageError naming the holder when someone holds the rack (unless `force`)."""
    if force:
        return
    holder = lease.holder()
    if holder is not None:
        raise UsageError(f"rack {rack} is in use by {holder.describe()} ({lease.where()}); "
                         "wait for it, or pass --force to go ahead anyway")
