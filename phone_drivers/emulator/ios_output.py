"""What the fake IOS switch prints: `show` output in Catalyst shapes (docs/HARDWARE.md §3.2-3.3).

The PoE driver parses real switches with ntc-templates' TextFSM templates, and those
templates drop into their `Error` state on any line they do not expect. The twin must
therefore print the same column layout as a Catalyst, or the driver would pass against
the twin and fail in the lab. Written by hand because no fake-switch library renders
PoE, CDP or the MAC table (docs/HARDWARE.md §3.5). Pure functions of the port state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from phone_drivers.emulator.switch import FakeSwitch, SwitchPort

# type → (short name, CDP brief name, negotiated speed, media type)
_KINDS = {
    "GigabitEthernet": ("Gi", "Gig ", "a-1000", "10/100/1000BaseTX"),
    "FastEthernet": ("Fa", "Fas ", "a-100", "10/100BaseTX"),
    "TenGigabitEthernet": ("Te", "Ten ", "a-10G", "SFP-10GBase-SR"),
}
INTERFACE_TYPES = tuple(_KINDS)

_POWER_MODULE = """\
Module   Available     Used     Remaining
          (Watts)     (Watts)    (Watts)
------   ---------   --------   ---------
1        {:8.1f}   {:8.1f}   {:9.1f}
"""
_POWER_HEAD = """\
Interface Admin  Oper       Power   Device              Class Max
                            (Watts)
--------- ------ ---------- ------- ------------------- ----- ----
"""
_CDP_HEAD = """\
Capability Codes: R - Router, T - Trans Bridge, B - Source Route Bridge
                  S - Switch, H - Host, I - IGMP, r - Repeater, P - Phone,
                  D - Remote, C - CVTA, M - Two-port Mac Relay

Device ID        Local Intrfce     Holdtme    Capability  Platform  Port ID
"""
_MAC_HEAD = """\
          Mac Address Table
-------------------------------------------

