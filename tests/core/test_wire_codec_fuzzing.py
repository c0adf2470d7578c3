"""Every wire codec says no only with FormatError, whatever bytes arrive.

Two kinds of input per codec: hypothesis' arbitrary bytes (shrunk to a minimal
example when something escapes) and seeded mutations of real frames, which get
past the first length checks that random bytes never pass. The benchmark
`benchmarks/bench_fuzz.py` runs the same mutations by the million.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.formats.errors import FormatError
from harness.fuzz import FuzzResult, fuzz, mutate
from harness.wire_codecs import CODECS

NAMES = sorted(CODECS)


@pytest.mark.parametrize("name", NAMES)
def test_samples_decode(name: str) -> None:
    codec = CODECS[name]
    for sample in codec.samples():
        codec.decode(sample)  # well-formed frames are accepted


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_format_error(name: str, data: bytes) -> None:
    with contextlib.suppress(FormatError):  # anything else fails the test
        CODECS[name].decode(data)


@pytest.mark.parametrize("name", NAMES)
def test_mutated_frames_raise_only_format_error(name: str) -> None:
    result = fuzz(CODECS[name], 3000, seed=7)
    assert result.escapes == 0, result.examples
    assert result.rejected > 0  # the mutations do reach the error paths


def test_the_fuzzer_counts_an_escaping_decoder() -> None:
    """A decoder that raises IndexError is reported, so a real escape cannot pass unseen."""
    from harness.wire_codecs import Codec

    def fragile(data: bytes) -> object:
        if len(data) < 4:
            raise FormatError("short", 0)
        return data[data[0] + 100]  # IndexError on most inputs

    result: FuzzResult = fuzz(Codec("fragile", fragile, lambda: [b"\x01\x02\x03\x04\x05"]), 200)
    assert result.escapes > 0 and result.examples[0][0].startswith("IndexError")


def test_mutation_is_seeded_and_changes_the_frame() -> None:
    import random

    frame = bytes(range(40))
    first = [mutate(frame, random.Random(3)) for _ in range(5)]
    again = [mutate(frame, random.Random(3)) for _ in range(5)]
    assert first == again and any(m != frame for m in first)
