"""Key paths of the SBD maintenance actions per phone family, as data (docs/HARDWARE.md §2.6).

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


_UNLOCK = Step("softkey", "Unlock")  # the 7975 trace presses Soft5 before **# [O R21]
_RESET_79 = "power the phone on while holding #; release when the line buttons flash"
_HOLD_88 = ("unplug 5 s; hold # while plugging in; release when Headset and Speaker are lit")
_ADMIN_88 = (_k("{Applications}"), *_m("Admin Settings"))
_PATHS: dict[Family, dict[Action, tuple[Step, ...]]] = {
    Family.C79X1: {  # [D S41][C S33]; exact keys per firmware: Q6
        Action.ERASE_ITL: (_k("{Settings}"), *_m("Security Configuration", "Trust List",
                                                  "ITL File"), _UNLOCK, _k("**#"),
                           Step("softkey", "Erase")),
        Action.ERASE_CTL: (_k("{Settings}"), *_m("Security Configuration", "Trust List",
                                                  "CTL File"), _UNLOCK, _k("**#"),
                           Step("softkey", "Erase")),
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


# --- where the labels are: what the CGI keypad presses (docs/REAL_WIRE.md §6.3) -----------
# Positions move between firmware releases (docs/HARDWARE.md Q6), so these are defaults the
# topology may override. 79x1: the observed 7975 erase `Key:Settings, 4, 5, 1, Soft5,
# **#, Soft5` [O R21]; "ITL File" as item 2 and the CAPF screens are [I]. 88xx: all [I].
MENU_KEYS: dict[Family, dict[str, str]] = {
    Family.C79X1: {"Security Configuration": "4", "Trust List": "5", "CTL File": "1",
                   "ITL File": "2", "LSC": "3"},
    Family.C88XX: {"Admin Settings": "5", "Reset Settings": "4", "Security": "5",
                   "All Settings": "1", "Security Setup": "3", "LSC": "1"},
    Family.LEGACY_79XX: {},
}
SOFTKEYS: dict[Family, dict[str, int]] = {
    Family.C79X1: {"Unlock": 5, "Erase": 5, "Update": 1, "Submit": 1},
    Family.C88XX: {"Reset": 1, "Update": 1, "Submit": 1},
    Family.LEGACY_79XX: {},
}
INIT: dict[Family, str] = {Family.C79X1: "Init:Settings"}  # back to a known screen [O R21]
# Key names each family accepts in `Key:` URIs (§6.3); others are silently discarded [D R17].
_COMMON_KEYS = (r"KeyPad[0-9]|KeyPadStar|KeyPadPound|Soft[1-5]|Line([1-9]|[1-9][0-9]|1[01][0-9]"
                r"|120)|NavUp|NavDwn|NavSelect|Settings|Services|Directories|Messages|Applications"
                r"|Hold|Headset|Speaker|Mute|VolUp")
KEYS: dict[Family, re.Pattern[str]] = {
    Family.C79X1: re.compile(rf"(?:{_COMMON_KEYS}|Release|VolDwn)"),
    Family.LEGACY_79XX: re.compile(rf"(?:{_COMMON_KEYS}|Release|VolDwn)"),
    Family.C88XX: re.compile(rf"(?:{_COMMON_KEYS}|Release|VolDwn|VolDown|Contacts|NavLeft"
                             r"|NavRight|KemPage|Info|Session[1-6]|FixedFeature[1-3]"
                             r"|Feature([1-9]|[1-9][0-9]|1[01][0-9]|120))"),
}
DIGITS = "<digits>"  # placeholder in `key_uris` when no CAPF string is given


def key_uris(family: Family, action: Action, *, digits: str | None = None,
             menu: dict[str, str] | None = None,
             softkeys: dict[str, int] | None = None) -> list[str]:
    """The `Key:` URIs that carry out `action` (without the `INIT` one). `digits=None` for
    CAPF leaves `DIGITS` in place of the string (the twin's menu pattern). UsageError for
    paths that need hands on the phone or a position that is not known."""
    steps = _PATHS[family].get(action) if digits is None else None
    if steps is None:
        steps = path(family, action, digits or "")
    where = {**MENU_KEYS[family], **(menu or {})}
    soft = {**SOFTKEYS[family], **(softkeys or {})}
    uris: list[str] = []
    for step in steps:
        if step.kind == "keys" and step.value == DIGITS:
            uris.append(DIGITS)
        elif step.kind == "keys":
            uris += [f"Key:{name}" for name in key_names(step.value)]
        elif step.kind == "menu" and step.value in where:
            uris += [f"Key:{name}" for name in key_names(where[step.value])]
        elif step.kind == "softkey" and step.value in soft:
            uris.append(f"Key:Soft{soft[step.value]}")
        elif step.kind == "power":
            raise UsageError(f"'{action.value}' needs hands on the phone ({step.value}): "
                             "use the manual keypad")
        else:
            raise UsageError(f"'{action.value}': position of {step.kind} '{step.value}' unknown "
                             f"for {family.value} phones (docs/HARDWARE.md Q6)")
    return uris
