"""Entry point of `phonelab`: assembles the command groups and maps errors to exit codes.

Exit codes: 0 success, 1 a check failed (bad signature, invalid certificate),
2 a user mistake or unreadable input (one line on stderr), 3 the lab broke.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import sys
from collections.abc import Sequence
from typing import Annotated

import typer
import typer.main
from typer.exceptions import TyperException

from harness.cli.common import err_console
from harness.cli.help_format import tidy
from harness.errors import LabError, UsageError
from harness.formats.errors import FormatError

# (command group, module under harness.cli, one-line help)
GROUPS: list[tuple[str, str, str]] = [
    ("tlv", "tlv_cmd", "Inspect and build CTL/ITL trust lists (.tlv)."),
    ("sgn", "sgn_cmd", "Sign, verify and strip signed files (.sgn)."),
    ("enc", "enc_cmd", "Encrypt and decrypt phone configs (.enc.sgn)."),
    ("pki", "pki_cmd", "Create, regenerate, back up and restore the lab PKI."),
    ("tftp", "tftp_cmd", "Run a standalone TFTP endpoint."),
    ("tvs", "tvs_cmd", "Run a TVS server or query one."),
    ("capf", "capf_cmd", "Run a CAPF server or enroll against one."),
    ("lab", "lab_cmd", "Check lab topology files and whether this host can serve a rack."),
    ("twin", "twin_cmd", "Run the emulated lab (the digital twin)."),
    ("power", "power_cmd", "Switch a phone's PoE on, off or cycle it (netmiko)."),
    ("console", "console_cmd", "Open a phone's console (serial or SSH): see output, type lines."),
    ("capture", "capture_cmd", "Capture phone traffic to a pcap with a per-phone summary."),
    ("serve", "serve_cmd", "Serve a rack's cluster (TFTP, TVS, CAPF, HTTPS, SIP) to phones."),
    ("report", "report_cmd", "Build the sign-off report from Allure results; show the latest."),
    ("preflight", "preflight_cmd", "Predict which phones a planned certificate change strands."),
    ("firmware", "firmware_cmd", "Make and check firmware load folders (synthetic loads)."),
    ("storm", "storm_cmd", "Boot N twin phones against any cluster at once; time every stage."),
]



def _show_version(value: bool) -> None:
    if value:
        try:
            version = importlib.metadata.version("phonelab")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown (not installed)"
        print(f"phonelab {version}")
        raise typer.Exit(0)


def _root(version: Annotated[bool, typer.Option(
        "--version", help="Print phonelab's version and exit.", callback=_show_version,
        is_eager=True)] = False) -> None:
    """Test harness for Cisco IP phones and CUCM Security by Default."""


def build_app(argv: Sequence[str]) -> typer.Typer:
    """The CLI with only the command group `argv` asks for imported.

    Groups pull in heavy libraries (netmiko, scapy, asyncssh); importing all of
    them for every call made `phonelab tlv show` take a second. A listing
    (`--help`, no or unknown command) loads every group.
    """
    app = typer.Typer(
        name="phonelab",
        help="Test harness for Cisco IP phones and CUCM Security by Default "
        "(ITL/CTL, signed and encrypted configs, TVS, CAPF).",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.callback()(_root)
    wanted = next((a for a in argv if not a.startswith("-")), None)
    known = {name for name, _, _ in GROUPS}
    for name, module, text in GROUPS:
        if wanted not in known or wanted == name:
            app.add_typer(importlib.import_module(f"harness.cli.{module}").app, name=name,
                          help=text)
    if wanted not in known:
        app.command("models")(importlib.import_module("harness.cli.lab_cmd").models)
    return app


def _one_line(message: str, argv: Sequence[str]) -> str:
    """A mistake is one line. A topology with several mistakes (one line each) shows the
    first and where to see them all; `lab validate` lists them all, as is its job."""
    lines = message.splitlines() or [""]
    if len(lines) == 1 or [a for a in argv if not a.startswith("-")][:2] == ["lab", "validate"]:
        return message
    topology = re.match(r"(\S+\.ya?ml): ", lines[0])
    hint = f"; `phonelab lab validate {topology[1]}` lists them all" if topology else ""
    return f"{lines[0]} (+{len(lines) - 1} more{hint})"


def main() -> None:
    """Console-script entry: turn known errors into one line and an exit code.

    click runs without its standalone mode so that usage errors (a bad option value,
    a missing argument) come back here and print as one line, not a boxed panel.
    """
    try:
        command = tidy(typer.main.get_command(build_app(sys.argv[1:])))
        code = command.main(args=sys.argv[1:], prog_name="phonelab", standalone_mode=False)
    except typer.Abort:
        raise SystemExit(130) from None
    except TyperException as exc:  # click's usage errors: bad value, missing option…
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if not message.strip():  # a group called bare: click printed its help already
            raise SystemExit(getattr(exc, "exit_code", 2)) from None
        err_console.print(f"phonelab: {message}{hint}", markup=False)
        raise SystemExit(2) from None
    except (UsageError, FormatError) as exc:
        err_console.print(f"phonelab: {_one_line(str(exc), sys.argv[1:])}", markup=False)
        raise SystemExit(2) from None
    except LabError as exc:
        err_console.print(f"phonelab: lab error: {exc}", markup=False)
        raise SystemExit(3) from None
    raise SystemExit(code if isinstance(code, int) else 0)
