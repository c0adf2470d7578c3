"""`phonelab twin up`: run an emulated rack (cluster, fake switch, phones) until stopped.

While it runs, `phonelab power PHONE` and `phonelab console PHONE` find it by phone
name (`harness.cli.running_twins`). Its switch login comes from the environment
variables the topology names for the switch (PHONELAB_SWITCH_USER and
PHONELAB_SWITCH_PASSWORD by default) when both are set, as on hardware; otherwise the
twin makes one up. The table never shows the password: `--json` and the private run
record carry it for programs.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from harness.cli import running_twins
from harness.cli.common import err_console, out_console, until_signalled
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
    lab: Annotated[Path | None, typer.Option(metavar="FILE",
                                             help="Topology file (backend: twin).")] = None,
    rack: Annotated[str | None, typer.Option(metavar="NAME",
                                             help="Rack of --lab (default: the first).")] = None,
    profile: Annotated[str, typer.Option(metavar="[fast|realistic]",
                                         help="Timing profile.")] = "fast",
    workdir: Annotated[Path | None, typer.Option(metavar="DIR",
                                                 help="Keeps the PKI (default: temp).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="First line: one JSON object.")] = False,
) -> None:
    """Start the twin and print where its switch, consoles and endpoints are.

    Runs until Ctrl-C or SIGTERM, then powers everything down cleanly.
    """
    spec = load_lab(lab) if lab else twin_lab(phones)
    if spec.backend != "twin":
        raise UsageError(f"{lab}: backend is {spec.backend!r}; `twin up` needs backend: twin "
                         f"(for a real rack, serve its cluster: `phonelab serve --lab {lab}`)")
    chosen = next((r for r in spec.racks if rack in (None, r.name)), None)
    if chosen is None:
        named = lab or f"the generated {phones}-phone lab"
        raise UsageError(f"{named}: no rack {rack!r}; racks are "
                         f"{', '.join(r.name for r in spec.racks)}")
    work = workdir or Path(tempfile.mkdtemp(prefix="phonelab-twin-"))
    credentials = chosen.switches[0].credentials
    login = (os.environ.get(credentials.username_env), os.environ.get(credentials.password_env))
    with until_signalled() as stop:
        twin = TwinRack(spec, chosen, work, profile=profile)
        if login[0] and login[1]:  # the topology's credentials, as a hardware rack has them
            for switch in twin.switches.values():
                switch.username, switch.password = login[0], login[1]
        record = None
        try:
            if not twin.start(progress=_progress(), cancelled=stop.is_set):
                err_console.print("twin up: stopped while starting; nothing left running")
                raise typer.Exit(130)
            where = twin.describe()
            record = running_twins.record(where, spec.name, lab)
            if as_json:
                print(json.dumps(where), flush=True)
            else:
                _show(where, record, from_env=(credentials.username_env,
                                               credentials.password_env)
                      if login[0] and login[1] else None)
            stop.wait()
        finally:
            if record is not None:
                running_twins.forget(record)
            twin.stop()
    if not as_json:
        out_console.print("twin stopped")


def _progress(every: float = 1.0) -> Callable[[int, int], None]:
    """A stderr line a second while phones are made: a large twin takes minutes."""
    last = [time.monotonic()]

    def show(done: int, total: int) -> None:
        if time.monotonic() - last[0] >= every:
            last[0] = time.monotonic()
            err_console.print(f"starting the twin: {done}/{total} phones (Ctrl-C stops)")

    return show


def _show(where: dict[str, Any], record: Path, from_env: tuple[str, str] | None) -> None:
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
    secret = (f"password from ${from_env[1]}" if from_env else
              f"password in `twin up --json` and in {record} (private to you)")
    out_console.print(f"switch: ssh {switch['username']}@{switch['host']} -p {switch['port']} "
                      f"(netmiko cisco_ios; {secret})", soft_wrap=True)
    first = where["phones"][0]["name"]
    out_console.print(f"try: phonelab power cycle {first}   phonelab console {first}",
                      soft_wrap=True)
    out_console.print("running; Ctrl-C to stop")
