"""Signed (.sgn, §3) and encrypted (.enc.sgn, §4) files: round trips and failures."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from harness.errors import UsageError
from harness.formats import (
    Digest,
    FormatError,
    VerificationError,
    build_trust_list,
    cert_hash,
    encrypt_config,
    parse_encrypted,
    parse_signed,
    parse_stub,
    sign_file,
    strip,
    stripped_name,
    stub_config,
)

if TYPE_CHECKING:
    from conftest import Ident

CNF = b"""<?xml version="1.0" encoding="UTF-8"?>
<device>
  <fullConfig>true</fullConfig>
  <deviceSecurityMode>3</deviceSecurityMode>
  <capfList><capf><phonePort>3804</phonePort><processNodeName>cucm</processNodeName></capf>
  </capfList>
  <loadInformation>sip88xx.14-2-1</loadInformation>
  <ipAddressMode>0</ipAddressMode>
  <capfAuthMode>2</capfAuthMode>
  <userPassword>secret</userPassword>
</device>
"""
NAME = "SEP001122334455.cnf.xml.enc.sgn"


def test_sign_parse_verify_strip(tftp: Ident, stranger: Ident, sast: Ident) -> None:
    body = b"ring list\x00\xff" * 5
    data = sign_file(body, tftp, filename="RINGLIST.xml.sgn", digest=Digest.SHA512, timestamp=9)
    signed = parse_signed(data)
    assert signed.body == body == strip(data)
    assert signed.header.version == (1, 0) and signed.header.digest is Digest.SHA512
    assert signed.verify(tftp.cert) and signed.names_signer(tftp.cert)
    assert not signed.verify(stranger.cert) and not signed.verify(sast.cert)
    assert not signed.names_signer(sast.cert)  # same serial, other issuer


def test_every_single_byte_flip_breaks_a_signed_file(tftp: Ident) -> None:
    data = sign_file(b"<device/>", tftp, filename="a.sgn", timestamp=1)
    for index in range(len(data)):
        damaged = bytearray(data)
        damaged[index] ^= 0x5A
        with contextlib.suppress(FormatError):
            assert not parse_signed(bytes(damaged)).verify(tftp.cert), index


def test_every_truncation_is_rejected(tftp: Ident) -> None:
    data = sign_file(b"<device/>", tftp, filename="a.sgn", timestamp=1)
    for size in range(len(data)):
        try:
            assert not parse_signed(data[:size]).verify(tftp.cert), size
        except FormatError as exc:
            assert exc.offset is not None


def test_stripped_names() -> None:
    assert stripped_name("SEP001122334455.cnf.xml.sgn") == "SEP001122334455.cnf.xml"
    assert stripped_name("cp-8861.loads.SHA512") == "cp-8861.loads"
    assert stripped_name("plain.xml") == "plain.xml"


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 4096])
def test_encrypt_decrypt_round_trip_and_padding(tftp: Ident, phone: Ident, size: int) -> None:
    xml = bytes(range(256)) * (size // 256) + bytes(size % 256)
    encrypted = parse_encrypted(encrypt_config(xml, phone.cert, tftp, filename=NAME))
    assert encrypted.enc.padding == 16 - size % 16  # 1..16, never 0
    assert len(encrypted.body) == size + encrypted.enc.padding
    assert encrypted.verify(tftp.cert)
    assert encrypted.decrypt(phone.key) == xml


def test_sha512_digest_tags(tftp: Ident, phone: Ident) -> None:
    data = encrypt_config(CNF, phone.cert, tftp, filename=NAME, digest=Digest.SHA512)
    encrypted = parse_encrypted(data)
    assert encrypted.header.digest is Digest.SHA512
    assert encrypted.enc.digest_algorithm is Digest.SHA512
    assert encrypted.enc.digest == hashlib.sha512(CNF).digest()
    assert encrypted.decrypt(phone.key) == CNF


def test_wrong_key_and_non_rsa_key_fail(tftp: Ident, phone: Ident, ec_ident: Ident) -> None:
    encrypted = parse_encrypted(encrypt_config(CNF, phone.cert, tftp, filename=NAME))
    with pytest.raises(VerificationError):
        encrypted.decrypt(tftp.key)
    with pytest.raises(VerificationError, match="RSA"):
        encrypted.decrypt(ec_ident.key)
    assert not encrypted.verify(phone.cert)


def test_tampered_ciphertext_is_a_digest_failure(tftp: Ident, phone: Ident) -> None:
    data = bytearray(encrypt_config(CNF, phone.cert, tftp, filename=NAME))
    data[-20] ^= 0x01
    encrypted = parse_encrypted(bytes(data))
    assert not encrypted.verify(tftp.cert)
    with pytest.raises(VerificationError, match="digest"):
        encrypted.decrypt(phone.key)


def test_padding_field_edge_cases(tftp: Ident, phone: Ident) -> None:
    xml = b"0123456789abcdef"  # one block, so the file carries a whole block of padding
    encrypted = parse_encrypted(encrypt_config(xml, phone.cert, tftp, filename=NAME))
    whole = xml + b"\r" * 16  # ENC_PADDING 0 removes nothing
    as_is = dataclasses.replace(encrypted.enc, padding=0, digest=hashlib.sha1(whole).digest())
    assert dataclasses.replace(encrypted, enc=as_is).decrypt(phone.key) == whole
    too_big = dataclasses.replace(encrypted.enc, padding=64)
    with pytest.raises(VerificationError, match="ENC_PADDING"):
        dataclasses.replace(encrypted, enc=too_big).decrypt(phone.key)
    ragged = dataclasses.replace(encrypted, body=encrypted.body[:-1])
    with pytest.raises(VerificationError, match="16-byte"):
        ragged.decrypt(phone.key)


def test_encrypt_needs_rsa_device_and_signer(tftp: Ident, ec_ident: Ident, phone: Ident) -> None:
    with pytest.raises(UsageError, match="RSA device"):
        encrypt_config(CNF, ec_ident.cert, tftp, filename=NAME)
    with pytest.raises(UsageError, match="RSA"):
        encrypt_config(CNF, phone.cert, ec_ident, filename=NAME)
    with pytest.raises(UsageError, match="16-byte"):
        encrypt_config(CNF, phone.cert, tftp, filename=NAME, aes_key=b"short")


def test_plain_signed_files_are_not_encrypted_configs(tftp: Ident, sast: Ident) -> None:
    with pytest.raises(FormatError, match="no encryption block"):
        parse_encrypted(sign_file(CNF, tftp, filename="x.sgn"))
    with pytest.raises(FormatError):
        parse_encrypted(build_trust_list([], sast))


def test_stub_config_layout(phone: Ident) -> None:
    stub = stub_config(CNF, phone.cert)
    assert stub.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<device>\n  <fullConfig>')
    root = ET.fromstring(stub)
    assert [child.tag for child in root] == [
        "fullConfig", "capfList", "loadInformation", "ipAddressMode", "capfAuthMode",
        "certHash", "encrConfig",
    ]
    digest = hashlib.md5(phone.cert.public_bytes(Encoding.DER)).hexdigest()
    assert cert_hash(phone.cert) == digest and root.findtext("certHash") == digest
    assert b"secret" not in stub and b"deviceSecurityMode" not in stub
    assert root.findtext("capfList/capf/processNodeName") == "cucm"
    assert b"\n    <capf>\n" in stub  # re-indented, two spaces per level
    parsed = parse_stub(stub)
    assert parsed.encrypted and not parsed.full_config
    assert parsed.cert_hash == digest and parsed.capf_auth_mode == 2


def test_parse_stub_on_full_config_and_garbage(phone: Ident) -> None:
    full = parse_stub(CNF)
    assert full.full_config and not full.encrypted and full.cert_hash is None
    for junk in (b"", b"<device>", b"\xff\xfe<a/>", b'<?xml version="1.0" encoding="bogus"?><a/>'):
        with pytest.raises(FormatError):
            parse_stub(junk)
    with pytest.raises(FormatError):
        stub_config(b"not xml", phone.cert)
