"""An immutable set of in-memory files kept deflated against a dictionary sampled from it.

Why: a cluster's TFTP set is thousands of configs that differ in a few fields (name,
UUIDs, DN, signature). Kept as bytes, 10,000 phones' configs and signed copies held
~150 MB in every cluster worker (issue 14). zlib's preset dictionary (RFC 1950 FDICT)
lets each file be stored as the few hundred bytes that differ from sample files of
the same set: about 20 times smaller, ~20 µs to inflate 8 KB per request. zlib does
the work; only the choice of samples is written here.

Large files (over `SMALL`) stay as they are, so one request never inflates a big file.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping

SMALL = 64 * 1024  # files up to this size are deflated
DICTIONARY_BYTES = 32 * 1024  # deflate's window: dictionary bytes further back are unused
_SHAPE = 512  # files whose sizes differ by less than this are taken as alike
_LEVEL = 6


def sample_dictionary(files: Mapping[str, bytes]) -> bytes:
    """One file of each size band, in name order, the last `DICTIONARY_BYTES` of them:
    a cluster's configs differ by model and protocol, which shows in their size."""
    seen: dict[int, bytes] = {}
    for name in sorted(files):
        data = files[name]
        if len(data) <= SMALL:
            seen.setdefault(len(data) // _SHAPE, data)
    return b"".join(seen.values())[-DICTIONARY_BYTES:]


class DeflatedFiles:
    """Name -> bytes, read-only; `with_files` makes a new set sharing the dictionary.

    Built from pairs, so a caller can stream a large set in without ever holding it
    whole; the dictionary is then given (`sample_dictionary` of a few of them), else
    sampled from the set itself."""

    __slots__ = ("_dictionary", "_packed", "_plain")

    def __init__(self, files: Mapping[str, bytes] | Iterable[tuple[str, bytes]] = (), *,
                 dictionary: bytes | None = None) -> None:
        if dictionary is None:
            files = dict(files.items() if isinstance(files, Mapping) else files)
            dictionary = sample_dictionary(files)
        self._dictionary = dictionary
        self._packed: dict[str, bytes] = {}
        self._plain: dict[str, bytes] = {}
        self._add(files.items() if isinstance(files, Mapping) else files)

    def _add(self, items: Iterable[tuple[str, bytes]]) -> None:
        for name, data in items:
            self._packed.pop(name, None)
            self._plain.pop(name, None)
            if len(data) <= SMALL:
                packer = zlib.compressobj(_LEVEL, zdict=self._dictionary)
                self._packed[name] = packer.compress(data) + packer.flush()
            else:
                self._plain[name] = data

    def with_files(self, files: Mapping[str, bytes]) -> DeflatedFiles:
        """These files added or replaced, the rest kept; this set is left unchanged."""
        new = DeflatedFiles(dictionary=self._dictionary)
        new._packed, new._plain = dict(self._packed), dict(self._plain)
        new._add(files.items())
        return new

    def get(self, name: str) -> bytes | None:
        packed = self._packed.get(name)
        if packed is None:
            return self._plain.get(name)
        inflater = zlib.decompressobj(zdict=self._dictionary)
        return inflater.decompress(packed) + inflater.flush()

    def names(self) -> list[str]:
        return sorted([*self._packed, *self._plain])

    def __len__(self) -> int:
        return len(self._packed) + len(self._plain)

    def stored_bytes(self) -> int:
        """What the set holds in memory (files, not names or the dictionary)."""
        return sum(map(len, self._packed.values())) + sum(map(len, self._plain.values()))
