"""Error types shared by the whole harness.

Two families, kept apart on purpose (docs/ARCHITECTURE.md principle 8): `LabError`
means the lab itself broke (switch unreachable, console gone, port busy) and is
reported apart from assertions about phone behaviour; `UsageError` is a user
mistake that the CLI turns into one clear line and exit code 2.

Some lab errors decide what happens to the rest of a run, so they are types, not
words in a message: `RackBroken` (a wire every test of the rack needs is dead: the
rack is latched out of service), `OperatorNeeded` (a step needs hands on the phone
and no operator was asked for) and `PhoneOutOfService` (one phone could not be
brought back to a known trust state and is left out of later tests).
"""

from __future__ import annotations

from typing import Literal

RackPart = Literal["power", "console", "switch"]


class LabError(RuntimeError):
    """The lab infrastructure failed; not a finding about the phone."""


class RackBroken(LabError):
    """A wire of the rack is dead: `part` is the PoE port (`power`), a phone's console
    (`console`) or the switch itself (`switch`: unreachable, refusing logins, hung)."""

    def __init__(self, part: RackPart, message: str) -> None:
        super().__init__(message)
        self.part: RackPart = part

    def __reduce__(self) -> tuple[type[RackBroken], tuple[RackPart, str]]:
        return type(self), (self.part, str(self))


class OperatorNeeded(LabError):
    """A step needs a person at the phone (manual keypad) and the run is unattended."""


class PhoneOutOfService(LabError):
    """`phone` cannot be put back in a known state (`reason`); later tests leave it out."""

    def __init__(self, phone: str, reason: str) -> None:
        super().__init__(f"{phone} is out of service: {reason}")
        self.phone, self.reason = phone, reason

    def __reduce__(self) -> tuple[type[PhoneOutOfService], tuple[str, str]]:
        return type(self), (self.phone, self.reason)


class UsageError(ValueError):
    """A user mistake (bad file, bad option); shown as one line, never a traceback."""
