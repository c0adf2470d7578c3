"""`phonelab capture`: record what phones do on the wire into a pcap, with a flow summary.

It is the capture driver of the tests (`PacketCapture`), so its privilege and
libpcap checks, loopback de-duplication and per-phone flow analysis are the ones a
run relies on. With `--lab` the filter watches the rack's cluster endpoints; with
`-i` alone there is no host to name, so the filter watches the standard CUCM ports
plus the ephemeral range TFTP data uses (docs/HARDWARE.md §4.1), and the summary finds
the servers afterwards from the packets that went to those ports. scapy is
imported inside the command because it costs a second at every `phonelab` start.
"""

from __future__ import annotations

import ipaddress
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.cli.common import until_signalled
from harness.cli.lab_target import parse_host_port, resolve
from harness.cluster.plane import Ports
from harness.errors import UsageError
from lab_topology import phone_address
from phone_drivers.capture_endpoints import Endpoint, Service

_UDP = {69: Service.TFTP, 6969: Service.TFTP, 5060: Service.SIP}
_TCP = {6970: Service.HTTP, 6971: Service.HTTPS, 6972: Service.HTTPS, 2445: Service.TVS,
        3804: Service.CAPF, 5060: Service.SIP, 5061: Service.SIP_TLS, 8443: Service.HTTPS,
        2000: Service.SCCP, 2443: Service.SCCP_TLS}
_TFTP_DATA = "portrange 32768-61000"
HOSTLESS = (f"(udp and ({' or '.join(f'port {p}' for p in _UDP)} or {_TFTP_DATA})) or "
            f"(tcp and ({' or '.join(f'port {p}' for p in _TCP)}))")

app = typer.Typer(
    invoke_without_command=True, no_args_is_help=True, subcommand_metavar="",
    context_settings={"allow_interspersed_args": True},
    epilog="Stops after --duration seconds, or on Ctrl-C / SIGTERM; the pcap is written "
           "either way. Needs root or CAP_NET_RAW and libpcap; without them it says why "
           "and exits 3. A twin topology's ports 0 are chosen when the twin starts: TFTP "
           "is watched by host anyway; give the others with --endpoint SERVICE=HOST:PORT "
           "from `phonelab twin up --json`.")


def _endpoint(text: str) -> Endpoint:
    """`SERVICE[@NODE]=HOST:PORT`, the shape `phonelab twin up --json` prints."""
    service, sep, where = text.partition("=")
    name = service.split("@", 1)[0].strip().lower()
    if not sep or name not in {s.value for s in Service}:
        raise UsageError(f"bad --endpoint {text!r}: write SERVICE=HOST:PORT with SERVICE one "
                         f"of {', '.join(s.value for s in Service)}")
    host, port = parse_host_port(where, "--endpoint", None)
    return Endpoint(Service(name), host, port)


def _plan(lab: Path | None, rack: str | None, iface: str | None, phone: str | None,
          extra: list[Endpoint]) -> tuple[list[Endpoint], dict[str, str], str, str | None]:
    """(endpoints, address → phone, interface, address of --phone) for the capture."""
    if lab is None:
        if iface is None:
            raise UsageError("say where to capture: --lab FILE [--rack R], or -i INTERFACE")
        if phone is not None and not _is_ip(phone):
            raise UsageError(f"--phone {phone}: without --lab give the phone's IP address")
        return extra, {}, iface, phone
    target = resolve(lab, rack, phone)
    spec, twin = target.rack, target.is_twin
    by_name = {p.name: str(phone_address(target.lab, spec, p)) if twin else
               (str(p.address) if p.address else None) for p in spec.phones}
    given, standard = spec.cluster.ports, Ports.standard()
    endpoints = {(e.service, e.host): e for e in extra}
    for node in spec.cluster.nodes:
        for service in node.services:
            port = getattr(given, service) or getattr(standard, service)
            endpoints.setdefault((Service(service), str(node.address)),
                                 Endpoint(Service(service), str(node.address), port))
    if not extra and any(getattr(given, s) == 0 for n in spec.cluster.nodes for s in n.services):
        print(f"note: {lab} leaves ports to be chosen at start; TFTP is watched by host, other "
              "services on their standard ports (exact ones: --endpoint)", file=sys.stderr)
    address = by_name[target.phone.name] if target.phone else None
    phones = {ip: name for name, ip in by_name.items() if ip}
    return list(endpoints.values()), phones, iface or spec.capture.interface, address


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _discover(packets: Any) -> list[Endpoint]:
    """Servers seen in a port-only capture: every destination of a standard port."""
    from scapy.layers.inet import IP, TCP, UDP

    found: set[Endpoint] = set()
    for pkt in packets:
        for layer, table in ((UDP, _UDP), (TCP, _TCP)):
            if IP in pkt and layer in pkt and pkt[layer].dport in table:
                found.add(Endpoint(table[pkt[layer].dport], pkt[IP].dst, pkt[layer].dport))
    return sorted(found, key=lambda e: (e.host, e.port))


