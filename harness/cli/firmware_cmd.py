"""`phonelab firmware`: make a synthetic load folder and check one (docs/REAL_WIRE.md §5).

Cisco's firmware cannot ship with phonelab, yet the twin and the harness's own
tests need a load under test to serve; `make-example` writes one of the right
shape, signed by the lab firmware key. `show` prints what a load folder holds
and whether the lab key verifies each file, as a phone would check it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.cli.common import out_console
from harness.errors import UsageError
from harness.firmware.example import write_example
from harness.firmware.folder import check_folder
from harness.firmware.signer import lab_firmware_key
from harness.formats.errors import FormatError
from harness.formats.header import parse_header, verify_signature
from harness.formats.loads import parse_loads
from harness.phone_models import lookup

app = typer.Typer(no_args_is_help=True)


@app.command("make-example")
def make_example(
    directory: Annotated[Path, typer.Argument(help="Folder to write (created if missing).")],
    model: Annotated[str, typer.Option("--model", help="Phone model, e.g. 7962.")] = "7962",
    load: Annotated[str, typer.Option("--load", help="Load id (loadInformation).")]
    = "SIP42.9-4-2SR3-1S",
) -> None:
    """Write a synthetic load: <load>.loads, its .sbn images, term<NN>.default.loads."""
    key = lookup(model).model
    if not load or any(not (ch.isalnum() or ch in "._-") for ch in load):
        raise UsageError(f"load id {load!r} may hold only letters, digits, '.', '_' and '-'")
    written = write_example(directory, key, load)
    out_console.print(f"{directory}: {len(written)} files for {key} load {load} "
                      "(synthetic, signed by the lab firmware key)")


@app.command("show")
def show(
    directory: Annotated[Path, typer.Argument(help="Firmware folder.")],
    load: Annotated[str, typer.Option("--load", help="Load id to check.")],
) -> None:
    """List the images <load>.loads names and whether each is present and verifies."""
    folder = check_folder(directory, load)
    loads = parse_loads((folder / f"{load}.loads").read_bytes())
    table = Table(title=f"{load} in {folder}")
    for column in ("file", "bytes", "signature"):
        table.add_column(column)
    bad = 0
    for name in [f"{load}.loads", *loads.images]:
        path = folder / name
        if not path.is_file():
            table.add_row(name, "-", "missing")
            bad += 1
            continue
        data = path.read_bytes()
        try:
            ok = verify_signature(data, parse_header(data), lab_firmware_key().public_key())
        except FormatError as exc:
            ok, verdict = False, f"malformed: {exc}"
        else:
            verdict = "lab key ok" if ok else "not signed by the lab key"
        bad += not ok
        table.add_row(name, str(len(data)), verdict)
    out_console.print(table)
    if bad:
        raise typer.Exit(1)
