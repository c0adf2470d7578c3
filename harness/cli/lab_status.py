"""What `phonelab lab status` finds out about each rack: who holds it, does its wiring answer.

Every probe is one bounded connection attempt (`timeout`): a switch is asked for its
SSH banner's TCP port, a network console (rfc2217://, socket://, ssh://, or a
`labgrid://` resource of the rack's place) for its TCP port, a local serial device
whether it exists and may be opened. Nothing is logged in to and no lease is taken,
so it is safe to run while a test run holds the rack.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.errors import LabError
from harness.leases import holder_tag, lease_for
from harness.leases.factory import coordinator_address
from harness.leases.labgrid_lease import serial_url
from harness.leases.place_consoles import resource_name
from lab_topology.schema import LabSpec, RackSpec


@dataclass
class Probe:
    what: str  # "switch sw1" or the phone name
    address: str
    answers: bool
    detail: str


@dataclass
class RackStatus:
    rack: str
    kind: str  # "file" or "labgrid"
    where: str
    holder: str | None
    since: float | None
    error: str | None = None
    switches: list[Probe] = field(default_factory=list)
    consoles: list[Probe] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.error is None and all(p.answers for p in self.switches + self.consoles)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["since_iso"] = (time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.since))
                             if self.since else None)
        return data


def probe_tcp(host: str, port: int, timeout: float) -> tuple[bool, str]:
    started = time.monotonic()
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return False, f"no answer: {exc.strerror or exc}"
    return True, f"answers ({(time.monotonic() - started) * 1000:.0f} ms)"


def probe_device(path: str) -> tuple[bool, str]:
    if not Path(path).exists():
        return False, "no such device"
    if not os.access(path, os.R_OK | os.W_OK):
        return False, "present, but this user may not open it"
    return True, "present"


def _probe_url(url: str, timeout: float) -> tuple[bool, str]:
    if url.startswith("/"):
        return probe_device(url)
    parts = urlsplit(url)
    default = 22 if parts.scheme == "ssh" else None
    try:
        port = parts.port or default
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        return False, "cannot be probed (no host:port)"
    return probe_tcp(parts.hostname, port, timeout)


def rack_status(lab: LabSpec, rack: RackSpec, lease_dir: Path | None, timeout: float
                ) -> RackStatus:
    lease = lease_for(lab, rack, lease_dir, purpose="status")
    status = RackStatus(rack.name, lease.kind, lease.where(), None, None)
    place_ports: dict[str, str] = {}
    try:
        if rack.reservation is not None and (address := coordinator_address(rack)):
            from harness.leases.coordinator import CoordinatorLink

            with CoordinatorLink(address, holder_tag("status"), timeout=timeout + 3) as link:
                state = link.place(rack.reservation.place)
            if state is None:
                status.error = f"{lease.where()}: no such place"
            else:
                status.holder, status.since = state.acquired, state.changed
                place_ports = {name: serial_url(params)
                               for name, (cls, params) in state.matching.items()
                               if cls == "NetworkSerialPort"}
        else:
            holder = lease.holder()
            if holder is not None:
                status.holder, status.since = holder.name, holder.since
    except LabError as exc:
        status.error = str(exc)
    if lab.backend == "twin":
        status.switches = [Probe(f"switch {s.name}", "-", True, "twin: exists while "
                                 "`phonelab twin up` or a run has it") for s in rack.switches]
    else:
        for switch in rack.switches:
            ok, detail = probe_tcp(switch.host, switch.port, timeout)
            status.switches.append(Probe(f"switch {switch.name}", f"{switch.host}:{switch.port}",
                                         ok, detail))
    for phone in rack.phones:
        if phone.console is None or lab.backend == "twin":
            continue
        url = phone.console.url
        if phone.console.is_place_resource:
            name = resource_name(url)
            if name not in place_ports:
                status.consoles.append(Probe(phone.name, url, False, "not exported by the "
                                             "rack's place"))
                continue
            url = place_ports[name]
        elif phone.console.is_ssh:
            host, port = phone.console.ssh_endpoint
            host = host or (str(phone.address) if phone.address else None)
            if host is None:
                status.consoles.append(Probe(phone.name, url, False, "address from DHCP"))
                continue
            url = f"ssh://{host}:{port}"
        ok, detail = _probe_url(url, timeout)
        status.consoles.append(Probe(phone.name, url, ok, detail))
    return status
