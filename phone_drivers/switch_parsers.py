"""Typed rows from IOS `show` output, parsed with ntc-templates' TextFSM templates.

The PoE driver decides "did the phone lose power?" from `show power inline`, and lab
tooling finds a phone's port from CDP and the MAC table. Parsing is delegated to the
community templates (the same ones netmiko's `use_textfsm` uses) so that the parser is
not ours to get wrong; this module only turns their string dicts into typed rows and
turns every failure — IOS rejecting the command, output the template cannot read —
into one `RackBroken` (part `switch`) that names the command and quotes the offending
output.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import textfsm
from textfsm import clitable

from harness.errors import RackBroken

_IOS_ERROR = re.compile(r"^% ?(Invalid input|Incomplete command|Ambiguous command|Unknown command)"
                        r".*$", re.MULTILINE)
_SHORT = (("gigabitethernet", "gi"), ("fastethernet", "fa"), ("tengigabitethernet", "te"),
          ("twogigabitethernet", "tw"), ("fortygigabitethernet", "fo"),
          ("twentyfivegige", "twe"), ("hundredgige", "hu"), ("ethernet", "et"))


def interface_key(name: str) -> str:
    """Comparable form of an interface name: `GigabitEthernet1/0/3`, `Gi1/0/3`,
    `Gig 1/0/3` → `gi1/0/3` (show commands print short names, configs use long ones)."""
    compact = name.replace(" ", "")
    digit = next((i for i, ch in enumerate(compact) if ch.isdigit()), len(compact))
    kind, number = compact[:digit].lower(), compact[digit:]
    for full, short in _SHORT:
        if kind and (kind == short or (len(kind) > 2 and full.startswith(kind))):
            return short + number
    return kind + number


def ios_error(output: str) -> str | None:
    """The first `% Invalid input…`-style line IOS printed, if any."""
    match = _IOS_ERROR.search(output)
    return match.group(0).strip() if match else None


def rejected_command(output: str, commands: Sequence[str]) -> tuple[str, str | None]:
    """(command, error) for the first IOS error in a session transcript: the culprit is
    the last of `commands` echoed before the `%` line (the first command if none was)."""
    error, culprit = ios_error(output), commands[0]
    for line in output.splitlines() if error else ():
        if line.strip() == error:
            break
        culprit = next((c for c in commands if line.rstrip().endswith(c)), culprit)
    return culprit, error


_TABLE_LOCK = threading.Lock()


@functools.cache
def _cli_table() -> clitable.CliTable:
    """ntc-templates' index, read once: parsing it per call cost ~80 ms per `show`."""
    return clitable.CliTable("index", str(resources.files("ntc_templates") / "templates"))


def _structured(command: str, output: str) -> list[dict[str, Any]]:
    """What ntc-templates' `parse_output` returns, without re-reading the index."""
    with _TABLE_LOCK:  # a CliTable holds the last parse result: one parse at a time
        table = _cli_table()
        table.ParseCmd(output, {"Command": command, "Platform": "cisco_ios"})
        header = [str(name).lower() for name in table.header]
        return [dict(zip(header, row, strict=True)) for row in table]


def _parse(command: str, output: str) -> list[dict[str, Any]]:
    error = ios_error(output)
    if error is not None:
        raise RackBroken("switch", f"switch rejected `{command}`: {error}")
    try:
        rows = _structured(command, output)
    except (textfsm.TextFSMError, clitable.CliTableError) as exc:
        head = " | ".join(output.strip().splitlines()[:4])
        raise RackBroken("switch", f"cannot parse `{command}` output ({exc}); output starts: "
                         f"{head!r}") from exc
    return rows


def _float(text: str) -> float | None:
    return float(text) if text else None


def _na(text: str) -> str | None:
    return None if text in ("", "n/a") else text


@dataclass(frozen=True)
class PowerInlineRow:
    """`show power inline`: `admin` is `off` for `power inline never`."""

    interface: str
    admin: str
    oper: str
    watts: float
    device: str | None
    poe_class: str | None
    max_watts: float | None


def parse_power_inline(output: str) -> list[PowerInlineRow]:
    return [
        PowerInlineRow(r["interface"], r["admin_status"], r["operational_status"],
                       float(r["power"]), _na(r["device"]), _na(r["class"]), _float(r["max"]))
        for r in _parse("show power inline", output)
    ]


@dataclass(frozen=True)
class InterfaceStatusRow:
    """`show interfaces status`: `status` is connected / notconnect / disabled / …"""

    port: str
    name: str
    status: str
    vlan: str
    duplex: str
    speed: str
    media: str


def parse_interfaces_status(output: str) -> list[InterfaceStatusRow]:
    return [
        InterfaceStatusRow(r["port"], r["name"].strip(), r["status"], r["vlan_id"], r["duplex"],
                           r["speed"], r["type"].strip())
        for r in _parse("show interfaces status", output)
    ]


@dataclass(frozen=True)
class CdpNeighbor:
    """One `show cdp neighbors detail` entry; for a phone `device_id` is `SEP<MAC>`."""

    device_id: str
    address: str | None
    platform: str
    local_interface: str
    port_id: str
    capabilities: str
    software_version: str


def parse_cdp_neighbors_detail(output: str) -> list[CdpNeighbor]:
    return [
        CdpNeighbor(r["neighbor_name"], r["mgmt_address"] or None, r["platform"].strip(),
                    r["local_interface"].strip(), r["neighbor_interface"].strip(),
                    r["capabilities"].strip(), r["neighbor_description"].strip())
        for r in _parse("show cdp neighbors detail", output)
    ]


@dataclass(frozen=True)
class MacEntry:
    """One `show mac address-table` row; `mac` in IOS dotted form (`0021.5555.42e6`)."""

    vlan: str
    mac: str
    type: str
    ports: tuple[str, ...]

    @property
    def mac_hex(self) -> str:
        """`0021555542E6`: the form used in `SEP<MAC>` device names."""
        return self.mac.replace(".", "").upper()


def parse_mac_address_table(output: str) -> list[MacEntry]:
    return [
        MacEntry(r["vlan_id"], r["destination_address"].lower(), r["type"],
                 tuple(r["destination_port"]))
        for r in _parse("show mac address-table", output)
    ]
