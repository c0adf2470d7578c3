"""Phone power through labgrid's power backends (PDUs, SNMP PoE, REST relays).

A rack whose phones are not powered by a Catalyst's PoE names, per phone, a labgrid
`NetworkPowerPort` (`model`, `host`, `index`): given in the topology, or a resource of
the rack's labgrid place resolved when the place is acquired. labgrid's
`NetworkPowerDriver` drives it (one backend module per PDU model; labgrid keeps them),
and this class puts it behind phonelab's `PowerControl`: every change is confirmed by
reading the port back until it reports the new state, and a backend that errors or
never confirms is `RackBroken("power")`, like a dead switch.
"""

from __future__ import annotations

import time
from typing import Any

from harness.errors import LabError, RackBroken
from phone_drivers.power_protocol import PowerControl, PowerState


class LabgridPowerPort(PowerControl):
    """One outlet of a labgrid power backend, for one phone."""

    def __init__(self, model: str, host: str, index: str | int = 0, *, label: str = "",
                 settle_timeout: float = 10.0, poll_interval: float = 0.2) -> None:
        try:
            from labgrid import Target
            from labgrid.driver import NetworkPowerDriver
            from labgrid.resource import NetworkPowerPort
        except ImportError as exc:
            raise LabError(f"power through labgrid needs the labgrid extra "
                           f"(pip install -e '.[labgrid]'): {exc}") from None
        self.model, self.host, self.index = model, host, str(index)
        self.label = label or f"{model} {host} outlet {self.index}"
        self.settle_timeout, self.poll_interval = settle_timeout, poll_interval
        try:
            target = Target(f"phonelab {self.label}")
            NetworkPowerPort(target, name=None, model=model, host=host, index=self.index)
            self._driver: Any = NetworkPowerDriver(target, name=None, delay=0.0)
            target.activate(self._driver)
        except ModuleNotFoundError:
            raise LabError(f"{self.label}: labgrid has no power backend {model!r} "
                           "(labgrid/driver/power/ lists them)") from None
        except Exception as exc:  # labgrid's own binding and configuration errors
            raise LabError(f"{self.label}: {exc}") from None

    def _read(self) -> bool:
        try:
            return bool(self._driver.get())
        except Exception as exc:  # requests, SNMP, sockets: whatever the backend raises
            raise RackBroken("power", f"{self.label}: cannot read the outlet: {exc}") from None

    def _describe(self, on: bool) -> PowerState:
        return PowerState(interface=self.label, admin="auto" if on else "off",
                          oper="on" if on else "off", watts=0.0)

    def _set(self, on: bool) -> PowerState:
        try:
            self._driver.on() if on else self._driver.off()
        except Exception as exc:
            raise RackBroken("power", f"{self.label}: cannot switch the outlet "
                             f"{'on' if on else 'off'}: {exc}") from None
        deadline = time.monotonic() + self.settle_timeout
        while True:
            if self._read() == on:
                return self._describe(on)
            if time.monotonic() >= deadline:
                raise RackBroken("power", f"{self.label}: switched {'on' if on else 'off'}, "
                                 f"but it still reads {'off' if on else 'on'} after "
                                 f"{self.settle_timeout:g} s")
            time.sleep(self.poll_interval)

    def on(self) -> PowerState:
        return self._set(True)

    def off(self) -> PowerState:
        return self._set(False)

    def cycle(self, off_seconds: float = 5.0) -> PowerState:
        self.off()
        time.sleep(off_seconds)
        return self.on()

    def state(self) -> PowerState:
        return self._describe(self._read())
