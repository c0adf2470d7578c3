"""`phonelab serve`: run a rack's whole cluster (TFTP, TVS, CAPF, HTTPS, SIP) for real phones.

This is the bench use of the harness's security plane: the same `Cluster` a test
run starts, built from the topology (nodes, release, mode, phones in the database)
with the lab PKI in `--pki`, so a phone cabled to the bench boots against exactly
what the tests will serve it. Progress comes from the event timeline: on a
terminal a live table (endpoint, address, requests so far, last event); when
stdout is a pipe or file, where a live table would print nothing until the end,
one line per event instead and the table once at the end. A port that cannot be
bound (busy, or below 1024 without root) is a lab error: one line, exit 3.
A hardware rack with a `dhcp:` section also gets dnsmasq (`harness.rack_network`),
listed as `dhcp@IFACE` and stopped with the rest.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from harness.cli.common import out_console, until_signalled
from harness.cli.lab_target import resolve
from harness.cli.rack_lease import ForceOpt, check_rack, holding_rack
from harness.cluster.cluster import Cluster
from harness.cluster.from_spec import cluster_ports, cluster_state, ssh_logins
from harness.cluster.plane import Ports
from harness.errors import LabError, UsageError
from harness.events import Event, EventLog
from harness.pki import LabPKI
from harness.pki.locations import rack_pki
from harness.pki.store import MANIFEST
from harness.rack_network.dhcp_server import DhcpServer
from harness.services.sccp import SccpEndpoint
from lab_topology.schema import RackSpec

app = typer.Typer(
    invoke_without_command=True, no_args_is_help=True, subcommand_metavar="",
    context_settings={"allow_interspersed_args": True},
    epilog="Ports come from the topology (0 = any free port) unless --standard-ports "
           "(69, 2445, 3804, 8443, 5060: what real phones use; below 1024 needs root) or "
           "--ephemeral-ports. A rack with a dhcp section also runs dnsmasq (--no-dhcp: not). "
           "Ctrl-C or SIGTERM stop every endpoint and exit 0. `phonelab lab prepare` checks "
           "the host first.")
_NOT_REQUESTS = {"tftp.rebuilt"}  # the server's own doing, not a phone's request


class _Status:
    """Requests and the last event per endpoint, fed by the event log's listener."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.endpoints = {f"{s.value}@{n}": e for (s, n), e in cluster.plane.endpoints.items()}
        self.requests: Counter[str] = Counter()
        self.last: dict[str, str] = {}
        self._lock = threading.Lock()

    def key(self, event: Event) -> str | None:
        """Which endpoint recorded `event` (TVS and CAPF name their node in the data)."""
        if event.source in self.endpoints:
            return event.source
        plain = event.source.replace("-tls@", "@", 1)  # sccp-tls@N: the TLS side of sccp@N
        if plain in self.endpoints:
            return plain
        node = f"{event.source}@{event.data.get('node')}"
        if node in self.endpoints:
            return node
        return next((k for k in self.endpoints if k.startswith(f"{event.source}@")), None)

    def record(self, event: Event) -> str | None:
        key = self.key(event)
        if key is None:
            return None
        details = " ".join(f"{k}={_short(v)}" for k, v in event.data.items()
                           if k not in ("peer", "node"))
        stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
        text = f"{stamp} {event.kind} {event.phone or event.data.get('peer', '-')} {details}"
        with self._lock:
            self.requests[key] += event.kind not in _NOT_REQUESTS
            self.last[key] = text.strip()
        return f"{key:<14} {text.strip()}"

    def address(self, key: str) -> str:
        endpoint = self.endpoints[key]
        if not endpoint.running:
            return "not running"
        tls = endpoint.tls_address if isinstance(endpoint, SccpEndpoint) else None
        extra = f" tls {tls[1]}" if tls else ""  # SCCP listens in plain and TLS
        return f"{endpoint.address[0]}:{endpoint.address[1]}{extra}"

    def table(self) -> Table:
        table = Table(title=f"cluster {self.cluster.name} (Ctrl-C stops)")
        for column in ("endpoint", "address", "requests", "last event"):
            table.add_column(column, overflow="fold")
        with self._lock:
            for key in self.endpoints:
                table.add_row(key, self.address(key), str(self.requests[key]),
                              self.last.get(key, "-"))
        return table


def _short(value: object) -> str:
    """Serials and digests are 40 hex digits; a table cell needs only their start."""
    text = str(value)
    return text if len(text) <= 20 else f"{text[:12]}…"


