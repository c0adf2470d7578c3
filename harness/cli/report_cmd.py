"""`phonelab report`: build the sign-off report from Allure results, show the latest one.

`build` clears the output and writes a single self-contained `index.html` (opens from
disk) plus the multi-file site (`site/`, to publish over HTTP); history for the
trend charts is kept beside it across runs. Without a subcommand it prints where
the latest report is; `--open` opens it in a browser, `--serve` serves the site.
"""

from __future__ import annotations

import functools
import webbrowser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import out_console, until_signalled
from harness.cli.options import port_or_any
from harness.errors import UsageError
from harness.report.build import SUMMARY, build

app = typer.Typer(no_args_is_help=False)
DEFAULT_RESULTS = Path("reports/allure-results")
DEFAULT_OUT = Path("reports/allure-report")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No request log: the terminal shows where the report is, once."""


@app.callback(invoke_without_command=True)
def show(
    ctx: typer.Context,
    report: Annotated[Path, typer.Option(help="Report folder written by `report build`.")] = (
        DEFAULT_OUT),
    open_it: Annotated[bool, typer.Option("--open", help="Open it in a browser.")] = False,
    serve: Annotated[bool, typer.Option("--serve", help="Serve the site over HTTP until "
                                                        "Ctrl-C.")] = False,
    port: Annotated[int, typer.Option(help="Port for --serve (0 = any free port).",
                                      callback=port_or_any)] = 0,
) -> None:
    """Print where the latest report is; --open or --serve it."""
    if ctx.invoked_subcommand is not None:
        return
    page = report / "index.html"
    if not page.exists():
        raise UsageError(f"no report at {report} (run ./scripts/lab.sh, or "
                         "`phonelab report build`)")
    print(f"Allure report (one file, opens from disk): {page.resolve()}")
    print(f"Allure site (publish or --serve): {(report / 'site').resolve()}/")
    if (report / SUMMARY).exists():
        print(f"Phones × procedures: {(report / SUMMARY).resolve()}")
    if open_it:
        webbrowser.open(page.resolve().as_uri())
    if serve:
        handler = functools.partial(_Quiet, directory=str(report / "site"))
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        out_console.print(f"serving http://127.0.0.1:{server.server_address[1]}/ ; Ctrl-C stops")
        with until_signalled() as stop:
            server.timeout = 0.5
            while not stop.is_set():
                server.handle_request()
        server.server_close()


@app.command("build")
def build_cmd(
    results: Annotated[Path, typer.Option(help="Allure results of the run.")] = DEFAULT_RESULTS,
    out: Annotated[Path, typer.Option(help="Report folder (cleared first).")] = DEFAULT_OUT,
    history: Annotated[Path | None, typer.Option(
        help="History file kept across runs (default: beside --out).")] = None,
) -> None:
    """Build a fresh report from RESULTS: one-file index.html plus the site."""
    made = build(results, out, history=history)
    print(f"{made.title}")
    print(f"Allure report: {made.single_file.resolve()}")
    print(f"Phones × procedures: {made.summary.resolve()} (also in the report's "
          "Global Attachments)")
