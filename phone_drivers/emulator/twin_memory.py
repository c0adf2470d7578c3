"""What many twin phones of one process hold alike, kept once.

Why a module of its own: a 10,000-phone storm runs ~3,300 twins per process, and each
kept its own copy of the same bytes (the cluster's certificates as servers present
them) and a ~7 KB accepted config differing from the others in a few fields. These are
memory savings, not trust rules: `trust_state` stores through them, and mutation
testing of the trust-deciding modules (setup.cfg) leaves them out (docs/mutation.md).
zlib's preset dictionary does the packing; only the choice of dictionary is here.
"""

from __future__ import annotations

import zlib

_CONFIG_SAMPLE: list[bytes] = []  # the first config a twin of this process accepted


def pack_config(config: bytes) -> tuple[bytes, bytes]:
    """(dictionary, `config` deflated against it). Why: each twin keeps its accepted
    config (~7 KB) and a storm's configs differ in a few fields, so deflated against
    the first config this process saw (zlib's preset dictionary) each keeps a few
    hundred bytes; the dictionary is shared, not copied."""
    if not _CONFIG_SAMPLE:
        _CONFIG_SAMPLE.append(config[-32768:])  # deflate looks back 32 KB at most
    sample = _CONFIG_SAMPLE[0]
    packer = zlib.compressobj(6, zdict=sample)
    return sample, packer.compress(config) + packer.flush()


def unpack_config(packed: tuple[bytes, bytes]) -> bytes:
    sample, deflated = packed
    inflater = zlib.decompressobj(zdict=sample)
    return inflater.decompress(deflated) + inflater.flush()


SHARED_BYTES = 256  # distinct values `shared_bytes` keeps
_shared: dict[bytes, bytes] = {}


def shared_bytes(data: bytes) -> bytes:
    """One copy of a byte string many twins of a process hold alike (the cluster's
    certificates as servers present them): a 10,000-phone storm otherwise keeps one
    copy per phone. Bounded: the table starts afresh when `SHARED_BYTES` are kept."""
    kept = _shared.get(data)
    if kept is not None:
        return kept
    if len(_shared) >= SHARED_BYTES:
        _shared.clear()
    return _shared.setdefault(data, data)


def shared_count() -> int:
    """Values `shared_bytes` keeps now (at most `SHARED_BYTES`)."""
    return len(_shared)
