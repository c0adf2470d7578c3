"""Edges of the twin's memory savings (twin_memory.pack_config, shared_bytes) that the
storm tests do not reach: a config packed against the shared sample costs less than
deflating it alone, and a value already kept is found even when the table is full.
Found as mutation survivors (docs/mutation-survivors.md); no phone can show them."""

from __future__ import annotations

import zlib

import pytest

from phone_drivers.emulator import twin_memory


def config(n: int) -> bytes:
    """A config of ~9 KB whose settings vary little from one phone to the next."""
    body = b"".join(b"<param%d>%d-%d</param%d>" % (i, i * 7919 % 104729, i % 13, i)
                    for i in range(400))
    return b"<device><name>SEP00000A%06d</name>" % n + body + b"</device>"


def test_a_config_alike_to_the_first_packs_smaller_than_deflated_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(twin_memory, "_CONFIG_SAMPLE", [])
    first, second = config(1), config(2)
    sample, _ = twin_memory.pack_config(first)
    assert sample == first  # the first config the process saw, under deflate's 32 KB
    packed = twin_memory.pack_config(second)
    assert twin_memory.unpack_config(packed) == second
    alone = len(zlib.compress(second, 6))
    assert len(packed[1]) * 4 < alone, (len(packed[1]), alone)


def test_a_kept_value_is_found_in_a_full_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(twin_memory, "_shared", {})
    kept = bytes(bytearray(b"the TVS certificate"))
    assert twin_memory.shared_bytes(kept) is kept
    for n in range(twin_memory.SHARED_BYTES - 1):
        twin_memory.shared_bytes(b"filler %d" % n)
    assert twin_memory.shared_count() == twin_memory.SHARED_BYTES
    assert twin_memory.shared_bytes(bytes(bytearray(kept))) is kept
