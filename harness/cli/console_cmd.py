"""`phonelab console`: a phone's serial console by hand, through the test driver.

It opens the console with `SerialConsole` — the driver tests use — so the bench
session gets the same reconnects on a flaky USB adapter and the same complete
log file; output is mirrored to the terminal by draining the driver's `expect`
with a match-anything pattern (its public way to read what arrived, prompts
without a newline included). Typed lines go to the phone with a CR, as a
terminal sends them. stdin is read with `os.read` on a daemon thread: a thread
blocked inside `sys.stdin` holds its buffer lock and can abort the interpreter
at exit, while a raw read cannot. Works the same when stdin is a pipe: the lines
are sent, then output keeps arriving for `--linger` seconds after EOF.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import until_signalled
from harness.cli.lab_target import resolve
from harness.errors import LabError, UsageError
from phone_drivers.console import ConsoleTimeout, SerialConsole

_ANYTHING = re.compile(r"[\s\S]+")

app = typer.Typer(
    invoke_without_command=True, no_args_is_help=True, subcommand_metavar="",
    context_settings={"allow_interspersed_args": True},
    epilog="Output is mirrored here and logged (default ./PHONE.console.log); typed lines "
           "go to the phone. Ctrl-C or end of input (after --linger s) ends with exit 0; "
           "a console that vanishes and cannot be reopened ends with exit 3. For a running "
           "`phonelab twin up`, pass a phone's console pty: --url /dev/pts/N.")


class _Session:
    """Mirror output, forward input, and remember why it ended."""

    def __init__(self, console: SerialConsole, linger: float) -> None:
        self.console, self.linger = console, linger
        self.stop, self.eof = threading.Event(), threading.Event()
        self.gone: LabError | None = None
        # how long reads may keep failing before the driver's reopen attempts are over
        self.budget = console.reconnect_attempts * (
            console.reconnect_interval + console.read_timeout) + 1.0

    def run(self) -> LabError | None:
        mirror = threading.Thread(target=self._mirror, name="console mirror", daemon=True)
        mirror.start()
        threading.Thread(target=self._forward, name="console input", daemon=True).start()
        while not self.stop.is_set():
            if self.eof.wait(0.1):
                self.stop.wait(self.linger)
                break
        self.stop.set()
        mirror.join(timeout=2.0)
        return self.gone

    def _fail(self, error: LabError) -> None:
        self.gone = self.gone or error
        self.stop.set()

    def _mirror(self) -> None:
        failing_since: float | None = None
        while not self.stop.is_set():
            try:
                text = self.console.expect(_ANYTHING, timeout=0.2).group(0)
            except ConsoleTimeout:
                failing_since = None
                continue
            except LabError as exc:  # reconnecting, or gone for good once the budget is spent
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > self.budget:
                    self._fail(exc)
                self.stop.wait(0.1)
                continue
            failing_since = None
            sys.stdout.write(text.replace("\r\n", "\n"))
            sys.stdout.flush()

    def _forward(self) -> None:
        pending = b""
        while not self.stop.is_set():
            try:
                chunk = os.read(0, 4096)
            except OSError:
                chunk = b""
            if chunk:
                *lines, pending = (pending + chunk).split(b"\n")
            else:  # end of input: a last line without a newline is still sent
                lines, pending = [pending] if pending.strip() else [], b""
            try:
                for line in lines:
                    self.console.sendline(line.decode(errors="replace").rstrip("\r"))
            except LabError as exc:
                self._fail(exc)
                return
            if not chunk:
                self.eof.set()
                return


def _coordinates(phone: str | None, lab: Path | None, rack: str | None, url: str | None,
                 baud: int | None) -> tuple[str, int, str]:
    """(pyserial URL, baud, name for the log) from either way of naming the console."""
    if url is not None:
        if lab is not None:
            raise UsageError("give either PHONE --lab FILE, or --url URL, not both")
        return url, baud or 9600, phone.upper() if phone else "console"
    if lab is None or phone is None:
        raise UsageError("name the phone as PHONE --lab FILE [--rack R], or give --url URL")
    target = resolve(lab, rack, phone)
    assert target.phone is not None
    target.refuse_twin("console ptys", "--url /dev/pts/N (the phone's \"console\")")
    if target.phone.console is None:
        raise UsageError(f"{lab}: {target.phone.name} has no console in the topology; "
                         "add one, or give --url URL")
    return target.phone.console.url, baud or target.phone.console.baud, target.phone.name


@app.callback()
def console(
    phone: Annotated[str | None, typer.Argument(
        metavar="PHONE", show_default=False, help="Phone of --lab, e.g. SEP0021555542E6.")] = None,
    lab: Annotated[Path | None, typer.Option(
        "--lab", show_default=False, help="Hardware topology giving PHONE's console.")] = None,
    rack: Annotated[str | None, typer.Option(
        "--rack", show_default=False, help="Rack of --lab (default: the phone's).")] = None,
    url: Annotated[str | None, typer.Option(
        "--url", show_default=False,
        help="Console instead of --lab: /dev/ttyUSB0, /dev/pts/N, socket://HOST:PORT, "
             "rfc2217://HOST:PORT.")] = None,
    baud: Annotated[int | None, typer.Option(
        "--baud", min=50, show_default=False, help="Line speed (default: topology, or 9600).")
    ] = None,
    log: Annotated[Path | None, typer.Option(
        "--log", show_default=False, help="Log file (default: ./PHONE.console.log).")] = None,
    linger: Annotated[float, typer.Option(
        "--linger", min=0, help="Seconds to keep showing output after end of input.")] = 1.0,
) -> None:
    """Open a phone's serial console: show what it prints, send what you type."""
    where, speed, name = _coordinates(phone, lab, rack, url, baud)
    log_path = log or Path(f"{name}.console.log" if name != "console" else "console.log")
    try:
        driver = SerialConsole(where, name=name, log_path=log_path, baudrate=speed)
    except OSError as exc:
        raise UsageError(f"cannot write console log {log_path}: {exc.strerror or exc}") from None
    driver.open()  # LabError (exit 3) when the port cannot be opened
    print(f"console {name}: {where} at {speed} baud; log {log_path.resolve()}; "
          "Ctrl-C or end of input stops", file=sys.stderr, flush=True)
    session = _Session(driver, linger)
    with until_signalled() as stop:
        session.stop = stop
        try:
            gone = session.run()
        finally:
            driver.close()
    if gone is not None:
        raise gone
