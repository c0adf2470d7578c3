"""A phone under test: identity plus the wires that reach it (power, console, keypad).

The same class drives a rack phone and a twin phone (docs/ARCHITECTURE.md principle 1):
only the wiring differs, and that comes from the topology (`wiring.py`). A phone
whose power or console is dead is latched `broken`, and later tests on it skip
with that reason instead of failing (principle 7).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.errors import LabError
from harness.phone_models import PhoneModel
from phone_drivers.console import Console
from phone_drivers.keypad import Keypad
from phone_drivers.power_protocol import PowerControl, PowerState


@dataclass
class LabPhone:
    """One phone in a rack, as the testcases see it."""

    name: str  # SEP<MAC>
    model: PhoneModel
    protocol: str
    power: PowerControl
    keypad: Keypad
    console: Console | None = None
    address: str | None = None  # known on the twin; DHCP-assigned on a rack
    broken: str | None = field(default=None)

    @property
    def mac(self) -> str:
        return self.name[3:]

    @property
    def tvs_device_name(self) -> str:
        return f"CP-{self.model.model}-{self.name}"

    def check(self) -> None:
        """Raise LabError if this phone was latched broken earlier."""
        if self.broken:
            raise LabError(f"{self.name} is out of service: {self.broken}")

    def latch(self, reason: str) -> None:
        """Mark the phone dead for the rest of the run (power or console gone)."""
        self.broken = self.broken or reason

    def power_cycle(self, off_seconds: float = 2.0) -> PowerState:
        """Cut PoE, wait, restore it: the documented cold boot from the switch."""
        self.check()
        try:
            return self.power.cycle(off_seconds)
        except LabError as exc:
            self.latch(f"power control failed: {exc}")
            raise

    def erase_itl(self) -> None:
        """Settings > Security > Trust List > ITL > Erase (by keypad, CGI or console)."""
        self.check()
        self.keypad.erase_itl()
