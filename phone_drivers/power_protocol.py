"""What "phone power" means on both ends of the cable, whoever provides it.

Testcases and the `Phone` object cut and restore power to reboot a phone (a PoE cut is a
cold boot, docs/HARDWARE.md §5): `PowerControl` is that side, in the lab a Catalyst port driven
by netmiko, in the twin the same driver against the fake switch. `PoweredDevice` is the
other end, what a (fake) switch port feeds: the twin phone implements it. Both live in
this small module so callers depend on the shapes without importing netmiko or asyncssh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class PowerState:
    """One port's PoE state as the switch reports it (`show power inline <intf>`).

    `admin` uses IOS's own words: `auto`, `static`, or `off` for `power inline never`.
    `oper` is `on`, `off`, `faulty` or `power-deny`. `device` is the switch's label for
    the powered device (`IP Phone 7962`, `Ieee PD`) or None when it shows `n/a`.
    """

    interface: str
    admin: str
    oper: str
    watts: float
    device: str | None = None

    @property
    def powered(self) -> bool:
        """True when the switch is delivering power to a device on this port."""
        return self.oper == "on"

    @property
    def enabled(self) -> bool:
        """True unless PoE is administratively off (`power inline never`)."""
        return self.admin != "off"

    def describe(self) -> str:
        device = f" {self.device}" if self.device else ""
        return f"{self.interface} admin={self.admin} oper={self.oper} {self.watts:.1f} W{device}"


@runtime_checkable
class PowerControl(Protocol):
    """Power for one phone. Every method returns only once the switch confirms the state,
    and raises `harness.errors.RackBroken` when the power source itself fails."""

    def on(self) -> PowerState:
        """Enable power and wait until the device draws it."""
        ...

    def off(self) -> PowerState:
        """Cut power and wait until the switch reports it off."""
        ...

    def cycle(self, off_seconds: float = 5.0) -> PowerState:
        """Off, hold for `off_seconds`, on: a cold boot of the phone."""
        ...

    def state(self) -> PowerState:
        """Read the current state without changing it."""
        ...


class PoweredDevice(Protocol):
    """What a switch port powers (the twin phone), and what the switch shows about it in
    `show power inline` / CDP / the MAC table. The switch calls `power_on` / `power_off`
    only on transitions, in order, from its own thread (never its SSH loop)."""

    @property
    def name(self) -> str: ...  # SEP<MAC>, as announced in CDP
    @property
    def mac(self) -> str: ...  # 12 hex digits
    @property
    def platform(self) -> str: ...  # "Cisco IP Phone 7962"
    @property
    def address(self) -> str: ...  # IPv4 text, "" before DHCP
    @property
    def power_watts(self) -> float: ...  # drawn, e.g. 6.3
    @property
    def software_version(self) -> str: ...  # "SCCP42.8-4-2S"
    def power_on(self) -> None: ...
    def power_off(self) -> None: ...
