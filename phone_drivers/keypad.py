"""Pressing keys on a phone: the trust-list erase, factory reset and CAPF entry paths.

Testcases call `keypad.erase_itl()` and never care how the keys arrive (docs/ARCHITECTURE.md
principle 1). Three carriers exist: the twin's console (`ConsoleKeypad`, commands
documented in `emulator/tty.py`), the phone's web `CGI/Execute` (`CgiKeypad`, hardware
with web access on and a CUCM user associated to the phone, docs/HARDWARE.md §2.4), and a
person (`ManualKeypad`, for paths that need hands on the power cord or when the web
server is off, as SBD deployments often have it). CGI uses urllib: one form POST per
few keys needs no HTTP library. Every carrier failure is a `LabError` (principle 8).
"""

from __future__ import annotations

import base64
import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable
from xml.sax.saxutils import quoteattr

from harness.errors import LabError
from harness.phone_models import Family
from phone_drivers.console import Console
from phone_drivers.keypad_paths import INIT, Action, Step, key_names, key_uris, path

__all__ = ["Action", "CgiKeypad", "ConsoleKeypad", "Keypad", "ManualKeypad", "Step"]
# One key per CiscoIPPhoneExecute (which may carry three): a phone answers the items of
# one request "in any order" (docs/REAL_WIRE.md §6.2), and menu keys must arrive in order,
# each after the previous screen is drawn (§6.3: 0.5-2 s apart on a 7975).
_KEYS_PER_POST = 1
CGI_ERRORS = {  # CiscoIPPhoneError numbers (docs/REAL_WIRE.md §6.2)
    "1": "parse error in the CiscoIPPhoneExecute",
    "2": "response framing error",
    "3": "internal file error",
    "4": "authentication error: the authenticationURL did not answer AUTHORIZED for this "
         "user (wrong credentials, or the user is not associated with the phone)",
    "6": "the phone does not accept 'Expect: 100-continue'",
}


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
    """The twin's console: named actions are console commands, so no menu is walked."""

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
    """`POST <base_url>/CGI/Execute` with `Key:` URIs and HTTP Basic (docs/REAL_WIRE.md §6.2).

    Hardware phones and twin phones alike: `base_url` is `http://<phone address>` on a
    rack, the twin phone's web server on the twin. Menu items and softkeys are found by
    the family's default positions (`keypad_paths.MENU_KEYS`/`SOFTKEYS`), which `menu`
    and `softkeys` override per model and firmware (docs/HARDWARE.md Q6). Each action starts
    with the family's `Init:` URI (back to a known screen); keys go one per request,
    `pause` apart, while the phone redraws its menu (§6.3: 0.5-2 s on a 7975).
    """

    needs_operator = False

    def __init__(self, base_url: str | Callable[[], str], family: Family, *, user: str,
                 password: str, menu: Mapping[str, str] | None = None,
                 softkeys: Mapping[str, int] | None = None, timeout: float = 5.0,
                 pause: float = 0.5) -> None:
        self.family, self.timeout, self.pause = family, timeout, pause
        self._base = base_url  # a callable: the address is learnt later (DHCP, registration)
        self.menu, self.softkeys = dict(menu or {}), dict(softkeys or {})
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._auth = f"Basic {token}"

    @property
    def url(self) -> str:
        """`<base>/CGI/Execute`; LabError from a resolver that cannot name the phone yet."""
        base = self._base() if callable(self._base) else self._base
        return base.rstrip("/") + "/CGI/Execute"

    def press(self, sequence: str) -> None:
        self._push([f"Key:{name}" for name in key_names(sequence)])

    def erase_itl(self) -> None:
        self._action(Action.ERASE_ITL)

    def erase_ctl(self) -> None:
        self._action(Action.ERASE_CTL)

    def factory_reset(self) -> None:
        self._action(Action.FACTORY_RESET)

    def enter_capf_auth(self, digits: str) -> None:
        self._action(Action.CAPF_AUTH, digits)

    def _action(self, action: Action, digits: str | None = None) -> None:
        """UsageError (nothing sent) for a path keys cannot reach or bad CAPF digits."""
        uris = key_uris(self.family, action, digits=digits, menu=self.menu,
                        softkeys=self.softkeys)
        init = INIT.get(self.family)
        self._push(([init] if init else []) + uris)

    def _push(self, uris: list[str]) -> None:
        for start in range(0, len(uris), _KEYS_PER_POST):
            items = "".join(f'<ExecuteItem Priority="0" URL={quoteattr(u)}/>'
                            for u in uris[start:start + _KEYS_PER_POST])
            self._post(f"<CiscoIPPhoneExecute>{items}</CiscoIPPhoneExecute>")
            time.sleep(self.pause)  # the phone redraws its menu between keys

    def _post(self, xml: str) -> None:
        url = self.url
        body = urllib.parse.urlencode({"XML": xml}).encode()
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Authorization": self._auth, "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                answer = reply.read(65536)
        except urllib.error.HTTPError as exc:
            hint = " (credentials rejected?)" if exc.code in (401, 403) else ""
            raise LabError(f"keypad {url}: HTTP {exc.code}{hint}") from exc
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise LabError(f"keypad {url}: phone's web server unreachable ({exc}); is "
                           "it powered and is web access enabled (webAccess 0)?") from exc
        self._check(url, answer)

    @staticmethod
    def _check(url: str, answer: bytes) -> None:
        try:
            root = ET.fromstring(answer)
        except ET.ParseError as exc:
            raise LabError(f"keypad {url}: unreadable reply {answer[:80]!r}") from exc
        if root.tag == "CiscoIPPhoneError":
            number = root.get("Number", "?")
            meaning = CGI_ERRORS.get(number, "unknown error")
            raise LabError(f"keypad {url}: phone refused: CiscoIPPhoneError {number} "
                           f"({meaning})")
        for item in root.iter("ResponseItem"):
            if item.get("Status", "0") != "0":
                raise LabError(f"keypad {url}: {item.get('URL')} failed: "
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

