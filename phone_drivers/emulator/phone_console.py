"""What a twin phone does with console commands and key presses (its keypad actions).

`tty.py` parses the documented console command set; `/CGI/Execute` (`phone_web.py`)
and the console's `key` command deliver key presses, which the menu model
(`menu.py`) turns into the same actions. This mixin of `TwinPhone` carries them out
on the phone's event loop: erase a trust list, factory reset, enter the CAPF
authentication string, show the ITL/CTL or the status messages.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from harness.phone_models import PhoneModel
from phone_drivers.emulator import console_lines as lines
from phone_drivers.emulator.firmware import Firmware
from phone_drivers.emulator.menu import MenuModel
from phone_drivers.emulator.tty import TtyCommand
from phone_drivers.keypad_paths import key_names


class ConsoleCommands:
    """Mixin: needs the phone's firmware, loop, model, timeline and console."""

    firmware: Firmware
    loop: asyncio.AbstractEventLoop
    model_info: PhoneModel
    menu: MenuModel

    def record(self, kind: str, /, **data: Any) -> None: ...  # pragma: no cover
    def emit(self, *items: lines.Line | list[lines.Line]) -> None: ...  # pragma: no cover
    def _boot(self, kind: str) -> None: ...  # pragma: no cover
    async def _capf_now(self) -> None: ...  # pragma: no cover

    def _on_console(self, command: TtyCommand) -> None:
        """Console commands arrive on the tty thread: hop onto the loop."""
        self.loop.call_soon_threadsafe(self._console_command, command)

    def _console_command(self, command: TtyCommand) -> None:
        self.record("phone.console_command", command=command.verb)
        if command.verb == "key":
            for name in key_names(command.argument):
                self.press_key(f"Key:{name}", via="console")
            return
        self._action(command)

    def press_key(self, uri: str, *, via: str) -> None:
        """One `Key:`/`Init:` press (on the loop): menu navigation, maybe an action."""
        for done in self.menu.press(uri):
            self.record("phone.keypad_action", action=done.action.value, via=via)
            self._action(TtyCommand(done.action.value, done.argument))

    def _action(self, command: TtyCommand) -> None:
        fw, now, family = self.firmware, time.time(), self.model_info.family
        if command.verb == "erase itl":
            fw.erase_itl(now=now)
            self.emit(lines.trust_erased(family, "ITL"))
        elif command.verb == "erase ctl":
            fw.erase_ctl(now=now)
            self.emit(lines.trust_erased(family, "CTL"))
        elif command.verb == "factory reset":
            fw.factory_reset(now=now)
            self.emit(lines.trust_erased(family, "CTL and ITL"))
            self._boot("reset")
        elif command.verb == "capf auth":
            fw.enter_capf_string(command.argument)
            self.loop.create_task(self._capf_now())
        elif command.verb.startswith("show"):
            self._show(command.verb.split()[1])

    def _show(self, what: str) -> None:
        state = self.firmware.state
        if what == "status":
            for message in state.status_messages[-10:] or ["(no status messages)"]:
                self.emit(lines.Line("NOT", "status", message))
            return
        trust = state.itl if what == "itl" else state.ctl
        if trust is None:
            self.emit(lines.Line("NOT", "security", f"No {what.upper()} installed"))
            return
        for record in trust.records:
            self.emit(lines.Line("NOT", "security", f"{what.upper()} record role={record.role} "
                                 f"subject={record.subject or '(empty)'}"))
