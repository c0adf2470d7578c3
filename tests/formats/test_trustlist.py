"""Trust lists (docs/PROTOCOLS.md §2): records, signer lookup, rollback form, failures."""

from __future__ import annotations

import hashlib
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from harness.errors import UsageError
from harness.formats import (
    Digest,
    FormatError,
    Record,
    Role,
    build_trust_list,
    parse_trust_list,
    role_label,
)

if TYPE_CHECKING:
    from conftest import Ident, Mint

DER = Encoding.DER


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + len(value).to_bytes(2, "big") + value


def record_bytes(*fields: tuple[int, bytes]) -> bytes:
    """A record from raw TLVs, in the order given (tests' own encoder)."""
    body = b"".join(tlv(tag, value) for tag, value in fields)
    return tlv(1, (len(body) + 5).to_bytes(2, "big")) + body


def handmade_signed(before: bytes, after: bytes, body: bytes, key: rsa.RSAPrivateKey) -> bytes:
    """Independent §1.4/§1.5 signer: `before` + SIGNATURE + `after` + padding, VERSION 1.2."""
    size = 10 + len(before) + 3 + key.key_size // 8 + len(after)
    pad = b"\x0d" * (-size % 4)
    head = bytes.fromhex("0100020102020002") + (size + len(pad)).to_bytes(2, "big")
    signature = key.sign(head + before + after + pad + body, padding.PKCS1v15(), hashes.SHA1())
    return head + before + tlv(12, signature) + after + pad + body


def cucm_record(ident: Ident, role: int, issuer: str, serial: bytes) -> bytes:
    """A record in the order CUCM's `show ctl` lists (1,2,3,4,5,6,7,8,9,10) plus an unknown tag."""
    pub = ident.cert.public_key().public_bytes(DER, PublicFormat.PKCS1)
    return record_bytes(
        (2, b"\x00"), (3, b"cn=SAST Test;o=Lab;ou=Test\x00"), (4, role.to_bytes(2, "big")),
        (5, issuer.encode() + b"\x00"), (6, serial), (7, pub), (8, ident.cert.signature),
        (9, ident.cert.public_bytes(DER)), (10, bytes([10, 0, 0, 1])), (0x63, b"future"),
    )


def cucm_header(ident: Ident, serial: bytes, issuer: str) -> tuple[bytes, bytes]:
    """Header fields in CUCM order (4,5,6), tag 28 late, an unknown tag, SIGNATURE last."""
    info = tlv(4, b"CN=SAST Test;O=Lab;OU=Test\x00") + tlv(5, serial)
    info += tlv(6, issuer.encode() + b"\0")
    before = tlv(3, info) + tlv(0x50, b"xyz") + b"\x07\x00\x0f" + tlv(8, b"\x01")
    before += b"\x09\x00\x08" + tlv(10, b"\x00") + tlv(11, b"\x02")
    after = tlv(15, b"\x00\x00\x00\x01") + tlv(14, b"ITLFile.tlv\x00") + tlv(28, b"\x01\x01")
    return before, after


def test_cucm_order_leading_zero_serial_and_semicolon_dns_verify(sast: Ident) -> None:
    serial = b"\x00" + sast.cert.serial_number.to_bytes(4, "big")
    body = cucm_record(sast, Role.SAST, "CN = SAST Test ; O=Lab; OU=Test", serial)
    before, after = cucm_header(sast, serial, "cn=SAST Test;o=Lab;ou=Test")
    assert isinstance(sast.key, rsa.RSAPrivateKey)
    trust = parse_trust_list(handmade_signed(before, after, body, sast.key))
    assert trust.header.signer_version == (1, 1) and trust.header.timestamp == 1
    record = trust.records[0]
    assert record.dns_name == "" and record.ip_address == IPv4Address("10.0.0.1")
    assert trust.signer_record() is record
    assert trust.verify()


