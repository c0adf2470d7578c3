"""Key paths of the SBD maintenance actions per phone family, as data (HARDWARE.md §2.6).

Why data and not code: the paths differ per family and firmware, several are still open
questions (Q6 exact 79x1 erase keys, Q7 what 88xx "Reset settings > Security" removes),
and three keypads read them differently — CGI pushes keys, a human reads the labels,
the twin ignores them. Menu items and softkeys are therefore named by their on-screen
*label*; the CGI keypad needs a per-model map from label to key (topology data) because
positions move between firmware releases. Key notation everywhere: `0-9 * #` and named
keys in braces, e.g. `{Settings}**#` (names are the CiscoIPPhoneExecute `Key:` names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from harness.errors import UsageError
from harness.phone_models import Family

SEQUENCE = re.compile(r"(?:[0-9*#]|\{[A-Za-z][A-Za-z0-9]*\})+")
_TOKEN = re.compile(r"[0-9*#]|\{([A-Za-z][A-Za-z0-9]*)\}")
_PAD_NAMES = {"*": "KeyPadStar", "#": "KeyPadPound"}


class Action(StrEnum):
    ERASE_ITL = "erase itl"
    ERASE_CTL = "erase ctl"
    FACTORY_RESET = "factory reset"
    CAPF_AUTH = "capf auth"


@dataclass(frozen=True)
class Step:
    """One operator action. `kind`: `keys` (press notation), `menu` / `softkey` (choose
    the item with this label), `power` (something only hands or PoE can do)."""

    kind: str
    value: str

    def describe(self) -> str:
        return {"keys": "press {}", "menu": "select '{}'", "softkey": "press softkey '{}'",
                "power": "{}"}[self.kind].format(self.value)


def key_names(sequence: str) -> list[str]:
    """`{Settings}**#` → `["Settings", "KeyPadStar", "KeyPadStar", "KeyPadPound"]`."""
    if not SEQUENCE.fullmatch(sequence):
        raise UsageError(f"bad key sequence {sequence!r}: use 0-9 * # and {{Name}} keys")
    names = []
    for token in _TOKEN.finditer(sequence):
        char = token.group(0)
        names.append(token.group(1) or _PAD_NAMES.get(char, f"KeyPad{char}"))
    return names


def _k(value: str) -> Step:
    return Step("keys", value)


def _m(*labels: str) -> tuple[Step, ...]:
    return tuple(Step("menu", label) for label in labels)


_RESET_79 = "power the phone on while holding #; release when the line buttons flash"
_HOLD_88 = ("unplug 5 s; hold # while plugging in; release when Headset and Speaker are lit")
_ADMIN_88 = (_k("{Applications}"), *_m("Admin Settings"))
_PATHS: dict[Family, dict[Action, tuple[Step, ...]]] = {
    Family.C79X1: {  # [D S41][C S33]; exact keys per firmware: Q6
        Action.ERASE_ITL: (_k("{Settings}"), *_m("Security Configuration", "Trust List",
                                                  "ITL File"), _k("**#"), Step("softkey", "Erase")),
        Action.ERASE_CTL: (_k("{Settings}"), *_m("Security Configuration", "Trust List",
                                                  "CTL File"), _k("**#"), Step("softkey", "Erase")),
        Action.FACTORY_RESET: (Step("power", _RESET_79), _k("123456789*0#")),  # [D S37][C S42]
        Action.CAPF_AUTH: (_k("{Settings}"), *_m("Security Configuration", "LSC"), _k("**#"),
                           Step("softkey", "Update"), _k("<digits>"),
                           Step("softkey", "Submit")),  # [U]
    },
    Family.C88XX: {  # [D S18]; whether Security also removes the ITL: Q7
        Action.ERASE_ITL: (*_ADMIN_88, *_m("Reset Settings", "Security"), Step("softkey", "Reset")),
        Action.ERASE_CTL: (*_ADMIN_88, *_m("Reset Settings", "Security"), Step("softkey", "Reset")),
        Action.FACTORY_RESET: (*_ADMIN_88, *_m("Reset Settings", "All Settings"),
                               Step("softkey", "Reset")),
        Action.CAPF_AUTH: (*_ADMIN_88, *_m("Security Setup", "LSC"), Step("softkey", "Update"),
                           _k("<digits>"), Step("softkey", "Submit")),  # [U]
    },
    Family.LEGACY_79XX: {  # no ITL/LSC before Security by Default
        Action.FACTORY_RESET: (Step("power", _RESET_79.replace("line buttons flash",
                                    "Headset, Mute and Speaker cycle")), _k("123456789*0#"),
                               Step("power", "answer 'Keep network cfg?' with 2 (no)")),
    },
}
KEYPAD_FACTORY_RESET_88XX = (Step("power", _HOLD_88), _k("123456789*0#"))  # [D S18], by hand


def path(family: Family, action: Action, digits: str = "") -> tuple[Step, ...]:
    """The steps of `action` on `family`; CAPF digits are filled in."""
    steps = _PATHS[family].get(action)
    if steps is None:
        raise UsageError(f"{family.value} phones have no '{action.value}' (no Security by Default)")
    if action is Action.CAPF_AUTH and not re.fullmatch(r"\d{4,10}", digits):
        raise UsageError(f"CAPF authentication string must be 4-10 digits, not {digits!r}")
    return tuple(Step(s.kind, digits) if s.value == "<digits>" else s for s in steps)