def _pki(root: Path, rack: RackSpec) -> LabPKI:
    """Load the lab PKI, or create it for the rack's nodes (saying so) when missing."""
    nodes = rack.cluster.nodes
    if not (root / MANIFEST).is_file():
        pki = LabPKI.init(root, [n.name for n in nodes],
                          addresses={n.name: str(n.address) for n in nodes})
        print(f"initialised a lab PKI for {', '.join(pki.nodes)} in {root}", flush=True)
        return pki
    pki = LabPKI.load(root)
    if missing := [n.name for n in nodes if n.name not in pki.nodes]:
        raise UsageError(f"lab PKI {root} has nodes {', '.join(pki.nodes)}, not "
                         f"{', '.join(missing)}; give another --pki directory")
    return pki


@app.callback()
def serve(
    lab: Annotated[Path, typer.Option("--lab", show_default=False, help="Topology file.")],
    rack: Annotated[str | None, typer.Option(
        "--rack", show_default=False, help="Rack of --lab (default: the first).")] = None,
    standard: Annotated[bool | None, typer.Option(
        "--standard-ports/--ephemeral-ports", show_default=False,
        help="Override the topology's ports: the real ones, or any free ones.")] = None,
    pki_dir: Annotated[Path | None, typer.Option(
        "--pki", show_default=False, help="Lab PKI directory; created when missing "
        "(default: ~/.local/share/phonelab/LAB/RACK/pki, the one pytest uses too; "
        "PHONELAB_DATA moves it).")] = None,
    run_dir: Annotated[Path | None, typer.Option(
        "--run-dir", show_default=False, help="Where dnsmasq keeps its config, leases and "
        "log (default: ./run/LAB-RACK).")] = None,
    dhcp_on: Annotated[bool, typer.Option(
        "--dhcp/--no-dhcp", help="Serve DHCP when the rack has a dhcp section.")] = True,
    force: ForceOpt = False,
) -> None:
    """Serve every endpoint of the rack's cluster until Ctrl-C, with a live status table."""
    target = resolve(lab, rack)
    check_rack(target, force, "serve")  # refuse before building anything
    spec = target.rack
    logins = ssh_logins(spec)  # phones with an ssh:// console: sshUserId/sshPassword, from env
    ports = cluster_ports(spec) if standard is None else Ports.standard() if standard else Ports()
    pki = _pki(pki_dir or rack_pki(target.lab.name, spec.name), spec)
    events = EventLog()
    cluster = Cluster(cluster_state(spec, logins), pki, events=events, ports=ports, name=spec.name)
    status = _Status(cluster)
    dhcp = None
    if spec.dhcp is not None and dhcp_on:
        dhcp = DhcpServer(spec, run_dir or Path("run") / f"{target.lab.name}-{spec.name}", events)
        status.endpoints[dhcp.source] = dhcp
    live = out_console.is_terminal

    def on_event(event: Event) -> None:
        line = status.record(event)
        if line and not live:
            print(line, flush=True)

    events.subscribe(on_event)
    with holding_rack(target, force, "serve"), until_signalled() as stop:
        _serve_until(stop, cluster, dhcp, status, spec.name, lab, ports, live)
    print(f"stopped after {sum(status.requests.values())} requests", flush=True)


def _serve_until(stop: threading.Event, cluster: Cluster, dhcp: DhcpServer | None,
                 status: _Status, name: str, lab: Path, ports: Ports, live: bool) -> None:
    try:
        try:
            cluster.start()
        except (OSError, LabError) as exc:
            low = any(0 < p < 1024 for p in vars(ports).values())
            hint = " (ports below 1024 need root; --ephemeral-ports picks free ones)" if low else ""
            if "assign requested address" in str(exc):
                hint = (f" (this host lacks a node address: `phonelab lab prepare --lab {lab}` "
                        "prints the commands that add it)")
            raise LabError(f"cannot start cluster {name}: {exc}{hint}") from None
        if dhcp is not None:
            dhcp.start()
        if live:
            with Live(get_renderable=status.table, console=out_console, refresh_per_second=2):
                while not stop.wait(0.25):
                    pass
        else:
            for key in status.endpoints:
                print(f"{key:<14} {status.address(key)}", flush=True)
            print(f"serving cluster {name} of {lab}; Ctrl-C stops", flush=True)
            while not stop.wait(0.25):
                pass
            out_console.print(status.table())
    finally:
        if dhcp is not None:
            dhcp.stop()
        cluster.stop()
