"""Property tests: round trips, tamper detection, and fuzzed input (only FormatError)."""

from __future__ import annotations

import contextlib
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.formats import (
    Digest,
    FormatError,
    Record,
    Role,
    VerificationError,
    build_trust_list,
    encrypt_config,
    parse_encrypted,
    parse_header,
    parse_signed,
    parse_stub,
    parse_trust_list,
    role_label,
)

if TYPE_CHECKING:
    from conftest import Ident

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=24)
ROLES = st.one_of(st.sampled_from(list(Role)), st.integers(0, 0xFFFF))
BLOBS = st.none() | st.binary(max_size=48)
SIGNED_PREFIX = bytes.fromhex("0100020102020002")  # VERSION 1.2, HEADER_LENGTH tag


@st.composite
def records(draw: st.DrawFn, pool: list[x509.Certificate]) -> Record:
    """Full, hash-only, empty and arbitrary records with known and unknown roles."""
    role, kind = draw(ROLES), draw(st.sampled_from(["full", "hash", "empty", "raw"]))
    ip = draw(st.none() | st.builds(IPv4Address, st.integers(0, 2**32 - 1)))
    if kind == "full":
        cert = draw(st.sampled_from(pool))
        return Record.from_certificate(cert, role, draw(st.none() | TEXT), ip)
    if kind == "hash":
        return Record.hash_only(draw(st.sampled_from(pool)), role, draw(st.sampled_from(Digest)))
    if kind == "empty":
        return Record.empty(role)
    return Record(
        role, draw(TEXT), draw(TEXT), draw(st.none() | st.integers(0, 2**160)),
        draw(BLOBS), draw(BLOBS), draw(BLOBS), draw(st.none() | TEXT), ip, draw(BLOBS),
        draw(st.none() | st.integers(0, 255)),
    )


@pytest.fixture(scope="module")
def itl(sast: Ident, tftp: Ident, ec_ident: Ident) -> bytes:
    entries = [
        Record.from_certificate(sast.cert, Role.SAST),
        Record.from_certificate(tftp.cert, Role.CCM_TFTP),
        Record.from_certificate(ec_ident.cert, Role.TVS),
        Record.empty(Role.TVS),
    ]
    return build_trust_list(entries, sast, filename="ITLSEP001122334455.tlv", timestamp=5)


@pytest.fixture(scope="module")
def enc_file(tftp: Ident, phone: Ident) -> bytes:
    xml = b"<device><fullConfig>true</fullConfig><capfAuthMode>1</capfAuthMode></device>"
    return encrypt_config(xml, phone.cert, tftp, filename="x.enc.sgn", digest=Digest.SHA512)


@PROPERTY
@given(data=st.data())
def test_build_parse_round_trip(
    sast: Ident, cert_pool: list[x509.Certificate], data: st.DataObject
) -> None:
    entries = data.draw(st.lists(records(cert_pool), max_size=5))
    entries.insert(data.draw(st.integers(0, len(entries))), Record.from_certificate(sast.cert, 0))
    digest = data.draw(st.sampled_from([Digest.SHA1, Digest.SHA512]))
    version = data.draw(st.sampled_from([(1, 0), (1, 1)]))
    name, stamp = data.draw(TEXT), data.draw(st.integers(0, 2**32 - 1))
    raw = build_trust_list(
        entries, sast, digest=digest, signer_version=version, filename=name, timestamp=stamp
    )
    trust = parse_trust_list(raw)
    assert trust.records == tuple(entries) and trust.verify()
    header = trust.header
    assert (header.digest, header.signer_version) == (digest, version)
    assert (header.filename, header.timestamp) == (name, stamp)
    # padding (§1.4): 0-3 bytes of 0x0D right after TIMESTAMP, header a multiple of 4
    end = header.sig_offset + 3 + len(header.signature) + 3 + len(name.encode()) + 1 + 7
    assert header.header_length % 4 == 0 and 0 <= header.header_length - end <= 3
    assert set(raw[end : header.header_length]) <= {0x0D}


@PROPERTY
@given(index=st.integers(0, 10**6), mask=st.integers(1, 255))
def test_any_single_byte_flip_breaks_the_trust_list(itl: bytes, index: int, mask: int) -> None:
    damaged = bytearray(itl)
    damaged[index % len(itl)] ^= mask
    with contextlib.suppress(FormatError):
        assert not parse_trust_list(bytes(damaged)).verify()


def test_every_byte_of_a_trust_list_is_protected(itl: bytes) -> None:
    for index in range(len(itl)):
        damaged = bytearray(itl)
        damaged[index] ^= 0x80
        with contextlib.suppress(FormatError):
            assert not parse_trust_list(bytes(damaged)).verify(), index


def test_every_truncation_of_a_trust_list_is_rejected(itl: bytes) -> None:
    assert parse_trust_list(itl).verify()
    for size in range(len(itl)):
        with contextlib.suppress(FormatError):
            assert not parse_trust_list(itl[:size]).verify(), size


def exercise(blob: bytes, cert: x509.Certificate, phone: Ident) -> None:
    """Run every decoder and every query on `blob`; only FormatError may escape."""
    for parse in (parse_header, parse_signed, parse_stub):
        with contextlib.suppress(FormatError):
            parse(blob)
    with contextlib.suppress(FormatError):
        trust = parse_trust_list(blob)
        _ = (trust.verify(), trust.is_rollback, trust.signer_record(), trust.digest)
        for record in trust.records:
            _ = (record.sha1, record.is_empty, record.verifying_key, role_label(record.role))
            _ = (record.matches(cert), record.encode())
    with contextlib.suppress(FormatError, VerificationError):
        encrypted = parse_encrypted(blob)
        encrypted.verify(cert)
        encrypted.decrypt(phone.key)


@PROPERTY
@given(blob=st.binary(max_size=400), prefix=st.sampled_from([b"", SIGNED_PREFIX, b"<device>"]))
def test_random_bytes_raise_only_format_error(
    blob: bytes, prefix: bytes, sast: Ident, phone: Ident
) -> None:
    exercise(prefix + blob, sast.cert, phone)


@PROPERTY
@given(data=st.data())
def test_mutated_files_raise_only_format_error(
    itl: bytes, enc_file: bytes, sast: Ident, phone: Ident, data: st.DataObject
) -> None:
    blob = bytearray(data.draw(st.sampled_from([itl, enc_file])))
    for _ in range(data.draw(st.integers(1, 6))):
        where = data.draw(st.integers(0, len(blob)))
        action = data.draw(st.sampled_from(["set", "insert", "delete", "cut"]))
        value = data.draw(st.integers(0, 255))
        if action == "set" and where < len(blob):
            blob[where] = value
        elif action == "insert":
            blob[where:where] = bytes([value]) * data.draw(st.integers(1, 4))
        elif action == "delete":
            del blob[where : where + data.draw(st.integers(1, 4))]
        elif action == "cut":
            del blob[where:]
    exercise(bytes(blob), sast.cert, phone)
