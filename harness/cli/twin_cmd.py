"""`phonelab twin up`: run an emulated rack (cluster, fake switch, phones) until stopped."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from harness.cli.common import out_console, until_signalled
from harness.errors import UsageError
from lab_topology import load_lab
from lab_topology.generate import twin_lab
from phone_drivers.emulator.capacity import raise_fd_limit, twin_capacity
from phone_drivers.emulator.twin import TwinRack

app = typer.Typer(no_args_is_help=True)


def _phone_count(value: int) -> int:
    if value < 1:
        raise typer.BadParameter(f"{value}: a twin rack needs at least one phone")
    raise_fd_limit()
    capacity = twin_capacity()
    if value > capacity.max_phones:
        raise typer.BadParameter(f"{value} phones do not fit on this host: at most "
                                 f"{capacity.max_phones}, limited by {capacity.limited_by}")
    return value


@app.command("up")
def up(
    phones: Annotated[int, typer.Option(help="Generate a rack with this many phones "
                                        "(bounded by the host's ptys and open files).",
                                        callback=_phone_count)] = 4,
    lab: Annotated[Path | None, typer.Option(help="Topology file (backend: twin).")] = None,
    rack: Annotated[str | None, typer.Option(help="Rack of --lab (default: the first).")] = None,
    profile: Annotated[str, typer.Option(help="Timing profile: fast or realistic.")] = "fast",
    workdir: Annotated[Path | None, typer.Option(help="Keeps the PKI (default: temp).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="First line: one JSON object.")] = False,
) -> None:
    """Start the twin and print where its switch, consoles and endpoints are.

    Runs until Ctrl-C or SIGTERM, then powers everything down cleanly.
    """
    spec = load_lab(lab) if lab else twin_lab(phones)
    if spec.backend != "twin":
        raise UsageError(f"{lab}: backend is {spec.backend!r}; `twin up` needs backend: twin")
    chosen = next((r for r in spec.racks if rack in (None, r.name)), None)
    if chosen is None:
        raise UsageError(f"no rack {rack!r}; racks are {[r.name for r in spec.racks]}")
    work = workdir or Path(tempfile.mkdtemp(prefix="phonelab-twin-"))
    with until_signalled() as stop:
        twin = TwinRack(spec, chosen, work, profile=profile)
        twin.start()
        try:
            where = twin.describe()
            if as_json:
                print(json.dumps(where), flush=True)
            else:
                _show(where)
            stop.wait()
        finally:
            twin.stop()
    if not as_json:
        out_console.print("twin stopped")


def _show(where: dict[str, Any]) -> None:
    """Tables for people; no secret is printed (`--json` carries them for programs)."""
    table = Table(title=f"twin rack {where['rack']}")
    for column in ("phone", "model", "address", "console", "web", "switch port"):
        table.add_column(column)
    for p in where["phones"]:
        console = p["console"] or (f"ssh port {p['ssh']}" if p.get("ssh") else "-")
        table.add_row(p["name"], p["model"], p["address"], console, p.get("web") or "-",
                      p["switch_port"])
    out_console.print(table)
    endpoints = Table(title="cluster endpoints")
    endpoints.add_column("endpoint")
    endpoints.add_column("listens on")
    for name, address in sorted(where["cluster"].items()):
        endpoints.add_row(name, str(address))
    out_console.print(endpoints)
    switch = where["switch"]
    out_console.print(f"switch: ssh {switch['username']}@{switch['host']} -p {switch['port']} "
                      "(netmiko cisco_ios; the password is in `twin up --json`)")
    out_console.print("running; Ctrl-C to stop")
