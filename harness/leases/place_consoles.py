"""Phone consoles (`console.url: labgrid://NAME`) and power ports (`power.resource: NAME`)
that are resources of the rack's labgrid place.

The exporter publishes each console as a `NetworkSerialPort` (ser2net, RFC 2217) and the
coordinator hands its address to whoever acquires the place, so the URL is known only
then. The rack spec the run uses gets the `rfc2217://HOST:PORT` in its place, and the
console driver opens it like any other pyserial URL (it needs every line, which
labgrid's on-demand `SerialDriver` would not give it). A power resource becomes the
`NetworkPowerPort`'s model, host and index, which `phone_drivers.power_labgrid` drives.
"""

from __future__ import annotations

from harness.errors import LabError
from harness.leases.base import Lease
from lab_topology.schema import PowerPortSpec, RackSpec


def resource_name(url: str) -> str:
    return url.split("://", 1)[1].strip("/")


def with_place_consoles(rack: RackSpec, lease: Lease) -> RackSpec:
    """`rack` with each `labgrid://NAME` console replaced by the acquired port's URL and
    each `power.resource` by the acquired power port's model, host and index."""
    consoles = [p for p in rack.phones if p.console is not None and p.console.is_place_resource]
    powered = [p for p in rack.phones if p.power is not None and p.power.resource]
    if not consoles and not powered:
        return rack
    found, outlets = lease.consoles(), lease.resources("NetworkPowerPort")
    phones = []
    for phone in rack.phones:
        if phone.console is not None and phone.console.is_place_resource:
            name = resource_name(phone.console.url)
            if name not in found:
                raise LabError(f"rack {rack.name}: {phone.name}'s console {phone.console.url} "
                               f"is not a NetworkSerialPort of {lease.where()} (it has "
                               f"{', '.join(sorted(found)) or 'none'}); check the exporter")
            console = phone.console.model_copy(update={"url": found[name]})
            phone = phone.model_copy(update={"console": console})
        if phone.power is not None and phone.power.resource:
            params = outlets.get(phone.power.resource)
            if params is None:
                raise LabError(f"rack {rack.name}: {phone.name}'s power {phone.power.resource} "
                               f"is not a NetworkPowerPort of {lease.where()} (it has "
                               f"{', '.join(sorted(outlets)) or 'none'}); check the exporter")
            power = PowerPortSpec(model=str(params["model"]), host=str(params["host"]),
                                  index=str(params.get("index", "0")))
            phone = phone.model_copy(update={"power": power})
        phones.append(phone)
    return rack.model_copy(update={"phones": phones})
