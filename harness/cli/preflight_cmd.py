"""`phonelab preflight`: predict which phones a planned certificate change would strand.

Read-only against a live cluster (a real CUCM or `phonelab serve`): it reads what a
phone reads over TFTP and asks TVS, then plays the plan on a shadow twin of that
cluster (see harness/preflight/simulate.py) and, for comparison, the documented safe
order. Exit 0: nobody stranded; 1: some phones would be (or a certificate expired);
2: a user mistake; 3: the cluster could not be read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import err_console, out_console
from harness.cli.options import parse_servers, seconds
from harness.errors import UsageError
from harness.preflight.plan import parse_plan, safe_order
from harness.preflight.read import read_cluster
from harness.preflight.report import PreflightResult, dump_json, render
from harness.preflight.simulate import predict

app = typer.Typer(no_args_is_help=True)
_PHONE = re.compile(r"^(SEP[0-9A-F]{12})(?::([0-9A-Za-z-]+))?$")


def _phones(spec: str | None, path: Path | None) -> list[tuple[str, str | None]]:
    texts = [t for t in (spec or "").split(",") if t.strip()]
    if path is not None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--phones-file {path}: cannot read it ({exc})") from None
        texts += [line.split("#", 1)[0] for line in lines]
    phones = []
    for text in (t.strip().upper().replace(" ", "") for t in texts):
        if not text:
            continue
        match = _PHONE.match(text)
        if match is None:
            raise UsageError(f"phone {text!r}: write SEP followed by 12 hex digits, "
                             "optionally :MODEL (SEP001122334455:7962)")
        phones.append((match.group(1), match.group(2)))
    return phones


@app.callback(invoke_without_command=True)
def preflight(
    tftp: Annotated[str, typer.Option(help="TFTP servers HOST[:PORT][,HOST[:PORT]…] (port 69).")],
    plan: Annotated[str, typer.Option(help="Steps, comma separated: regenerate-tftp, "
                                           "regenerate-tvs, regenerate-capf, restart-tftp, "
                                           "reset-phones, restore-backup, prepare-rollback, "
                                           "rollback, return-to-8.0, enable-mixed-mode, "
                                           "ctl-client.")],
    tvs: Annotated[str | None, typer.Option(help="TVS servers HOST[:PORT],… (port 2445).")] = None,
    phones: Annotated[str | None, typer.Option(
        help="Phones SEP<MAC>[:MODEL],… (model read from the config's load when omitted).")] = None,
    phones_file: Annotated[Path | None, typer.Option(
        help="File with one SEP<MAC>[:MODEL] per line (# comments).")] = None,
    default_only: Annotated[bool, typer.Option(
        help="No phone list: read only the trust lists and XMLDefault.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of tables.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds per TFTP/TVS request.",
                                           callback=seconds)] = 3.0,
) -> None:
    """Predict each phone's end state under PLAN, and the safe order, without touching it."""
    steps = parse_plan(plan)
    tftp_servers = list(parse_servers(tftp, "--tftp", 69))
    tvs_servers = list(parse_servers(tvs, "--tvs", 2445)) if tvs else []
    chosen = _phones(phones, phones_file)
    if not chosen and not default_only:
        raise UsageError("name the phones (--phones or --phones-file) or pass --default-only")
    if chosen and default_only:
        raise UsageError("--default-only reads no phone: drop --phones/--phones-file")
    if not as_json:
        err_console.print(f"reading the cluster from {len(tftp_servers)} TFTP server(s)…")
    snap = read_cluster(tftp_servers, tvs_servers, chosen, default_only=default_only,
                        timeout=timeout)
    mixed = snap.ctl is not None
    safe = safe_order(steps, mixed=mixed)
    if not as_json:
        err_console.print("playing the plan and the safe order on a shadow twin…")
    predictions = predict(snap, steps) if chosen else []
    safe_predictions = predict(snap, safe) if chosen else []
    result = PreflightResult(snap, steps, predictions, safe, safe_predictions)
    if as_json:
        print(dump_json(result))
    else:
        render(result, out_console)
    print(result.summary(), flush=True)
    raise typer.Exit(result.exit_code)
