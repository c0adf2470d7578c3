"""`console.url: labgrid://NAME`: a phone console that is a resource of the rack's place.

The exporter publishes each console as a `NetworkSerialPort` (ser2net, RFC 2217) and the
coordinator hands its address to whoever acquires the place, so the URL is known only
then. The rack spec the run uses gets the `rfc2217://HOST:PORT` in its place, and the
console driver opens it like any other pyserial URL (it needs every line, which
labgrid's on-demand `SerialDriver` would not give it).
"""

from __future__ import annotations

from harness.errors import LabError
from harness.leases.base import Lease
from lab_topology.schema import RackSpec


def resource_name(url: str) -> str:
    return url.split("://", 1)[1].strip("/")


def with_place_consoles(rack: RackSpec, lease: Lease) -> RackSpec:
    """`rack` with each `labgrid://NAME` console replaced by the acquired port's URL."""
    wanted = [p for p in rack.phones if p.console is not None and p.console.is_place_resource]
    if not wanted:
        return rack
    found = lease.consoles()
    phones = []
    for phone in rack.phones:
        if phone in wanted and phone.console is not None:
            name = resource_name(phone.console.url)
            if name not in found:
                raise LabError(f"rack {rack.name}: {phone.name}'s console {phone.console.url} "
                               f"is not a NetworkSerialPort of {lease.where()} (it has "
                               f"{', '.join(sorted(found)) or 'none'}); check the exporter")
            console = phone.console.model_copy(update={"url": found[name]})
            phone = phone.model_copy(update={"console": console})
        phones.append(phone)
    return rack.model_copy(update={"phones": phones})
