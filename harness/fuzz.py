"""Mutation fuzzing of the wire codecs: well-formed frames, bent in the ways networks bend them.

Random bytes rarely get past a codec's first length check, so each input starts
from a real frame (`wire_codecs`) and gets one to three mutations: a bit flip, a
byte set to 0x00/0xFF/random, a cut, inserted or duplicated bytes, or a 1-, 2- or
4-byte field overwritten with a boundary value (0, 1, max, max-1), which is how
length fields go wrong. Seeded, so a found escape can be replayed. Used by the
fuzz benchmark (millions of inputs) and by the property tests (a few hundred).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from harness.formats.errors import FormatError
from harness.wire_codecs import Codec

_BOUNDARIES = {1: (0, 1, 0x7F, 0x80, 0xFE, 0xFF), 2: (0, 1, 0x7FFF, 0xFFFE, 0xFFFF),
               4: (0, 1, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF)}


def mutate(frame: bytes, rng: random.Random) -> bytes:
    """One to three random mutations of `frame`."""
    data = bytearray(frame)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(7)
        at = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and data:
            data[min(at, len(data) - 1)] = rng.choice((0, 0xFF, rng.randrange(256)))
        elif op == 2:
            del data[at:]
        elif op == 3:
            data[at:at] = rng.randbytes(rng.randint(1, 8))
        elif op == 4 and data:
            end = min(len(data), at + rng.randint(1, 16))
            data[at:at] = data[at:end]
        elif op == 5:
            size = rng.choice((1, 2, 4))
            if len(data) >= size:
                at = rng.randrange(len(data) - size + 1)
                value = rng.choice(_BOUNDARIES[size])
                data[at:at + size] = value.to_bytes(size, rng.choice(("big", "little")))
        else:
            del data[at:at + rng.randint(1, 8)]
    return bytes(data)


@dataclass
class FuzzResult:
    codec: str
    inputs: int = 0
    rejected: int = 0  # FormatError: the allowed way to say no
    escapes: int = 0
    examples: list[tuple[str, bytes]] = field(default_factory=list)  # (error, input)


def inputs(codec: Codec, count: int, seed: int) -> Iterator[bytes]:
    """`count` mutated frames of `codec` (the unmutated samples come first)."""
    rng = random.Random(seed)
    samples = codec.samples()
    yield from samples[:count]
    for _ in range(max(0, count - len(samples))):
        yield mutate(rng.choice(samples), rng)


def fuzz(codec: Codec, count: int, seed: int = 1, keep: int = 5) -> FuzzResult:
    """Feed `count` inputs to the codec; any exception but FormatError is an escape."""
    result = FuzzResult(codec.name)
    decode = codec.decode
    for data in inputs(codec, count, seed):
        result.inputs += 1
        try:
            decode(data)
        except FormatError:
            result.rejected += 1
        except Exception as exc:  # the defect this looks for
            result.escapes += 1
            if len(result.examples) < keep:
                result.examples.append((f"{type(exc).__name__}: {exc}", data))
    return result
