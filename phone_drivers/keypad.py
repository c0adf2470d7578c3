"""Pressing keys on a phone: the trust-list erase, factory reset and CAPF entry paths.

Testcases call `keypad.erase_itl()` and never care how the keys arrive (ARCHITECTURE.md
principle 1). Three carriers exist: the twin's console (`ConsoleKeypad`, commands
documented in `emulator/tty.py`), the phone's web `CGI/Execute` (`CgiKeypad`, hardware
with web access on and a CUCM user associated to the phone, HARDWARE.md §2.4), and a
person (`ManualKeypad`, for paths that need hands on the power cord or when the web
server is off, as SBD deployments often have it). CGI uses urllib: one form POST per
few keys needs no HTTP library. Every carrier failure is a `LabError` (principle 8).
"""

from __future__ import annotations

import base64
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable
from xml.sax.saxutils import quoteattr

from harness.errors import LabError, UsageError
from harness.phone_models import Family
from phone_drivers.console import Console
from phone_drivers.keypad_paths import Action, Step, key_names, path

__all__ = ["Action", "CgiKeypad", "ConsoleKeypad", "Keypad", "ManualKeypad", "Step"]
_ITEMS_PER_POST = 3  # CiscoIPPhoneExecute carries at most three ExecuteItems


@runtime_checkable
class Keypad(Protocol):
    needs_operator: bool  # True only when a person carries the keys out

    def press(self, sequence: str) -> None:
        """Press keys in order: `0-9 * #` and `{Name}` keys, e.g. `{Settings}**#`."""
        ...

    def erase_itl(self) -> None: ...

    def erase_ctl(self) -> None: ...

    def factory_reset(self) -> None: ...

    def enter_capf_auth(self, digits: str) -> None: ...


class _Actions:
    """Named actions in terms of `_run(action, steps)`; each keypad supplies `_run`."""

    family: Family

    def erase_itl(self) -> None:
        self._run(Action.ERASE_ITL, path(self.family, Action.ERASE_ITL))

    def erase_ctl(self) -> None:
        self._run(Action.ERASE_CTL, path(self.family, Action.ERASE_CTL))

    def factory_reset(self) -> None:
        self._run(Action.FACTORY_RESET, path(self.family, Action.FACTORY_RESET))

    def enter_capf_auth(self, digits: str) -> None:
        self._run(Action.CAPF_AUTH, path(self.family, Action.CAPF_AUTH, digits))

    def _run(self, action: Action, steps: tuple[Step, ...]) -> None:
        raise NotImplementedError


class ConsoleKeypad(_Actions):
    """The twin: named actions are console commands, so no menu model is needed."""

    needs_operator = False

    def __init__(self, console: Console, family: Family) -> None:
        self.console, self.family = console, family

    def press(self, sequence: str) -> None:
        key_names(sequence)  # validates
        self.console.send(f"key {sequence}\r")

    def enter_capf_auth(self, digits: str) -> None:
        path(self.family, Action.CAPF_AUTH, digits)  # validates family and digits
        self.console.send(f"{Action.CAPF_AUTH.value} {digits}\r")

    def _run(self, action: Action, steps: tuple[Step, ...]) -> None:
        self.console.send(f"{action.value}\r")


class CgiKeypad(_Actions):
    """Hardware: `POST http://<phone>/CGI/Execute` with `Key:` URIs and basic auth.

    `menu` maps a menu label to the keys that select it and `softkeys` a softkey label
    to its position (1-5) for this model and firmware — they move between releases (Q6).
    """

    needs_operator = False

    def __init__(self, host: str, family: Family, *, user: str, password: str, port: int = 80,
                 menu: Mapping[str, str] | None = None, softkeys: Mapping[str, int] | None = None,
                 timeout: float = 5.0, pause: float = 0.5) -> None:
        self.family, self.timeout, self.pause = family, timeout, pause
        self.url = f"http://{host}:{port}/CGI/Execute"
        self.menu, self.softkeys = dict(menu or {}), dict(softkeys or {})
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._auth = f"Basic {token}"

    def press(self, sequence: str) -> None:
        self._push(key_names(sequence))

    def _run(self, action: Action, steps: tuple[Step, ...]) -> None:
        for step in steps:
            self._push(self._keys_for(action, step))

    def _keys_for(self, action: Action, step: Step) -> list[str]:
        if step.kind == "keys":
            return key_names(step.value)
        if step.kind == "menu" and step.value in self.menu:
            return key_names(self.menu[step.value])
        if step.kind == "softkey" and step.value in self.softkeys:
            return [f"Soft{self.softkeys[step.value]}"]
        if step.kind == "power":
            raise UsageError(f"'{action.value}' needs hands on the phone ({step.value}): "
                             "use ManualKeypad or the menu path")
        raise UsageError(f"'{action.value}': position of {step.kind} '{step.value}' unknown for "
                         "this phone (HARDWARE.md Q6); add it to the keypad map in the topology")

    def _push(self, keys: list[str]) -> None:
        for start in range(0, len(keys), _ITEMS_PER_POST):
            items = "".join(f"<ExecuteItem URL={quoteattr('Key:' + k)}/>"
                            for k in keys[start:start + _ITEMS_PER_POST])
            self._post(f"<CiscoIPPhoneExecute>{items}</CiscoIPPhoneExecute>")
            time.sleep(self.pause)  # the phone redraws its menu between pushes

    def _post(self, xml: str) -> None:
        body = urllib.parse.urlencode({"XML": xml}).encode()
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Authorization": self._auth, "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                answer = reply.read(65536)
        except urllib.error.HTTPError as exc:
            hint = " (credentials rejected?)" if exc.code in (401, 403) else ""
            raise LabError(f"keypad {self.url}: HTTP {exc.code}{hint}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise LabError(f"keypad {self.url}: unreachable: {exc}") from exc
        self._check(answer)

    def _check(self, answer: bytes) -> None:
        try:
            root = ET.fromstring(answer)
        except ET.ParseError as exc:
            raise LabError(f"keypad {self.url}: unreadable reply {answer[:80]!r}") from exc
        if root.tag == "CiscoIPPhoneError":
            number = root.get("Number", "?")
            hint = " (authentication: user not associated to the phone?)" if number == "4" else ""
            raise LabError(f"keypad {self.url}: phone refused, CiscoIPPhoneError {number}{hint}")
        for item in root.iter("ResponseItem"):
            if item.get("Status", "0") != "0":
                raise LabError(f"keypad {self.url}: {item.get('URL')} failed: "
                               f"status {item.get('Status')} {item.get('Data', '')}".rstrip())


class ManualKeypad(_Actions):
    """A person does it: `confirm(instruction)` shows the steps and returns True once done
    (it owns the waiting); False means the operator gave up → `LabError`."""

    needs_operator = True

    def __init__(self, family: Family, confirm: Callable[[str], bool]) -> None:
        self.family, self.confirm = family, confirm

    def press(self, sequence: str) -> None:
        key_names(sequence)
        self._ask(f"On the phone, press {sequence}")

    def _run(self, action: Action, steps: tuple[Step, ...]) -> None:
        lines = [f"  {n}. {step.describe()}" for n, step in enumerate(steps, 1)]
        self._ask(f"On the phone, {action.value}:\n" + "\n".join(lines))

    def _ask(self, instruction: str) -> None:
        if not self.confirm(instruction):
            raise LabError(f"operator did not confirm: {instruction.splitlines()[0]}")

