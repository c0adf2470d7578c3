"""`phonelab storm`: point thousands of twin phones at a cluster and time every boot stage.

Answers "will our TFTP and TVS survive every phone resetting after this certificate
change?" against any cluster (a real CUCM, `phonelab serve`, a plain tftpd): phones
fetch what real phones fetch, in order, verify every signature with the twin's
firmware rules, ask TVS, open HTTPS and register only when those servers are given.
Read-only towards the cluster except for `--sip` registrations; `--ramp` spreads the
power-ons. Exit 0 when every phone got through, 1 when some failed, 2 on bad input.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.cli.common import err_console, out_console
from harness.cli.options import parse_servers
from harness.errors import UsageError
from harness.storm.plan import (
    SIP_PORT,
    TFTP_PORT,
    TVS_PORT,
    StormPlan,
    check_numbers,
    parse_models,
    parse_source,
    parse_url,
)
from harness.storm.plot import render_svg
from harness.storm.run import run_storm
from harness.storm.summary import last_line, summarize

app = typer.Typer(no_args_is_help=True)


def _plan(tftp: str, tvs: str | None, https: str | None, sip: str | None, phones: int,
          models: str | None, ramp: float, timeout: float, first_mac: str | None,
          source: str | None) -> StormPlan:
    check_numbers(phones, ramp, timeout)
    sip_servers = parse_servers(sip, "--sip", SIP_PORT) if sip else None
    if sip_servers is not None and len(sip_servers) > 1:
        raise UsageError("--sip takes one HOST[:PORT]")
    mac = (first_mac or "").upper().removeprefix("SEP").replace(":", "")
    if first_mac is not None and (len(mac) != 12 or any(c not in "0123456789ABCDEF" for c in mac)):
        raise UsageError(f"--first-mac {first_mac!r} is not 12 hex digits")
    extra: dict[str, Any] = {"mac_base": int(mac, 16)} if first_mac else {}
    if models:
        extra["models"] = parse_models(models)
    if int(extra.get("mac_base", 0)) + phones > 0xFFFFFFFFFFFF:
        raise UsageError("--first-mac leaves no room for that many phones")
    return StormPlan(
        tftp=parse_servers(tftp, "--tftp", TFTP_PORT), phones=phones,
        tvs=parse_servers(tvs, "--tvs", TVS_PORT) if tvs else (),
        https=parse_url(https) if https else None,
        sip=sip_servers[0] if sip_servers else None, ramp=ramp, timeout=timeout,
        source=parse_source(source) if source else None, **extra)


def _out_dir(out: Path | None) -> Path:
    if out is None:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        out = Path("phonelab-storm") / stamp
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create it ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise UsageError(f"--out {out}: not writable")
    return out


def _tables(summary: dict[str, Any]) -> None:
    stages = Table(title="time per stage (phones that got through it)")
    for column in ("stage", "phones", "p50 s", "p90 s", "p99 s", "max s"):
        stages.add_column(column, justify="left" if column == "stage" else "right")
    for name, row in summary["stages"].items():
        stages.add_row(name, str(row["count"]), *(
            "-" if row[k] is None else f"{row[k]:.3f}" for k in ("p50_s", "p90_s", "p99_s",
                                                                  "max_s")))
    out_console.print(stages)
    if summary["failures_by_cause"]:
        failures = Table(title="failures")
        failures.add_column("stage: cause")
        failures.add_column("phones", justify="right")
        failures.add_column("example")
        for cause, count in summary["failures_by_cause"].items():
            failures.add_row(cause, str(count), summary["failure_examples"].get(cause, ""))
        out_console.print(failures)
        servers = Table(title="failures by server")
        servers.add_column("server (stage)")
        servers.add_column("phones", justify="right")
        for server, count in summary["failures_by_server"].items():
            servers.add_row(server, str(count))
        out_console.print(servers)
    if summary["server_hiccups"]:
        out_console.print("servers that made phones fail over: " + ", ".join(
            f"{k} x{v}" for k, v in summary["server_hiccups"].items()))
    flow = summary["throughput"]
    out_console.print(f"phones ok per {flow['bucket_s']:g} s: "
                      + " ".join(str(v) for v in flow["ok"]))


@app.callback(invoke_without_command=True)
def storm(
    tftp: Annotated[str, typer.Option(help="TFTP servers HOST[:PORT][,HOST[:PORT]…] (port 69); "
                                           "phones are spread over them and fail over in order.")],
    phones: Annotated[int, typer.Option(help="How many phones boot.")],
    tvs: Annotated[str | None, typer.Option(
        help="TVS servers HOST[:PORT],… (port 2445): every TVS question goes there, and each "
             "phone asks at least once.")] = None,
    https: Annotated[str | None, typer.Option(
        help="Phone-services URL https://HOST:PORT/PATH: each phone judges its certificate "
             "(trust list, else TVS) and GETs it.")] = None,
    sip: Annotated[str | None, typer.Option(
        help="SIP registrar HOST[:PORT] (5060, TCP): phones REGISTER. Without it nothing "
             "registers.")] = None,
    models: Annotated[str | None, typer.Option(
        help="Models in turn, e.g. 7962,8845 (default: the twin lab's mix).")] = None,
    ramp: Annotated[float, typer.Option(help="Seconds over which phones power on.")] = 0.0,
    timeout: Annotated[float, typer.Option(
        help="Seconds for the whole storm; phones not done by then fail.")] = 300.0,
    first_mac: Annotated[str | None, typer.Option(
        help="MAC of the first phone (then +1 each); default 0000A0000000, the twin "
             "lab's.")] = None,
    source: Annotated[str | None, typer.Option(
        help="Network the phones take their own addresses from, one each (e.g. "
             "127.40.0.0/16); default: the system picks.")] = None,
    processes: Annotated[int, typer.Option(
        help="Worker processes driving the phones (one asyncio loop each).")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="JSON summary on stdout.")] = False,
    out: Annotated[Path | None, typer.Option(
        help="Directory for storm.json and storm.svg (default phonelab-storm/<time>).")] = None,
    progress_bar: Annotated[bool, typer.Option(
        "--progress/--no-progress", help="Live progress bar on stderr.")] = True,
) -> None:
    """Boot N twin phones against a cluster at once and report every stage's timing."""
    plan = _plan(tftp, tvs, https, sip, phones, models, ramp, timeout, first_mac, source)
    if not 1 <= processes <= max(1, (os.cpu_count() or 1) * 4):
        raise UsageError(f"--processes {processes}: give 1 to {(os.cpu_count() or 1) * 4}")
    directory = _out_dir(out)
    bar = Progress(TextColumn("storm"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("failed {task.fields[failed]}"), TimeElapsedColumn(),
                   console=err_console, transient=True, disable=not progress_bar)
    with bar:
        task = bar.add_task("storm", total=plan.phones, failed=0)

        def update(done: int, failed: int) -> None:
            bar.update(task, completed=done, failed=failed)

        run = run_storm(plan, processes=processes, progress=update)
    summary = summarize(run)
    (directory / "storm.json").write_text(json.dumps(summary, indent=1) + "\n")
    (directory / "storm.svg").write_text(render_svg(summary))
    if as_json:
        print(json.dumps(summary, indent=1))
    else:
        _tables(summary)
        out_console.print(f"summary {directory / 'storm.json'}, plot {directory / 'storm.svg'}")
    print(last_line(summary), flush=True)
    raise typer.Exit(0 if summary["failed"] == 0 else 1)
