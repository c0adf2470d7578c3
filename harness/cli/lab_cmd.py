"""`phonelab lab validate|prepare|status` and `phonelab models`: topology files, host, racks,
phone models."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from harness.cli.common import out_console
from harness.errors import UsageError
from harness.phone_models import MODELS
from lab_topology import load_lab, phone_address

if TYPE_CHECKING:
    from harness.rack_network.prepare import Finding

app = typer.Typer(no_args_is_help=True)


@app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="Topology file (YAML).")],
) -> None:
    """Check a topology file; print its racks, or one line per mistake (exit 2)."""
    lab = load_lab(path)
    table = Table(title=f"{lab.name} ({lab.backend})")
    for column in ("rack", "phone", "model", "switch port", "address / console"):
        table.add_column(column)
    for rack in lab.racks:
        for phone in rack.phones:
            where = (str(phone_address(lab, rack, phone)) if lab.backend == "twin"
                     else phone.console.url if phone.console else "-")
            table.add_row(rack.name, phone.name, phone.model, f"{phone.switch} {phone.port}", where)
    out_console.print(table)
    out_console.print(f"{path}: valid ({len(lab.racks)} rack(s))")


def models() -> None:
    """Per-model capabilities (the "Unified CM Phone Feature List" equivalent)."""
    table = Table(title="Phone models")
    for column in ("model", "family", "Security by Default", "protocols", "console", "keypad"):
        table.add_column(column)
    for model in sorted(MODELS.values(), key=lambda m: m.model):
        table.add_row(model.model, model.family.value, "yes" if model.supports_sbd else "no",
                      "/".join(model.protocols), model.console, model.keypad)
    out_console.print(table)


@app.command("prepare")
def prepare(
    lab: Annotated[Path, typer.Option("--lab", show_default=False, help="Topology file.")],
    rack: Annotated[str | None, typer.Option(
        "--rack", show_default=False, help="Rack of --lab (default: the first).")] = None,
    interface: Annotated[str | None, typer.Option(
        "--interface", show_default=False,
        help="Interface facing the phones (default: the rack's dhcp.interface).")] = None,
    netns: Annotated[str | None, typer.Option(
        "--netns", show_default=False, help="Check (and fix) inside this network namespace.")
    ] = None,
    do_apply: Annotated[bool, typer.Option(
        "--apply", help="Run the fixes that are commands (needs root).")] = False,
) -> None:
    """Check that this host can serve the rack: node addresses, ports, dnsmasq.

    Prints each check and, for what is missing, the exact command that fixes it.
    Exit 0 ready, 1 something is missing, 2 a mistake in the file or options.
    """
    from harness.cli.lab_target import resolve  # imports netmiko: only for this command
    from harness.cluster.from_spec import cluster_ports
    from harness.rack_network.host import host_network
    from harness.rack_network.prepare import apply, check_rack

    if interface is not None and not re.fullmatch(r"[A-Za-z0-9_.@:-]{1,15}", interface):
        raise UsageError(f"bad --interface {interface!r}: give a network interface name "
                         "such as eth1 (`ip link` lists them)")
    target = resolve(lab, rack)
    findings = check_rack(target.rack, host_network(netns), interface, cluster_ports(target.rack),
                          netns)
    if do_apply and any(f.command for f in findings if not f.ok):
        _show(findings)  # what is missing, and the commands about to run
        try:
            for line in apply(findings):
                print(f"ran: {line}", flush=True)
        except PermissionError as exc:
            raise UsageError(f"--apply: {exc}; run the commands above with sudo, or this "
                             "command as root") from None
        findings = check_rack(target.rack, host_network(netns), interface,
                              cluster_ports(target.rack), netns)
        print("after --apply:")
    _show(findings)
    missing = sum(not f.ok for f in findings)
    where = f"rack {target.rack.name} of {lab}"
    if missing:
        print(f"{where}: {missing} thing(s) to fix before `phonelab serve`", flush=True)
        raise typer.Exit(1)
    print(f"{where}: this host is ready", flush=True)


def _show(findings: list[Finding]) -> None:
    """Plain lines, never wrapped: the fixes are meant to be copied whole."""
    for finding in findings:
        print(f"{'ok' if finding.ok else 'MISSING':<7} {finding.what}")
        for fix in finding.fix:
            print(f"        fix: {fix}")
    sys.stdout.flush()


@app.command("status")
def status(
    lab: Annotated[Path, typer.Option("--lab", show_default=False, help="Topology file.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=0.2, help="Seconds each switch or console has to answer.")] = 2.0,
) -> None:
    """Who holds each rack, since when, and whether its switches and consoles answer.

    A holder is a file lease or a labgrid place.
    Exit 0 when everything answers, 1 when something does not."""
    from harness.cli.lab_status import rack_status

    spec = load_lab(lab)
    racks = [rack_status(spec, rack, None, timeout) for rack in spec.racks]
    if as_json:
        print(json.dumps({"lab": spec.name, "backend": spec.backend,
                          "racks": [r.as_json() for r in racks]}, indent=2), flush=True)
    else:
        table = Table(title=f"{spec.name} ({spec.backend})")
        for column in ("rack", "lease", "holder", "since", "switches", "consoles"):
            table.add_column(column, overflow="fold")
        for r in racks:
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.since)) \
                if r.holder and r.since else "-"
            holder = f"unknown: {r.error}" if r.error else r.holder or "free"
            table.add_row(r.rack, r.where, holder, since, _probes(r.switches) or "-",
                          _probes(r.consoles) or "-")
        out_console.print(table)
    if not all(r.healthy for r in racks):
        raise typer.Exit(1)


def _probes(probes: list[Any]) -> str:
    return "\n".join(f"{p.what} {p.address}: {p.detail}" for p in probes)


@app.command("kick")
def kick_rack(
    lab: Annotated[Path, typer.Option("--lab", show_default=False, help="Topology file.")],
    rack: Annotated[str | None, typer.Option(
        "--rack", show_default=False, help="Rack of --lab (needed when it has several).")
    ] = None,
) -> None:
    """Free a rack whose holder is gone (a killed run, a dead host).

    Cancels its labgrid reservations and releases its place, or removes its lease file.
    Check `lab status` first: a running holder loses the rack under its feet."""
    from harness.leases.kick import kick

    spec = load_lab(lab)
    if rack is None and len(spec.racks) > 1:
        raise UsageError(f"{lab} has racks {', '.join(r.name for r in spec.racks)}; "
                         "name one with --rack")
    chosen = next((r for r in spec.racks if rack in (None, r.name)), None)
    if chosen is None:
        raise UsageError(f"{lab}: no rack {rack!r}; racks are "
                         f"{', '.join(r.name for r in spec.racks)}")
    holder = kick(spec, chosen)
    shown = f"was held by {holder.describe()}" if holder else "was free"
    print(f"rack {chosen.name}: released ({shown})", flush=True)
