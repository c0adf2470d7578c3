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
from harness.errors import LabError
from harness.leases import Lease, holder_tag, lease_for, refuse_if_held
from harness.leases.factory import coordinator_address
from phone_drivers.power_protocol import PowerControl

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


def labgrid_power(target: LabTarget, settle: float) -> PowerControl:
    """The phone's labgrid power port: as the topology gives it, or looked up (not
    acquired) among the resources of the rack's place."""
    from phone_drivers.power_labgrid import LabgridPowerPort

    assert target.phone is not None and target.phone.power is not None
    spec, label = target.phone.power, f"{target.phone.name} power"
    if spec.model and spec.host:
        return LabgridPowerPort(spec.model, spec.host, spec.index, label=label,
                                settle_timeout=settle)
    address, reservation = coordinator_address(target.rack), target.rack.reservation
    assert address is not None and reservation is not None and spec.resource  # the schema's
    from harness.leases.coordinator import CoordinatorLink

    with CoordinatorLink(address, holder_tag("power")) as link:
        place = link.place(reservation.place)
    found = {} if place is None else {name: params for name, (cls, params)
                                      in place.matching.items() if cls == "NetworkPowerPort"}
    if spec.resource not in found:
        raise LabError(f"{target.phone.name}: power {spec.resource} is not a NetworkPowerPort "
                       f"of labgrid place {reservation.place} on {address} (it has "
                       f"{', '.join(sorted(found)) or 'none'})")
    params = found[spec.resource]
    return LabgridPowerPort(str(params["model"]), str(params["host"]),
                            str(params.get("index", "0")), label=label, settle_timeout=settle)
