"""Certificate role codes ("function", docs/PROTOCOLS.md §2.4) shared by trust lists and TVS.

One table for the file formats, the TVS wire protocol and every CLI, so a label
such as `CCM+TFTP` means the same code everywhere; unknown codes stay plain ints.
"""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    """Record role ("function") codes of §2.4; other codes stay plain ints."""

    SAST = 0
    CCM = 1
    CCM_TFTP = 2
    TFTP = 3
    CAPF = 4
    APP_SERVER = 7
    TVS = 21

    @property
    def label(self) -> str:
        """Cisco's label: `CCM+TFTP`, `APP-SERVER`, `TVS`, ..."""
        return self.name.replace("CCM_", "CCM+").replace("_", "-")

    @classmethod
    def from_label(cls, text: str) -> Role:
        """Case-insensitive label or name (`ccm+tftp`, `CCM_TFTP`); ValueError otherwise."""
        key = text.strip().upper().replace("+", "_").replace("-", "_")
        if key in cls.__members__:
            return cls[key]
        raise ValueError(f"unknown role {text!r} (choose {', '.join(r.label for r in cls)})")


def role_label(code: int) -> str | int:
    """The label of a known role code, the bare int for an unknown one."""
    return Role(code).label if code in Role._value2member_map_ else code


def parse_role(text: str) -> int:
    """A role label (SAST, CCM, CCM+TFTP, TFTP, CAPF, APP-SERVER, TVS) or a code 0-65535."""
    stripped = text.strip()
    if stripped.isascii() and stripped.isdecimal() and int(stripped) <= 0xFFFF:
        return int(stripped)
    return Role.from_label(stripped)
