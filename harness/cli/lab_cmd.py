"""`phonelab lab validate` and `phonelab models`: check topology files, list phone models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.cli.common import out_console
from harness.phone_models import MODELS
from lab_topology import load_lab, phone_address

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
