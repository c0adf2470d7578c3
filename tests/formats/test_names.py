"""DN dialects, serial bytes, zstrings and digest codes (docs/PROTOCOLS.md §0.3)."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from harness.errors import UsageError
from harness.formats import (
    Digest,
    FormatError,
    dn_string,
    normalise_dn,
    same_dn,
    serial_bytes,
    serial_int,
)
from harness.formats.names import read_zstring, tlv, zstring


def name(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def test_dn_string_is_certificate_order_rfc4514_attributes() -> None:
    subject = name(
        (NameOID.COMMON_NAME, "SAST Test"),
        (NameOID.ORGANIZATION_NAME, "Lab"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Test"),
    )
    assert dn_string(subject) == "CN=SAST Test,O=Lab,OU=Test"  # not reversed
    escaped = name((NameOID.COMMON_NAME, "a,b+c"), (NameOID.COUNTRY_NAME, "AU"))
    assert dn_string(escaped) == "CN=a\\,b\\+c,C=AU"


@pytest.mark.parametrize(
    "cucm",
    [
        "CN=SAST Test;O=Lab;OU=Test",
        "cn=SAST Test;o=Lab;ou=Test",
        " CN = SAST Test ; O=Lab ;OU=Test ",
        "CN=SAST Test, O=Lab, OU=Test",
    ],
)
def test_dialects_normalise_alike(cucm: str) -> None:
    assert normalise_dn(cucm) == (("CN", "SAST Test"), ("O", "Lab"), ("OU", "Test"))
    assert same_dn(cucm, "CN=SAST Test,O=Lab,OU=Test")


def test_values_keep_case_and_order_matters() -> None:
    assert not same_dn("CN=sast test", "CN=SAST Test")
    assert not same_dn("O=Lab,CN=x", "CN=x,O=Lab")


def test_escaped_and_unescaped_commas_in_values() -> None:
    certutils = "CN=a\\,b,OU=Ops\\, East,C=AU"
    assert normalise_dn(certutils) == (("CN", "a,b"), ("OU", "Ops, East"), ("C", "AU"))
    assert same_dn(certutils, "CN=a,b;OU=Ops, East;C=AU")  # CUCM does not escape
    assert normalise_dn("CN=caf\\C3\\A9") == (("CN", "café"),)
    assert normalise_dn("") == ()


def test_serials_are_minimal_and_compared_as_integers() -> None:
    assert serial_bytes(0x0A1B2C3D) == bytes.fromhex("0a1b2c3d")
    assert serial_bytes(0x80) == b"\x80"  # no sign byte, as certutils writes
    assert serial_bytes(0) == b"\x00"
    assert serial_int(b"\x00\x00\x80") == serial_int(b"\x80") == 0x80
    assert serial_int(serial_bytes(2**159 - 1)) == 2**159 - 1
    with pytest.raises(ValueError):
        serial_bytes(-1)


def test_zstrings_and_tlvs() -> None:
    assert zstring("ITLFile.tlv") == b"ITLFile.tlv\x00"
    assert read_zstring(b"abc\x00junk") == "abc" and read_zstring(b"") == ""
    assert read_zstring(b"\xff\x00") == "\ufffd"
    assert tlv(14, b"ab") == b"\x0e\x00\x02ab"
    with pytest.raises(UsageError):
        tlv(9, bytes(0x10000))


def test_digest_codes_and_labels() -> None:
    assert [(d.value, d.label, d.size) for d in Digest] == [
        (1, "sha1", 20), (2, "sha256", 32), (3, "sha512", 64),
    ]
    assert Digest.from_label("SHA-512") is Digest.SHA512
    assert Digest.SHA1.hash(b"abc").hex() == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert Digest.SHA512.algorithm().name == "sha512"
    with pytest.raises(ValueError, match="sha1"):
        Digest.from_label("md5")
    with pytest.raises(FormatError) as caught:
        Digest.from_code(7, 42)
    assert caught.value.offset == 42
