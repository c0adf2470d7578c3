"""`phonelab console`: a phone's console by hand, through the test driver.

It opens the console with `SerialConsole` (or, for an `ssh://` console, the 88xx
log over the phone's SSH access, `SshConsole`) — the driver tests use — so the bench
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
from pydantic import SecretStr, ValidationError

from harness.cli.common import until_signalled
from harness.cli.lab_target import TwinPhone, resolve, running_twin_phone
from harness.cli.rack_lease import ForceOpt, check_rack
from harness.cluster.from_spec import ssh_login
from harness.errors import LabError, UsageError
from lab_topology.schema import ConsoleSpec, SshLogin
from phone_drivers.console import ConsoleTimeout, SerialConsole
from phone_drivers.console_ssh import SshConsole, SshTarget

_ANYTHING = re.compile(r"[\s\S]+")

app = typer.Typer(
    invoke_without_command=True, no_args_is_help=True, subcommand_metavar="",
    context_settings={"allow_interspersed_args": True},
    epilog="Output is mirrored here and logged (default ./PHONE.console.log); typed lines "
           "go to the phone. Ctrl-C or end of input (after --linger s) ends with exit 0; "
           "a console that vanishes and cannot be reopened ends with exit 3. PHONE alone "
           "opens the console of a running `phonelab twin up`'s phone (its pty, or its SSH "
           "log); PHONE --lab FILE that of a hardware topology.")


class _Session:
    """Mirror output, forward input, and remember why it ended."""

    def __init__(self, console: SerialConsole | SshConsole, linger: float) -> None:
        self.console, self.linger = console, linger
        self.stop, self.eof = threading.Event(), threading.Event()
        self.gone: LabError | None = None
        # how long reads may keep failing before the driver's reopen attempts are over
        wait = (console.read_timeout if isinstance(console, SerialConsole)
                else console.connect_timeout)
        self.budget = console.reconnect_attempts * (console.reconnect_interval + wait) + 1.0

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
                if self.console.gone is not None or \
                        time.monotonic() - failing_since > self.budget:
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
                 baud: int | None, force: bool = True) -> tuple[str | SshTarget, int, str]:
    """(pyserial URL or SSH target, baud, name for the log) from either way of naming
    the console."""
    if url is not None:
        if lab is not None:
            raise UsageError("give either PHONE --lab FILE, or --url URL, not both")
        name = phone.upper() if phone else "console"
        if url.lower().startswith("ssh://"):
            return _ssh_url(url), 0, name
        return url, baud or 9600, name
    if phone is None:
        raise UsageError("name the phone: PHONE (of a running `phonelab twin up`), "
                         "PHONE --lab FILE [--rack R], or give --url URL")
    target = resolve(lab, rack, phone) if lab is not None else None
    if target is None or target.is_twin:  # its ptys live in `twin up`'s process
        return _twin_console(running_twin_phone(phone, rack, target), baud)
    assert target.phone is not None
    check_rack(target, force, "console")  # a held rack: refuse, naming the holder
    if target.phone.console is None:
        raise UsageError(f"{lab}: {target.phone.name} has no console in the topology; "
                         "add one, or give --url URL")
    spec = target.phone.console
    if spec.is_ssh:
        host, port = spec.ssh_endpoint
        host = host or (str(target.phone.address) if target.phone.address else None)
        if host is None:
            raise UsageError(f"{lab}: {target.phone.name} has an ssh:// console without a host "
                             "and no address in the topology; give --url ssh://ADDRESS")
        user, password = ssh_login(target.phone)
        return SshTarget(host, port, user, SecretStr(password), spec.ssh_shell), 0, \
            target.phone.name
    return spec.url, baud or spec.baud, target.phone.name


def _twin_console(twin: TwinPhone, baud: int | None) -> tuple[str | SshTarget, int, str]:
    """A running twin phone's console pty, else its SSH log with the twin's login."""
    where = twin.phone
    if where.get("console"):
        return str(where["console"]), baud or 9600, twin.name
    if where.get("ssh") and where.get("ssh_login"):
        user, password = where["ssh_login"]
        return SshTarget(str(where["address"]), int(where["ssh"]), str(user),
                         SecretStr(str(password))), 0, twin.name
    raise UsageError(f"{twin.name} of the running twin ({twin.twin.describe()}) has no "
                     "console: its topology gives it none")


def _ssh_url(url: str) -> SshTarget:
    """`--url ssh://HOST[:PORT]`: credentials from the default environment variables."""
    try:
        spec = ConsoleSpec(url=url)
        host, port = spec.ssh_endpoint
    except ValidationError as exc:
        reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise UsageError(f"--url {url}: {reason}") from None
    except ValueError as exc:  # ssh_endpoint on a URL the model accepted
        raise UsageError(f"--url {url}: {exc}") from None
    if host is None:
        raise UsageError(f"--url {url}: give the phone's address, ssh://ADDRESS[:PORT]")
    names = SshLogin()
    missing = [n for n in (names.username_env, names.password_env) if not os.environ.get(n)]
    if missing:
        raise UsageError(f"set {' and '.join(missing)} in the environment (the phone's SSH "
                         "user and password, as in its config)")
    return SshTarget(host, port, os.environ[names.username_env],
                     SecretStr(os.environ[names.password_env]), spec.ssh_shell)


@app.callback()
def console(
    phone: Annotated[str | None, typer.Argument(
        metavar="PHONE", show_default=False,
        help="Phone name (SEP0021555542E6, or its MAC) of a running twin or of --lab.")] = None,
    lab: Annotated[Path | None, typer.Option(
        "--lab", metavar="FILE", show_default=False,
        help="Topology giving PHONE's console (a twin one: its running twin).")] = None,
    rack: Annotated[str | None, typer.Option(
        "--rack", metavar="NAME", show_default=False,
        help="Rack of --lab or of the running twin (default: the phone's).")] = None,
    url: Annotated[str | None, typer.Option(
        "--url", show_default=False,
        help="Console instead of --lab: /dev/ttyUSB0, /dev/pts/N, socket://HOST:PORT, "
             "rfc2217://HOST:PORT, ssh://HOST[:PORT] (88xx log over SSH).")] = None,
    baud: Annotated[int | None, typer.Option(
        "--baud", min=50, show_default=False, help="Line speed (default: topology, or 9600).")
    ] = None,
    log: Annotated[Path | None, typer.Option(
        "--log", show_default=False, help="Log file (default: ./PHONE.console.log).")] = None,
    linger: Annotated[float, typer.Option(
        "--linger", min=0, help="Seconds to keep showing output after end of input.")] = 1.0,
    force: ForceOpt = False,
) -> None:
    """Open a phone's console (serial, or the 88xx log over SSH): show what it prints,
    send what you type."""
    where, speed, name = _coordinates(phone, lab, rack, url, baud, force)
    log_path = log or Path(f"{name}.console.log" if name != "console" else "console.log")
    driver: SerialConsole | SshConsole
    try:
        if isinstance(where, SshTarget):
            driver = SshConsole(where, name=name, log_path=log_path)
            shown = f"{where.label()} as {where.username!r}"
        else:
            driver = SerialConsole(where, name=name, log_path=log_path, baudrate=speed)
            shown = f"{where} at {speed} baud"
    except OSError as exc:
        raise UsageError(f"cannot write console log {log_path}: {exc.strerror or exc}") from None
    driver.open()  # LabError (exit 3) when the port cannot be opened
    print(f"console {name}: {shown}; log {log_path.resolve()}; "
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