@app.callback()
def capture(
    output: Annotated[Path, typer.Option(
        "-o", "--output", metavar="FILE.pcap", show_default=False, help="pcap file to write.")],
    lab: Annotated[Path | None, typer.Option(
        "--lab", show_default=False, help="Topology: watch its rack's cluster endpoints.")] = None,
    rack: Annotated[str | None, typer.Option(
        "--rack", show_default=False, help="Rack of --lab (default: the first).")] = None,
    iface: Annotated[str | None, typer.Option(
        "-i", "--interface", show_default=False,
        help="Interface (default: the rack's capture.interface); alone: standard ports.")] = None,
    phone: Annotated[str | None, typer.Option(
        "--phone", show_default=False, help="Only this phone (name with --lab, or its IP).")
    ] = None,
    duration: Annotated[float | None, typer.Option(
        "--duration", min=0.1, show_default=False, help="Seconds to capture (default: until "
        "Ctrl-C).")] = None,
    endpoint: Annotated[list[str] | None, typer.Option(
        "--endpoint", metavar="SERVICE=HOST:PORT", show_default=False,
        help="Also watch this endpoint (repeatable), e.g. tvs=127.0.1.1:40123.")] = None,
) -> None:
    """Capture phone traffic to a pcap, then print each phone's file fetches, TLS and SIP."""
    extra = [_endpoint(text) for text in endpoint or []]
    endpoints, phones, where, address = _plan(lab, rack, iface, phone, extra)
    if not Path("/sys/class/net", where).is_dir():
        raise UsageError(f"no network interface {where!r} on this host (-i)")
    if not output.parent.is_dir():
        raise UsageError(f"cannot write {output}: directory {output.parent} does not exist")
    from phone_drivers.capture import CaptureResult, PacketCapture

    # The driver needs endpoints to build its filter; with none known the placeholder is
    # replaced by the port-only filter, keeping the driver's loopback `inbound` suffix.
    cap = PacketCapture(endpoints or [Endpoint(Service.TFTP, "0.0.0.0")], pcap_path=output,
                        iface=where, phones=phones)
    inbound = cap.filter.endswith(" and inbound")
    expression = cap.filter.removesuffix(" and inbound") if endpoints else HOSTLESS
    if address:
        expression = f"({expression}) and host {address}"
    cap.filter = f"({expression}) and inbound" if inbound else expression
    with until_signalled() as stop:
        cap.start()  # CaptureUnavailable (a LabError, exit 3) says why it cannot
        until = f"for {duration:g} s" if duration else "until Ctrl-C"
        print(f"capturing on {where} {until}: {cap.filter}", file=sys.stderr, flush=True)
        deadline = None if duration is None else time.monotonic() + duration
        while not stop.wait(0.1):
            if deadline is not None and time.monotonic() >= deadline:
                break
        try:
            result = cap.stop()
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    flows = result.phones
    if not endpoints:
        from scapy.utils import rdpcap

        from phone_drivers.capture_flows import analyse

        flows = analyse(packets := rdpcap(str(output)), _discover(packets), {})
    if phone is not None:
        flows = {k: v for k, v in flows.items() if k in (phone.upper(), address)}
    print(CaptureResult(result.pcap, result.packets, flows).describe())
    if not flows:
        print("no phone traffic to the watched endpoints")
