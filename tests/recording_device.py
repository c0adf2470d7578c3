"""A powered device for switch and PoE tests: records every power call it receives.

Implements `phone_drivers.power_protocol.PoweredDevice`; `delay` and `broken`
let tests make the device slow or failing, as a misbehaving twin phone could be.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class RecordingPhone:
    name: str = "SEP0021555542E6"
    mac: str = "0021555542E6"
    address: str = "10.1.20.5"
    platform: str = "Cisco IP Phone 7962"
    power_watts: float = 6.3
    software_version: str = "SCCP42.8-4-2S"
    delay: float = 0.0
    broken: bool = False
    calls: list[str] = field(default_factory=list)
    changed: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _note(self, what: str) -> None:
        time.sleep(self.delay)
        if self.broken:
            raise RuntimeError("twin exploded")
        with self.lock:
            self.calls.append(what)
        self.changed.set()

    def power_on(self) -> None:
        self._note("on")

    def power_off(self) -> None:
        self._note("off")

    def wait_calls(self, count: int, timeout: float = 3.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        with self.lock:
            return list(self.calls)