def test_signer_issuer_must_match_after_normalising(sast: Ident) -> None:
    serial = sast.cert.serial_number.to_bytes(4, "big")
    body = cucm_record(sast, Role.SAST, "CN=Other CA,O=Lab,OU=Test", serial)
    before, after = cucm_header(sast, serial, "CN=SAST Test,O=Lab,OU=Test")
    assert isinstance(sast.key, rsa.RSAPrivateKey)
    trust = parse_trust_list(handmade_signed(before, after, body, sast.key))
    assert trust.signer_record() is None
    assert not trust.verify()


def test_signer_must_be_a_sast_record(sast: Ident) -> None:
    data = build_trust_list([Record.from_certificate(sast.cert, Role.CCM_TFTP)], sast)
    trust = parse_trust_list(data)
    assert trust.signer_record() is None and not trust.verify()


def test_wrong_signer_key_fails(sast: Ident, stranger: Ident) -> None:
    # same names and serial as the SAST record, different key
    data = build_trust_list([Record.from_certificate(sast.cert, Role.SAST)], stranger)
    trust = parse_trust_list(data)
    assert trust.signer_record() is not None
    assert not trust.verify()


def test_tampered_signature_fails(sast: Ident) -> None:
    data = bytearray(build_trust_list([Record.from_certificate(sast.cert, Role.SAST)], sast))
    data[0x067 + 3 + 100] ^= 0x01
    assert not parse_trust_list(bytes(data)).verify()


def test_hash_only_record_cannot_sign(sast: Ident) -> None:
    record = Record.hash_only(sast.cert, Role.SAST, Digest.SHA512)
    trust = parse_trust_list(build_trust_list([record], sast))
    signer = trust.signer_record()
    assert signer == record and signer is not None and signer.matches(sast.cert)
    assert signer.verifying_key is None and not signer.is_empty
    assert not trust.verify()


def test_full_record_preferred_over_hash_only_twin(sast: Ident) -> None:
    full = Record.from_certificate(sast.cert, Role.SAST)
    trust = parse_trust_list(build_trust_list([Record.hash_only(sast.cert, Role.SAST), full], sast))
    assert trust.signer_record() == full and trust.verify()


def test_truncated_record_is_format_error(sast: Ident) -> None:
    data = build_trust_list([Record.from_certificate(sast.cert, Role.SAST)], sast)
    with pytest.raises(FormatError) as caught:
        parse_trust_list(data[:-10])
    assert caught.value.offset == 0x180 + 3 and "record length" in caught.value.reason


def test_header_length_beyond_file_is_format_error(sast: Ident) -> None:
    data = bytearray(build_trust_list([Record.from_certificate(sast.cert, Role.SAST)], sast))
    data[8:10] = (len(data) + 4).to_bytes(2, "big")
    with pytest.raises(FormatError) as caught:
        parse_trust_list(bytes(data))
    assert caught.value.offset == 8


def test_record_without_role_and_bad_fixed_length(sast: Ident) -> None:
    signed = build_trust_list([], sast)
    for body, reason in [
        (record_bytes((3, b"\x00")), "without ROLE"),
        (record_bytes((4, b"\x00\x00\x00")), "length 3"),
        (b"\x02\x00\x02\x00\x05", "RECORD_LENGTH"),
    ]:
        with pytest.raises(FormatError, match=reason):
            parse_trust_list(signed + body)


def test_key_encodings_rsa_and_ec(sast: Ident, ec_ident: Ident) -> None:
    rsa_record = Record.from_certificate(sast.cert, Role.SAST)
    ec_record = Record.from_certificate(ec_ident.cert, Role.TFTP)
    assert rsa_record.public_key == sast.cert.public_key().public_bytes(DER, PublicFormat.PKCS1)
    assert ec_record.public_key is not None and len(ec_record.public_key) == 65
    assert ec_record.public_key[0] == 0x04 and ec_record.signature == ec_ident.cert.signature
    key_only = Record(Role.TVS, public_key=ec_record.public_key)
    assert key_only.matches(ec_ident.cert) and not key_only.matches(sast.cert)
    assert rsa_record.sha1 == hashlib.sha1(sast.cert.public_bytes(DER)).hexdigest()


