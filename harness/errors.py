"""Error types shared by the whole harness.

Two families, kept apart on purpose (ARCHITECTURE.md principle 8): `LabError`
means the lab itself broke (switch unreachable, console gone, port busy) and is
reported apart from assertions about phone behaviour; `UsageError` is a user
mistake that the CLI turns into one clear line and exit code 2.
"""

from __future__ import annotations


class LabError(RuntimeError):
    """The lab infrastructure failed; not a finding about the phone."""


class UsageError(ValueError):
    """A user mistake (bad file, bad option); shown as one line, never a traceback."""
