"""The deflated in-memory file set: same bytes back, far fewer kept, large files untouched."""

from __future__ import annotations

import hashlib
import os

from harness.services.deflated_files import (
    DICTIONARY_BYTES,
    SMALL,
    DeflatedFiles,
    sample_dictionary,
)
from harness.services.tftp_files import MappingSource


def config(n: int, model: str = "8845") -> bytes:
    """A config-like document: a large shared part and a few per-phone fields."""
    shared = "".join(f"  <setting{i}>value {i} of {model}</setting{i}>\n" for i in range(150))
    uuid = hashlib.sha256(str(n).encode()).hexdigest()[:32]
    return (f"<device name='SEP{n:012X}' uuid='{uuid}'>\n{shared}"
            f"  <line>{1000 + n}</line>\n</device>\n").encode()


def test_every_file_comes_back_byte_identical() -> None:
    files = {f"SEP{n:012X}.cnf.xml": config(n, ("7962", "8845")[n % 2]) for n in range(40)}
    files["random.bin"] = os.urandom(3000)  # incompressible: still exact
    files["empty"] = b""
    packed = DeflatedFiles(files)
    assert {name: packed.get(name) for name in files} == files
    assert packed.names() == sorted(files) and len(packed) == len(files)
    assert packed.get("absent") is None


def test_alike_files_are_kept_many_times_smaller() -> None:
    files = {f"SEP{n:012X}.cnf.xml": config(n) for n in range(200)}
    packed = DeflatedFiles(files)
    raw = sum(map(len, files.values()))
    assert packed.stored_bytes() * 10 < raw, (packed.stored_bytes(), raw)


def test_large_files_are_kept_as_given() -> None:
    big = os.urandom(SMALL + 1)
    packed = DeflatedFiles({"load.sbn": big, "small": b"x" * 100})
    assert packed.get("load.sbn") is big  # never inflated per request
    assert packed.stored_bytes() < len(big) + 100


def test_with_files_adds_and_replaces_leaving_the_original_set() -> None:
    first = DeflatedFiles({"a": config(1), "b": config(2)})
    second = first.with_files({"b": b"new b", "c": config(3)})
    assert (first.get("a"), first.get("b"), first.get("c")) == (config(1), config(2), None)
    assert (second.get("a"), second.get("b"), second.get("c")) == (config(1), b"new b",
                                                                    config(3))
    assert second.names() == ["a", "b", "c"] and first.names() == ["a", "b"]


def test_streamed_pairs_with_a_given_dictionary() -> None:
    samples = {"s1": config(0, "7962"), "s2": config(0, "8845")}
    dictionary = sample_dictionary(samples)
    assert 0 < len(dictionary) <= DICTIONARY_BYTES
    pairs = ((f"f{n}", config(n, ("7962", "8845")[n % 2])) for n in range(50))
    packed = DeflatedFiles(pairs, dictionary=dictionary)
    assert packed.get("f7") == config(7, "8845") and packed.get("f8") == config(8, "7962")
    assert packed.stored_bytes() * 10 < 50 * len(config(0))


def test_mapping_source_serves_what_was_published_and_updated() -> None:
    files = {f"SEP{n:012X}.cnf.xml": config(n) for n in range(20)}
    source = MappingSource(files)
    assert all(source.lookup(name) == data for name, data in files.items())
    assert source.open("SEP000000000003.cnf.xml") == files["SEP000000000003.cnf.xml"]
    source.update({"SEP000000000003.cnf.xml": b"<changed/>"})
    assert source.lookup("SEP000000000003.cnf.xml") == b"<changed/>"
    assert source.lookup("SEP000000000004.cnf.xml") == files["SEP000000000004.cnf.xml"]
    source.replace(iter([("only", b"one")]), dictionary=b"")
    assert source.names() == ["only"] and source.lookup("only") == b"one"
    assert source.stored_bytes() < 20