def test_records_roles_and_lookups(sast: Ident, tftp: Ident, ec_ident: Ident) -> None:
    records = [
        Record.from_certificate(sast.cert, Role.SAST),
        Record.from_certificate(tftp.cert, Role.CCM_TFTP, dns_name="tftp.lab", ip="10.1.2.3"),
        Record.from_certificate(ec_ident.cert, 99),
    ]
    data = build_trust_list(records, sast, digest=Digest.SHA512, signer_version=(1, 1),
                            filename="CTLFile.tlv", timestamp=7)
    trust = parse_trust_list(data)
    assert trust.records == tuple(records) and trust.verify()
    assert trust.header.digest is Digest.SHA512 and trust.header.signer_version == (1, 1)
    assert trust.header.filename == "CTLFile.tlv" and trust.header.timestamp == 7
    assert trust.records_with(Role.CCM_TFTP) == (records[1],)
    assert trust.digest == hashlib.sha256(data).hexdigest()
    assert [role_label(r.role) for r in trust.records] == ["SAST", "CCM+TFTP", 99]


def test_role_labels() -> None:
    assert Role.from_label("ccm+tftp") is Role.CCM_TFTP
    assert Role.from_label(" App-Server ") is Role.APP_SERVER
    labels = ["SAST", "CCM", "CCM+TFTP", "TFTP", "CAPF", "APP-SERVER", "TVS"]
    assert [r.label for r in Role] == labels
    with pytest.raises(ValueError, match="unknown role"):
        Role.from_label("ITLRecovery")


def test_empty_record_bytes_pin_the_rollback_encoding() -> None:
    assert Record.empty(Role.TVS).encode() == bytes.fromhex(
        "010002 0015 030001 00 050001 00 060000 040002 0015".replace(" ", "")
    )


@pytest.mark.parametrize(
    ("roles", "rollback"),
    [
        ({"empty": [Role.TFTP, Role.TVS]}, True),
        ({"empty": [Role.CCM_TFTP]}, True),
        ({"empty": [Role.TVS], "full": [Role.TFTP]}, False),
        ({}, False),  # usecallmanager ITLs may simply have no TFTP/TVS entries
        ({"empty": [Role.CAPF]}, False),
    ],
)
def test_rollback_classification(
    sast: Ident, tftp: Ident, roles: dict[str, list[Role]], rollback: bool
) -> None:
    records = [Record.from_certificate(sast.cert, Role.SAST)]
    records += [Record.empty(role) for role in roles.get("empty", [])]
    records += [Record.from_certificate(tftp.cert, role) for role in roles.get("full", [])]
    trust = parse_trust_list(build_trust_list(records, sast))
    assert trust.is_rollback is rollback and trust.verify()


def test_builders_reject_what_certutils_cannot_write(
    sast: Ident, ec_ident: Ident, mint: Mint
) -> None:
    with pytest.raises(UsageError, match="RSA"):
        build_trust_list([Record.from_certificate(sast.cert, Role.SAST)], ec_ident)
    big = Record(Role.TVS, certificate=bytes(70000))
    with pytest.raises(UsageError):
        build_trust_list([big], sast)
    other = mint("other.lab", 5, key_index=1)
    assert not Record.from_certificate(other.cert, 1).matches(sast.cert)


def test_equal_bytes_parse_to_one_shared_list(sast: Ident, tftp: Ident) -> None:
    """Every twin of a storm downloads the same ITL: one parse is shared (immutable)."""
    data = build_trust_list([Record.from_certificate(sast.cert, Role.SAST)], sast, timestamp=1)
    other = build_trust_list([Record.from_certificate(tftp.cert, Role.SAST)], tftp, timestamp=1)
    first = parse_trust_list(data)
    again = parse_trust_list(bytes(bytearray(data)))  # equal bytes, another object
    assert again is first and again.raw == data
    assert parse_trust_list(other) is not first and parse_trust_list(other).raw == other
    with pytest.raises(FormatError):  # a failure is not kept: it raises every time
        parse_trust_list(data + b"\x01\x00\x02")
    with pytest.raises(FormatError):
        parse_trust_list(data + b"\x01\x00\x02")
