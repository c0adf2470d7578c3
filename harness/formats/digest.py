"""Code tables shared by several wire formats: digest algorithms and certificate roles.

Cisco files name their hash by a one-byte code (docs/PROTOCOLS.md §0.3) in file headers,
trust-list records and CAPF, and name certificate roles by the codes of §2.4 in
trust-list records and TVS answers. Keeping each code with its label (and, for
digests, the `cryptography` algorithm) in one enum means no module keeps its own
copy of either table. `Role` is re-exported by `trustlist`, its main user.
"""

from __future__ import annotations

import hashlib
from enum import IntEnum

from cryptography.hazmat.primitives import hashes

from harness.formats.errors import FormatError


class Digest(IntEnum):
    """Digest code as written in the files (1 = SHA-1 is the certutils default)."""

    SHA1 = 1
    SHA256 = 2
    SHA512 = 3

    @property
    def label(self) -> str:
        """Lower-case name used on the command line and in JSON: `sha1`, `sha512`."""
        return self.name.lower()

    @property
    def size(self) -> int:
        """Digest length in bytes (20, 32 or 64)."""
        return _SIZES[self]

    def algorithm(self) -> hashes.HashAlgorithm:
        """A fresh `cryptography` hash object for signing and verification."""
        return _ALGORITHMS[self]()

    def hash(self, data: bytes) -> bytes:
        """The digest of `data` (hashlib is faster than `cryptography` for one-shots)."""
        return hashlib.new(self.name.lower(), data).digest()

    @classmethod
    def from_code(cls, code: int, offset: int | None = None) -> Digest:
        """Decode a code read from a file; unknown codes are malformed input."""
        try:
            return cls(code)
        except ValueError:
            raise FormatError(f"unknown digest algorithm code {code}", offset) from None

    @classmethod
    def from_label(cls, text: str) -> Digest:
        """Parse `sha1`/`SHA-512`/...; raises ValueError naming the valid choices."""
        key = text.strip().replace("-", "").upper()
        if key in cls.__members__:
            return cls[key]
        choices = ", ".join(d.label for d in cls)
        raise ValueError(f"unknown digest {text!r} (choose {choices})")


_SIZES = {Digest.SHA1: 20, Digest.SHA256: 32, Digest.SHA512: 64}
_ALGORITHMS: dict[Digest, type[hashes.HashAlgorithm]] = {
    Digest.SHA1: hashes.SHA1,
    Digest.SHA256: hashes.SHA256,
    Digest.SHA512: hashes.SHA512,
}
