"""CUCM release numbers and the CTL-client rule of the 7.x → 8.0 upgrade.

docs/SECURITY_BY_DEFAULT.md §8: after upgrading a mixed-mode cluster from some 7.1
releases, the CTL client must be run again. The cut-offs are build numbers,
and regular and ES (engineering special) releases have different cut-offs, so
releases are compared on their full build tuple, never as strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from harness.errors import UsageError

# "7.1(3)", "7.1(3a)su1a" style (display form), optionally "es"
_DISPLAY = re.compile(r"^(\d+)\.(\d+)\((\d+)([a-z]?)\)(su\d+[a-z]?)?$", re.IGNORECASE)
# "007.001(003.21900.003)" (the CUCM build form) or "7.1.3.21900-3"
_BUILD = re.compile(r"^0*(\d+)\.0*(\d+)\(0*(\d+)\.0*(\d+)\.0*(\d+)\)$")
_DOTTED = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.(\d+)-(\d+)$")
_SHORT = re.compile(r"^(\d+)\.(\d+)$")


@total_ordering
@dataclass(frozen=True)
class Release:
    """major.minor(maint.build.patch); `es` marks an engineering-special build."""

    major: int
    minor: int
    maint: int = 0
    build: int = 0
    patch: int = 0
    es: bool = False
    label: str = ""

    @classmethod
    def parse(cls, text: str, *, es: bool = False) -> Release:
        raw = text.strip()
        for pattern in (_BUILD, _DOTTED):
            if m := pattern.match(raw):
                major, minor, maint, build, patch = (int(g) for g in m.groups())
                return cls(major, minor, maint, build, patch, es=es, label=raw)
        if m := _DISPLAY.match(raw):
            return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)), es=es, label=raw)
        if m := _SHORT.match(raw):
            return cls(int(m.group(1)), int(m.group(2)), es=es, label=raw)
        raise UsageError(
            f"unrecognised CUCM release {text!r}: use e.g. '8.0', '7.1(3)' or "
            "'007.001(003.21900.003)'"
        )

    @property
    def key(self) -> tuple[int, int, int, int, int]:
        return (self.major, self.minor, self.maint, self.build, self.patch)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Release):
            return NotImplemented
        return self.key < other.key

    @property
    def has_security_by_default(self) -> bool:
        """ITL, TVS and signed default configs exist from 8.0 on."""
        return self.major >= 8

    def __str__(self) -> str:
        return self.label or f"{self.major}.{self.minor}({self.maint})"


# (maint, regular cut-off or None for "every regular release", ES cut-off)
_AFFECTED: dict[int, tuple[tuple[int, int, int] | None, tuple[int, int, int]]] = {
    2: (None, (2, 32016, 1)),
    3: ((3, 21900, 3), (3, 21005, 1)),
}


def ctl_client_required(release: Release, mixed_mode: bool) -> bool:
    """Whether upgrading from `release` to 8.0 needs the CTL client run again.

    7.1(2): every regular release, and ES releases before 007.001(002.32016.001).
    7.1(3): regular releases before 007.001(003.21900.003), ES releases before
    007.001(003.21005.001). Only clusters in mixed mode are concerned.
    """
    if not mixed_mode or (release.major, release.minor) != (7, 1):
        return False
    rule = _AFFECTED.get(release.maint)
    if rule is None:
        return False
    regular_cutoff, es_cutoff = rule
    build = (release.maint, release.build, release.patch)
    if release.es:
        return build < es_cutoff
    return regular_cutoff is None or build < regular_cutoff
