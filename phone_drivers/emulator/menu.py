"""The twin phone's menus, as far as key presses reach them: which key run does what.

A real phone turns `Key:` presses (CGI `/CGI/Execute`, docs/REAL_WIRE.md §6.2-§6.3, or
fingers) into menu navigation. The twin models only the maintenance paths of
`phone_drivers.keypad_paths` (erase ITL/CTL, factory reset, CAPF string): the keys
pressed since the last `Init:` URI are matched against each action's key run for the
family; a completed run is the action, a run that leads nowhere is forgotten (the user
wandered off into a menu the twin does not model), and a key the family does not have
is silently discarded (§6.2, [D R17]). Paths needing hands on the power cord are not
reachable by keys and so not modelled. Where two actions share one key run (88xx
"Reset Settings > Security" for both CTL and ITL) the run does both: the community
account of that menu [C S33]; docs/HARDWARE.md Q7 keeps it open.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import UsageError
from harness.phone_models import Family
from phone_drivers.keypad_paths import DIGITS, KEYS, Action, key_uris

MAX_KEYS = 64  # no modelled path is longer; a longer run is noise


@dataclass(frozen=True)
class MenuAction:
    action: Action
    argument: str = ""  # the CAPF string


class MenuModel:
    """Per-phone menu state. `press(uri)` returns the actions a press completes."""

    def __init__(self, family: Family, *, menu: dict[str, str] | None = None,
                 softkeys: dict[str, int] | None = None) -> None:
        self.family = family
        self.patterns: dict[Action, list[str]] = {}
        for action in Action:
            try:
                self.patterns[action] = key_uris(family, action, menu=menu, softkeys=softkeys)
            except UsageError:
                continue  # not reachable by keys on this family
        self.pressed: list[str] = []

    def press(self, uri: str) -> list[MenuAction]:
        scheme, _, name = uri.partition(":")
        if scheme == "Init":
            self.pressed = []
            return []
        if scheme != "Key" or not KEYS[self.family].fullmatch(name):
            return []  # silently discarded
        self.pressed = [*self.pressed, uri][-MAX_KEYS:]
        for candidate in (self.pressed, [uri]):  # a dead end: maybe this key starts a path
            done, alive = self._match(candidate)
            if done:
                self.pressed = []
                return done
            if alive:
                self.pressed = candidate
                return []
        self.pressed = []
        return []

    def _match(self, pressed: list[str]) -> tuple[list[MenuAction], bool]:
        done: list[MenuAction] = []
        alive = False
        for action, pattern in self.patterns.items():
            state, digits = _follow(pressed, pattern)
            if state == "done":
                done.append(MenuAction(action, digits))
            alive = alive or state == "partway"
        return done, alive


def _follow(pressed: list[str], pattern: list[str]) -> tuple[str, str]:
    """("done" | "partway" | "off", digits typed where the pattern has `DIGITS`)."""
    i = 0
    digits = ""
    for position, expected in enumerate(pattern):
        if expected == DIGITS:
            while i < len(pressed) and pressed[i].removeprefix("Key:KeyPad").isdigit():
                digits += pressed[i].removeprefix("Key:KeyPad")
                i += 1
            if i == len(pressed):
                return "partway", digits
            if not 4 <= len(digits) <= 10:
                return "off", digits
            continue
        if i == len(pressed):
            return ("partway" if position < len(pattern) else "done"), digits
        if pressed[i] != expected:
            return "off", digits
        i += 1
    return ("done" if i == len(pressed) else "off"), digits