Vlan    Mac Address       Type        Ports
----    -----------       --------    -----
"""


def split_name(name: str) -> tuple[str, str]:
    """`GigabitEthernet1/0/3` → (`GigabitEthernet`, `1/0/3`)."""
    digits = next((i for i, ch in enumerate(name) if ch.isdigit()), len(name))
    return name[:digits], name[digits:]


def expand_kind(prefix: str) -> str | None:
    """IOS unique-prefix match of an interface type: `gi`, `Gig`, `g` → GigabitEthernet."""
    hits = [k for k in INTERFACE_TYPES if k.lower().startswith(prefix.lower())] if prefix else []
    return hits[0] if len(hits) == 1 else None


def _kind(name: str, column: int) -> str:
    kind, number = split_name(name)
    names = _KINDS.get(kind, (kind[:2], kind[:3] + " ", "auto", "unknown"))
    return names[column] + number if column < 2 else names[column]


def short_name(name: str) -> str:
    return _kind(name, 0)


def dotted_mac(mac: str) -> str:
    """`0021555542E6` (any separators) → `0021.5555.42e6` as IOS prints it."""
    hexdigits = "".join(ch for ch in mac.lower() if ch in "0123456789abcdef")
    return ".".join(hexdigits[i : i + 4] for i in (0, 4, 8))


def _watts(port: SwitchPort) -> float:
    if port.oper != "on" or port.device is None:
        return 0.0
    return port.max_watts if port.admin_poe == "static" else port.device.power_watts


def _device_label(port: SwitchPort) -> str:
    if port.oper != "on" or port.device is None:
        return "n/a"
    return port.device.platform.removeprefix("Cisco ")


def _neighbours(ports: Sequence[SwitchPort]) -> list[SwitchPort]:
    """Ports whose device is up: it then sends CDP and its MAC is learnt."""
    return [p for p in ports if p.device is not None and p.oper == "on" and not p.shutdown]


def show(switch: FakeSwitch, what: str, port: SwitchPort | None, *, detail: bool) -> str:
    """Render `show <what> [<port>] [detail]` for the CLI (arguments already parsed)."""
    ports = list(switch.ports) if port is None else [port]
    if what == "power" and detail:
        return "\n".join(power_inline_detail(p) for p in ports)
    if what == "power":
        return power_inline(ports, switch.budget_watts, module=port is None)
    if what == "cdp":
        return (cdp_neighbors_detail if detail else cdp_neighbors)(ports)
    if what == "running-config" and port is not None:
        return running_config(port)
    if what == "version":
        return version(switch.hostname, switch.model, switch.uptime())
    if what == "lldp":
        return "% LLDP is not enabled\n"
    return interfaces_status(ports) if what == "interfaces" else mac_address_table(ports)


def power_inline(ports: Sequence[SwitchPort], budget: float, *, module: bool = True) -> str:
    """`show power inline [intf]`: module budget table (whole switch only), then ports."""
    used = sum(_watts(p) for p in ports)
    text = _POWER_MODULE.format(budget, used, budget - used) if module else ""
    text += _POWER_HEAD
    for p in ports:
        admin = "off" if p.admin_poe == "never" else p.admin_poe
        text += (f"{short_name(p.name):<9} {admin:<6} {p.oper:<10} {_watts(p):<7.1f} "
                 f"{_device_label(p):<19} {'n/a':<5} {p.max_watts:.1f}\n")
    return text


def power_inline_detail(port: SwitchPort) -> str:
    """`show power inline <intf> detail` (no ntc template reads it; kept short)."""
    watts = _watts(port)
    return (
        f" Interface: {short_name(port.name)}\n"
        f" Inline Power Mode: {'off' if port.admin_poe == 'never' else port.admin_poe}\n"
        f" Operational status: {port.oper}\n Device Type: {_device_label(port)}\n"
        " IEEE Class: n/a\n Discovery mechanism used/configured: Ieee and Cisco\n\n"
        f" Power Allocated \n Admin Value: {port.max_watts:.1f}\n"
        f" Power drawn from the source: {watts:.1f}\n"
        f" Power available to the device: {watts:.1f}\n"
    )


def interfaces_status(ports: Sequence[SwitchPort]) -> str:
    """`show interfaces status`: link is up while the attached device has power."""
    text = "\nPort      Name               Status       Vlan       Duplex  Speed Type\n"
    for p in ports:
        up = p.oper == "on" and not p.shutdown
        status = "disabled" if p.shutdown else "connected" if up else "notconnect"
        duplex, speed = ("a-full", _kind(p.name, 2)) if up else ("auto", "auto")
        text += (f"{short_name(p.name):<9} {'':<18} {status:<12} {p.vlan:<10} "
                 f"{duplex:>6} {speed:>6} {_kind(p.name, 3)}\n")
    return text


def cdp_neighbors(ports: Sequence[SwitchPort]) -> str:
    """`show cdp neighbors [intf]` (brief table; IOS cuts the platform to 9 columns)."""
    found = _neighbours(ports)
    rows = "".join(f"{p.device.name:<16} {_kind(p.name, 1):<17} {150:<10} {'H P M':<11} "
                   "IP Phone  Port 1\n" for p in found if p.device)
    return f"{_CDP_HEAD}{rows}\nTotal cdp entries displayed : {len(found)}\n"


def cdp_neighbors_detail(ports: Sequence[SwitchPort]) -> str:
    """`show cdp neighbors [intf] detail` as a phone announces itself (docs/HARDWARE.md §3.3)."""
    lines: list[str] = []
    found = _neighbours(ports)
    for dev, port in ((p.device, p) for p in found if p.device):
        ip = [f"  IP address: {dev.address}"] if dev.address else []
        lines += [
            "-------------------------", f"Device ID: {dev.name}", "Entry address(es): ", *ip,
            f"Platform: {dev.platform},  Capabilities: Host Phone Two-port Mac Relay ",
            f"Interface: {port.name},  Port ID (outgoing port): Port 1",
            "Holdtime : 150 sec", "Second Port Status: Down", "", "Version :",
            dev.software_version, "", "advertisement version: 2", "Duplex: full",
            f"Power drawn: {dev.power_watts:.3f} Watts",
            "Power request id: 0, Power management id: 0",
            f"Power request levels are:{round(dev.power_watts * 1000)} 0 0 0 0 ",
            "Management address(es): ", *ip, "",
        ]
    return "\n".join([*lines, "", f"Total cdp entries displayed : {len(found)}", ""])


def mac_address_table(ports: Sequence[SwitchPort]) -> str:
    """`show mac address-table [interface X]`: the phone's MAC, in its voice VLAN if set."""
    found = _neighbours(ports)
    rows = "".join(
        f"{p.vlan if p.voice_vlan is None else p.voice_vlan:>4}    {dotted_mac(p.device.mac)}"
        f"    {'DYNAMIC':<11} {short_name(p.name)}\n" for p in found if p.device)
    return f"{_MAC_HEAD}{rows}Total Mac Addresses for this criterion: {len(found)}\n"


def running_config(port: SwitchPort) -> str:
    """`show running-config interface X` (only what the fake models)."""
    body = [f"interface {port.name}", f" switchport access vlan {port.vlan}"]
    if port.voice_vlan is not None:
        body.append(f" switchport voice vlan {port.voice_vlan}")
    if port.admin_poe != "auto":
        body.append(" power inline " + ("never" if port.admin_poe == "never" else
                                        f"static max {round(port.max_watts * 1000)}"))
    text = "\n".join([*body, *[" shutdown"] * port.shutdown, "end"])
    return f"Building configuration...\n\nCurrent configuration : {len(text)} bytes\n!\n{text}\n"


def version(hostname: str, model: str, uptime_s: float) -> str:
    """`show version`, trimmed to the lines inventory tools read."""
    hours, minutes = divmod(int(uptime_s // 60), 60)
    return (
        "Cisco IOS Software, C3750E Software (C3750E-UNIVERSALK9-M), Version 15.2(4)E10, "
        f"RELEASE SOFTWARE (fc2)\n\n{hostname} uptime is {hours} hours, {minutes} minutes\n"
        'System image file is "flash:c3750e-universalk9-mz.152-4.E10.bin"\n\n'
        f"Model number                    : {model}\nConfiguration register is 0xF\n"
    )
