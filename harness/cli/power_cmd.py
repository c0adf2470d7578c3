"""`phonelab power on|off|cycle|state`: a phone's PoE by hand, through the test driver.

The bench engineer reboots a phone exactly as a test does (`IosPoePort`: netmiko,
`power inline never|auto`, confirmed on `show power inline`), so what works here
works in a run and the other way round. The target is a phone of a running
`phonelab twin up` (PHONE alone, or PHONE --lab TWIN-FILE: its switch and login come
from the running twin), a phone of a hardware topology (credentials from the
environment variables the topology names), or `--switch HOST[:PORT] --port
INTERFACE` (PHONELAB_SWITCH_USER / PHONELAB_SWITCH_PASSWORD). A switch that is
unreachable, refuses the login or lacks the port is a lab error: one line, exit 3.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.lab_target import (
    check_interface,
    parse_host_port,
    resolve,
    running_twin_phone,
    switch_connection,
)
from harness.cli.rack_lease import ForceOpt, check_rack, labgrid_power
from harness.errors import UsageError
from phone_drivers.poe import IosPoePort, SwitchConnection, SwitchSession
from phone_drivers.power_protocol import PowerControl, PowerState

app = typer.Typer(
    no_args_is_help=True,
    epilog="Target: PHONE of a running `phonelab twin up` (e.g. SEP00000A000001); PHONE "
           "--lab FILE [--rack R] (a hardware topology: credentials from the environment "
           "variables it names, PHONELAB_SWITCH_USER/_PASSWORD by default); or --switch "
           "HOST[:PORT] --port INTERFACE with PHONELAB_SWITCH_USER and "
           "PHONELAB_SWITCH_PASSWORD set. Exit 3 when the switch is unreachable or refuses.")

PhoneArg = Annotated[str | None, typer.Argument(
    metavar="PHONE", show_default=False,
    help="Phone name (SEP0021555542E6, or its MAC) of a running twin or of --lab.")]
LabOpt = Annotated[Path | None, typer.Option(
    "--lab", metavar="FILE", show_default=False,
    help="Topology file that cables PHONE to a switch (a twin one: its running twin).")]
RackOpt = Annotated[str | None, typer.Option(
    "--rack", metavar="NAME", show_default=False,
    help="Rack of --lab or of the running twin (default: the phone's).")]
SwitchOpt = Annotated[str | None, typer.Option(
    "--switch", metavar="HOST[:PORT]", show_default=False,
    help="Switch SSH address instead of --lab (port 22 by default); credentials from "
         "PHONELAB_SWITCH_USER / PHONELAB_SWITCH_PASSWORD.")]
PortOpt = Annotated[str | None, typer.Option(
    "--port", metavar="INTERFACE", show_default=False,
    help="Switch interface with --switch, e.g. Gi1/0/5.")]
TimeoutOpt = Annotated[float, typer.Option(
    "--timeout", min=0.5, help="Seconds to wait for the switch to answer.")]
SettleOpt = Annotated[float, typer.Option(
    "--settle", min=0.5, help="Seconds to wait for the port to report the new state.")]


def _port(phone: str | None, lab: Path | None, rack: str | None, switch: str | None,
          interface: str | None, timeout: float, settle: float, force: bool = True
          ) -> tuple[str, PowerControl]:
    """(label for output, PoE driver) from either way of naming the target."""
    if switch is not None or interface is not None:
        if lab is not None:
            raise UsageError("give either PHONE --lab FILE, or --switch and --port, not both")
        if switch is None or interface is None:
            raise UsageError("--switch HOST[:PORT] and --port INTERFACE go together")
        host, ssh_port = parse_host_port(switch, "--switch", 22)
        name = check_interface(interface)
        connection = SwitchConnection.from_env(host, ssh_port, timeout=timeout)
        label = phone.upper() if phone else f"{host}:{ssh_port} {name}"
    else:
        if phone is None:
            raise UsageError("name the phone: PHONE (of a running `phonelab twin up`), "
                             "PHONE --lab FILE [--rack R], or --switch HOST[:PORT] --port "
                             "INTERFACE")
        target = resolve(lab, rack, phone) if lab is not None else None
        if target is None or target.is_twin:  # its switch lives in `twin up`'s process
            twin = running_twin_phone(phone, rack, target)
            connection, name = twin.switch(timeout)
            label = twin.name
        else:
            assert target.phone is not None
            check_rack(target, force, "power")  # a held rack: refuse, naming the holder
            if target.phone.power is not None:  # a labgrid power port, not the switch's PoE
                return target.phone.name, labgrid_power(target, settle)
            connection = switch_connection(target.switch_spec(), timeout)
            name, label = target.phone.port, target.phone.name
    return label, IosPoePort(SwitchSession(connection), name, settle_timeout=settle,
                             poll_interval=0.2)


def _run(action: Callable[[PowerControl], PowerState], phone: str | None, lab: Path | None,
         rack: str | None, switch: str | None, interface: str | None, timeout: float,
         settle: float, force: bool = True) -> None:
    # paramiko reports a refused or dropped connection through logging as well; with
    # no handler Python prints those records, and the error must stay one line.
    logging.getLogger("paramiko").addHandler(logging.NullHandler())
    label, port = _port(phone, lab, rack, switch, interface, timeout, settle, force)
    try:
        state = action(port)
    finally:
        if isinstance(port, IosPoePort):
            port.session.close()
    print(f"{label}: {state.describe()}", flush=True)


@app.command("on")
def power_on(phone: PhoneArg = None, lab: LabOpt = None, rack: RackOpt = None,
             switch: SwitchOpt = None, port: PortOpt = None, timeout: TimeoutOpt = 10.0,
             settle: SettleOpt = 30.0, force: ForceOpt = False) -> None:
    """Restore PoE (`power inline auto`); print the state once the phone draws power."""
    _run(lambda p: p.on(), phone, lab, rack, switch, port, timeout, settle, force)


@app.command("off")
def power_off(phone: PhoneArg = None, lab: LabOpt = None, rack: RackOpt = None,
              switch: SwitchOpt = None, port: PortOpt = None, timeout: TimeoutOpt = 10.0,
              settle: SettleOpt = 30.0, force: ForceOpt = False) -> None:
    """Cut PoE (`power inline never`); print the state once the switch reports it off."""
    _run(lambda p: p.off(), phone, lab, rack, switch, port, timeout, settle, force)


@app.command("cycle")
def power_cycle(
    phone: PhoneArg = None, lab: LabOpt = None, rack: RackOpt = None, switch: SwitchOpt = None,
    port: PortOpt = None, timeout: TimeoutOpt = 10.0, settle: SettleOpt = 30.0,
    off_seconds: Annotated[float, typer.Option(
        "--off-seconds", min=0, help="How long the phone stays dark.")] = 5.0,
    force: ForceOpt = False,
) -> None:
    """Off, wait --off-seconds, on: the documented cold boot from the switch."""
    _run(lambda p: p.cycle(off_seconds), phone, lab, rack, switch, port, timeout, settle, force)


@app.command("state")
def power_state(phone: PhoneArg = None, lab: LabOpt = None, rack: RackOpt = None,
                switch: SwitchOpt = None, port: PortOpt = None,
                timeout: TimeoutOpt = 10.0) -> None:
    """Print the port's PoE state (`show power inline`) without changing it."""
    _run(lambda p: p.state(), phone, lab, rack, switch, port, timeout, 1.0)
