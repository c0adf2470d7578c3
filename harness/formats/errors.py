"""The one error every parser in `harness.formats` raises on malformed input."""

from __future__ import annotations


class FormatError(ValueError):
    """Malformed bytes: carries the byte offset where parsing stopped and why."""

    def __init__(self, reason: str, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        where = f"offset {offset}: " if offset is not None else ""
        super().__init__(f"{where}{reason}")


class VerificationError(Exception):
    """Well-formed input whose signature, digest or decryption does not check out."""
